"""The latent walk: audio feature frames -> (z, c, truncation), causal and independent of the hop.

The seed's per-frame rules, with every per-frame constant turned into a time constant via its frame
dt_ref = 512/22050 s, so the look is the same at any hop:
- noise z: bounded random walk. Velocity target = tempo_sensitivity·(flux+power)·direction·jitter per
  dt_ref, smoothed like the seed's (update + 3·last)/4 (tau ≈ 0.08 s); each unit's direction turns at
  ±(2·truncation − margin); jitter factors re-rolled every 200·dt_ref ≈ 4.6 s; z clipped to ±2·truncation.
- class c: each chosen class leaks towards the chroma of its pitch class (seed: EMA with weight
  1/(ps+1) per frame, ps = 300·(1 − pitch_sensitivity) frames), then two cascaded EMAs stand in for the
  seed's non-causal smooth_factor block averaging. With fewer than 12 classes they follow the most
  prominent pitch classes by a decaying running mean of chroma (the seed used the whole-song mean).
Silent frames (all-zero chroma) leave the class mix and pitch ranking as they are.
- pose xform (StyleGAN3's input transform; other models ignore it): angle = rotate + spin integrated over time
  + the last cut's turn, offset = shift_x/y + the last cut's shift. Set values apply at once (a modulation row
  on rotate is as fast as the music); spin turns continuously; a cut's offsets are drawn before they reach the
  walker (live.walk.actions.Turn), so a replay makes the same.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from core.dims import BIGGAN, NUM_CLASSES, LatentDims
from live.config import DT_REF, WalkerParams
from live.analysis.features import Frame

UPDATE_TAU_S = -DT_REF / np.log(3 / 4)  # seed: update = (update + 3·update_last)/4 per frame
JITTER_PERIOD_S = 200 * DT_REF  # seed: new jitter factors every 200 frames
RANK_TAU_S = 8.0  # memory of the pitch-class ranking
RANK_HYSTERESIS = 1.1  # an unchosen pitch class must beat a chosen one by 10% to take its class
TRUNC_TAU_S = 0.3  # truncation glides to a new value instead of jumping
INITIAL_WEIGHT = 0.5  # class weight before any sound has been heard


NO_XFORM = np.zeros(3, np.float32)
NO_XFORM.flags.writeable = False


class State(NamedTuple):
    z: np.ndarray  # float32[z_dim] (BigGAN 128), |z| <= 2·t
    c: np.ndarray  # float32[n_classes] (BigGAN 1000)
    t: float  # truncation
    xform: np.ndarray = NO_XFORM  # float32[3]: angle (degrees, -180..180), shift x, shift y (image widths)


def wrap_degrees(a):
    """An angle in [-180, 180)."""
    return (a + 180.0) % 360.0 - 180.0


def _alpha(dt: float, tau: float) -> float:
    """EMA weight of a new value after dt seconds for time constant tau (tau 0 = follow at once)."""
    return 1.0 if tau <= 0 else float(1.0 - np.exp(-dt / tau))


def pitch_tau_s(pitch_sensitivity: float) -> float:
    """Class-mix time constant: the seed's per-frame weight 1/(ps+1) as seconds (0.733 -> ~1.9 s)."""
    ps = 300.0 * (1.0 - pitch_sensitivity)
    return 0.0 if ps <= 0 else float(-DT_REF / np.log(ps / (ps + 1)))


def smooth_tau_s(smooth_factor: float) -> float:
    """Each of the two cascaded EMAs: together their spread (std) matches the seed's block average
    and linear interpolation over smooth_factor seconds (a triangle of std W/sqrt(6))."""
    return smooth_factor / (2 * np.sqrt(3))


def _truncnorm(rng: np.random.Generator, n: int, bound: float = 2.0) -> np.ndarray:
    x = rng.standard_normal(n)
    while (bad := np.abs(x) > bound).any():
        x[bad] = rng.standard_normal(int(bad.sum()))
    return x


