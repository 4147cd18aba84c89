"""Streaming audio features on a fixed time grid: chroma, spectral flux, power, six frequency bands and the
level of each stem. Causal, any sample rate.

The hop is the seed's frame (512 samples at 22050 Hz ≈ 23.2 ms) and the window its 2048 samples (≈ 93 ms),
both scaled to the input rate instead of resampling. Frame i analyses the window that ends at sample
(i+1)·hop, so it can be computed the moment that sample arrives (time_s = (i+1)·hop/sr); history before
the first sample is silence. Every frame runs the same per-frame code on the same buffer contents, so the
output does not depend on how the input was split into blocks.

Stems (`stems=N`): push() then takes [n, 1 + N] samples, the mix in column 0 and one stem per column after it;
each stem's level is the RMS of its own window, normalised like power.
"""
from __future__ import annotations

from typing import NamedTuple

import librosa
import numpy as np
import scipy.fft

REF_SR, REF_HOP, REF_WIN = 22050, 512, 2048  # the seed's analysis grid
N_MELS, FMAX = 128, 8000.0  # the seed's mel spectrogram
PEAK_TAU_S = 15.0  # running-max decay: a loud part stops dominating after ~15-30 s
SILENCE_DBFS = -60.0  # window RMS below this (dB re full scale) is silence: chroma 0
LOG_FLOOR_DB = -70.0  # log-mel floor re a full-scale sine: hiss below it makes no flux
POWER_FLOOR = 10 ** (-40 / 10)  # power (re full-scale sine) that normalises to 1 at least
FLUX_FLOOR_DB = 4.0  # mean positive log-mel change (dB) that normalises to 1 at least
# The band sources (name, low Hz, high Hz); a band above the Nyquist rate stays silent.
BANDS = (("sub", 20, 60), ("bass", 60, 250), ("low_mid", 250, 500), ("mid", 500, 2000),
         ("high_mid", 2000, 6000), ("high", 6000, 16000))
LEVEL_FLOOR = 10 ** (-40 / 20)  # band/stem amplitude (re a full-scale sine) that normalises to 1 at least


class Frame(NamedTuple):
    index: int
    time_s: float  # end of the analysed window: when this frame became computable
    chroma: np.ndarray  # float32[12], C..B, max 1 (all 0 in silence)
    flux: float  # onset strength, 0..1 (normalised by a decaying running max)
    power: float  # loudness, 0..1 (normalised the same way)
    levels: np.ndarray = np.zeros(len(BANDS))  # float64[6 + stems]: bands (BANDS order), then stems, 0..1
    rises: np.ndarray = np.zeros(len(BANDS))  # float64[6 + stems]: dB each level rose since the last frame


class _RunningPeak:
    """x / max(decaying peak of x, floor): causal 0..1 normalisation that never amplifies silence.
    x may be an array (one peak per element)."""

    def __init__(self, decay: float, floor: float):
        self.decay, self.floor, self.peak = decay, floor, floor

    def __call__(self, x):
        self.peak = np.maximum(np.maximum(x, self.peak * self.decay), self.floor)
        return x / self.peak


def hop_samples(sr: int) -> int:
    """The analysis hop at this sample rate: the seed's frame, in whole samples."""
    return round(sr * REF_HOP / REF_SR)


