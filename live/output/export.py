"""Render an audio file to an mp4: decode -> features -> walker -> engine -> H.264 + AAC, streamed.

Three threads so the engine never waits in series on the rest: a producer (decode, features, walker,
latent batches), the caller's thread (engine), and an encoder (x264/AAC + mux). Bounded queues keep memory
flat in song length; the mp4 is written under a temp name and renamed when complete.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import av
import numpy as np

from core.errors import LiveError
from core.files import atomic_output, check_output, fsync_file, writing
from live.audio import decode as audio_file
from live.config import WalkerParams
from live.output.encoder import DONE as _DONE, encode
from live.output.latents import LatentLog
from live.walk.steering import Steering, schedule_events

MP4_SUFFIXES = (".mp4", ".m4v")  # both name MP4 files
MP4_HINT = "live writes MP4 (H.264 + AAC): name the output .mp4"


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
    model: Optional[str] = None  # --model NAME|DIR: a folder's files are inputs no output may replace


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


def check_outputs(job: ExportJob) -> None:
    """-o and --save-latents: new or regular files with the right suffix, none of the inputs."""
    inputs = [("the input audio", job.audio), ("a file of the --model folder", job.model)]
    if job.source is not None:
        inputs.append(("a file of the --replay recording", str(job.source.rec.dir)))
    check_output(job.output, "-o", MP4_SUFFIXES, MP4_HINT, inputs)
    if job.save_latents:
        check_output(job.save_latents, "--save-latents", (".npz",), "latents are NumPy files: name it .npz",
                     inputs + [("the output video", job.output)])


def prepare(job: ExportJob) -> tuple:
    """Everything a user can get wrong, checked before the (slow) model load: (info, duration, frames)."""
    check_outputs(job)
    info = audio_file.probe(job.audio)
    dur, n_frames = frame_count(info.duration_s, job.start, job.duration, job.fps)
    return info, dur, n_frames


def run_export(job: ExportJob, engine, progress: bool = True, prepared: Optional[tuple] = None) -> dict:
    """Renders job with engine (render(z, c, t) -> uint8 [B,H,W,3]); returns figures of the run.

    The video and --save-latents appear together when complete (the latents are committed just before the
    video); any failure or signal leaves neither and no temp file.
    """
    info, dur, n_frames = prepared or prepare(job)
    latents = LatentLog() if job.save_latents and job.source is None else None
    t0 = time.perf_counter()
    with writing(job.output, "-o"), atomic_output(job.output) as tmp:
        render_s = _render(job, engine, str(tmp), info, dur, n_frames, latents, progress)
        fsync_file(tmp)  # the video is on disk before the latents are committed
        with writing(job.save_latents, "--save-latents"):
            if job.source is not None:  # replay: its step log, whole once the rest is analysed
                job.source.finish(job.save_latents)
            elif latents is not None:
                latents.save(job.save_latents)
    wall = time.perf_counter() - t0
    return {"frames": n_frames, "duration_s": dur, "wall_s": wall, "ms_per_frame": 1000 * wall / n_frames,
            "engine_ms_per_frame": 1000 * render_s / n_frames}


def _render(job: ExportJob, engine, path: str, info, dur: float, n_frames: int, latents: Optional[LatentLog],
            progress: bool) -> float:
    """Decode, analyse, render and encode into the mp4 at path; returns the seconds spent in the engine."""
    stop = threading.Event()
    work: queue.Queue = queue.Queue(maxsize=4)  # latent batches and audio chunks, in time order
    q: queue.Queue = queue.Queue(maxsize=3)
    producer = _Worker(lambda: _produce(job, info, dur, n_frames, work, stop, latents), "analysis")
    container = encoder = bar = None
    render_s = 0.0
    ok = False
    try:
        container = av.open(path, "w", format="mp4")
        encoder = _Worker(lambda: encode(container, job.output, job.fps, engine.resolution, info.output_rate,
                                         q, stop, job.crf, job.x264_preset), "encoder")
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
                _put(q, ("video", frames), stop, encoder)
                bar.update(len(frames))
            else:
                _put(q, item, stop, encoder)
        _put(q, _DONE, stop, encoder)
        encoder.join()
        encoder.check()
        container.close()  # writes the index: a full disk may show only here
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
    return render_s


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", file=sys.stderr, disable=not enabled, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]")


def _produce(job: ExportJob, info, dur: float, n_frames: int, work: queue.Queue, stop: threading.Event,
             latents: Optional[LatentLog]) -> None:
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
            latents.add(state)
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
