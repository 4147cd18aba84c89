"""Where the engine keeps downloaded weights and built engines, and export its work folders."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import platformdirs

from core.errors import LiveError

APP_NAME = "live-biggan"


def cache_dir(*parts: str) -> Path:
    """Return (and create) the user cache dir, or a sub-directory of it.

    LIVE_CACHE_DIR overrides the platform default, e.g. for tests or a shared machine-wide cache. A folder that
    cannot be created or written (a read-only mount, no permission) is one line naming LIVE_CACHE_DIR.
    """
    root = os.environ.get("LIVE_CACHE_DIR") or platformdirs.user_cache_dir(APP_NAME)
    path = Path(root).expanduser().joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if os.access(path, os.W_OK | os.X_OK):  # access() sees a read-only mount, even as root
            return path
        reason = os.strerror(errno.EROFS if os.statvfs(path).f_flag & os.ST_RDONLY else errno.EACCES)
    except OSError as e:
        reason = e.strerror or str(e)
    raise LiveError(f"cannot use the cache folder {path} ({reason}): make it writable, or set LIVE_CACHE_DIR "
                    "to a folder you can write")
