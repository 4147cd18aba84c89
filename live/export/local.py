"""Render segments on this machine: one engine, the caller's thread feeding it, an encoder thread writing
each finished batch into its segment, so the engine never waits in series on x264.

The cluster's executor (live.export.cluster) has the same calls: key_fields() for the work folder's name and
render() for the segments missing there, telling when each song's are all done.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Callable

import numpy as np

from core.files import atomic_output, writing
from core.workers import Worker, get, put
from live.export.segments import SegmentWriter
from live.export.workdir import Segment
from live.show.flashguard import FlashGuard
from live.walk.trajectory import Latents

DEFAULT_MODEL = "biggan-deep-512"  # export renders at full resolution unless --model says otherwise

_END = object()  # the end of one segment's frames
_DONE = object()  # no more segments


class _Stopped(Exception):
    """The render stopped (an error or a signal on the caller's thread) while a segment was open."""


def model_id(spec: str) -> str:
    """What identifies the weights in a work key: a known name, or the fingerprint of a model folder."""
    from engine.weights import MODEL_NAMES

    if spec in MODEL_NAMES:
        return spec
    from engine.onnx_export import model_fingerprint
    return model_fingerprint(spec)


def guard_key(guard: bool) -> dict:
    """The work key's part for --flash-guard (nothing when off: the segments of unguarded exports keep their key)."""
    return {"flash_guard": "on"} if guard else {}


def segment_guard(lo: int, hi: int, total: int, fps: float) -> FlashGuard:
    """The flash guard of frames lo..hi of total, on the song's clock: it knows the segments before and after
    (live.show.flashguard), so its frames depend on this segment alone, wherever it is rendered."""
    return FlashGuard(start=lo / fps if lo > 0 else None, end=hi / fps if hi < total else None)


class LocalExecutor:
    def __init__(self, engine, batch: int, model: str, guard: bool = False):
        self.engine, self.batch, self.model, self.guard = engine, int(batch), model, guard
        self.engine_s = 0.0  # seconds spent in engine.render
        self.softened = 0  # frames the flash guard softened

    @property
    def resolution(self) -> int:
        return int(self.engine.resolution)

    @property
    def name(self) -> str:
        return self.engine.name

    def close(self) -> None:
        self.engine.close()

    def key_fields(self) -> dict:
        return {"model": self.model, "engine": self.engine.name, "resolution": self.resolution, "batch": self.batch,
                **guard_key(self.guard)}

    def render(self, parts: list, advance: Callable[[int], None], finished: Callable[[int], None]) -> None:
        """Render and encode each part's segments (live.export.job.Part) into its work folder, part after
        part; advance(n) after every n frames rendered, finished(i) once part i is whole."""
        for i, part in enumerate(parts):
            if part.segments:
                self.render_segments(part.lat, part.segments, part.work, part.fps, advance)
            finished(i)

    def render_segments(self, lat: Latents, segments: list[Segment], work, fps: float,
                        advance: Callable[[int], None], offset: int = 0, total: int | None = None) -> None:
        """lat's frame i is the song's frame offset + i, of total (the flash guard's clock and boundaries)."""
        total = offset + len(lat.z) if total is None else total
        stop = threading.Event()
        q: queue.Queue = queue.Queue(maxsize=3)
        encoder = Worker(lambda: _encode(q, work, self.resolution, fps, stop), "encoder")
        encoder.start()
        try:
            for seg in segments:
                put(q, seg, stop, encoder)
                guard = segment_guard(offset + seg.lo, offset + seg.hi, total, fps) if self.guard else None
                for lo in range(seg.lo, seg.hi, self.batch):
                    hi = min(lo + self.batch, seg.hi)
                    t0 = time.perf_counter()
                    rows = lat.rows(lo, hi)
                    frames = self.engine.render(rows.z, rows.c, rows.t, xform=rows.xform)
                    self.engine_s += time.perf_counter() - t0
                    if guard is not None:
                        frames = self._guarded(guard, frames, offset + lo, fps)
                    put(q, frames, stop, encoder)
                    advance(hi - lo)
                put(q, _END, stop, encoder)
            put(q, _DONE, stop, encoder)
            encoder.join()
            encoder.check()
        finally:
            stop.set()
            encoder.join(timeout=10)  # never leave a half-written segment under a running encoder

    def _guarded(self, guard: FlashGuard, frames, first: int, fps: float) -> np.ndarray:
        frames = np.array(frames)  # our own copy: the guard keeps the last frame shown
        for i, f in enumerate(frames):
            out = guard.apply(f, (first + i) / fps)
            if out is not f:
                frames[i] = out
                self.softened += 1
        return frames


def _encode(q: queue.Queue, work, size: int, fps: float, stop: threading.Event) -> None:
    """Segments from q: a Segment, its frame batches, _END; a segment appears in `work` only when whole."""
    while (seg := get(q, stop)) is not None and seg is not _DONE:
        path = work.segment(seg)
        with writing(path, "export work folder (LIVE_CACHE_DIR)"), atomic_output(path) as tmp:
            writer = SegmentWriter(str(tmp), size, fps)
            try:
                while (frames := get(q, stop)) is not _END:
                    if frames is None:
                        raise _Stopped
                    writer.write(frames)
                writer.close()
            except BaseException:
                writer.abort()
                raise


def write_segment(work, seg: Segment, data: bytes) -> None:
    """A segment rendered elsewhere (its mp4 bytes), into the work folder atomically."""
    path = work.segment(seg)
    with writing(path, "export work folder (LIVE_CACHE_DIR)"), atomic_output(path) as tmp:
        tmp.write_bytes(data)
