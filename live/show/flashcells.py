"""What the flash guard measures (WCAG 2.3.1 and WCAG 2.2's definitions of general and red flashes).

A frame becomes a grid of cells with two values: relative luminance, and the saturated-red value (R - G - B in
linear RGB where R / (R + G + B) >= 0.8, else 0: WCAG's "(R - G - B) x 320 changes by more than 20" is a change
of more than 0.0625 here). On frames with a shorter side below 2 x CELLS (the model's 128 px) a cell is a pixel;
larger frames are area-averaged first by a whole factor k (every pixel counts, nothing is sampled): 2 x 2 pixels
at 256 px, 4 x 4 at 512 px, 8 x 8 at 1920 x 1080. That average is of 8-bit sRGB values, not of light (that
would need every pixel made linear first: at 1920 x 1080 more than the guard's whole budget): where a cell holds
fine detail that changes, its change is measured smaller than its pixels' (exact at 128 px).

Each cell keeps its turning points: the lowest and highest value since its last transition and that
transition's direction. A cell makes a transition when it moves STEP or more from the turning point opposite to
its last transition (for luminance: with the darker state below DARK); the state keeps, per cell, the values at
which it would next go up and down, so a new frame's transitions are two comparisons. A region (every 10-degree
field: a third of the grid's width and height, at every cell offset, so the fields overlap and cover the whole
frame) makes a transition up (or down) when cells covering AREA or more of it make one up (down) in the same
frame; both at once count as two. The thresholds count from a little below WCAG's (SLACK, AREA_SLACK), for a
measurement on every pixel, after a codec (the tests count that way).
"""
from __future__ import annotations

import cv2
import numpy as np

STEP = np.array([0.1, 20 / 320], np.float32)  # WCAG: 0.1 of relative luminance; (R - G - B) x 320 above 20
DARK = np.array([0.8, np.inf], np.float32)  # the darker state below 0.8 (luminance only)
SLACK = np.array([0.02, 0.0125], np.float32)  # counted from 80% of each step
DARK_SLACK = 0.02
AREA = 0.25  # of a 10-degree field
AREA_SLACK = 0.05  # counted from 20%: cells cut by a flash's edge, sub-cell detail
CONCURRENT_S = 0.1  # cells that move the same way this close in time fill a field together
CELLS = 128  # at least this many cells along the frame's shorter side, fewer than twice as many

_V = np.arange(256) / 255
LINEAR = np.where(_V <= 0.04045, _V / 12.92, ((_V + 0.055) / 1.055) ** 2.4).astype(np.float32).reshape(256, 1)
# linear RGB -> relative luminance, R - G - B, and 0.4 R - 1.6 (G + B), which is >= 0 where R >= 0.8 (R + G + B)
MIX = np.array([[0.2126, 0.7152, 0.0722], [1, -1, -1], [0.4, -1.6, -1.6]], np.float32)


