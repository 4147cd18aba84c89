"""Render an audio file to an mp4: decode -> features -> walker -> engine -> H.264 + AAC, streamed.

Three threads so the engine never waits in series on the rest: a producer (decode, features, walker,
latent batches), the caller's thread (engine), and an encoder (x264/AAC + mux). Bounded queues keep memory
flat in song length; the mp4 is written under a temp name and renamed when complete.
"""
from __future__ import annotations

import os
import queue
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional, Sequence

import av
import numpy as np

from core.files import save_npz_atomic
from live.audio import decode as audio_file
from live.config import WalkerParams
from core.dims import NUM_CLASSES, Z_DIM
from core.errors import LiveError
from live.walk.steering import Steering, schedule_events

_DONE = object()


@dataclass(frozen=True)
class ExportJob:
    audio: str
    output: str
    params: WalkerParams
    classes: Sequence[int]
    seed: int = 0
    fps: float = 30.0
    start: float = 0.0
    duration: Optional[float] = None
    batch: int = 8
    save_latents: Optional[str] = None
    schedule: object = None  # lyrics schedule: classes_at(time_s) -> list[int]
    source: object = None  # replay (live.output.replay.ReplaySource): trajectory() and blocks(info) instead of ours
    crf: int = 18
    x264_preset: str = "fast"


def frame_count(info_duration: float, start: float, duration: Optional[float], fps: float) -> tuple[float, int]:
    if start < 0:
        raise LiveError(f"--start {start:g} is negative: pass a time in seconds from the beginning")
    if start >= info_duration:
        raise LiveError(f"--start {start:g} s is past the end of the audio ({info_duration:.1f} s)")
    dur = info_duration - start if duration is None else min(duration, info_duration - start)
    n = int(round(dur * fps))
    if n < 1:
        raise LiveError(f"nothing to render: {dur:.3f} s at {fps:g} fps is less than one frame")
    return dur, n


def _check_output(output: str) -> str:
    out_dir = os.path.dirname(os.path.abspath(output)) or "."
    if os.path.isdir(output):
        raise LiveError(f"output '{output}' is a directory: pass a file name such as song.mp4")
    if not os.path.isdir(out_dir):
        raise LiveError(f"output folder '{out_dir}' does not exist: create it or choose another -o path")
    if not os.access(out_dir, os.W_OK):
        raise LiveError(f"cannot write to '{out_dir}': choose another -o path")
    return out_dir


def _writable_temp(output: str) -> str:
    out_dir = _check_output(output)
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(output) + ".", suffix=".part", dir=out_dir)
    except OSError as e:
        raise LiveError(f"cannot write to '{out_dir}' ({e.strerror}): choose another -o path")
    os.close(fd)
    return tmp


class _Worker(threading.Thread):
    """A daemon thread whose exception is re-raised by the caller via check()."""

    def __init__(self, target, name):
        super().__init__(name=name, daemon=True)
        self._target_fn, self.error = target, None

    def run(self):
        try:
            self._target_fn()
        except BaseException as e:  # handed to the main thread
            self.error = e

    def check(self):
        if self.error is not None:
            raise self.error


