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
