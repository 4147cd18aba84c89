"""Causal beat tracking on the feature frames' flux, tap tempo, and beat-counted cuts.

Tempo: every quarter second, the autocorrelation of the last 8 s of flux, over lags of 60-180 BPM,
weighted by a log-normal prior around 120 BPM (around the tapped tempo after a tap: that settles
half/double-tempo doubt), with the double lag adding support. A new tempo is taken when it is close to the
current one (smoothed) or has won several estimates in a row (no flapping between octaves).
Phase: a beat fires when the predicted time comes, or early on an onset just before it; an onset just after
a predicted beat shifts the grid onto it, so the phase follows the music without firing twice.
Everything runs on frame time (audio time), so it is deterministic for a given input.
"""
from __future__ import annotations

import numpy as np

WINDOW_S = 8.0
MIN_BPM, MAX_BPM = 60.0, 180.0
ESTIMATE_EVERY_S = 0.25
MIN_HISTORY_S = 3.0
PRIOR_BPM, PRIOR_OCTAVES = 120.0, 1.0
TAP_OCTAVES = 0.25  # prior width after a tap: the tapped tempo wins unless the music clearly disagrees
TOLERANCE = 0.2  # of a period: onsets this close to a predicted beat belong to it
SWITCH_VOTES = 4  # estimates in a row a far-off tempo must win before it replaces the current one
TAP_GAP_S = 2.0  # taps further apart start a new tap sequence


