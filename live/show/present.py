"""The presenter: between the render thread and the outputs (window and sinks), on the main thread. It decides
what is shown at each display tick, so every output shows the same frames:

- Smooth display (`--interpolate`): when the engine renders slower than the display refreshes, each tick shows
  a cross-fade from the image on screen to the newest rendered frame, reaching it one render interval after
  it arrived; `auto` does so while the measured render interval is longer than the display period. The cost is
  latency: the image on screen is partly older than the newest frame; that difference is measured per tick.
- Beat cuts: the first frame of a planned cut is held until its beat and then shown at once, not faded in.
  A vsync'd window's flip waits for the next refresh, so there the frame is released half a display period
  early (the refresh nearest the beat shows it); without one (sinks, the dummy driver) the hand-over is the
  moment it is shown, so it is released on the beat. A Link cut is re-timed to its beat while it is held,
  so a tempo change during the wait still lands it on the beat.
- The flash guard (live.show.flashguard) sees every shown image last.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from live.show.flashguard import FlashGuard, blend


class CutMark(NamedTuple):
    """A beat cut travelling with the frames (live.run.stages hands it from the main thread to the walk)."""
    seq: int  # 1, 2, ... per beat cut
    show_at: float  # time.monotonic its image is due on screen (the beat)
    t_dispatch: float  # time.monotonic its actions were handed to the analysis thread
    actions: tuple = ()  # its walker actions, applied together with the mark
    beat: float | None = None  # Link: the session beat it lands on


class Rendered(NamedTuple):
    """A finished frame on its way to the presenter."""
    img: np.ndarray  # uint8 h x w x 3
    t_capture: float
    cut: CutMark | None
    t_ready: float  # time.monotonic the frame was finished


class Shown(NamedTuple):
    img: np.ndarray
    t_capture: float  # the weighted capture time of what is on screen (for audio -> photon latency)
    distinct: bool  # a different image from the previous tick
    added_s: float  # how much older the image is than the newest rendered frame (blending's latency)
    cut: int  # the beat cut shown for the first time on this tick (0: none)


class Presenter:
    def __init__(self, rate_hz: float, interpolate: str = "auto", guard: FlashGuard | None = None,
                 on_cut_ready: Callable[[float], None] | None = None, vsync: bool = False,
                 cut_time: Callable[[float, float | None], float] | None = None):
        """cut_time(show_at, beat): when a held cut is due now (Link re-times it); default its show_at."""
        self.period = 1.0 / float(rate_hz)
        self.early = self.period / 2 if vsync else 0.0  # how long before its beat a cut is released
        self.cut_time = cut_time
        self.mode, self.guard = interpolate, guard
        self.on_cut_ready = on_cut_ready
        self.pending: Rendered | None = None  # the newest rendered frame not yet shown
        self.target: Rendered | None = None  # the frame the screen is fading to (or showing)
        self.start_img = self.shown = None
        self.start_cap = self.shown_cap = 0.0
        self.t_target = 0.0
        self.fade = True
        self.interval = None  # seconds between rendered frames (EMA)
        self._last_arrival = None
        self.interpolating = interpolate == "on"
        self.next_tick = 0.0
        self.cut_seen = self.cut_shown = 0
        self.guard_busy = False
        self.ticks = self.distinct = 0
        self.added_sum = 0.0

    # ---- input ---------------------------------------------------------------------------------------------
    def push(self, item: Rendered, now: float) -> None:
        if self._last_arrival is not None:
            dt = now - self._last_arrival
            self.interval = dt if self.interval is None else 0.9 * self.interval + 0.1 * min(dt, 1.0)
            if self.mode == "auto":  # hysteresis: no flapping around the display rate
                self.interpolating = self.interval > self.period * (1.02 if self.interpolating else 1.15)
        self._last_arrival = now
        cut = item.cut
        if cut is not None and cut.seq > self.cut_seen:
            self.cut_seen = cut.seq
            if self.on_cut_ready is not None:
                self.on_cut_ready(item.t_ready - cut.t_dispatch)
        self.pending = item

    # ---- timing --------------------------------------------------------------------------------------------
    def _release(self, item: Rendered) -> float | None:
        """When a new cut's frame may be shown (None: it is no new cut)."""
        cut = item.cut
        if cut is None or cut.seq <= self.cut_shown:
            return None
        show_at = cut.show_at if self.cut_time is None else self.cut_time(cut.show_at, cut.beat)
        return show_at - self.early

    def _held(self, item: Rendered, now: float) -> bool:
        release = self._release(item)
        return release is not None and now < release

    def due(self, now: float) -> float | None:
        """When the next tick should be shown (time.monotonic), or None while there is nothing to show."""
        item = self.pending
        if item is not None and self._held(item, now):
            release = self._release(item)
            return min(release, self.next_tick) if self._moving() else release
        if item is not None:
            new_cut = item.cut is not None and item.cut.seq > self.cut_shown
            return self.next_tick if self.interpolating and not new_cut else now  # a cut: on its beat
        return self.next_tick if self._moving() else None

    def _moving(self) -> bool:
        return self.target is not None and (self.interpolating or self.guard_busy)

    # ---- a tick --------------------------------------------------------------------------------------------
    def tick(self, now: float) -> Shown | None:
        item, cut = self.pending, 0
        if item is not None and not self._held(item, now):
            self.start_img, self.start_cap = self.shown, self.shown_cap
            self.target, self.t_target, self.pending = item, now, None
            self.fade = self.shown is not None
            if item.cut is not None and item.cut.seq > self.cut_shown:
                if self.cut_time is not None:  # the time it was due, for the stats
                    item = self.target = item._replace(cut=item.cut._replace(
                        show_at=self.cut_time(item.cut.show_at, item.cut.beat)))
                self.cut_shown = cut = item.cut.seq
                self.fade = False  # a cut appears on its beat, not faded in
        target = self.target
        if target is None:
            return None
        alpha = 1.0
        if self.fade and self.interpolating and self.interval:
            alpha = min(1.0, (now - self.t_target + self.period) / self.interval)
        if alpha >= 1.0:
            img, cap = target.img, target.t_capture
        else:
            img = blend(self.start_img, target.img, int(alpha * 256))
            cap = self.start_cap + alpha * (target.t_capture - self.start_cap)
        if self.guard is not None and (img is not self.shown or self.guard_busy):
            raw = img
            img = self.guard.apply(raw, now)
            self.guard_busy = img is not raw
        distinct = img is not self.shown
        self.shown, self.shown_cap = img, cap
        self.ticks += 1
        self.distinct += distinct
        added = target.t_capture - cap
        self.added_sum += added
        # ticks on a grid of display periods (a vsync'd flip then locks to the monitor; the dummy driver and
        # headless runs, which never block, are paced by it)
        self.next_tick = max(self.next_tick + self.period, now + self.period / 2)
        return Shown(img, cap, distinct, added, cut)

    def stats(self) -> dict:
        return dict(interpolating=self.interpolating, display_rate_hz=round(1 / self.period, 2),
                    added_latency_ms=round(self.added_sum / self.ticks * 1000, 2) if self.ticks else 0.0)


def refresh_rate(display: int = 0) -> float | None:
    """The refresh rate of a monitor as SDL reports it (through the SDL library pygame bundles), or None
    where it is unknown (no window, the dummy driver, an SDL that is not found)."""
    import ctypes
    import glob
    import os

    class Mode(ctypes.Structure):
        _fields_ = [("format", ctypes.c_uint32), ("w", ctypes.c_int), ("h", ctypes.c_int),
                    ("refresh_rate", ctypes.c_int), ("driverdata", ctypes.c_void_p)]

    try:
        import pygame
    except ImportError:
        return None
    base = os.path.dirname(pygame.__file__)
    for path in sorted(glob.glob(os.path.join(base, "..", "pygame.libs", "libSDL2-*")) +
                       glob.glob(os.path.join(base, ".dylibs", "libSDL2*")) + glob.glob(os.path.join(base, "SDL2.dll"))):
        try:
            get = ctypes.CDLL(path).SDL_GetCurrentDisplayMode  # the copy pygame already loaded
        except (OSError, AttributeError):
            continue
        mode = Mode()
        if get(int(display), ctypes.byref(mode)) == 0 and mode.refresh_rate > 0:
            return float(mode.refresh_rate)
    return None