class Walker:
    def __init__(self, params: WalkerParams, classes: list[int], seed: int, hop_s: float,
                 dims: LatentDims = BIGGAN):
        if hop_s <= 0:
            raise ValueError(f"hop_s must be > 0, got {hop_s}")
        self.hop_s = float(hop_s)
        self.dims = dims  # the model's latent sizes (a StyleGAN pickle describes its own)
        z_dim = dims.z_dim
        self._rng = np.random.default_rng(seed)
        self._params = params
        self._trunc = params.truncation
        self._z = _truncnorm(self._rng, z_dim) * self._trunc
        self._dir = np.where(self._z < 0, 1.0, -1.0)
        self._vel = np.zeros(z_dim)
        self._jitter_mask = np.ones(z_dim, bool)  # True: full speed, False: slowed by `jitter`
        self._jitter_clock = None  # seconds since the last re-roll; None = roll at the first step
        self._rank_mean = np.zeros(12)
        self._heard = False  # any non-silent frame yet
        self._classes: list[int] = []
        self._slot_pc = np.zeros(0, int)  # pitch class driving each chosen class
        self._slot_w = np.zeros(0)  # leaky chroma accumulator of each chosen class
        self._set_classes(list(classes), params.num_classes)
        self._c1 = self._scatter()  # the two smoothing stages
        self._c2 = self._c1.copy()
        self._spun = 0.0  # degrees turned by spin so far
        self._turn = (0.0, 0.0, 0.0)  # the last cut's angle and shift

    # ---- control -----------------------------------------------------------------------------------

    def set_params(self, params: WalkerParams) -> None:
        """Takes effect from the next step; truncation glides, the class count re-slots smoothly."""
        if params.num_classes != self._params.num_classes:
            self._set_classes(self._classes, params.num_classes)
        self._params = params

    def set_classes(self, classes: list[int]) -> None:
        """New classes take over the current weights of the old ones; smooth_factor cross-fades them."""
        self._set_classes(list(classes), self._params.num_classes)

    def turn(self, angle: float, dx: float, dy: float) -> None:
        """A cut's pose: angle (degrees) and shift added to rotate and shift_x/y from the next step."""
        self._turn = (float(angle), float(dx), float(dy))

    def take_pose(self, old: "Walker") -> None:
        """Go on turning where `old` (the walker this one replaces at a reseed) was: a new seed, not a new pose."""
        self._spun, self._turn = old._spun, old._turn

    def _set_classes(self, classes: list[int], num_classes: int) -> None:
        if not classes or not all(0 <= int(k) < NUM_CLASSES for k in classes):
            raise ValueError(f"classes must be a non-empty list of ids 0..{NUM_CLASSES - 1}, got {classes}")
        self._classes = [int(k) for k in classes]
        n = min(num_classes, len(classes))
        old_w = self._slot_w
        if n == 12:
            slot_pc = np.arange(12)
        else:  # keep the pitch classes already assigned, fill new slots by rank
            slot_pc = list(self._slot_pc[:n]) if len(self._slot_pc) < 12 else []
            for pc in np.argsort(-self._rank_mean, kind="stable"):
                if len(slot_pc) >= n:
                    break
                if pc not in slot_pc:
                    slot_pc.append(int(pc))
            slot_pc = np.array(slot_pc, int)
        w = np.empty(n)
        for j in range(n):
            w[j] = old_w[j] if j < len(old_w) else (
                self._rank_mean[slot_pc[j]] if self._heard else INITIAL_WEIGHT)
        self._slot_pc, self._slot_w = slot_pc, w

    # ---- stepping ----------------------------------------------------------------------------------

    def step(self, frame: Frame) -> State:
        p, dt = self._params, self.hop_s
        self._step_truncation(p.truncation, dt)
        self._step_noise(p, dt, frame.flux + frame.power)
        self._step_classes(p, dt, np.asarray(frame.chroma, dtype=np.float64))
        bound = 2.0 * self._trunc
        z = np.clip(self._z, -bound, bound).astype(np.float32)
        return State(z, self._c2.astype(np.float32), float(self._trunc), self._step_pose(p, dt))

    def _step_pose(self, p: WalkerParams, dt: float) -> np.ndarray:
        self._spun = wrap_degrees(self._spun + p.spin * dt)
        angle, dx, dy = self._turn
        return np.array([wrap_degrees(p.rotate + self._spun + angle), p.shift_x + dx, p.shift_y + dy], np.float32)

    def _step_truncation(self, target: float, dt: float) -> None:
        if self._trunc == target:
            return
        new = self._trunc + _alpha(dt, TRUNC_TAU_S) * (target - self._trunc)
        if abs(new - target) < 1e-4:
            new = target
        self._z *= new / self._trunc  # rescale, so z keeps its place relative to the bound
        self._trunc = new

    def _step_noise(self, p: WalkerParams, dt: float, drive: float) -> None:
        if self._jitter_clock is None or self._jitter_clock >= JITTER_PERIOD_S - 1e-9:
            self._jitter_mask = self._rng.random(self.dims.z_dim) < 0.5
            self._jitter_clock = 0.0 if self._jitter_clock is None else self._jitter_clock - JITTER_PERIOD_S
        self._jitter_clock += dt
        jit = np.where(self._jitter_mask, 1.0, 1.0 - p.jitter)
        target = p.tempo_sensitivity * drive * self._dir * jit  # z units per dt_ref
        self._vel += _alpha(dt, UPDATE_TAU_S) * (target - self._vel)
        bound = 2.0 * self._trunc
        self._z = np.clip(self._z + self._vel * (dt / DT_REF), -bound, bound)
        # Turn before the wall: the seed's margin is one full step; keep it inside the range.
        turn = bound - min(p.tempo_sensitivity, 0.5 * self._trunc)
        self._dir[self._z >= turn] = -1.0
        self._dir[self._z < -turn] = 1.0

    def _step_classes(self, p: WalkerParams, dt: float, chroma: np.ndarray) -> None:
        if chroma.max() > 0:  # silence holds the mix
            if not self._heard:  # first sound: rank by it, as the seed ranks by the song
                self._heard = True
                self._rank_mean = chroma.copy()
                if len(self._slot_pc) < 12:
                    self._slot_pc = np.argsort(-chroma, kind="stable")[:len(self._slot_pc)]
            else:
                self._rank_mean += _alpha(dt, RANK_TAU_S) * (chroma - self._rank_mean)
                self._rerank()
            self._slot_w += _alpha(dt, pitch_tau_s(p.pitch_sensitivity)) * (
                chroma[self._slot_pc] - self._slot_w)
        a = _alpha(dt, smooth_tau_s(p.smooth_factor))
        self._c1 += a * (self._scatter() - self._c1)
        self._c2 += a * (self._c1 - self._c2)

    def _rerank(self) -> None:
        """With < 12 classes: the strongest unchosen pitch class replaces the weakest chosen one once it
        is clearly stronger. The class keeps its weight, which then leaks towards the new pitch class."""
        n = len(self._slot_pc)
        if n >= 12:
            return
        m = self._rank_mean
        out = np.setdiff1d(np.arange(12), self._slot_pc)
        best = out[np.argmax(m[out])]
        weakest = int(np.argmin(m[self._slot_pc]))
        if m[best] > RANK_HYSTERESIS * m[self._slot_pc[weakest]] + 1e-6:
            self._slot_pc[weakest] = best

    def _scatter(self) -> np.ndarray:
        c = np.zeros(self.dims.n_classes)
        n = len(self._slot_w)  # a model with fewer labels than class ids: id k plays label k mod n_classes
        np.add.at(c, np.array(self._classes[:n], int) % self.dims.n_classes, self._slot_w)
        return c
