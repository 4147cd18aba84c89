"""First-run feedback: what the engine is building, that it is still at it, and how long it took.

`with step("exporting ONNX for 128 px"):` says nothing when the work is quick (a cache hit), and otherwise
prints "engine: exporting ONNX for 128 px..." after SILENT_S, "... still at it (40 s)" every TICK_S, and
"engine: exporting ONNX for 128 px: 13.2 s" at the end. Messages go to `sink` (stderr unless replaced:
the self-test collects them, tests capture them).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Callable

SILENT_S = 1.5  # a step shorter than this (a cache hit) prints nothing
TICK_S = 20.0


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


sink: Callable[[str], None] = _stderr


def say(line: str) -> None:
    sink(f"engine: {line}")


@contextlib.contextmanager
def step(what: str, silent_s: float = SILENT_S):
    """Announce `what` if it takes longer than silent_s, tick while it runs, report its duration."""
    start, done, shown = time.monotonic(), threading.Event(), threading.Event()

    def watch():
        wait = silent_s
        while not done.wait(wait):
            elapsed = time.monotonic() - start
            say(f"{what}..." if not shown.is_set() else f"{what}: still at it ({elapsed:.0f} s)")
            shown.set()
            wait = TICK_S

    watcher = threading.Thread(target=watch, name="engine-progress", daemon=True)
    watcher.start()
    ok = False
    try:
        yield
        ok = True
    finally:
        done.set()
        watcher.join()
        if shown.is_set() or time.monotonic() - start >= silent_s:
            say(f"{what}: {'done in' if ok else 'failed after'} {time.monotonic() - start:.1f} s")
