"""The one audio -> states path of live mode, export, replay and the cluster: samples through the features, the
sources, the modulation matrix and the walker, with control changes (walker actions, live.control.actions)
applied at sample positions.

Live mode applies each action in the analysis thread between two audio reads, at the number of samples analysed
so far; replay and export feed the audio with a queue of Events (recorded actions, timed lyric lines) and each
is applied exactly at its sample. The features do not depend on how the input is split into blocks, so a
replayed walker takes exactly the recorded steps. Cuts of the matrix (target `cut`) are drawn from the seed and
the cut's number, so a replay makes them again without recording them.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, NamedTuple

import numpy as np

from core.dims import BIGGAN, LatentDims
from live.analysis.features import FeatureExtractor
from live.analysis.sources import Sources
from live.classes import random_classes
from live.config import WalkerParams
from live.walk.actions import (Action, Event, Freeze, Reseed, SetBeatClock, SetClasses, SetMatrix, SetModAmount,
                               SetParams, Turn, cut_turn)
from live.walk.modulation import Matrix, Modulator, shape
from live.walk.walker import State, Walker


class StartLook(NamedTuple):
    """The look a set or an export starts with."""
    params: WalkerParams
    classes: list[int]
    seed: int
    preset: str = "default"
    classes_given: bool = False  # chosen by the user (flags, preset, lyrics), not drawn at random
    schedule: object = None  # LRC lyrics: changes() -> [(song time, class ids)], or None
    matrix: Matrix = Matrix()  # the preset's modulation rows and source settings


def schedule_events(schedule, sr: int) -> deque:
    """LRC lyrics (a schedule's changes) as SetClasses events at sample positions, fed like recorded events."""
    if schedule is None:
        return deque()
    return deque(Event(max(0, int(round(t * sr))), SetClasses(tuple(ids))) for t, ids in schedule.changes())


class Steering:
    """Features + sources + matrix + walker driven by walker actions at sample positions (live: apply + push;
    replay: feed).

    `on_event(Event)` sees every applied action (the recorder writes it down); `on_frame(Frame)` sees every
    feature frame, frozen or not (beat tracking, OSC out), after its sources are in `self.sources.values`.
    With stems, samples are [n, 1 + len(stems)]: the mix, then each stem (live.analysis.features).
    `directions`: [8, z] unit latent directions of the model (engine.directions) for dir1..dir8, or None.
    """

    def __init__(self, sr: int, params: WalkerParams, classes: Iterable[int], seed: int,
                 on_event: Callable[[Event], None] | None = None, matrix: Matrix = Matrix(),
                 stems: tuple[str, ...] = (), directions=None, dims: LatentDims = BIGGAN):
        self.features = FeatureExtractor(sr, len(stems))
        hop_s = self.features.hop_s
        self.dims = dims
        self.params, self.classes, self.seed = params, list(classes), int(seed)
        self.walker = Walker(params, self.classes, self.seed, hop_s, dims)
        self._walked = params  # the parameters the walker has (modulated)
        self.stems, self.directions = tuple(stems), directions
        self.matrix = matrix
        self.sources = Sources(hop_s, matrix.sources, self.stems)
        self.mod = Modulator(matrix, self.sources.names, hop_s, directions)
        self.cuts = 0  # cuts made by the matrix since the last reseed
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
        elif isinstance(action, Turn):
            self.walker.turn(action.angle, action.dx, action.dy)
        elif isinstance(action, Reseed):
            self.seed, self.cuts = int(action.seed), 0
            old, self.walker = self.walker, Walker(self.params, self.classes, self.seed, self.features.hop_s, self.dims)
            self.walker.take_pose(old)
            self._walked = self.params
        elif isinstance(action, SetMatrix):
            self._set_matrix(action.matrix)
        elif isinstance(action, SetBeatClock):
            self.sources.set_clock(self.pos / self.features.sr, action.beat, action.bpm)
        elif isinstance(action, SetModAmount):
            if 1 <= action.row <= len(self.matrix.rows):
                self._set_matrix(self.matrix.with_amount(action.row, action.amount))
        elif isinstance(action, Freeze):
            self.frozen = bool(action.on)
        else:
            raise TypeError(f"{action!r} is not a walker action")
        if self.on_event is not None:
            self.on_event(Event(self.pos, action))

    def set_directions(self, directions) -> None:
        """The model's latent directions, once known (a replay learns them after reading the recording)."""
        self.directions = directions
        self._set_matrix(self.matrix)

    def _set_matrix(self, matrix: Matrix) -> None:
        if matrix.sources != self.matrix.sources:  # new envelopes or LFOs; the beat and its clock carry on
            old = self.sources
            self.sources = Sources(self.features.hop_s, matrix.sources, self.stems)
            self.sources.take_beat(old)
        self.matrix = matrix
        old, self.mod = self.mod, Modulator(matrix, self.sources.names, self.features.hop_s, self.directions)
        self.mod.take_cuts(old)

    def push(self, samples: np.ndarray) -> list[tuple[float, State]]:
        """(time_s, state) for every walker step completed by these samples."""
        out = []
        for frame in self.features.push(samples):
            values = self.sources.step(frame)
            if self.on_frame is not None:
                self.on_frame(frame)
            if not self.frozen:
                out.append((frame.time_s, self._step(frame, values)))
        self.pos += len(samples)
        return out

    def _step(self, frame, values) -> State:
        m = self.mod.step(self.params, values)
        if m.params != self._walked:
            self._walked = m.params
            self.walker.set_params(m.params)
        if m.cut:  # drawn from the seed and the cut's number: a replay draws the same
            self.cuts += 1
            draw = (self.seed * 1_000_003 + self.cuts) % (1 << 31)
            self.classes = random_classes(self.params.num_classes, draw)
            self.walker.set_classes(self.classes)
            turn = cut_turn(m.params, draw)
            if turn is not None:
                self.walker.turn(turn.angle, turn.dx, turn.dy)
        if m.push:
            frame = frame._replace(flux=max(0.0, frame.flux + m.push))  # the drive never goes negative
        return shape(self.walker.step(frame), m)

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
