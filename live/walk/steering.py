"""Control events: the one way a control change reaches the walker, at a sample position.

Live mode applies each command in the analysis thread between two audio reads and stamps it with the number
of samples analysed so far; replay pushes the recorded audio up to each stamp and applies the same event
there. Both go through Steering.apply, and the features do not depend on how the input is split into blocks,
so a replayed walker takes exactly the recorded steps.

Kinds and values: params (WalkerParams), classes (list of ids), reseed (int seed), freeze (bool).
Everything random (new classes, new seeds) is drawn before it becomes an event, so events carry results.
"""
from __future__ import annotations

import dataclasses
import json
from collections import deque
from typing import Callable, Iterable, NamedTuple

import numpy as np

from live.config import WalkerParams
from live.walk.trajectory import Trajectory
from live.walk.walker import State, Walker

KINDS = ("params", "classes", "reseed", "freeze")


class Event(NamedTuple):
    pos: int  # samples analysed before the event took effect
    kind: str
    value: object


def to_json(event: Event, sr: int | None = None) -> str:
    """One events.jsonl line; time_s is for people reading the file, replay uses pos."""
    kind, value = event.kind, event.value
    if kind == "params":
        value = dataclasses.asdict(value)
    elif kind == "classes":
        value = [int(k) for k in value]
    elif kind == "reseed":
        value = int(value)
    elif kind == "freeze":
        value = bool(value)
    row = {"pos": int(event.pos), "kind": kind, "value": value}
    if sr:
        row["time_s"] = round(event.pos / sr, 4)
    return json.dumps(row)


def from_json(line: str) -> Event:
    """Parse one events.jsonl line; ValueError (with the reason) on anything malformed."""
    try:
        row = json.loads(line)
        pos, kind, value = int(row["pos"]), row["kind"], row["value"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"not an event ({e})") from None
    if kind not in KINDS or pos < 0:
        raise ValueError(f"unknown event kind {kind!r} or negative position {pos}")
    if kind == "params":
        value = WalkerParams(**value)
    elif kind == "classes":
        value = [int(k) for k in value]
    elif kind == "reseed":
        value = int(value)
    else:
        value = bool(value)
    return Event(pos, kind, value)


def schedule_events(schedule, sr: int) -> deque:
    """LRC lyrics (classes_at/changes) as class events at sample positions, fed like recorded events."""
    if schedule is None:
        return deque()
    return deque(Event(max(0, int(round(t * sr))), "classes", list(ids)) for t, ids in schedule.changes())


class Steering:
    """A Trajectory driven by control events at sample positions (live: apply + push; replay: feed).

    `on_event(Event)` sees every applied event (the recorder writes it down).
    """

    def __init__(self, traj: Trajectory, params: WalkerParams, classes: Iterable[int], seed: int,
                 on_event: Callable[[Event], None] | None = None):
        self.traj = traj
        self.params, self.classes, self.seed = params, list(classes), int(seed)
        self.on_event = on_event
        self.pos = 0

    @classmethod
    def create(cls, sr: int, params: WalkerParams, classes: Iterable[int], seed: int, on_event=None):
        return cls(Trajectory(sr, params, list(classes), seed), params, classes, seed, on_event)

    def apply(self, kind: str, value) -> None:
        """Apply one control change now, at self.pos."""
        traj = self.traj
        if kind == "params":
            self.params = value
            traj.walker.set_params(value)
        elif kind == "classes":
            self.classes = [int(k) for k in value]
            traj.walker.set_classes(self.classes)
        elif kind == "reseed":
            self.seed = int(value)
            traj.walker = Walker(self.params, self.classes, self.seed, traj.hop_s)
        elif kind == "freeze":
            traj.frozen = bool(value)
        else:
            raise ValueError(f"unknown control event {kind!r}")
        if self.on_event is not None:
            self.on_event(Event(self.pos, kind, value))

    def push(self, samples: np.ndarray) -> list[tuple[float, State]]:
        out = self.traj.push(samples)
        self.pos += len(samples)
        return out

    def feed(self, samples: np.ndarray, events: deque) -> list[tuple[float, State]]:
        """Replay: push samples, applying (and popping) the events of `events` (sorted by pos) whose
        position falls inside them exactly at that sample."""
        out: list = []
        i, n = 0, len(samples)
        while True:
            while events and events[0].pos <= self.pos:
                ev = events.popleft()
                self.apply(ev.kind, ev.value)
            if i >= n:
                return out
            take = n - i if not events else min(n - i, events[0].pos - self.pos)
            out += self.push(samples[i:i + take])
            i += take