def work_image(frame: np.ndarray) -> np.ndarray:
    """The cells in 8-bit sRGB: the frame itself up to a shorter side below 2 x CELLS, else the mean of every
    k x k pixels (the last row and column of cells: of the pixels there are), to about one level (rounded twice
    where k is even)."""
    h, w = frame.shape[:2]
    k = min(h, w) // CELLS
    if k <= 1:
        return frame
    if k % 2 == 0 and h % 2 == 0 and w % 2 == 0:  # the 2 x 2 means first (OpenCV's vectorised path): less to sum
        frame = cv2.resize(frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        (h, w), k = frame.shape[:2], k // 2
        if k == 1:
            return frame
    rows = h // k  # each block's k rows summed first, reading the frame once in whole rows from top to bottom:
    # faster than OpenCV's INTER_AREA on the frame, which adds each cell's k x k pixels one by one
    sums = np.add.reduce(frame[:rows * k].reshape(rows, k, w * 3).transpose(1, 0, 2), axis=0, dtype=np.uint16)
    cells = _band_means(sums.reshape(rows, w, 3), k, k)
    if h % k:
        rest = np.add.reduce(frame[rows * k:], axis=0, dtype=np.uint16)
        cells = np.concatenate([cells, _band_means(rest[None], h % k, k)])
    return cells


def _band_means(sums: np.ndarray, n: int, k: int) -> np.ndarray:
    """(bands, ceil(w / k), 3): the 8-bit means of every k columns of sums ((bands, w, 3) uint16, of n rows)."""
    bands, w = sums.shape[:2]
    cols = w // k
    out = np.empty((bands, -(-w // k), 3), np.uint8)
    area = cv2.INTER_AREA  # on whole factors: the mean of each k (or the rest's) columns
    means = cv2.resize(sums[:, :cols * k], (cols, bands), interpolation=area)
    out[:, :cols] = cv2.convertScaleAbs(means, alpha=1 / n)
    if w % k:
        rest = cv2.resize(sums[:, cols * k:], (1, bands), interpolation=area)
        out[:, cols:] = cv2.convertScaleAbs(rest, alpha=1 / n).reshape(bands, 1, 3)
    return out


def cells(work: np.ndarray) -> np.ndarray:
    """(2, rows, cols) float32: relative luminance and saturated-red value per cell."""
    mixed = cv2.transform(cv2.LUT(np.ascontiguousarray(work), LINEAR), MIX).transpose(2, 0, 1).copy()
    np.multiply(mixed[1], mixed[2] >= 0, out=mixed[1])  # the red value only where the pixel is saturated red
    return mixed[:2]


class CellState:
    """Every cell's turning points, and the transitions a new grid of values would make."""

    def __init__(self, values: np.ndarray):
        shape = values.shape
        self.step = np.broadcast_to((STEP - SLACK)[:, None, None], shape)
        self.up_at = np.full(shape, np.inf, np.float32)  # a cell goes up at this value or above (inf: it cannot)
        self.down_at = np.full(shape, -np.inf, np.float32)  # and down at this value or below
        self.up_off, self.down_off = self.step.copy(), self.step.copy()  # from the turning points; inf: it just
        # went that way
        self.crossed = np.full((2,) + shape, -np.inf)  # when each cell last went up / down
        self.last = -np.inf  # when any cell last moved
        rows, cols = shape[1:]
        self.field = (max(1, round(rows / 3)), max(1, round(cols / 3)))
        self.below_dark = np.nextafter(DARK[0] + np.float32(DARK_SLACK), np.float32(0))  # the darkest level < dark
        self.none = np.zeros((2, (rows - self.field[0] + 1) * (cols - self.field[1] + 1)), np.int8)
        self.share = (AREA - AREA_SLACK) * self.field[0] * self.field[1]
        self.buffers = {}  # _boxes', by number of masks
        self._turning(values)

    def crossing(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masks of the cells that showing values v would make go up / down."""
        return v >= self.up_at, v <= self.down_at

    def region_transitions(self, up: np.ndarray, down: np.ndarray) -> np.ndarray:
        """(2, fields) transitions per channel and 10-degree field: 0, 1 or 2 (up and down at once)."""
        if max(np.count_nonzero(up), np.count_nonzero(down)) < self.share:
            return self.none  # too few cells moved to fill any field's share
        hits = self._boxes(np.concatenate([up, down])) >= self.share
        return hits[:2].astype(np.int8) + hits[2:]

    def staggered(self, up: np.ndarray, down: np.ndarray, now: float) -> np.ndarray:
        """(2, fields): fields where these moves, with the cells that moved the same way in the last
        CONCURRENT_S, fill the share. A receiver that drops frames sees such moves as one transition."""
        recent = np.concatenate([up, down]) | (self.crossed.reshape((4,) + up.shape[1:]) > now - CONCURRENT_S)
        if np.count_nonzero(recent, axis=(1, 2)).max() < self.share:
            return self.none.astype(bool)
        boxes = self._boxes(np.concatenate([recent, up, down]))
        hits = (boxes[:4] >= self.share) & (boxes[4:] > 0)  # full, and something new in it
        return hits[:2] | hits[2:]

    def _boxes(self, masks: np.ndarray) -> np.ndarray:
        """(len(masks), fields): the cells set in each 10-degree field, per mask (in a buffer, until the next
        call). The masks are stacked into one image for one summed-area table; only boxes inside one mask are
        read. Buffers are kept: fresh arrays this size cost more in page faults than the sums."""
        n, rows, cols = masks.shape
        fh, fw = self.field
        if n not in self.buffers:
            self.buffers[n] = (np.empty((n * rows + 1, cols + 1), np.int32),
                               np.empty((n, rows - fh + 1, cols - fw + 1), np.int32))
        s, boxes = self.buffers[n]
        cv2.integral(masks.reshape(n * rows, cols).view(np.uint8), sum=s)  # sums of every top-left rectangle
        top = s[:-1].reshape(n, rows, cols + 1)[:, :rows - fh + 1]  # each box's top rows
        bottom = s[1:].reshape(n, rows, cols + 1)[:, fh - 1:]
        np.subtract(bottom[..., fw:], bottom[..., :-fw], out=boxes)
        boxes -= top[..., fw:]
        boxes += top[..., :-fw]
        return boxes.reshape(n, -1)

    def advance(self, v: np.ndarray, up: np.ndarray, down: np.ndarray, now: float) -> None:
        """Show values v (whose crossings are up, down): move the turning points."""
        moved = up | down
        if moved.any():
            for off, went in ((self.up_off, up > down), (self.down_off, down > up)):
                np.copyto(off, self.step, where=moved)
                np.copyto(off, np.inf, where=went)  # gone one way: next, only the other
            np.copyto(self.up_at, np.inf, where=moved)  # turning points from v on
            np.copyto(self.down_at, -np.inf, where=moved)
            np.copyto(self.crossed[0], now, where=up)
            np.copyto(self.crossed[1], now, where=down)
            self.last = now
        self._turning(v)

    def _turning(self, v: np.ndarray) -> None:
        """The lowest value + step is where a cell goes up (luminance: from below dark), the highest - step
        where it goes down (luminance: to below dark)."""
        at = v + self.up_off
        np.copyto(at[0], np.inf, where=v[0] > self.below_dark)
        np.minimum(self.up_at, at, out=self.up_at)
        np.subtract(v, self.down_off, out=at)
        np.minimum(at[0], self.below_dark, out=at[0])
        np.maximum(self.down_at, at, out=self.down_at)

    def settled(self, up: np.ndarray, down: np.ndarray, now: float) -> bool:
        """No field transition, and no cell moved within CONCURRENT_S that these moves could join."""
        return self.last <= now - CONCURRENT_S or not (up.any() or down.any())
