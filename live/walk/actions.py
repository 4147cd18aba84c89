"""The walker's actions: results applied to the walk at a sample position (live.walk.steering), stored by a
recording as events and applied again by a replay. Anything random is drawn before it becomes one.

They are the lowest layer of the one control vocabulary (live.control.actions adds the requests that the
dispatcher turns into these).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from core.dims import NUM_CLASSES
from core.errors import LiveError
from live.config import PARAM_SPECS, WalkerParams
from live.walk.modulation import Matrix


class Action:
    """Base of every control action."""


@dataclass(frozen=True)
class SetParams(Action):
    params: WalkerParams


@dataclass(frozen=True)
class SetClasses(Action):
    ids: tuple[int, ...]

    def __post_init__(self):
        ids = tuple(int(k) for k in self.ids)
        if not ids or not all(0 <= k < NUM_CLASSES for k in ids):
            raise LiveError(f"classes must be ImageNet ids 0–{NUM_CLASSES - 1}, got {list(self.ids)[:13]}")
        object.__setattr__(self, "ids", ids)


@dataclass(frozen=True)
class Turn(Action):
    """A cut's pose for StyleGAN3: angle (degrees) and shift (image widths) on top of rotate and shift_x/y."""
    angle: float
    dx: float
    dy: float


def cut_turn(params: WalkerParams, seed: int) -> Turn | None:
    """The pose a cut draws from `seed` when the look asks for one (cut_turn, cut_shift), else None."""
    if params.cut_turn == 0 and params.cut_shift == 0:
        return None
    a, x, y = np.random.default_rng([int(seed), 1]).uniform(-1.0, 1.0, 3)  # not the classes' stream
    return Turn(round(a * params.cut_turn, 4), round(x * params.cut_shift, 4), round(y * params.cut_shift, 4))


@dataclass(frozen=True)
class Reseed(Action):
    seed: int


@dataclass(frozen=True)
class Freeze(Action):
    on: bool


@dataclass(frozen=True)
class SetMatrix(Action):
    """A preset's modulation rows and source settings (preset load, hot reload)."""
    matrix: Matrix


@dataclass(frozen=True)
class SetModAmount(Action):
    """One row's amount (1-based row), already within its range."""
    row: int
    amount: float


@dataclass(frozen=True)
class SetBeatClock(Action):
    """The beat sources follow Link from here: at this sample the session's beat is `beat` at `bpm`
    (None: back to the beat tracker). Live mode sends one about every second while Link leads."""
    beat: float | None
    bpm: float | None = None


KINDS = {"params": SetParams, "classes": SetClasses, "reseed": Reseed, "freeze": Freeze, "matrix": SetMatrix,
         "mod_amount": SetModAmount, "beat_clock": SetBeatClock, "turn": Turn}
WALKER_ACTIONS = tuple(KINDS.values())


class Event(NamedTuple):
    pos: int  # samples analysed before the action took effect
    action: Action


def event_to_json(event: Event, sr: int | None = None) -> str:
    """One events.jsonl line; time_s is for people reading the file, replay uses pos."""
    a = event.action
    if isinstance(a, SetParams):
        kind, value = "params", dataclasses.asdict(a.params)
    elif isinstance(a, SetClasses):
        kind, value = "classes", list(a.ids)
    elif isinstance(a, Reseed):
        kind, value = "reseed", int(a.seed)
    elif isinstance(a, Freeze):
        kind, value = "freeze", bool(a.on)
    elif isinstance(a, SetMatrix):
        kind, value = "matrix", a.matrix.to_json()
    elif isinstance(a, SetModAmount):
        kind, value = "mod_amount", [int(a.row), float(a.amount)]
    elif isinstance(a, SetBeatClock):
        kind, value = "beat_clock", None if a.beat is None else [float(a.beat), float(a.bpm)]
    elif isinstance(a, Turn):
        kind, value = "turn", [float(a.angle), float(a.dx), float(a.dy)]
    else:
        raise TypeError(f"{type(a).__name__} is not a walker action and is never recorded")
    row = {"pos": int(event.pos), "kind": kind, "value": value}
    if sr:
        row["time_s"] = round(event.pos / sr, 4)
    return json.dumps(row)


def event_from_json(line: str) -> Event:
    """Parse one events.jsonl line; LiveError with the reason (the caller adds file and line)."""
    try:
        row = json.loads(line)
        pos, kind, value = row["pos"], row["kind"], row["value"]
    except (ValueError, KeyError, TypeError) as e:
        raise LiveError(f"not an event ({type(e).__name__}: {e})") from None
    if isinstance(pos, bool) or not isinstance(pos, int) or pos < 0:
        raise LiveError(f"position {pos!r} is not a sample count >= 0")
    if kind not in KINDS:
        raise LiveError(f"unknown event kind {kind!r} — known: {', '.join(KINDS)}")
    if kind == "params":
        if not isinstance(value, dict):
            raise LiveError(f"params {value!r} is not a table of parameters")
        unknown = sorted(set(value) - set(PARAM_SPECS))
        if unknown:
            raise LiveError(f"unknown parameter {unknown[0]!r} — known: {', '.join(PARAM_SPECS)}")
        return Event(pos, SetParams(WalkerParams(**value)))
    if kind == "classes":
        if not isinstance(value, list) or not all(isinstance(k, int) and not isinstance(k, bool) for k in value):
            raise LiveError(f"classes {value!r} is not a list of class ids")
        return Event(pos, SetClasses(tuple(value)))
    if kind == "reseed":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LiveError(f"seed {value!r} is not an integer >= 0")
        return Event(pos, Reseed(value))
    if kind == "matrix":
        try:
            return Event(pos, SetMatrix(Matrix.from_json(value)))
        except (ValueError, KeyError, TypeError) as e:
            raise LiveError(f"matrix {value!r} is not a modulation matrix ({e})") from None
    if kind == "mod_amount":
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)
                and isinstance(value[1], (int, float)) and value[0] >= 1):
            raise LiveError(f"mod_amount {value!r} is not [row >= 1, amount]")
        return Event(pos, SetModAmount(value[0], float(value[1])))
    if kind == "turn":
        if not (isinstance(value, list) and len(value) == 3
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value)):
            raise LiveError(f"turn {value!r} is not [angle, dx, dy]")
        return Event(pos, Turn(*(float(v) for v in value)))
    if kind == "beat_clock":
        if value is None:
            return Event(pos, SetBeatClock(None))
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
                and value[1] > 0):
            raise LiveError(f"beat_clock {value!r} is not [beat, bpm > 0] or null")
        return Event(pos, SetBeatClock(float(value[0]), float(value[1])))
    if not isinstance(value, bool):
        raise LiveError(f"freeze {value!r} is not true or false")
    return Event(pos, Freeze(value))
