"""What the flash guard measures (WCAG 2.3.1 and WCAG 2.2's definitions of general and red flashes).

A frame becomes a grid of cells with two values: relative luminance, and the saturated-red value (R - G - B in
linear RGB where R / (R + G + B) >= 0.8, else 0: WCAG's "(R - G - B) x 320 changes by more than 20" is a change
of more than 0.0625 here). On frames with a shorter side below 2 x CELLS (the model's 128 px) a cell is a pixel;
larger frames are area-averaged first (OpenCV's INTER_AREA: every pixel counts by its area, nothing is sampled)
by a whole factor k: 2 x 2 pixels at 256 px, 4 x 4 at 512 px, 8 x 8 at 1920 x 1080. That average is of 8-bit sRGB values, not of light:
where a cell holds fine detail that changes, its change is measured smaller than its pixels' (exact at 128 px).

Each cell keeps its turning points: the lowest and highest value since its last transition and that
transition's direction. A cell makes a transition when it moves STEP or more from the turning point opposite to
its last transition (for luminance: with the darker state below DARK). A region (every 10-degree field: a third
of the grid's width and height, at every cell offset, so the fields overlap and cover the whole frame) makes a
transition up (or down) when cells covering AREA or more of it make one up (down) in the same frame; both at
once count as two. The thresholds count from a little below WCAG's (SLACK, AREA_SLACK), for a measurement on
every pixel, after a codec (the tests count that way).
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
    """The cells in 8-bit sRGB: the frame itself up to a shorter side below 2 x CELLS, else its area average
    by a whole factor k (every k x k pixels, the edges' partial blocks included) down to that."""
    h, w = frame.shape[:2]
    k = min(h, w) // CELLS
    if k <= 1:
        return frame
    return cv2.resize(frame, (-(-w // k), -(-h // k)), interpolation=cv2.INTER_AREA)


def cells(work: np.ndarray) -> np.ndarray:
    """(2, rows, cols) float32: relative luminance and saturated-red value per cell."""
    mixed = cv2.transform(cv2.LUT(np.ascontiguousarray(work), LINEAR), MIX)
    mixed[..., 1] *= mixed[..., 2] >= 0  # the red value only where the pixel is saturated red
    return np.ascontiguousarray(mixed[..., :2].transpose(2, 0, 1))


class CellState:
    """Every cell's turning points, and the transitions a new grid of values would make."""

    def __init__(self, values: np.ndarray):
        self.lo, self.hi = values.copy(), values.copy()
        self.direction = np.zeros(values.shape, np.int8)  # the last transition: +1 up, -1 down, 0 none yet
        self.crossed = np.full((2,) + values.shape, -np.inf)  # when each cell last went up / down
        self.last = -np.inf  # when any cell last moved
        rows, cols = values.shape[1:]
        self.field = (max(1, round(rows / 3)), max(1, round(cols / 3)))
        self.step = (STEP - SLACK)[:, None, None]
        self.dark = (DARK + DARK_SLACK)[:, None, None]
        self.none = np.zeros((2, (rows - self.field[0] + 1) * (cols - self.field[1] + 1)), np.int8)
        self.share = (AREA - AREA_SLACK) * self.field[0] * self.field[1]

    def crossing(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masks of the cells that showing values v would make go up / down."""
        up = (self.direction <= 0) & (v - self.lo >= self.step) & (self.lo < self.dark)
        down = (self.direction >= 0) & (self.hi - v >= self.step) & (v < self.dark)
        return up, down

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
        """(len(masks), fields): the cells set in each 10-degree field, per mask."""
        fh, fw = self.field
        s = cv2.integral(masks.transpose(1, 2, 0).astype(np.uint8))  # sums of every top-left rectangle
        boxes = s[fh:, fw:] - s[:-fh, fw:] - s[fh:, :-fw] + s[:-fh, :-fw]
        return boxes.reshape(-1, len(masks)).T

    def advance(self, v: np.ndarray, up: np.ndarray, down: np.ndarray, now: float) -> None:
        """Show values v (whose crossings are up, down): move the turning points."""
        moved = up | down
        if moved.any():
            np.copyto(self.direction, up.astype(np.int8) - down, where=moved)
            np.copyto(self.lo, v, where=moved)
            np.copyto(self.hi, v, where=moved)
            np.copyto(self.crossed, now, where=np.stack([up, down]))
            self.last = now
        np.minimum(self.lo, v, out=self.lo)
        np.maximum(self.hi, v, out=self.hi)

    def settled(self, up: np.ndarray, down: np.ndarray, now: float) -> bool:
        """No field transition, and no cell moved within CONCURRENT_S that these moves could join."""
        return self.last <= now - CONCURRENT_S or not (up.any() or down.any())
