"""Atomic file output: a file appears under its final name complete or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temp path in path's directory; on success it replaces path, on any error it is deleted.

    Same directory so os.replace is an atomic rename (never a cross-device copy). A crash mid-write leaves only a
    `name.tmp-XXXX` file, which no reader ever opens under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".tmp-", dir=path.parent)
    os.close(fd)
    os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; the result is an ordinary file
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # flush to disk before the rename makes it visible
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path, data: bytes) -> Path:
    """Write data to path atomically; returns path."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def save_npz_atomic(path, **arrays) -> Path:
    """np.savez to path atomically (through a file object, so numpy adds no .npz suffix to the temp name)."""
    import numpy as np

    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)
