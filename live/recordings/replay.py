"""Replay a recorded set (`live --export --replay DIR`): the recorded audio through the same Steering.

The analysis reads audio.wav exactly (float32 at the captured rate, via soundfile) and applies events.jsonl
at their sample positions, so the walker takes the recorded steps whatever model renders them. latents.npz
is never read. An interrupted recording replays up to its last complete second; a torn last event line is
ignored.

--save-latents with --replay writes one row per walker step (z, c, t, time_s), like the recorded
latents.npz, not one per video frame as a plain export does: that is what "same trajectory" compares.
"""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from live.config import WalkerParams
from core.dims import BIGGAN, LatentDims
from core.errors import LiveError, warn
from live.walk.actions import Event, SetClasses, event_from_json
from live.recordings.latents import LatentLog
from live.walk.steering import StartLook, Steering


@dataclass(frozen=True)
class Recording:
    dir: Path
    wav: Path
    sr: int
    params: WalkerParams
    classes: list
    seed: int
    events: list
    session: dict

    def look(self):
        return StartLook(self.params, self.classes, self.seed, str(self.session.get("preset", "default")), True)


def load_recording(directory: str) -> Recording:
    d = Path(directory).expanduser()
    if not d.is_dir():
        raise LiveError(f"--replay {directory}: no such folder — pass a folder written by --record")
    for name in ("session.json", "audio.wav", "events.jsonl"):
        if not (d / name).is_file():
            raise LiveError(f"--replay {directory}: {name} is missing — pass a folder written by --record")
    try:
        session = json.loads((d / "session.json").read_text())
        params = WalkerParams(**session["params"])
        classes, seed = list(SetClasses(tuple(session["classes"])).ids), int(session["seed"])
    except (ValueError, KeyError, TypeError, LiveError) as e:
        raise LiveError(f"--replay {directory}: session.json is unreadable ({e}) — was it edited?") from None
    try:
        sr = sf.info(str(d / "audio.wav")).samplerate
    except (RuntimeError, sf.LibsndfileError) as e:
        raise LiveError(f"--replay {directory}: audio.wav is unreadable ({e})") from None
    if sr < 8000:
        raise LiveError(f"--replay {directory}: audio.wav runs at {sr} Hz, below the 8000 Hz the analysis needs")
    return Recording(d, d / "audio.wav", sr, params, classes, seed, read_events(d / "events.jsonl"), session)


def read_events(path: Path) -> list[Event]:
    lines = path.read_text().splitlines()
    events = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(event_from_json(line))
        except LiveError as e:
            if i == len(lines):  # torn by a crash mid-write: the set goes on without it
                warn(f"{path}:{i}: incomplete last event, ignored")
                break
            raise LiveError(f"{path}:{i}: {e} — the recording is damaged") from None
    events.sort(key=lambda ev: ev.pos)  # stable: same-position events keep their order
    return events


class ReplaySource:
    """The export's analysis source for a recording: its samples (analysis_blocks) through its events (push).
    The mp4's audio track is decoded from audio.wav like any song's."""

    def __init__(self, rec: Recording, log_steps: bool = False, block: int = 4096, dims: LatentDims = BIGGAN):
        self.rec, self.block = rec, block
        self.steering = Steering(rec.sr, rec.params, rec.classes, rec.seed, dims=dims)
        self.events = deque(rec.events)
        self.log = LatentLog(timed=True) if log_steps else None
        self._file = sf.SoundFile(str(rec.wav))
        self.frames = self._file.frames

    def push(self, mono: np.ndarray) -> list:
        out = self.steering.feed(mono, self.events)
        if self.log is not None:
            for time_s, state in out:
                self.log.add(state, time_s)
        return out

    def _read(self, upto: int) -> np.ndarray:
        n = max(0, min(upto, self.frames) - self._file.tell())
        x = self._file.read(n, dtype="float32", always_2d=True)
        return x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]

    def analysis_blocks(self):
        """The recorded samples, read exactly, block by block (the export stops once its frames are known)."""
        while self._file.tell() < self.frames:
            yield self._read(self._file.tell() + self.block)

    def finish(self, save_latents: str | None = None) -> None:
        """Analyse what the export did not need (past the last video frame), so the step log is whole;
        save it to `save_latents` if given."""
        for mono in self.analysis_blocks():
            self.push(mono)
        self._file.close()
        if save_latents and self.log is not None:
            self.log.save(save_latents)


def replay_source(directory: str, look_opts, log_steps: bool = False, dims: LatentDims = BIGGAN) -> ReplaySource:
    """`live --export --replay DIR`: the recording is the whole input, so look flags would be ignored."""
    given = look_opts.flags_given()
    if given:
        raise LiveError(f"--replay re-renders the recorded look: drop {', '.join(given)}")
    return ReplaySource(load_recording(directory), log_steps=log_steps, dims=dims)


def replay_steps(directory: str, block: int = 4096) -> dict:
    """The recording's walker steps without rendering: {z, c, t, time_s} arrays."""
    src = ReplaySource(load_recording(directory), log_steps=True, block=block)
    src.finish()
    return src.log.latents().arrays()
