"""Flash guard for public screens (WCAG 2.3.1, "three flashes or below threshold", general and red flashes).

What counts as a transition of a 10-degree field is measured in live.show.flashcells (area-averaged cells,
thresholds a little below WCAG's). A flash is a pair of opposing transitions; WCAG allows three in any second.
The guard lets each field and each kind (general, red) make at most MAX_TRANSITIONS transitions in any
WINDOW_S: 2.5 flashes in 1.2 s, room for whoever measures with other timing, on every pixel, after a codec.

A frame that would overrun the budget is softened: it is cross-faded from the last frame shown with the
largest weight (in steps of 1/64) that makes no over-budget field transition, so the picture keeps moving and the
held change comes in when the budget frees up. Where a field's budget is spent, the cells that such cross-fades
move within CONCURRENT_S must not fill its share either: a receiver that drops frames would see them at once. A
frame that overruns nothing is returned as it is (the same object): calm video passes bit-identical.

Pieces of one video rendered apart (export segments, live.export) each get a guard of their own that knows
where the piece starts and ends: the last WINDOW_S of a piece allows at most TAIL transitions, and its first
WINDOW_S counts BOUNDARY transitions as already made (the tail's plus the cut between the pieces, which this
guard did not see), so any second across a boundary holds the same budget. The output is then a function of
the piece's own frames only: the same on one machine and on many.
"""
from __future__ import annotations

from collections import deque
from math import ceil

import cv2
import numpy as np

from live.show.flashcells import CONCURRENT_S, CellState, cells, work_image

WINDOW_S = 1.2  # WCAG's one second, plus room for the timing of whoever shows or receives the frames (an NDI
# sender's thread on a loaded machine stamps frames up to ~0.2 s late)
MAX_TRANSITIONS = 5  # per field and kind in any WINDOW_S: 2.5 flashes, one transition short of three flashes
TAIL = 2  # transitions allowed in a piece's last WINDOW_S when another piece follows
BOUNDARY = TAIL + 2  # counted as made at a piece's start: the tail's, and the cut between (up and down at once)


def blend(prev: np.ndarray, new: np.ndarray, weight: int) -> np.ndarray:
    """prev + weight/256 * (new - prev) in 8-bit (weight 0..256), rounded."""
    if weight >= 256:
        return new
    return cv2.addWeighted(prev, (256 - weight) / 256, new, weight / 256, 0)


class FlashGuard:
    def __init__(self, max_transitions: int = MAX_TRANSITIONS, window_s: float = WINDOW_S,
                 start: float | None = None, end: float | None = None):
        """start / end: where the piece of video this guard sees begins and ends, when other pieces come
        before / after it (seconds, on the clock passed to apply); None: nothing there."""
        self.max, self.window = int(max_transitions), float(window_s)
        self.start, self.end = start, end
        self.prev = self.prev_work = self.prev_v = self.state = self.used = None
        self.made = deque()  # (time, which fields, how many) of the transitions in the window, oldest first
        self.frames = self.limited = self.transitions = 0

    def apply(self, frame: np.ndarray, now: float) -> np.ndarray:
        """The frame to show at time `now` instead of `frame` (itself when it keeps within the budget)."""
        self.frames += 1
        work = work_image(frame)
        if self.prev is None or self.prev.shape != frame.shape:
            self._reset(frame, work, cells(work))
            return frame
        shown = self._measure(frame, work)
        if shown[-1].any() or not self.state.settled(*shown[3:5], now):  # else nothing can overrun
            while self.made and self.made[0][0] <= now - self.window:  # out of the window
                _, which, n = self.made.popleft()
                self.used[which] -= n
            used = self.used
            if self.end is not None and now > self.end - self.window:
                used = used + self.max - TAIL
            if self._over(used, shown, now):
                self.limited += 1
                shown = self._soften(frame, work, shown, used, now)
        self._advance(*shown, now)
        return shown[0]

    def stats(self) -> dict:
        return dict(frames=self.frames, limited_frames=self.limited, transitions=self.transitions)

    # ---- internals ------------------------------------------------------------------------------------------
    def _reset(self, frame, work, v):
        self.prev, self.prev_work, self.prev_v = frame, work, v
        self.state = CellState(v)
        self.used = np.zeros(self.state.none.shape, np.int16)  # transitions per channel and field in the window
        self.made.clear()
        if self.start is not None:  # the pieces before: BOUNDARY transitions just made
            self._record(np.full(self.used.shape, BOUNDARY, np.int16), self.start)

    def _measure(self, img: np.ndarray, work: np.ndarray, v: np.ndarray | None = None):
        """(img, work, values, up, down, field transitions) of showing img (work: its cells in 8-bit; v: their
        values, if known)."""
        v = cells(work) if v is None else v
        up, down = self.state.crossing(v)
        return img, work, v, up, down, self.state.region_transitions(up, down)

    def _over(self, used, shown, now) -> bool:
        """Whether showing it overruns a budget: by transitions, or, where none is left, by cells that move
        within CONCURRENT_S of others (the guard's own cross-fades must not add up to a transition)."""
        if (used + shown[-1] > self.max).any():
            return True
        spent = used >= self.max
        return bool(spent.any() and (spent & self.state.staggered(*shown[3:5], now)).any())

    def _soften(self, frame, work, measured, used, now):
        """The cross-fade from the last frame shown with the largest weight (to 1/64) that overruns no budget:
        from a guess, steps that double away from it until the answer lies between two, then a bisection. The
        guess only orders the measurements: what is shown has been measured as it is and keeps the budget."""
        lo, hi, best = 0, 256, None  # weight lo is within budget (0: the last frame shown), hi is not
        probe, step, walk = self._guess(measured, used, now), 4, 0  # walk: away from the guess (0: not known yet)
        while hi - lo > 4:
            mixed = blend(self.prev_work, work, probe)
            shown = self._measure(mixed, mixed)
            way = -1 if self._over(used, shown, now) else 1
            lo, hi, best = (probe, hi, shown) if way > 0 else (lo, probe, best)
            walk = way if walk in (0, way) else None
            probe, step = probe + way * step, step * 2
            if walk is None or not lo < probe < hi:
                walk, probe = None, (lo + hi) // 2
        if best is None:
            return self._measure(self.prev, self.prev_work, self.prev_v)
        if work is frame:  # cells are pixels: what was measured is what is shown
            return best
        img = blend(self.prev, frame, lo)  # measure what is shown (8-bit rounding differs from the cells' blend)
        shown = self._measure(img, work_image(img))
        return shown if not self._over(used, shown, now) else self._measure(self.prev, self.prev_work, self.prev_v)

    def _guess(self, measured, used, now) -> int:
        """A weight near the largest within budget, from every fourth cell of every fourth row. Cell values go
        about as the square of the sRGB levels a cross-fade blends, so their square roots move about linearly
        with the weight: each cell that the frame moves past a turning point crosses at about weight t. A field
        fills about where the share-th of the cells of one channel and way crosses (or the first, where cells
        moved within CONCURRENT_S and a budget is spent: then one more may fill a field)."""
        _, _, v, up, down, _ = measured
        sub = np.s_[:, ::4, ::4]
        up, down, s0, s1 = up[sub], down[sub], np.sqrt(self.prev_v[sub]), np.sqrt(v[sub])
        at = np.sqrt(np.maximum(np.where(up, self.state.up_at[sub], self.state.down_at[sub]), 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (at - s0) / (s1 - s0)
        k = 1 if self.state.last > now - CONCURRENT_S and (used >= self.max).any() else ceil(self.state.share / 16)
        crossings = [t[c][way[c]] for way in (up, down) for c in (0, 1)]
        first = min((np.partition(x, k - 1)[k - 1] for x in crossings if len(x) >= k), default=0.5)
        level = float(first) * 64
        return int(min(max(level, 1), 63)) * 4 if level == level else 128  # not a number: the middle

    def _record(self, made: np.ndarray, now: float) -> None:
        """Count transitions made at now (per channel and field: 1, or 2 for up and down at once)."""
        which = np.nonzero(made)
        n = made[which]
        self.used[which] += n
        self.made.append((now, which, n))
        self.transitions += int(n.sum())

    def _advance(self, out, work, v, up, down, made, now):
        """Show `out`: record its field transitions and move every cell's turning points."""
        if made.any():
            self._record(made, now)
        self.state.advance(v, up, down, now)
        self.prev, self.prev_work, self.prev_v = out, work, v
