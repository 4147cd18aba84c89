"""The modulation matrix: preset rows `[[modulation]] source, target, amount, curve` route the sources
(live.analysis.sources) to the walk, frame by frame.

Each row adds amount × curve(source) to its target; rows on one target add; the sum is clamped to the range.
- a walker parameter (every name in PARAM_SPECS, so a model's own parameters become targets when they join
  it): amount is a fraction of the parameter's range, added to its set value before the walker steps.
  truncation is applied to the step's output instead (the walker glides a set truncation over ~0.3 s, a
  modulated one follows at once); z is rescaled with it, as the walker does, so it keeps its place.
- noise_push: added to the walker's drive (flux + power, 0..2): an extra kick of the noise vector.
- cut: new random classes when the row's value crosses 0.5 upwards, at most one every CUT_MIN_S.
- dir1 .. dir8: the model's top principal latent directions (engine.directions), amount in standard deviations
  of z (scaled with the truncation like z itself), added to the step's z.
Curves: linear x, exp (e^(3x)-1)/(e^3-1) (slow start), log its inverse (fast start), gate (1 from 0.5 up).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from live.analysis.sources import SourceSpec
from live.config import PARAM_SPECS, WalkerParams

N_DIRS = 8
CURVES = ("linear", "exp", "log", "gate")
CUT_MIN_S = 1.0  # a cut row fires at most this often
CUT_LEVEL = 0.5
Z_STD = 0.8796  # standard deviation of the walker's z per unit of truncation (a normal truncated at ±2)
INSTANT = ("truncation",)  # parameters modulated on the step's output, not through the walker's glide
_E3 = math.exp(3.0) - 1.0


def targets() -> tuple[str, ...]:
    """Every target a row may name (parameters first, read from PARAM_SPECS at call time)."""
    return tuple(PARAM_SPECS) + ("noise_push", "cut") + tuple(f"dir{i}" for i in range(1, N_DIRS + 1))


def amount_range(target: str) -> tuple[float, float]:
    """The amounts a row on `target` may take (a MIDI knob sweeps them)."""
    if target.startswith("dir"):
        return -3.0, 3.0  # standard deviations
    if target == "noise_push":
        return -2.0, 2.0  # drive units (flux + power)
    return -1.0, 1.0  # fractions of the range (cut: its gain)


def curve(name: str, x: float) -> float:
    if name == "linear":
        return x
    if name == "exp":
        return (math.exp(3.0 * x) - 1.0) / _E3
    if name == "log":
        return math.log1p(_E3 * x) / 3.0
    return 1.0 if x >= 0.5 else 0.0


@dataclass(frozen=True)
class Row:
    source: str
    target: str
    amount: float
    curve: str = "linear"


@dataclass(frozen=True)
class Matrix:
    """A preset's modulation: its rows and its source settings."""
    rows: tuple[Row, ...] = ()
    sources: SourceSpec = field(default_factory=SourceSpec)

    def with_amount(self, row: int, amount: float) -> "Matrix":
        """Row `row` (1-based) with a new amount."""
        rows = list(self.rows)
        rows[row - 1] = replace(rows[row - 1], amount=float(amount))
        return replace(self, rows=tuple(rows))

    def uses_dirs(self) -> bool:
        return any(r.target.startswith("dir") for r in self.rows)

    def to_json(self) -> dict:
        s = self.sources
        return {"rows": [[r.source, r.target, r.amount, r.curve] for r in self.rows],
                "bands": [s.attack_ms, s.release_ms],
                "lfos": [[lfo.shape, lfo.seconds, lfo.beats] for lfo in s.lfos]}

    @classmethod
    def from_json(cls, d: dict) -> "Matrix":
        from live.analysis.lfo import LfoSpec

        rows = tuple(Row(str(a), str(b), float(c), str(e)) for a, b, c, e in d["rows"])
        att, rel = d["bands"]
        lfos = tuple(LfoSpec(str(sh), sec, bt) for sh, sec, bt in d["lfos"])
        return cls(rows, SourceSpec(float(att), float(rel), lfos))


class Step(NamedTuple):
    """One frame's modulation: parameters for the walker, and what to do to its output."""
    params: WalkerParams
    push: float  # added to the walker's drive
    cut: bool
    trunc: float | None  # added to the output's truncation (then clamped), None: as the walker has it
    dz: np.ndarray | None  # z offset in units of truncation (the direction rows), None: none


class Modulator:
    """Rows resolved against the source names once; step(params, values) per frame."""

    def __init__(self, matrix: Matrix, names, hop_s: float, directions: np.ndarray | None = None):
        self.matrix, self.hop_s = matrix, float(hop_s)
        index = {n: i for i, n in enumerate(names)}
        self.directions = directions
        self._rows = [(index[r.source], r.target, r.amount, r.curve) for r in matrix.rows
                      if r.source in index and (not r.target.startswith("dir") or directions is not None)]
        self._cut_prev: dict[int, float] = {}
        self._since_cut = math.inf

    def take_cuts(self, old: "Modulator") -> None:
        """Keep the cut rows' state (last values, time since the last cut) of the Modulator this one replaces,
        so a new amount or matrix does not cut at once."""
        self._cut_prev, self._since_cut = dict(old._cut_prev), old._since_cut

    def step(self, params: WalkerParams, values: np.ndarray) -> Step:
        self._since_cut += self.hop_s
        if not self._rows:
            return Step(params, 0.0, False, None, None)
        add: dict[str, float] = {}
        cut = False
        for k, (src, target, amount, crv) in enumerate(self._rows):
            x = amount * curve(crv, float(values[src]))
            if target == "cut":
                prev, self._cut_prev[k] = self._cut_prev.get(k, 0.0), x
                if prev < CUT_LEVEL <= x and self._since_cut >= CUT_MIN_S:
                    cut, self._since_cut = True, 0.0
            else:
                add[target] = add.get(target, 0.0) + x
        changed, trunc, dz = {}, None, None
        for target, x in add.items():
            spec = PARAM_SPECS.get(target)
            if spec is None:
                continue
            if target in INSTANT:
                trunc = x * (spec.max - spec.min)
                continue
            value = min(spec.max, max(spec.min, getattr(params, target) + x * (spec.max - spec.min)))
            changed[target] = int(round(value)) if spec.type is int else value
        for i in range(N_DIRS):
            x = add.get(f"dir{i + 1}")
            if x:
                dz = (0.0 if dz is None else dz) + x * Z_STD * self.directions[i]
        if changed:  # values clamped and rounded above: skip WalkerParams' checks (~0.2 ms a frame)
            params = copy.copy(params)
            for name, value in changed.items():
                object.__setattr__(params, name, value)
        return Step(params, add.get("noise_push", 0.0), cut, trunc, dz)


def shape(state, step: Step):
    """The walker's output with the output-side modulation: truncation (z rescaled with it) and directions."""
    if step.trunc is None and step.dz is None:
        return state
    z, t = state.z, state.t
    if step.trunc is not None:
        lo, hi = PARAM_SPECS["truncation"].min, PARAM_SPECS["truncation"].max
        t = min(hi, max(lo, state.t + step.trunc))
        z = z * (t / state.t)
    if step.dz is not None:
        z = np.clip(z + t * step.dz, -2.0 * t, 2.0 * t)
    return state._replace(z=z.astype(np.float32), t=float(t))