class FeatureExtractor:
    def __init__(self, sr: int, stems: int = 0):
        if sr < 8000:
            raise ValueError(f"sample rate {sr} Hz is too low for the analysis (need >= 8000 Hz)")
        self.sr = int(sr)
        self.hop = hop_samples(sr)
        self.hop_s = self.hop / sr
        self.win = round(sr * REF_WIN / REF_SR)
        self.n_fft = scipy.fft.next_fast_len(self.win, real=True)
        # Periodic Hann, scaled so a sine of amplitude A has spectral peak A/2 whatever the window length.
        window = np.hanning(self.win + 1)[:-1]
        self._window = window / window.sum()
        fmax = min(FMAX, sr / 2)
        self._mel = librosa.filters.mel(sr=sr, n_fft=self.n_fft, n_mels=N_MELS, fmax=fmax).astype(np.float64)
        self._chroma = librosa.filters.chroma(sr=sr, n_fft=self.n_fft, tuning=0.0).astype(np.float64)
        # References from a full-scale 1 kHz sine, so floors mean the same at every rate.
        t = np.arange(self.win) / sr
        ref_mel = self._mel @ self._power_spectrum(np.sin(2 * np.pi * 1000 * t))
        self._ref_power = float(ref_mel.mean())
        self._ref_band = float(ref_mel.max())
        self._log_floor = 10 ** (LOG_FLOOR_DB / 10)
        self._silence_ms = 10 ** (SILENCE_DBFS / 10)  # mean square
        decay = float(np.exp(-self.hop_s / PEAK_TAU_S))
        self._flux_norm = _RunningPeak(decay, FLUX_FLOOR_DB)
        self._power_norm = _RunningPeak(decay, POWER_FLOOR)
        # Bands and stems look at the newest half window only (Hann, ~46 ms): its centre is a hop from the end,
        # so a kick reaches its level about a hop after it lands (the full window's centre is two hops back).
        self.band_win = self.win // 2
        self._band_nfft = scipy.fft.next_fast_len(self.band_win, real=True)
        bw = np.hanning(self.band_win + 1)[:-1]
        self._band_window = bw / bw.sum()
        freqs = np.arange(self._band_nfft // 2 + 1) * sr / self._band_nfft
        edges = [int(np.searchsorted(freqs, f)) for _, lo, hi in BANDS for f in (lo, hi)]
        self._band_edges = np.minimum(np.array(edges[:1] + edges[1::2], np.intp), len(freqs) - 1)
        self._band_open = np.diff(self._band_edges) > 0  # bands with bins below Nyquist
        self._ref_amp = float(self._band_spectrum(np.sin(2 * np.pi * 1000 * t[:self.band_win])).sum())
        self.stems = int(stems)
        self._level_norm = _RunningPeak(decay, LEVEL_FLOOR)
        self._prev_db = np.full(len(BANDS) + self.stems, 20 * np.log10(LEVEL_FLOOR))
        self._buf = np.zeros(self.win)  # the newest `win` samples of the mix
        self._stem_buf = np.zeros((self.stems, self.win))  # and of each stem, a row each
        self._fill = 0  # samples of the next hop already in _buf's tail
        self._prev_log = np.full(N_MELS, LOG_FLOOR_DB)
        self._index = 0

    def _band_spectrum(self, seg: np.ndarray) -> np.ndarray:
        spec = np.fft.rfft(seg * self._band_window, n=self._band_nfft)
        return spec.real ** 2 + spec.imag ** 2

    def _power_spectrum(self, seg: np.ndarray) -> np.ndarray:
        spec = np.fft.rfft(seg * self._window, n=self.n_fft)
        return spec.real ** 2 + spec.imag ** 2

    def push(self, samples: np.ndarray) -> list[Frame]:
        """Feed mono samples (any length); returns the frames completed by them, oldest first."""
        x = np.asarray(samples, dtype=np.float64)
        if self.stems:
            if x.ndim != 2 or x.shape[1] != 1 + self.stems:
                raise ValueError(f"push() takes [n, {1 + self.stems}] samples (mix + stems), got {x.shape}")
        elif x.ndim > 1:
            if x.size != max(x.shape):
                raise ValueError(f"push() takes mono samples, got shape {x.shape}")
            x = x.reshape(-1)
        if not np.isfinite(x).all():  # one bad sample must not poison the running peaks
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        stems = x[:, 1:].T if self.stems else None
        x = x[:, 0] if self.stems else x
        frames: list[Frame] = []
        pos, n, hop = 0, len(x), self.hop
        while pos < n:
            take = min(hop - self._fill, n - pos)
            if self._fill == 0:  # a new hop starts: shift the window left by one hop
                self._buf[:-hop] = self._buf[hop:]
                if self.stems:
                    self._stem_buf[:, :-hop] = self._stem_buf[:, hop:]
            start = self.win - hop + self._fill
            self._buf[start:start + take] = x[pos:pos + take]
            if self.stems:
                self._stem_buf[:, start:start + take] = stems[:, pos:pos + take]
            self._fill += take
            pos += take
            if self._fill == hop:
                self._fill = 0
                frames.append(self._frame())
        return frames

    def _frame(self) -> Frame:
        seg = self._buf
        p = self._power_spectrum(seg)
        mel = self._mel @ p
        # Flux: positive change of the log-mel spectrum (dB), mean over bands.
        log_mel = 10 * np.log10(mel / self._ref_band + self._log_floor)
        flux = float(np.maximum(log_mel - self._prev_log, 0.0).mean())
        self._prev_log = log_mel
        power = float(mel.mean() / self._ref_power)
        if float(np.dot(seg, seg)) / self.win < self._silence_ms:
            chroma = np.zeros(12, np.float32)
        else:
            c = self._chroma @ p
            chroma = (c / c.max()).astype(np.float32)
        i = self._index
        self._index += 1
        return Frame(i, (i + 1) * self.hop / self.sr, chroma,
                     self._flux_norm(flux), self._power_norm(power), *self._levels(seg[-self.band_win:]))

    def _levels(self, newest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Band and stem amplitudes over the newest half window: normalised 0..1 and their rise in dB since
        the last frame."""
        band = np.add.reduceat(self._band_spectrum(newest), self._band_edges)[:-1] * self._band_open
        amp = np.sqrt(band / self._ref_amp)  # a full-scale sine in the band: ~1
        if self.stems:
            sq = self._stem_buf[:, -self.band_win:] ** 2
            amp = np.concatenate([amp, np.sqrt(2 * (sq @ self._band_window))])  # full-scale sine: 1
        db = 20 * np.log10(np.maximum(amp, LEVEL_FLOOR))
        rise = np.maximum(db - self._prev_db, 0.0)
        self._prev_db = db
        return self._level_norm(amp), rise
