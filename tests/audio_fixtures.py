"""Synthesised test audio written in real formats (no files shipped)."""
from __future__ import annotations

import av
import numpy as np
import soundfile as sf

SR = 22050


def tone_mix(freqs, seconds: float, sr: int = SR, amp: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * sum(np.sin(2 * np.pi * f * t) for f in freqs)).astype(np.float32)


def music(seconds: float, sr: int = SR) -> np.ndarray:
    """Chords that change every second plus a click every 0.5 s: moves chroma, flux and power."""
    chords = [(261.63, 329.63, 392.0), (220.0, 261.63, 329.63), (174.61, 220.0, 261.63), (196.0, 246.94, 293.66)]
    parts = [tone_mix(chords[i % 4], 1.0, sr) for i in range(int(np.ceil(seconds)))]
    y = np.concatenate(parts)[: int(seconds * sr)]
    clicks = np.zeros_like(y)
    for k in range(0, len(y), sr // 2):
        n = min(200, len(y) - k)
        clicks[k:k + n] = 0.6 * np.exp(-np.arange(n) / 30.0) * np.sign(np.sin(np.arange(n)))
    return y + clicks


def write(path, y: np.ndarray, sr: int = SR, stereo: bool = False) -> str:
    """Write y to path; the extension picks the format (wav, flac, ogg via soundfile; mp3, m4a via PyAV)."""
    path = str(path)
    data = np.stack([y, y], axis=1) if stereo else y
    ext = path.rsplit(".", 1)[-1]
    if ext in ("wav", "flac", "ogg"):
        sf.write(path, data, sr)
        return path
    codec = {"mp3": "libmp3lame", "m4a": "aac"}[ext]
    with av.open(path, "w", format={"mp3": "mp3", "m4a": "mp4"}[ext]) as out:
        stream = out.add_stream(codec, rate=sr)
        stream.layout = "stereo" if stereo else "mono"
        planar = np.ascontiguousarray(np.atleast_2d(data.T if stereo else y)).astype(np.float32)
        for i in range(0, planar.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, i:i + 4096]), format="fltp",
                                               layout=stream.layout.name)
            frame.sample_rate = sr
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def drums(sr: int = SR, seconds: float = 6.0, kick_every: float = 0.5, hat_every: float = 0.375,
          hat_first: float = 0.125, seed: int = 0):
    """A low kick (80 Hz, 60 ms decay) every kick_every s from 0.25 s and high hats (7-10 kHz noise, 10 ms
    decay) every hat_every s from hat_first: two rhythms that meet only now and then.
    Returns (kick, hats, kick times, hat times); the mix is kick + hats."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    kick, hats = np.zeros(n), np.zeros(n)
    tk = np.arange(int(0.25 * sr)) / sr
    shape = 0.8 * np.sin(2 * np.pi * 80 * tk) * np.exp(-tk / 0.06)
    kicks = np.arange(0.25, seconds - 0.3, kick_every)
    for k in kicks:
        s = int(k * sr)
        kick[s:s + len(shape)] += shape[:n - s]
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    spec[(f < 7000) | (f > 10000)] = 0
    noise = np.fft.irfft(spec, n)
    noise /= np.abs(noise).max()
    hl = int(0.05 * sr)
    decay = np.exp(-np.arange(hl) / (0.01 * sr))
    ht = np.arange(hat_first, seconds - 0.3, hat_every)
    for h in ht:
        s = int(h * sr)
        hats[s:s + hl] += 0.5 * noise[s:s + hl] * decay[:n - s]
    return kick.astype(np.float32), hats.astype(np.float32), kicks, ht