class BeatTracker:
    def __init__(self, hop_s: float):
        self.hop_s = float(hop_s)
        self.n = int(round(WINDOW_S / hop_s))
        self.env = np.zeros(self.n)  # flux ring
        self.count = 0  # frames seen
        self.period: float | None = None  # seconds per beat
        self.next_beat: float | None = None
        self.last_beat: float | None = None
        self.beats = 0
        self.prior_bpm, self.prior_oct = PRIOR_BPM, PRIOR_OCTAVES
        self._candidate, self._votes = None, 0
        self._next_estimate = MIN_HISTORY_S
        self._mean, self._var, self._prev = 0.0, 0.0, 0.0
        self._taps: list[float] = []
        self._pending_taps: list[float] = []
        self._locked_until = 0.0
        self.tapped = False
        self.tap_bpm: float | None = None  # the tempo the current tap sequence set (2+ taps), else None

    @property
    def bpm(self) -> float | None:
        return None if self.period is None else 60.0 / self.period

    # ---- input ----------------------------------------------------------------------------------------
    def tap(self, time_s: float) -> None:
        """A tap at audio time `time_s` (applied at the next push). Two or more taps in a row set the tempo;
        every tap sets the phase (the tapped beat is a beat)."""
        self._pending_taps.append(float(time_s))

    def push(self, time_s: float, flux: float) -> bool:
        """One feature frame (its time and flux); True if a beat falls on it."""
        t = float(time_s)
        self.env[self.count % self.n] = flux
        self.count += 1
        tapped = False
        for tap in self._pending_taps:
            tapped = self._take_tap(tap, t) or tapped
        self.tapped = bool(self._pending_taps)  # for counters: this frame restarted the count
        self._pending_taps.clear()
        if t >= self._next_estimate:
            self._next_estimate = t + ESTIMATE_EVERY_S
            self._estimate(t)
        onset = self._onset(flux)
        p = self.period
        if tapped:
            self.beats += 1
            return True
        if p is None:
            return False
        if self.next_beat is None:  # grid starts on the first onset
            return self._fire(t, t + p) if onset else False
        tol = TOLERANCE * p
        if onset and self.next_beat - tol <= t < self.next_beat:  # early onset: the beat is now
            return self._fire(t, t + p)
        if t >= self.next_beat - 1e-9:  # predicted beat
            nxt = self.next_beat + p
            while nxt <= t:
                nxt += p
            return self._fire(t, nxt)
        if onset and self.last_beat is not None and t - self.last_beat <= tol:
            self.next_beat = t + p  # late onset: move the grid onto it
        return False

    # ---- internals ------------------------------------------------------------------------------------
    def _fire(self, t: float, next_beat: float) -> bool:
        self.last_beat, self.next_beat = t, next_beat
        self.beats += 1
        return True

    def _take_tap(self, tap: float, now: float) -> bool:
        """True if the tap is a beat on this frame (it is when it was not long ago)."""
        if self._taps and tap - self._taps[-1] > TAP_GAP_S:
            self._taps.clear()
            self.tap_bpm = None
        self._taps = (self._taps + [tap])[-5:]
        if len(self._taps) >= 2:
            self.period = float(np.median(np.diff(self._taps)))
            self.tap_bpm = 60.0 / self.period
            self.prior_bpm, self.prior_oct = 60.0 / self.period, TAP_OCTAVES
            self._candidate, self._votes = None, 0
        if self.period is not None:  # the tap was a beat: put the grid on it
            tol = TOLERANCE * self.period
            fired_just_now = self.last_beat is not None and now - self.last_beat < tol
            nxt = tap + self.period
            while nxt <= now:
                nxt += self.period
            self.last_beat, self.next_beat = tap, nxt
            self._locked_until = now + 2 * self.period  # let the tap stand before the phase estimate
            return now - tap < tol and not fired_just_now
        return False

    def _onset(self, flux: float) -> bool:
        """Rising edge over an adaptive threshold (mean + 2 std of recent flux, decaying ~4 s)."""
        a = self.hop_s / 4.0
        thr = self._mean + 2.0 * np.sqrt(self._var) + 0.05
        hit = flux > thr and self._prev <= thr
        d = flux - self._mean
        self._mean += a * d
        self._var = (1 - a) * (self._var + a * d * d)
        self._prev = flux
        return hit

    def _history(self) -> np.ndarray:
        n = min(self.count, self.n)
        if self.count < self.n:
            return self.env[:n].copy()
        return np.roll(self.env, -(self.count % self.n))

    def _estimate(self, now: float) -> None:
        x = self._history()
        n = len(x)
        if n * self.hop_s < MIN_HISTORY_S:
            return
        x = np.convolve(x - x.mean(), [0.25, 0.5, 0.25], "same")  # onsets split across two frames still line up
        spec = np.fft.rfft(x, 2 * n)
        ac = np.fft.irfft(spec * np.conj(spec))[:n]
        if ac[0] <= 1e-9:
            return
        ac /= ac[0]
        lo = max(1, int(60.0 / MAX_BPM / self.hop_s))
        hi = min(n // 2 - 1, int(np.ceil(60.0 / MIN_BPM / self.hop_s)))
        if hi <= lo:
            return
        lags = np.arange(lo, hi + 1)
        score = ac[lags] + 0.5 * ac[np.minimum(2 * lags, n - 1)]
        bpm = 60.0 / (lags * self.hop_s)
        score = score * np.exp(-0.5 * (np.log2(bpm / self.prior_bpm) / self.prior_oct) ** 2)
        k = int(np.argmax(score))
        if ac[lags[k]] < 0.25:  # no periodicity worth the name (noise reaches ~0.15)
            return
        lag = float(lags[k])
        if 0 < k < len(lags) - 1:  # parabolic refinement
            a, b, c = score[k - 1], score[k], score[k + 1]
            den = a - 2 * b + c
            if den < 0:
                lag += 0.5 * (a - c) / den
        self._accept(lag * self.hop_s)
        if self.next_beat is not None and now >= self._locked_until:
            self._rephase(x, now)

    def _rephase(self, x: np.ndarray, now: float) -> None:
        """Put the grid on the phase whose comb over the last seconds collects the most flux."""
        p = self.period / self.hop_s  # frames per beat
        ks = np.arange(int((len(x) - 1) / p))
        if len(ks) < 4:
            return
        offsets = np.arange(int(p))
        idx = len(x) - 1 - np.rint(offsets[:, None] + ks[None, :] * p).astype(int)
        w = 0.9 ** ks  # recent beats count more
        score = (np.maximum(x, 0)[idx] * w).sum(axis=1)
        last = now - offsets[int(np.argmax(score))] * self.hop_s  # the most recent beat by the comb
        err = (last - self.next_beat + self.period / 2) % self.period - self.period / 2
        if abs(err) > TOLERANCE * self.period:
            self.next_beat += err
        else:
            self.next_beat += 0.3 * err

    def _accept(self, period: float) -> None:
        if self.period is None:
            self.period = period
        elif abs(period / self.period - 1) < 0.06:
            self.period += 0.25 * (period - self.period)
            self._candidate, self._votes = None, 0
        elif self._candidate is not None and abs(period / self._candidate - 1) < 0.06:
            self._votes += 1
            self._candidate = period
            if self._votes >= SWITCH_VOTES:
                self.period, self._candidate, self._votes = period, None, 0
        else:
            self._candidate, self._votes = period, 1


class BeatCounter:
    """Fires on every n-th beat (`--cut-on-beat N`); restart() makes the next beat count as beat 1."""

    def __init__(self, every: int):
        self.every, self.count = int(every), 0

    def beat(self) -> bool:
        self.count += 1
        if self.count >= self.every:
            self.count = 0
            return True
        return False

    def restart(self) -> None:
        self.count = 0

    def __str__(self) -> str:
        return f"{self.count}/{self.every}"
