"""Replay a recorded set (`live --export --replay DIR`): the recorded audio through the same Steering.

The analysis reads audio.wav exactly (float32 at the captured rate, via soundfile; and stems.wav beside it when
the set had stems) and applies events.jsonl at their sample positions, so the walker takes the recorded steps
whatever model renders them. latents.npz is never read. An interrupted recording replays up to its last
complete second; a torn last event line (no newline, not JSON) is ignored, any other bad line is an error
naming events.jsonl:N.

--save-latents with --replay writes one row per walker step (z, c, t, time_s, and xform when posed; a StyleGAN's
ws and transform), like the recorded latents.npz, not one per video frame as a plain export does: that is what
"same trajectory" compares.
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
from live.walk.actions import Event, SetClasses, SetMatrix, event_from_json
from live.recordings.latents import LatentLog
from live.walk.modulation import Matrix
from live.walk.steering import StartLook, Steering
from live.walk.trajectory import Latents


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
    matrix: Matrix = Matrix()
    stems: tuple = ()  # stem names: the channels of stems.wav

    def look(self):
        return StartLook(self.params, self.classes, self.seed, str(self.session.get("preset", "default")), True,
                         matrix=self.matrix)

    def uses_dirs(self) -> bool:
        """Whether the set's matrix ever routed to dir1..dir8 (the replay then needs the model's directions)."""
        return self.matrix.uses_dirs() or any(isinstance(e.action, SetMatrix) and e.action.matrix.uses_dirs()
                                              for e in self.events)


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
        matrix = Matrix.from_json(session["matrix"]) if "matrix" in session else Matrix()
        stems = tuple(str(s) for s in session.get("stems", ()))
    except (ValueError, KeyError, TypeError, LiveError) as e:
        raise LiveError(f"--replay {directory}: session.json is unreadable ({e}) — was it edited?") from None
    try:
        sr = sf.info(str(d / "audio.wav")).samplerate
    except (RuntimeError, sf.LibsndfileError) as e:
        raise LiveError(f"--replay {directory}: audio.wav is unreadable ({e})") from None
    if sr < 8000:
        raise LiveError(f"--replay {directory}: audio.wav runs at {sr} Hz, below the 8000 Hz the analysis needs")
    if stems and not (d / "stems.wav").is_file():
        raise LiveError(f"--replay {directory}: stems.wav is missing (the set had stems {', '.join(stems)})")
    return Recording(d, d / "audio.wav", sr, params, classes, seed, read_events(d / "events.jsonl"), session,
                     matrix, stems)


def read_events(path: Path) -> list[Event]:
    """The events of events.jsonl, by position. A last line without its newline that is not JSON was torn by a
    crash mid-write: the set goes on without it (a warning). Any other bad line is an error naming file:line,
    wherever it stands: a complete line with a bad value is damage, not a torn write."""
    text = path.read_text()
    lines = text.split("\n")  # after a final newline: one empty string, nothing torn
    events = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(event_from_json(line))
        except LiveError as e:
            if i == len(lines) and _torn(line):
                warn(f"{path}:{i}: incomplete last event (no newline, not JSON), ignored")
                break
            raise LiveError(f"{path}:{i}: {e} — the recording is damaged") from None
    events.sort(key=lambda ev: ev.pos)  # stable: same-position events keep their order
    return events


def _torn(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return True
    return False


class ReplaySource:
    """The export's analysis source for a recording: its samples (analysis_blocks) through its events (push).
    The mp4's audio track is decoded from audio.wav like any song's."""

    def __init__(self, rec: Recording, log_steps: bool = False, block: int = 4096, dims: LatentDims = BIGGAN):
        self.rec, self.block = rec, block
        self.steering = Steering(rec.sr, rec.params, rec.classes, rec.seed, dims=dims, matrix=rec.matrix,
                                 stems=rec.stems)
        self.events = deque(rec.events)
        self.log = LatentLog(timed=True) if log_steps else None
        self._file = sf.SoundFile(str(rec.wav))
        self._stems = sf.SoundFile(str(rec.dir / "stems.wav")) if rec.stems else None
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
        mono = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]
        if self._stems is None:
            return mono
        st = self._stems.read(n, dtype="float32", always_2d=True)  # written in step with audio.wav
        if len(st) < n:  # a set cut by a crash: the stems' last second may be shorter
            st = np.concatenate([st, np.zeros((n - len(st), st.shape[1]), np.float32)])
        return np.concatenate([mono[:, None], st], axis=1)

    def analysis_blocks(self):
        """The recorded samples, read exactly, block by block (the export stops once its frames are known)."""
        while self._file.tell() < self.frames:
            yield self._read(self._file.tell() + self.block)

    def finish(self) -> Latents | None:
        """Analyse what the export did not need (past the last video frame), so the step log is whole; returns
        the log (None without one)."""
        for mono in self.analysis_blocks():
            self.push(mono)
        self._file.close()
        if self._stems is not None:
            self._stems.close()
        return self.log.latents() if self.log is not None else None


def replay_source(directory: str, look_opts, log_steps: bool = False, dims: LatentDims = BIGGAN) -> ReplaySource:
    """`live --export --replay DIR`: the recording is the whole input, so look flags would be ignored."""
    given = look_opts.flags_given()
    if given:
        raise LiveError(f"--replay re-renders the recorded look: drop {', '.join(given)}")
    return ReplaySource(load_recording(directory), log_steps=log_steps, dims=dims)


def replay_steps(directory: str, block: int = 4096) -> dict:
    """The recording's walker steps without rendering: {z, c, t, time_s} arrays."""
    return ReplaySource(load_recording(directory), log_steps=True, block=block).finish().arrays()
