"""Preset hot reload: notice edited, new and deleted preset files by polling their mtimes about once a second.

Polling (a few stat calls a second) works on every OS and filesystem without extra threads. The watcher only
reports changed paths; live.control.dispatch decides what a change means for the running look.
"""
from __future__ import annotations

import time
from pathlib import Path

from live.config import packaged_preset_dir, user_preset_dir


def preset_dirs() -> list[Path]:
    return [user_preset_dir(), packaged_preset_dir()]


class PresetWatcher:
    """poll() -> paths whose (mtime, size) changed since the last poll, including new and deleted files."""

    def __init__(self, dirs: list[Path] | None = None, files: list[Path] = (), interval: float = 1.0):
        self.dirs = [Path(d) for d in (preset_dirs() if dirs is None else dirs)]
        self.files = {Path(f).expanduser().resolve() for f in files}
        self.interval = interval
        self._next = 0.0
        self._seen = self._scan()

    def watch(self, path: Path) -> None:
        """Also watch one file outside the preset folders (a --preset given as a path)."""
        p = Path(path).expanduser().resolve()
        if p not in self.files:
            self.files.add(p)
            self._seen.update({k: v for k, v in self._stat([p]).items()})

    @staticmethod
    def _stat(paths) -> dict:
        out = {}
        for p in paths:
            try:
                st = p.stat()
            except OSError:
                continue
            out[p] = (st.st_mtime_ns, st.st_size)
        return out

    def _scan(self) -> dict:
        paths = set(self.files)
        for d in self.dirs:
            try:
                paths.update(p.resolve() for p in d.glob("*.toml"))
            except OSError:
                pass
        return self._stat(paths)

    def poll(self, now: float | None = None) -> list[Path]:
        now = time.monotonic() if now is None else now
        if now < self._next:
            return []
        self._next = now + self.interval
        seen = self._scan()
        changed = [p for p in seen if self._seen.get(p) != seen[p]]
        changed += [p for p in self._seen if p not in seen]
        self._seen = seen
        return sorted(changed)
