"""The one audio -> states path of live mode, export, replay and the cluster: samples through the features and
the walker, with control changes (walker actions, live.control.actions) applied at sample positions.

Live mode applies each action in the analysis thread between two audio reads, at the number of samples analysed
so far; replay and export feed the audio with a queue of Events (recorded actions, timed lyric lines) and each
is applied exactly at its sample. The features do not depend on how the input is split into blocks, so a
replayed walker takes exactly the recorded steps.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, NamedTuple

import numpy as np

from core.dims import BIGGAN, LatentDims
from live.analysis.features import FeatureExtractor
from live.config import WalkerParams
from live.walk.actions import Action, Event, Freeze, Reseed, SetClasses, SetParams
from live.walk.walker import State, Walker


class StartLook(NamedTuple):
    """The look a set or an export starts with."""
    params: WalkerParams
    classes: list[int]
    seed: int
    preset: str = "default"
    classes_given: bool = False  # chosen by the user (flags, preset, lyrics), not drawn at random
    schedule: object = None  # LRC lyrics: changes() -> [(song time, class ids)], or None


def schedule_events(schedule, sr: int) -> deque:
    """LRC lyrics (a schedule's changes) as SetClasses events at sample positions, fed like recorded events."""
    if schedule is None:
        return deque()
    return deque(Event(max(0, int(round(t * sr))), SetClasses(tuple(ids))) for t, ids in schedule.changes())


class Steering:
    """Features + walker driven by walker actions at sample positions (live: apply + push; replay: feed).

    `on_event(Event)` sees every applied action (the recorder writes it down); `on_frame(Frame)` sees every
    feature frame, frozen or not (beat tracking, OSC out).
    """

    def __init__(self, sr: int, params: WalkerParams, classes: Iterable[int], seed: int,
                 on_event: Callable[[Event], None] | None = None, dims: LatentDims = BIGGAN):
        self.features = FeatureExtractor(sr)
        self.dims = dims
        self.params, self.classes, self.seed = params, list(classes), int(seed)
        self.walker = Walker(params, self.classes, self.seed, self.features.hop_s, dims)
        self.frozen = False  # frames still run through the features, the walker holds (live 'freeze')
        self.on_event = on_event
        self.on_frame = None
        self.pos = 0  # samples analysed

    def apply(self, action: Action) -> None:
        """Apply one walker action now, at self.pos."""
        if isinstance(action, SetParams):
            self.params = action.params
            self.walker.set_params(action.params)
        elif isinstance(action, SetClasses):
            self.classes = list(action.ids)
            self.walker.set_classes(self.classes)
        elif isinstance(action, Reseed):
            self.seed = int(action.seed)
            self.walker = Walker(self.params, self.classes, self.seed, self.features.hop_s, self.dims)
        elif isinstance(action, Freeze):
            self.frozen = bool(action.on)
        else:
            raise TypeError(f"{action!r} is not a walker action")
        if self.on_event is not None:
            self.on_event(Event(self.pos, action))

    def push(self, samples: np.ndarray) -> list[tuple[float, State]]:
        """(time_s, state) for every walker step completed by these samples."""
        out = []
        for frame in self.features.push(samples):
            if self.on_frame is not None:
                self.on_frame(frame)
            if not self.frozen:
                out.append((frame.time_s, self.walker.step(frame)))
        self.pos += len(samples)
        return out

    def feed(self, samples: np.ndarray, events: deque) -> list[tuple[float, State]]:
        """Push samples, applying (and popping) the events of `events` (sorted by pos) whose position falls
        inside them exactly at that sample."""
        out: list = []
        i, n = 0, len(samples)
        while True:
            while events and events[0].pos <= self.pos:
                self.apply(events.popleft().action)
            if i >= n:
                return out
            take = n - i if not events else min(n - i, events[0].pos - self.pos)
            out += self.push(samples[i:i + take])
            i += take
