"""Beat cuts that land on the beat (`--cut-on-beat N`).

A cut asked for on the beat would appear one render-to-screen latency late. Since Link and the beat tracker
both know when the next beat falls, the planner asks for each cut `lead` seconds early, where lead is the
measured time from dispatching a cut to its first frame being ready (the largest of the last few, plus half
a display period and a margin); the presenter then holds that frame until the beat (live.show.present), so
the new image appears on the beat whatever the render time was.

Beat sources (Forecast): the Link session when it has peers (cuts on multiples of N of the session's beat,
so with N = the quantum they fall on its downbeats), else the beat tracker (every N-th tracked beat, a tap
restarting the count). A tracked cut beat that came earlier than planned still cuts, at once; a Link cut beat
first seen less than a lead ahead (as Link starts leading) is skipped: its frame could not be ready on time.
"""
from __future__ import annotations

import collections
from typing import NamedTuple

from live.control import actions as A

MARGIN_S = 0.008


class Forecast(NamedTuple):
    t_cut: float | None  # time.monotonic of the next cut beat, None if the next beat is no cut beat
    period: float  # seconds per beat
    fired: int | None = None  # cut beats the tracker has fired so far (None: Link, which never misses one)
    beat: float | None = None  # Link: the session beat of t_cut


class CutPlanner:
    def __init__(self, every: int, display_period: float = 1 / 60, prior_lead: float = 0.1):
        self.every = int(every)
        self.display_period = float(display_period)
        self.prior = float(prior_lead)
        self.latencies: collections.deque = collections.deque(maxlen=8)
        self.planned = float("-inf")  # the beat time of the last planned cut
        self.fired = 0
        self.late = 0  # cuts made when the beat came, not ahead of it
        self.skipped = 0  # Link cut beats too near to be ready on time: no cut (one late would show)
        self._beat: float | None = None  # the Link cut beat last forecast...
        self._near = False  # ...and whether it was less than a lead ahead when first seen

    def lead(self) -> float:
        measured = max(self.latencies) if self.latencies else self.prior
        return measured + self.display_period / 2 + MARGIN_S

    def measured(self, latency_s: float) -> None:
        """A cut's dispatch-to-first-frame time (from the presenter)."""
        self.latencies.append(max(0.0, float(latency_s)))

    def poll(self, now: float, fc: Forecast | None) -> A.NewClasses | None:
        """The cut to dispatch now, if any."""
        if fc is None:
            return None
        if fc.fired is not None and fc.fired != self.fired:
            self.fired = fc.fired
            if self.planned < now - fc.period:  # the beat came before its planned cut: cut now
                self.late += 1
                self.planned = now
                return A.NewClasses()
        if fc.beat is not None and fc.beat != self._beat:
            self._beat, self._near = fc.beat, fc.t_cut - now < self.lead()
        if fc.t_cut is None or fc.t_cut <= self.planned + fc.period / 2:
            return None
        if now >= fc.t_cut - self.lead():
            self.planned = fc.t_cut
            if fc.beat is not None and self._near:
                self.skipped += 1
                return None
            return A.NewClasses(show_at=fc.t_cut, beat=fc.beat)
        return None
