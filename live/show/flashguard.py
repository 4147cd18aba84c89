"""Flash guard for public screens (WCAG 2.3.1, "three flashes or below threshold").

A general flash is a pair of opposing changes in relative luminance of 0.1 or more (of white's 1.0) where the
darker state is below 0.80. In each region it watches (the whole frame and 25 overlapping tiles of a third of
the frame's width and height: a third by a third of a 1024x768 screen is WCAG's 10-degree reference field),
the guard lets at most MAX_TRANSITIONS such changes happen in any WINDOW_S. Both, and the thresholds it counts
from, leave room for whoever checks: a full-resolution measurement, a codec downstream, timing jitter; an
independent counter on frames received over NDI finds at most three flashes in any second (tests).
A change that would overrun the budget is softened: the new frame is cross-faded from the last shown one with
the largest weight that keeps every over-budget region below the threshold, so the picture keeps moving
and the deferred change comes in when the window frees up. It runs per displayed frame on a 72x72 thumbnail
(about 0.1 ms at any resolution; tools/bench_rig.py measures it).
"""
from __future__ import annotations

import numpy as np

STEP = 0.1  # a change of relative luminance that counts
DARK = 0.8  # the darker state must be below this
WINDOW_S = 1.1  # WCAG's one second, plus room for the timing jitter of whoever shows or receives the frames
MAX_TRANSITIONS = 5  # opposing changes per window: 2.5 flashes, one short of three for measurement slack
# The guard measures on a thumbnail, and codecs downstream (NDI) shift luminance a little: it counts changes
# from STEP - SLACK and below DARK + SLACK, so whatever anyone measures on the full frame is counted too.
SLACK = 0.02
MARGIN = 0.005  # held regions stay this far inside the counting threshold
THUMB = 72  # thumbnail side: 6 x 6 blocks of 12 x 12 samples

# sRGB -> linear light, per 8-bit value; relative luminance weights (Rec. 709 / sRGB primaries)
_LINEAR = np.where(np.arange(256) / 255 <= 0.04045, np.arange(256) / 255 / 12.92,
                   ((np.arange(256) / 255 + 0.055) / 1.055) ** 2.4).astype(np.float32)
_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], np.float32)


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """THUMB x THUMB pixels spread evenly over the whole frame, edges included (uint8)."""
    h, w = frame.shape[:2]
    rows = (np.arange(THUMB) * h + h // 2) // THUMB
    cols = (np.arange(THUMB) * w + w // 2) // THUMB
    return frame[rows[:, None], cols[None, :]]


def region_luminance(thumb: np.ndarray) -> np.ndarray:
    """Mean relative luminance of 25 overlapping third-size tiles and of the whole frame (26 values)."""
    y = _LINEAR[thumb] @ _WEIGHTS
    h, w = y.shape
    blocks = y.reshape(6, h // 6, 6, w // 6).mean(axis=(1, 3))
    tiles = (blocks[:-1, :-1] + blocks[1:, :-1] + blocks[:-1, 1:] + blocks[1:, 1:]) / 4
    return np.append(tiles.ravel(), blocks.mean())


def blend(prev: np.ndarray, new: np.ndarray, weight: int) -> np.ndarray:
    """prev + weight/256 * (new - prev) in 8-bit (weight 0..256)."""
    if weight >= 256:
        return new
    out = prev.astype(np.uint16) * (256 - weight) + new.astype(np.uint16) * weight + 128
    return (out >> 8).astype(np.uint8)


class FlashGuard:
    def __init__(self, max_transitions: int = MAX_TRANSITIONS, window_s: float = WINDOW_S):
        self.max, self.window = int(max_transitions), float(window_s)
        self.prev: np.ndarray | None = None  # the last frame shown
        self.lo = self.hi = self.direction = self.times = self.y = None
        self.frames = self.limited = self.transitions = 0

    def apply(self, frame: np.ndarray, now: float) -> np.ndarray:
        """The frame to show at time `now` instead of `frame` (itself when it keeps within the budget)."""
        self.frames += 1
        thumb = thumbnail(frame)
        y1 = region_luminance(thumb)
        if self.prev is None or self.prev.shape != frame.shape:
            self._reset(frame, y1)
            return frame
        budget = (self.times > now - self.window).sum(axis=1) < self.max
        blocked = (self._crossing(y1) != 0) & ~budget
        out, y = frame, y1
        if blocked.any():
            self.limited += 1
            out, y = self._soften(frame, thumb, y1, blocked)
        self._advance(y, now)
        self.prev = out
        return out

    # ---- internals ------------------------------------------------------------------------------------------
    def _reset(self, frame, y):
        self.prev, self.y = frame, y
        self.lo, self.hi = y.copy(), y.copy()  # the turning points: lowest and highest since the last change
        self.direction = np.zeros(len(y), np.int8)  # the last change: +1 up, -1 down, 0 none yet
        self.times = np.full((len(y), self.max), -np.inf)

    def _crossing(self, y: np.ndarray) -> np.ndarray:
        """Per region: +1 / -1 where showing luminance y would be a change up / down of STEP or more (less the
        SLACK) from the last turning point, opposite to the previous change; else 0."""
        step, dark = STEP - SLACK, DARK + SLACK
        down = (self.direction >= 0) & (self.hi - y >= step) & (y < dark)
        up = (self.direction <= 0) & (y - self.lo >= step) & (self.lo < dark)
        return up.astype(np.int8) - down

    def _soften(self, frame, thumb, y1, blocked):
        """Cross-fade from the last frame shown with the largest weight that keeps `blocked` regions below."""
        y0 = self.y
        falling = y1 < y0
        step = STEP - SLACK - MARGIN
        bound = np.where(falling, self.hi - step, self.lo + step)
        span = y1 - y0
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(blocked & (np.abs(span) > 1e-6), (bound - y0) / span, 1.0)
        weight = int(256 * float(np.clip(k.min(), 0.0, 1.0)))
        prev_thumb = thumbnail(self.prev)
        for _ in range(4):  # the 8-bit blend is not linear in light: check, back off if needed
            y = region_luminance(blend(prev_thumb, thumb, weight))
            if not ((self._crossing(y) != 0) & blocked).any():
                return blend(self.prev, frame, weight), y
            weight //= 2
        return self.prev, self.y

    def _advance(self, y: np.ndarray, now: float):
        """Record the changes that showing `y` makes and move the turning points."""
        crossed = self._crossing(y)
        if crossed.any():
            idx = np.flatnonzero(crossed)
            self.times[idx] = np.roll(self.times[idx], 1, axis=1)
            self.times[idx, 0] = now
            self.direction[idx] = crossed[idx]
            self.lo[idx] = self.hi[idx] = y[idx]
            self.transitions += len(idx)
        np.minimum(self.lo, y, out=self.lo)
        np.maximum(self.hi, y, out=self.hi)
        self.y = y

    def stats(self) -> dict:
        return dict(frames=self.frames, limited_frames=self.limited, transitions=self.transitions)
