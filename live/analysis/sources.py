"""The modulation sources: every value the matrix (live.walk.modulation) can route, 0..1, one set per feature
frame, computed causally from the frame alone (so live mode, export, replay and the cluster see the same).

  power, flux, chroma_C .. chroma_B      the features as they are
  sub bass low_mid mid high_mid high     band envelopes: attack/release (`[bands] attack_ms, release_ms`)
  onset_<band>                           1 on the band's onset, then decaying with the release
  beat, beat_pulse                       phase 0..1 within the beat, 1 on a beat: from the beat tracker on this
                                         audio, or from Link's clock (set_clock) while it leads a live set
  lfo1 .. lfo4                           `[lfoN] shape, seconds | beats` (live.analysis.lfo)
  <stem>, onset_<stem>                   each stem's envelope and onsets (`--stems`, `--stem NAME=FILE`)
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from core.errors import LiveError
from live.analysis.beat import BeatTracker
from live.analysis.features import BANDS, Frame
from live.analysis.lfo import N_LFOS, LfoSpec, wave

PITCHES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
BAND_NAMES = tuple(name for name, _, _ in BANDS)
ONSET_MIN_DB = 6.0  # a level must rise at least this much in one hop to be an onset...
ONSET_SIGMAS = 2.0  # ...and stand out of its recent rises by this many standard deviations
ONSET_GATE = 0.1  # ...at a level (0..1) of at least this
ONSET_MEMORY_S = 4.0
BEAT_PULSE_S = 0.1  # beat_pulse decay
ATTACK_MS, RELEASE_MS = 5.0, 150.0  # defaults: a kick reaches its envelope within the hop it lands in


@dataclass(frozen=True)
class SourceSpec:
    """A preset's source settings: `[bands]` and `[lfo1]` .. `[lfo4]`."""
    attack_ms: float = ATTACK_MS
    release_ms: float = RELEASE_MS
    lfos: tuple[LfoSpec, ...] = field(default_factory=lambda: (LfoSpec(),) * N_LFOS)


def _chroma_name(p: str) -> str:
    return "chroma_" + p.replace("#", "s")


BASE_NAMES = (("power", "flux") + tuple(_chroma_name(p) for p in PITCHES) + BAND_NAMES
              + tuple(f"onset_{b}" for b in BAND_NAMES) + ("beat", "beat_pulse")
              + tuple(f"lfo{i}" for i in range(1, N_LFOS + 1)))


def source_names(stems: tuple[str, ...] = ()) -> tuple[str, ...]:
    return BASE_NAMES + tuple(stems) + tuple(f"onset_{s}" for s in stems)


def check_stem_names(names) -> tuple[str, ...]:
    """Stem names as sources: words of lower-case letters, digits and _, none a source already."""
    out: list[str] = []
    for name in names:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise LiveError(f"stem name {name!r}: use a word of lower-case letters, digits and _ (e.g. drums)")
        if name in BASE_NAMES or name in out or f"onset_{name}" in BASE_NAMES:
            raise LiveError(f"stem name {name!r} clashes with a source of that name — rename the stem")
        out.append(name)
    return tuple(out)


def _alpha(dt: float, tau_s: float) -> float:
    return 1.0 if tau_s <= 0 else 1.0 - math.exp(-dt / tau_s)


