"""The work folder of one export: its finished segments, kept in the user cache so a rerun after a crash,
Ctrl-C or a killed driver renders only what is missing.

Its name is a hash of everything that changes a segment: the trajectory itself (so the audio, start, duration,
fps, look, seed, lyrics and replayed events), the model, the engine and its batch, the frame size and the
encoder settings. Each segment is written atomically; one that does not hold its frames is rendered again.
The folder is removed once the song's mp4 is complete; folders untouched for a week are swept.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import NamedTuple

from core.cache import cache_dir
from live.export.segments import X264, segment_frames
from live.walk.trajectory import Latents

FORMAT = "1"  # bump when the same key would now give different segments
SEGMENT_SECONDS = 10.0  # of video per segment: the unit of work of a render and of a resume
STALE_S = 7 * 86400


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
    for a in (lat.z, lat.c, lat.t):
        h.update(a.tobytes())
    h.update(json.dumps({**fields, "x264": X264, "format": FORMAT}, sort_keys=True).encode())
    return h.hexdigest()[:24]


class WorkDir:
    def __init__(self, key: str):
        sweep()
        self.path = cache_dir("export", key)
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
        shutil.rmtree(self.path, ignore_errors=True)


def sweep(max_age_s: float = STALE_S) -> None:
    """Remove work folders nobody has touched for max_age_s (exports abandoned long ago)."""
    root = cache_dir("export")
    now = time.time()
    for d in root.iterdir():
        try:
            if d.is_dir() and now - d.stat().st_mtime > max_age_s:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass
