"""Where the engine keeps downloaded weights and built engines."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "live-biggan"


def cache_dir(*parts: str) -> Path:
    """Return (and create) the user cache dir, or a sub-directory of it.

    LIVE_CACHE_DIR overrides the platform default, e.g. for tests or a shared machine-wide cache.
    """
    root = os.environ.get("LIVE_CACHE_DIR") or platformdirs.user_cache_dir(APP_NAME)
    path = Path(root).expanduser().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
