"""Low-frequency oscillators for the modulation matrix: `[lfo1]` .. `[lfo4]` in a preset.

An LFO runs on audio time, so it is the same in live mode, export and replay: `seconds = S` is one cycle
every S seconds of audio; `beats = B` one cycle every B beats of the beat tracker, its phase locked to the
tracker's beats (before a tempo is known it counts 120 BPM on audio time). Every shape goes 0..1; `random`
holds a new value per cycle, drawn from the LFO's number and the cycle's, so it repeats exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

SHAPES = ("sine", "triangle", "saw", "square", "random")
N_LFOS = 4
DEFAULT_BPM = 120.0  # what a beats LFO counts before the tracker knows the tempo


@dataclass(frozen=True)
class LfoSpec:
    shape: str = "sine"
    seconds: float | None = None  # one of seconds / beats; neither: 4 beats
    beats: float | None = None

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"LFO shape {self.shape!r} is not one of {', '.join(SHAPES)}")
        if self.seconds is not None and self.beats is not None:
            raise ValueError("an LFO takes seconds or beats, not both")

    def cycles(self, time_s: float, beat_pos: float | None) -> float:
        """Cycles run since audio time 0; beat_pos: beats counted by the tracker (None: no tempo yet)."""
        if self.seconds is not None:
            return time_s / self.seconds
        beats = self.beats if self.beats is not None else 4.0
        pos = beat_pos if beat_pos is not None else time_s * DEFAULT_BPM / 60.0
        return pos / beats


def _hash01(a: int, b: int) -> float:
    """A fixed pseudo-random number 0..1 for (a, b) (splitmix64 finaliser): the same on every machine."""
    x = (a * 0x9E3779B97F4A7C15 + b * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return ((x ^ (x >> 31)) >> 11) / float(1 << 53)


def wave(shape: str, cycles: float, number: int = 0) -> float:
    """The shape's value 0..1 after `cycles` cycles (sine starts at 0.5 rising, like the others start low)."""
    phase = cycles - math.floor(cycles)
    if shape == "sine":
        return 0.5 + 0.5 * math.sin(2 * math.pi * phase)
    if shape == "triangle":
        return 1.0 - abs(2.0 * phase - 1.0)
    if shape == "saw":
        return phase
    if shape == "square":
        return 1.0 if phase < 0.5 else 0.0
    return _hash01(number, int(math.floor(cycles)))