class Sources:
    """step(frame) -> float64[len(names)], the values in `names` order (the array is reused: copy to keep)."""

    def __init__(self, hop_s: float, spec: SourceSpec = SourceSpec(), stems: tuple[str, ...] = ()):
        self.hop_s, self.spec, self.stems = float(hop_s), spec, check_stem_names(stems)
        self.names = source_names(self.stems)
        self.index = {n: i for i, n in enumerate(self.names)}
        n_env = len(BANDS) + len(self.stems)
        self.values = np.zeros(len(self.names))
        self._env_at = [self.index[n] for n in BAND_NAMES + self.stems]
        self._onset_at = [self.index[f"onset_{n}"] for n in BAND_NAMES + self.stems]
        self._env = np.zeros(n_env)
        self._pulse = np.zeros(n_env)
        self._mean, self._var = np.zeros(n_env), np.zeros(n_env)
        self._was_on = np.zeros(n_env, bool)
        self._att = _alpha(self.hop_s, spec.attack_ms / 1000)
        self._rel = _alpha(self.hop_s, spec.release_ms / 1000)
        self._pulse_decay = 1.0 - self._rel
        self._onset_a = _alpha(self.hop_s, ONSET_MEMORY_S)
        self.beat = BeatTracker(self.hop_s)
        self.clock: tuple[float, float, float] | None = None  # (audio time, beat there, bpm) from Link
        self._last_beat_no = None
        self._beat_pulse = 0.0
        self._beat_decay = math.exp(-self.hop_s / BEAT_PULSE_S)
        self._beat_at, self._lfo_at = self.index["beat"], self.index["lfo1"]
        self._chroma_at = self.index["chroma_C"]

    def set_clock(self, time_s: float, beat: float | None, bpm: float | None = None) -> None:
        """From audio time `time_s` the beat is `beat` at `bpm` (Link's session); None: the tracker again."""
        self.clock = None if beat is None else (float(time_s), float(beat), float(bpm))
        self._last_beat_no = None if beat is None else math.floor(beat)

    def take_beat(self, old: "Sources") -> None:
        """Carry the beat (tracker, Link clock, pulse) over from the Sources this one replaces."""
        self.beat, self.clock, self._last_beat_no, self._beat_pulse = (old.beat, old.clock, old._last_beat_no,
                                                                       old._beat_pulse)

    def step(self, frame: Frame) -> np.ndarray:
        v = self.values
        v[0], v[1] = frame.power, frame.flux
        v[self._chroma_at:self._chroma_at + 12] = frame.chroma
        level, rise = frame.levels, frame.rises
        # Envelopes: attack when rising, release when falling.
        a = np.where(level > self._env, self._att, self._rel)
        self._env += a * (level - self._env)
        v[self._env_at] = self._env
        # Onsets: a rise far above the recent ones (rising edge only), at an audible level.
        thr = np.maximum(ONSET_MIN_DB, self._mean + ONSET_SIGMAS * np.sqrt(self._var))
        on = (rise > thr) & (level >= ONSET_GATE)
        hit = on & ~self._was_on
        self._was_on = on
        d = rise - self._mean
        self._mean += self._onset_a * d
        self._var = (1 - self._onset_a) * (self._var + self._onset_a * d * d)
        self._pulse = np.where(hit, 1.0, self._pulse * self._pulse_decay)
        v[self._onset_at] = self._pulse
        # Beat: phase within the beat from the tracker, a pulse on each beat.
        bt = self.beat
        t = frame.time_s
        is_beat = bt.push(t, frame.flux)  # the tracker runs on, so it is ready when Link leaves
        beat_pos = None
        if self.clock is not None:
            t0, b0, bpm = self.clock
            beat_pos = b0 + (t - t0) * bpm / 60.0
            number = math.floor(beat_pos)
            is_beat = self._last_beat_no is not None and number > self._last_beat_no
            self._last_beat_no = number
            phase = beat_pos - number
        elif bt.period is not None and bt.last_beat is not None:
            phase = min(max((t - bt.last_beat) / bt.period, 0.0), 0.999999)
            beat_pos = bt.beats - 1 + phase
        else:
            phase = 0.0
        self._beat_pulse = 1.0 if is_beat else self._beat_pulse * self._beat_decay
        v[self._beat_at], v[self._beat_at + 1] = phase, self._beat_pulse
        for i, lfo in enumerate(self.spec.lfos):
            v[self._lfo_at + i] = wave(lfo.shape, lfo.cycles(t, beat_pos), i + 1)
        return v
