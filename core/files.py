"""Files we write: a file appears under its final name complete or not at all, with the user's umask, and
never replaces a file the user gave us.

- The temp file lives beside its target (same filesystem: the final os.replace is an atomic rename), named
  `.<name>.<pid>-<host>.<random>.part` and created with O_EXCL and mode 0666, so the umask applies. A temp
  left by a killed run (its pid gone on this host) is removed by the next run writing into that folder;
  nothing that does not match that exact pattern is ever removed. The host tag keeps a render on another
  machine sharing the folder from losing its temp.
- A symlink at the target is followed: the file it points to is replaced when complete, the link stays.
- check_output() is the policy for a path the user names (-o, --save-latents, --stats): a regular file or a
  new name in an existing, writable folder, with the expected suffix, and none of the inputs (compared by
  real path and inode, so `./a.wav` vs `a.wav`, symlinks and hard links are caught). A directory, device,
  FIFO or socket is refused.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import socket
import stat
from pathlib import Path
from typing import Iterable, Sequence

from core.errors import LiveError

HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_PART = re.compile(r"\..+\.(\d+)-([0-9a-f]{6})\.[0-9a-f]{8}\.part")
_NAME_MAX = 200  # of the target's name kept in the temp's name (file names stop at 255 bytes)


def final_path(path) -> Path:
    """Where the bytes for `path` land: the file a symlink points to, else path itself (absolute)."""
    return Path(os.path.realpath(path))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def remove_stale_parts(folder) -> list[Path]:
    """Delete our temp files in folder whose writer (same host) is no longer alive; returns them."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _PART.fullmatch(name)
        if not m or m.group(2) != HOST_TAG or _pid_alive(int(m.group(1))):
            continue
        path = Path(folder, name)
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                path.unlink()
                removed.append(path)
        except OSError:
            pass  # gone meanwhile, or not ours to delete
    return removed


def create_temp(path) -> Path:
    """A new empty temp file beside path (mode 0666 minus the umask), after sweeping stale ones."""
    path = Path(path)
    remove_stale_parts(path.parent)
    while True:
        tmp = path.with_name(f".{path.name[:_NAME_MAX]}.{os.getpid()}-{HOST_TAG}.{secrets.token_hex(4)}.part")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
            return tmp
        except FileExistsError:
            continue


def fsync_file(path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temp path beside path's final file; on success it replaces that file, on any error (or
    signal) it is deleted."""
    final = final_path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = create_temp(final)
    try:
        yield tmp
        fsync_file(tmp)  # on disk before the rename makes it visible
        os.replace(tmp, final)
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


def write_json_atomic(path, data) -> Path:
    """Indented JSON with a final newline, atomically (stats, a recording's session.json)."""
    import json

    return write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def save_npz_atomic(path, **arrays) -> Path:
    """np.savez to path atomically (through a file object, so numpy adds no .npz suffix to the temp name)."""
    import numpy as np

    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


# ---- the user's output paths ---------------------------------------------------------------------------


def write_error(e: OSError, path, flag: str) -> LiveError:
    """One line for a failed write of a user's output (flag: the option that named it)."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return LiveError(f"no space left on device writing {path}: free space or choose another {flag}")
    reason = e.strerror or str(e).splitlines()[0]
    return LiveError(f"cannot write {path} ({reason}): check the folder or choose another {flag}")


@contextlib.contextmanager
def writing(path, flag: str):
    """Turn a failed write (OSError) of the user's file `path`, named by option `flag`, into one line."""
    try:
        yield
    except OSError as e:
        raise write_error(e, path, flag) from None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def _input_files(path) -> list[str]:
    """An input path as files: a folder (--model, --replay) stands for the files in it."""
    if os.path.isdir(path):
        return [e.path for e in os.scandir(path) if e.is_file()]
    return [str(path)]


def _same(final: Path, st, other: str) -> bool:
    if os.path.realpath(other) == str(final):
        return True
    try:
        return st is not None and os.path.samestat(st, os.stat(other))  # hard links
    except OSError:
        return False


def check_output(path, flag: str, suffixes: Sequence[str] = (), hint: str = "",
                 inputs: Iterable[tuple[str, str]] = ()) -> Path:
    """Refuse, in one line naming `flag`, an output path live must not write; returns its final path.

    suffixes: accepted endings (any case), `hint` says what to do otherwise; inputs: (what, path) pairs of
    files or folders the output must not be.
    """
    p = str(path)
    if suffixes and not p.lower().endswith(tuple(s.lower() for s in suffixes)):
        raise LiveError(f"{flag} {p}: {hint}")
    try:
        st = os.stat(p)  # follows a symlink: the file it points to is what would be replaced
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise LiveError(f"{flag} {p}: cannot check it ({e.strerror}): choose another {flag} path") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise LiveError(f"{flag} {p} is {_kind(st.st_mode)}: live writes a new file there, so name a regular "
                        f"file (new or to replace)")
    final = final_path(p)
    if not final.parent.is_dir():
        raise LiveError(f"{flag} {p}: folder '{final.parent}' does not exist: create it or choose another "
                        f"{flag} path")
    if not os.access(final.parent, os.W_OK | os.X_OK):
        raise LiveError(f"{flag} {p}: cannot write to '{final.parent}': choose another {flag} path")
    for what, other in inputs:
        if other and any(_same(final, st, f) for f in _input_files(other)):
            raise LiveError(f"{flag} {p} is {what} {other}: choose another {flag} path")
    return final