def _put(q: queue.Queue, item, stop: threading.Event, consumer: Optional[_Worker] = None) -> None:
    """Blocking put that gives up when stopped, and re-raises if the consumer died (no hang on a full queue)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            if consumer is not None:
                _alive(consumer)


def _get(q: queue.Queue, worker: _Worker):
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            _alive(worker)


def _alive(worker: _Worker) -> None:
    worker.check()
    if not worker.is_alive():
        worker.check()
        raise RuntimeError(f"{worker.name} thread stopped")


def prepare(job: ExportJob) -> tuple:
    """Everything a user can get wrong, checked before the (slow) model load: (info, duration, frames)."""
    info = audio_file.probe(job.audio)
    dur, n_frames = frame_count(info.duration_s, job.start, job.duration, job.fps)
    _check_output(job.output)
    if job.save_latents:
        _check_output(job.save_latents)
    return info, dur, n_frames


def run_export(job: ExportJob, engine, progress: bool = True, prepared: Optional[tuple] = None) -> dict:
    """Renders job with engine (render(z, c, t) -> uint8 [B,H,W,3]); returns figures of the run."""
    info, dur, n_frames = prepared or prepare(job)
    tmp = _writable_temp(job.output)
    stop = threading.Event()
    work: queue.Queue = queue.Queue(maxsize=4)  # latent batches and audio chunks, in time order
    encode: queue.Queue = queue.Queue(maxsize=3)
    latents = _LatentLog(n_frames) if job.save_latents else None
    producer = _Worker(lambda: _produce(job, info, dur, n_frames, work, stop, latents), "analysis")
    container = encoder = bar = None
    t0 = time.perf_counter()
    render_s = 0.0
    ok = False
    try:
        container = av.open(tmp, "w", format="mp4")
        encoder = _Worker(lambda: _encode(container, job, info, engine.resolution, encode, stop), "encoder")
        bar = _progress_bar(n_frames, progress)
        producer.start()
        encoder.start()
        while True:
            item = _get(work, producer)
            if item is _DONE:
                break
            if item[0] == "latents":
                _, z, c, t = item
                r0 = time.perf_counter()
                frames = engine.render(z, c, t)
                render_s += time.perf_counter() - r0
                _put(encode, ("video", frames), stop, encoder)
                bar.update(len(frames))
            else:
                _put(encode, item, stop, encoder)
        _put(encode, _DONE, stop, encoder)
        encoder.join()
        encoder.check()
        container.close()
        os.replace(tmp, job.output)
        ok = True
    finally:
        stop.set()
        if bar is not None:
            bar.close()
        if not ok:
            if encoder is not None and encoder.is_alive():
                encoder.join(timeout=5)  # never close the container under a muxing thread
            try:
                if container is not None:
                    container.close()
            except Exception:
                pass
            if os.path.exists(tmp):
                os.remove(tmp)
    if latents is not None:  # after the rename: a latents problem never costs the finished video
        try:
            latents.save(job.save_latents)
        except OSError as e:
            raise LiveError(f"wrote {job.output} but not --save-latents {job.save_latents} ({e.strerror})")
    wall = time.perf_counter() - t0
    return {"frames": n_frames, "duration_s": dur, "wall_s": wall, "ms_per_frame": 1000 * wall / n_frames,
            "engine_ms_per_frame": 1000 * render_s / n_frames}


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", file=sys.stderr, disable=not enabled, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]")


class _LatentLog:
    """Per-frame z, c, t for --save-latents (N x 1129 floats: small next to a song's frames)."""

    def __init__(self, n: int):
        self.z = np.zeros((n, Z_DIM), np.float32)
        self.c = np.zeros((n, NUM_CLASSES), np.float32)
        self.t = np.zeros(n, np.float32)

    def save(self, path: str) -> None:
        save_npz_atomic(path, z=self.z, c=self.c, t=self.t)


def _produce(job: ExportJob, info, dur: float, n_frames: int, work: queue.Queue, stop: threading.Event,
             latents: Optional[_LatentLog]) -> None:
    """Decode from 0 (so a clip looks like the same part of the full render), step the walker, cut frames."""
    if job.source is not None:
        push, blocks = job.source.push, job.source.blocks(info)
    else:  # lyrics lines become class events at their samples, as in live mode and replay
        steer = Steering(audio_file.ANALYSIS_SR, job.params, job.classes, job.seed)
        events = schedule_events(job.schedule, audio_file.ANALYSIS_SR)
        push, blocks = (lambda mono: steer.feed(mono, events)), audio_file.blocks(info)
    out_lo = int(round(job.start * info.output_rate))
    out_hi = out_lo + int(round(dur * info.output_rate))
    out_pos = 0
    k = 0  # next video frame; frame k shows the newest state at or before start + k / fps
    last = None
    batch: list = []

    def emit(state):
        nonlocal k
        batch.append(state)
        if latents is not None:
            latents.z[k], latents.c[k], latents.t[k] = state.z, state.c, state.t
        k += 1
        if len(batch) == job.batch or k == n_frames:
            z = np.stack([s.z for s in batch]).astype(np.float32)
            c = np.stack([s.c for s in batch]).astype(np.float32)
            t = np.array([s.t for s in batch], np.float32)
            batch.clear()
            _put(work, ("latents", z, c, t), stop)

    for mono, planar in blocks:
        if stop.is_set():
            return
        for time_s, state in push(mono):
            while k < n_frames and job.start + k / job.fps < time_s:
                emit(last if last is not None else state)
            last = state
        lo, hi = max(out_lo - out_pos, 0), min(out_hi - out_pos, planar.shape[1])
        if hi > lo:
            _put(work, ("audio", np.ascontiguousarray(planar[:, lo:hi])), stop)
        out_pos += planar.shape[1]
        if k >= n_frames and out_pos >= out_hi:
            break
    while k < n_frames and last is not None:
        emit(last)
    if k < n_frames:
        raise LiveError(f"'{job.audio}' is too short to analyse: pass at least 0.1 s of audio")
    _put(work, _DONE, stop)


def _encode(container, job: ExportJob, info, size: int, q: queue.Queue, stop: threading.Event) -> None:
    try:
        _encode_loop(container, job, info, size, q, stop)
    except (OSError, av.error.FFmpegError) as e:
        reason = getattr(e, "strerror", None) or str(e).splitlines()[0]
        raise LiveError(f"cannot write '{job.output}' ({reason}): check free space or choose another -o path")


def _encode_loop(container, job: ExportJob, info, size: int, q: queue.Queue, stop: threading.Event) -> None:
    fps = Fraction(job.fps).limit_denominator(1001)
    video = container.add_stream("libx264", rate=fps)
    video.width = video.height = size
    video.pix_fmt = "yuv420p"
    video.options = {"crf": str(job.crf), "preset": job.x264_preset}
    audio = container.add_stream("aac", rate=info.output_rate)
    audio.layout = "stereo"
    v_pts = a_pts = 0
    while not stop.is_set():
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            continue
        if item is _DONE:
            break
        kind, data = item
        if kind == "video":
            for rgb in data:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame.pts = v_pts
                v_pts += 1
                container.mux(video.encode(frame))
        else:
            frame = av.AudioFrame.from_ndarray(data, format="fltp", layout="stereo")
            frame.sample_rate = info.output_rate
            frame.pts = a_pts
            a_pts += data.shape[1]
            container.mux(audio.encode(frame))
    else:
        return
    container.mux(video.encode(None))
    container.mux(audio.encode(None))
