"""Cache files that can tell corruption from any other failure.

Each cached artifact we write (ONNX export, OpenVINO IR, TensorRT plan) gets a sidecar `<name>.sha256`, written
after the file itself. When loading an artifact fails, `intact()` says whether the file is still exactly what
we wrote: if not (truncated, overwritten, sidecar missing from an older layout) it is rebuilt; if it is, the
failure has another cause (out of memory, driver, device plugin) and is reported with the cache kept.
Hashing happens only on that failure path, never on a normal start.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from core.cache import cache_dir
from core.files import write_text_atomic

_CHUNK = 1 << 22


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def memo_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) so a cached start does not re-read 200+ MB; any
    change to the file's size or modification time hashes it again."""
    path = Path(path).resolve()
    st = path.stat()
    memo = cache_dir("hashes") / (hashlib.sha1(str(path).encode()).hexdigest() + ".json")
    stamp = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    try:
        data = json.loads(memo.read_text())
        if {k: data.get(k) for k in stamp} == stamp and isinstance(data.get("sha256"), str):
            return data["sha256"]
    except (OSError, ValueError):
        pass  # no memo yet, or a damaged one: recompute
    digest = file_sha256(path)
    write_text_atomic(memo, json.dumps({**stamp, "sha256": digest}))
    return digest


def sidecar(path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def seal(path) -> Path:
    """Record path's digest (call once the file is complete under its final name)."""
    write_text_atomic(sidecar(path), file_sha256(Path(path)))
    return Path(path)


def intact(path) -> bool:
    """True when path exists and matches the digest recorded when it was written."""
    path = Path(path)
    try:
        return sidecar(path).read_text().strip() == file_sha256(path)
    except OSError:
        return False


def discard(path) -> None:
    """Remove a cache file and its sidecar (a corrupt or stale entry)."""
    Path(path).unlink(missing_ok=True)
    sidecar(path).unlink(missing_ok=True)
