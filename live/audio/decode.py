"""Decode an audio file in blocks with PyAV: mono float32 for analysis, stereo planar float for the mp4 track.

The decoded samples, not the container header, set the length; NaN/inf samples are decoded as silence.

Streaming (no whole-song array), so memory stays flat in song length.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Iterator

import av
import numpy as np

from core.errors import LiveError

ANALYSIS_SR = 22050  # the seed's analysis rate; the features code works at any rate
OUTPUT_RATES = (44100, 48000)  # AAC rates we write; anything else is resampled to 44.1 kHz
LENGTH_TOLERANCE_S = 0.5  # decoded length vs the header's: more is worth a warning
_FLOAT_DTYPES = {"flt": np.float32, "fltp": np.float32, "dbl": np.float64, "dblp": np.float64}  # can hold NaN


@dataclass(frozen=True)
class AudioInfo:
    path: str
    duration_s: float  # whole file, seconds
    sample_rate: int  # source rate
    output_rate: int  # rate of the AAC track we write
    nonfinite: int = 0  # NaN/inf samples in the file (blocks() zeroes them)


def check_input(path: str) -> None:
    """One-line errors for the inputs a user gets wrong most often."""
    if not os.path.exists(path):
        raise LiveError(f"input '{path}' does not exist: check the path")
    if os.path.isdir(path):
        raise LiveError(f"input '{path}' is a directory: pass an audio file (wav, flac, ogg, mp3, m4a)")
    if os.path.getsize(path) == 0:
        raise LiveError(f"input '{path}' is empty (0 bytes): pass an audio file")
    if not os.access(path, os.R_OK):
        raise LiveError(f"input '{path}' is not readable: check its permissions")


def _open(path: str):
    try:
        container = av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise LiveError(f"cannot decode '{path}' as audio ({_reason(e)}): pass a wav, flac, ogg, mp3 or m4a file")
    if not container.streams.audio:
        container.close()
        raise LiveError(f"cannot decode '{path}' as audio (no audio stream): pass a wav, flac, ogg, mp3 or m4a file")
    return container


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e).splitlines()[0] or type(e).__name__


def probe(path: str) -> AudioInfo:
    """Duration (of the decoded audio: a truncated file's header may claim more), rates and the count of
    NaN/inf samples; warns in one line about either. Decodes the file once (a few seconds for a long mp3)."""
    check_input(path)
    container = _open(path)
    try:
        stream = container.streams.audio[0]
        sr = stream.codec_context.sample_rate or stream.rate
        if not sr:
            raise LiveError(f"cannot decode '{path}' as audio (no sample rate): pass a wav, flac, ogg, mp3 or m4a file")
        if stream.duration and stream.time_base:
            header = float(stream.duration * stream.time_base)
        else:
            header = container.duration / av.time_base if container.duration else None
        samples = nonfinite = 0
        for frame in _frames(container, path):
            samples += frame.samples
            nonfinite += _zero_nonfinite(frame)
    finally:
        container.close()
    duration = samples / sr
    if header is not None and abs(header - duration) > LENGTH_TOLERANCE_S:
        print(f"live: '{path}': its header says {header:.1f} s but {duration:.1f} s decode (truncated file?): "
              f"rendering {duration:.1f} s", file=sys.stderr)
    if nonfinite:
        print(f"live: '{path}' has {nonfinite} NaN/inf samples: replaced with silence", file=sys.stderr)
    return AudioInfo(path, duration, sr, sr if sr in OUTPUT_RATES else OUTPUT_RATES[0], nonfinite)


def _frames(container, path: str):
    try:
        for frame in container.decode(audio=0):
            yield frame
    except av.error.FFmpegError as e:
        raise LiveError(f"cannot decode '{path}' ({_reason(e)}): the file may be corrupt")


def blocks(info: AudioInfo, mono: bool = True, planar: bool = True) -> Iterator[tuple]:
    """Yield (analysis mono f32 at ANALYSIS_SR, output planar f32 [2, n] at info.output_rate), from time 0;
    a part not asked for (mono=False or planar=False) is None and costs nothing."""
    container = _open(info.path)
    to_mono = av.AudioResampler(format="flt", layout="mono", rate=ANALYSIS_SR) if mono else None
    to_out = av.AudioResampler(format="fltp", layout="stereo", rate=info.output_rate) if planar else None
    try:
        for frame in _frames(container, info.path):
            if info.nonfinite:
                _zero_nonfinite(frame)
            frame.pts = None  # let the resamplers count samples; some demuxers give gappy pts
            # to_out first: a frame the mono resampler only relabels (float mono at ANALYSIS_SR, unspecified
            # layout) can no longer be pushed into a second resampler (FFmpeg EINVAL).
            out = _planar(to_out.resample(frame)) if to_out else None
            yield (_mono(to_mono.resample(frame)) if to_mono else None), out
        yield (_mono(to_mono.resample(None)) if to_mono else None), (_planar(to_out.resample(None)) if to_out else None)
    finally:
        container.close()


def _zero_nonfinite(frame) -> int:
    """Set the frame's NaN/inf samples to 0, in place; returns how many there were."""
    dtype = _FLOAT_DTYPES.get(frame.format.name)
    if dtype is None:
        return 0
    n = frame.samples * (1 if frame.format.is_planar else len(frame.layout.channels))
    count = 0
    for plane in frame.planes:
        x = np.frombuffer(plane, dtype, count=n)
        bad = ~np.isfinite(x)
        if bad.any():
            x[bad] = 0
            count += int(np.count_nonzero(bad))
    return count


def _mono(frames) -> np.ndarray:
    parts = [f.to_ndarray().reshape(-1) for f in frames]
    return np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)


def _planar(frames) -> np.ndarray:
    parts = [f.to_ndarray() for f in frames]
    return np.concatenate(parts, axis=1).astype(np.float32, copy=False) if parts else np.zeros((2, 0), np.float32)


def with_stems(mix: Iterator[np.ndarray], stems: list[Iterator[np.ndarray]]) -> Iterator[np.ndarray]:
    """Mono analysis blocks of the mix and of each stem (all at ANALYSIS_SR) as [n, 1 + stems] blocks, sample
    aligned from 0; a stem that ends first is padded with silence, one that runs on is cut at the mix's end."""
    pending = [np.zeros(0, np.float32) for _ in stems]
    for block in mix:
        n = len(block)
        cols = [block]
        for k, it in enumerate(stems):
            while len(pending[k]) < n:
                nxt = next(it, None)
                if nxt is None:
                    pending[k] = np.concatenate([pending[k], np.zeros(n - len(pending[k]), np.float32)])
                    break
                pending[k] = np.concatenate([pending[k], nxt])
            cols.append(pending[k][:n])
            pending[k] = pending[k][n:]
        yield np.stack(cols, axis=1)
