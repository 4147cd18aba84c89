"""Flash guard for public screens (WCAG 2.3.1, "three flashes or below threshold").

A general flash is a pair of opposing changes in relative luminance of 0.1 or more (of white's 1.0) where the
darker state is below 0.80. The guard lets at most MAX_TRANSITIONS such changes (three flashes) happen in any
one-second window, in each region it watches: the whole frame and 25 overlapping tiles of a third of the
frame's width and height (a third by a third of a 1024x768 screen is WCAG's 10-degree reference field).
A change that would overrun the budget is softened: the new frame is cross-faded from the last shown one with
the largest weight that keeps every over-budget region below the threshold, so the picture keeps moving
and the deferred change comes in when the window frees up. It runs per displayed frame on a ~48x48 thumbnail
(tens of microseconds at 128 px; tools/bench_rig.py measures it).
"""
from __future__ import annotations

import numpy as np

STEP = 0.1  # a change of relative luminance that counts
DARK = 0.8  # the darker state must be below this
WINDOW_S = 1.0
MAX_TRANSITIONS = 6  # opposing changes per window: three flashes
MARGIN = 0.025  # held regions stay this far inside the threshold (thumbnail sampling, codecs)
THUMB = 48  # thumbnail side (6 x 6 blocks of ~8 px)

# sRGB -> linear light, per 8-bit value; relative luminance weights (Rec. 709 / sRGB primaries)
_LINEAR = np.where(np.arange(256) / 255 <= 0.04045, np.arange(256) / 255 / 12.92,
                   ((np.arange(256) / 255 + 0.055) / 1.055) ** 2.4).astype(np.float32)
_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], np.float32)


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """Every s-th pixel, cropped to a multiple of 6 in each direction (uint8, h x w x 3)."""
    h, w = frame.shape[:2]
    s = max(1, min(h, w) // THUMB)
    t = frame[::s, ::s]
    return t[: t.shape[0] // 6 * 6, : t.shape[1] // 6 * 6]


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
        """Per region: +1 / -1 where showing luminance y would be a change up / down of STEP or more from the
        last turning point, opposite to the previous change; else 0."""
        down = (self.direction >= 0) & (self.hi - y >= STEP) & (y < DARK)
        up = (self.direction <= 0) & (y - self.lo >= STEP) & (self.lo < DARK)
        return up.astype(np.int8) - down

    def _soften(self, frame, thumb, y1, blocked):
        """Cross-fade from the last frame shown with the largest weight that keeps `blocked` regions below."""
        y0 = self.y
        falling = y1 < y0
        bound = np.where(falling, self.hi - STEP + MARGIN, self.lo + STEP - MARGIN)
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
