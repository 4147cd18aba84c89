"""The work folder of one export: its finished segments, kept in the user cache so a rerun after a crash,
Ctrl-C or a killed driver renders only what is missing.

Its name is a hash of everything that changes a segment: the trajectory itself (so the audio, start, duration,
fps, look, seed, lyrics and replayed events), the model, the engine and its batch, the frame size and the
encoder settings. Each segment is written atomically; one that does not hold its frames is rendered again.
The folder is removed once the song's mp4 is complete; folders untouched for a week are swept.

An export claims its folder with an flock on `.lock` inside it (the OS drops it when the process ends, even
on SIGKILL). A second export of the same song while the first runs finds the folder claimed and renders in a
folder of its own (`<key>-1`, ...), so neither removes the other's segments; a later rerun resumes from `<key>`.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import NamedTuple, Optional

from core.cache import cache_dir
from core.errors import LiveError
from live.export.segments import X264, segment_frames
from live.walk.trajectory import Latents

FORMAT = "1"  # bump when the same key would now give different segments
SEGMENT_SECONDS = 10.0  # of video per segment: the unit of work of a render and of a resume
STALE_S = 7 * 86400
LOCK = ".lock"
CLAIMS = 16  # folders tried per key: exports of one song running at once


class Segment(NamedTuple):
    index: int
    lo: int  # first frame
    hi: int  # one past the last frame


def plan(n_frames: int, fps: float, batch: int) -> list[Segment]:
    """Segments of about SEGMENT_SECONDS, a whole number of engine batches each (no padded batch inside)."""
    size = max(batch, round(SEGMENT_SECONDS * fps / batch) * batch)
    return [Segment(i, lo, min(lo + size, n_frames)) for i, lo in enumerate(range(0, n_frames, size))]


def work_key(lat: Latents, fields: dict) -> str:
    h = hashlib.sha256()
    for a in (lat.z, lat.c, lat.t) + ((lat.xform,) if lat.posed() else ()):  # unposed: the keys they always had
        h.update(a.tobytes())
    h.update(json.dumps({**fields, "x264": X264, "format": FORMAT}, sort_keys=True).encode())
    return h.hexdigest()[:24]


def claim(path: Path) -> Optional[int]:
    """Lock the work folder `path` (created if missing) for this process: the lock's file descriptor, or None
    while another process holds it. A lock taken on a folder that was removed meanwhile is dropped and taken
    again on the new folder."""
    while True:
        path.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:  # the folder was removed between mkdir and open
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.stat(path / LOCK).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:  # its holder removed the folder before letting go
            pass
        os.close(fd)


class WorkDir:
    def __init__(self, key: str):
        sweep()
        root = cache_dir("export")
        for n in range(CLAIMS):
            self.path = root / (key if n == 0 else f"{key}-{n}")
            self.fd = claim(self.path)
            if self.fd is not None:
                break
        else:
            raise LiveError(f"{CLAIMS} exports of this song are running at once: wait for one to finish")
        self.claimed_first = n == 0
        os.utime(self.path)  # in use: not stale

    def segment(self, seg: Segment) -> Path:
        return self.path / f"seg-{seg.index:05d}.mp4"

    def missing(self, segments: list[Segment]) -> list[Segment]:
        """The segments not finished here (a damaged one is removed and counted missing)."""
        out = []
        for seg in segments:
            p = self.segment(seg)
            try:
                ok = p.is_file() and segment_frames(p) == seg.hi - seg.lo
            except Exception:  # unreadable: render it again
                ok = False
            if not ok:
                p.unlink(missing_ok=True)
                out.append(seg)
        return out

    def remove(self) -> None:
        """Delete the folder (the song is done), then let go of it."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.release()

    def release(self) -> None:
        """Let go of the folder, keeping its segments for a rerun."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def sweep(max_age_s: float = STALE_S) -> None:
    """Remove work folders nobody has touched for max_age_s (exports abandoned long ago) and nobody holds."""
    root = cache_dir("export")
    now = time.time()
    for d in root.iterdir():
        try:
            if d.is_dir() and now - d.stat().st_mtime > max_age_s and (fd := claim(d)) is not None:
                shutil.rmtree(d, ignore_errors=True)
                os.close(fd)
        except OSError:
            pass
