"""Record a live set: DIR/audio.wav, events.jsonl, session.json, latents.npz (`live --record DIR`), and
stems.wav (one channel per stem, session.json names them) when the set has stems.

audio.wav is exactly the float32 input the analysis consumed, so a replay computes the same features.
The analysis thread only queues copies; a writer thread does the disk work. The WAV header is rewritten
about every second and each event line is flushed, so a crash or kill leaves a replayable recording up to
its last second. latents.npz (z, c, t, time_s per walker step) is spooled to a raw file and assembled at
stop: it is for comparison and analysis, replay never needs it.
"""
from __future__ import annotations

import datetime
import platform
import queue
import struct
import sys
import threading
import time
from pathlib import Path

import numpy as np

from core.dims import BIGGAN, LatentDims
from core.errors import LiveError
from core.files import write_json_atomic
from live.walk.actions import Event, event_to_json
from live.recordings import latents


class WavWriter:
    """Float32 WAV (WAVE_FORMAT_IEEE_FLOAT, fmt + fact + data) whose sizes are patched by sync()."""

    def __init__(self, path: Path, sr: int, channels: int = 1):
        self.f = open(path, "wb")
        self.sr, self.ch, self.frames = int(sr), int(channels), 0
        fmt = struct.pack("<HHIIHHH", 3, self.ch, self.sr, self.sr * 4 * self.ch, 4 * self.ch, 32, 0)
        head = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<II", 4, 0)
        self._fact_at = 8 + len(head) - 4
        head += b"data" + struct.pack("<I", 0)
        self._data_at = 8 + len(head) - 4
        self.f.write(b"RIFF" + struct.pack("<I", len(head)) + head)
        self._head_len = len(head)

    def write(self, x: np.ndarray) -> None:
        self.f.write(np.ascontiguousarray(x, "<f4").tobytes())
        self.frames += len(x) // self.ch if x.ndim == 1 else len(x)

    def sync(self) -> None:
        """Make the file on disk a valid WAV of everything written so far."""
        data = self.frames * 4 * self.ch
        end = self.f.tell()
        for at, value in ((4, self._head_len + data), (self._fact_at, self.frames), (self._data_at, data)):
            self.f.seek(at)
            self.f.write(struct.pack("<I", value))
        self.f.seek(end)
        self.f.flush()

    def close(self) -> None:
        if not self.f.closed:
            self.sync()
            self.f.close()


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("live-biggan", "numpy", "librosa", "scipy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def check_folder(directory: str) -> Path:
    """A folder --record can use: new or without a recording in it."""
    d = Path(directory).expanduser()
    if (d / "audio.wav").exists() or (d / "session.json").exists():
        raise LiveError(f"--record {directory}: it already holds a recording — choose a new folder")
    if d.exists() and not d.is_dir():
        raise LiveError(f"--record {directory}: that is a file — pass a folder")
    return d


class Recorder:
    """audio(x) / event(Event) / step(time_s, state) from the analysis thread; close() at the end.

    A disk error stops the recording (error holds one line), never the set.
    """

    def __init__(self, directory: str, sr: int, session: dict):
        d = check_folder(directory)
        self._dims = BIGGAN  # until the first step says the model's
        try:
            d.mkdir(parents=True, exist_ok=True)
            self.session = dict(session, format=1, samplerate=int(sr), complete=False, versions=versions(),
                                started=datetime.datetime.now().astimezone().isoformat(timespec="seconds"))
            write_json_atomic(d / "session.json", self.session)
            self.wav = WavWriter(d / "audio.wav", sr)
            stems = len(session.get("stems", ()))
            self.stems = WavWriter(d / "stems.wav", sr, stems) if stems else None
            self._events = open(d / "events.jsonl", "w")
            self._spool = open(d / "latents.spool", "wb")
        except OSError as e:
            raise LiveError(f"--record {directory}: cannot write there ({e.strerror}) — choose another folder")
        self.dir, self.sr = d, int(sr)
        self.steps = self.n_events = 0
        self.error: str | None = None
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    @property
    def seconds(self) -> float:
        return self.wav.frames / self.sr

    # ---- analysis thread: queue and return ---------------------------------------------------------
    def audio(self, x: np.ndarray) -> None:
        """The analysed samples: mono, or [n, 1 + stems] (the mix, then the stems)."""
        if x.ndim == 2:
            self._q.put(("t", np.array(x[:, 1:], np.float32)))
            x = x[:, 0]
        self._q.put(("a", np.array(x, np.float32)))

    def event(self, ev: Event) -> None:
        self._q.put(("e", ev))

    def step(self, time_s: float, state) -> None:
        self._dims = LatentDims(len(state.z), len(state.c))  # the model's sizes (BigGAN or a StyleGAN's)
        self._q.put(("s", latents.step_row(time_s, state)))

    # ---- writer thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        last_sync = time.monotonic()
        while True:
            try:
                item = self._q.get(timeout=0.2)
            except queue.Empty:
                item = None
            if item == "stop":
                return
            if self.error is None and item is not None:
                try:
                    self._write(item)
                except OSError as e:
                    self.error = f"recording stopped: cannot write {self.dir} ({e.strerror})"
                    print(f"live: {self.error}", file=sys.stderr)
            now = time.monotonic()
            if self.error is None and now - last_sync >= 1.0:
                last_sync = now
                try:
                    for wav in (self.wav, self.stems):
                        if wav is not None:
                            wav.sync()
                except OSError as e:
                    self.error = f"recording stopped: cannot write {self.dir} ({e.strerror})"

    def _write(self, item) -> None:
        kind, data = item
        if kind == "a":
            self.wav.write(data)
        elif kind == "t":
            self.stems.write(data)
        elif kind == "e":
            self._events.write(event_to_json(data, self.sr) + "\n")
            self._events.flush()
            self.n_events += 1
        else:
            self._spool.write(data.tobytes())
            self.steps += 1

    def close(self) -> None:
        """Drain the queue, finish audio.wav, write latents.npz and the final session.json."""
        self._q.put("stop")
        self._thread.join()
        for f in (self.wav, self.stems, self._events, self._spool):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        try:
            self._write_latents()
            self.session.update(complete=self.error is None, samples=self.wav.frames, steps=self.steps,
                                events=self.n_events, duration_s=round(self.seconds, 3))
            write_json_atomic(self.dir / "session.json", self.session)
        except OSError as e:
            self.error = self.error or f"cannot finish the recording in {self.dir} ({e.strerror})"

    def _write_latents(self) -> None:
        spool = self.dir / "latents.spool"
        latents.save(self.dir / "latents.npz", latents.from_spool(spool, self._dims))
        spool.unlink()
