"""Problems with a stream of input (OSC datagrams, MIDI messages, web requests) told without flooding: a
sender that repeats one mistake a thousand times a second must cost a line every few seconds, not a line
per message (a flood would fill the terminal and the disk, and slow the show down)."""
from __future__ import annotations

import threading
import time
from typing import Callable

from core.errors import warn

EVERY_S = 5.0


class Throttled:
    """Tells the first problem at once, then at most one line every `every` seconds: how many more came and
    the first of them. Thread safe. Call flush() now and then (about every frame) so what is held back is
    told once its window has passed even when no further problem comes, and flush(final=True) at the end."""

    def __init__(self, what: str, emit: Callable[[str], object] = warn, every: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        """`what`: the input, for the summary line ("OSC input"); `emit`: tells one line; `every`: seconds
        (default EVERY_S)."""
        self.what, self._emit, self._clock = what, emit, clock
        self.every = float(EVERY_S if every is None else every)
        self._lock = threading.Lock()
        self._told = float("-inf")  # when the last line was told
        self._held, self._first = 0, ""  # problems since then, and the first of them
        self.total = 0

    def report(self, text: str) -> None:
        with self._lock:
            self.total += 1
            now = self._clock()
            if not self._held and now - self._told >= self.every:
                self._told = now
                line = text
            else:
                self._held += 1
                self._first = self._first or text
                line = self._summary(now)
        if line:
            self._emit(line)

    def flush(self, final: bool = False) -> None:
        with self._lock:
            line = self._summary(self._clock(), final)
        if line:
            self._emit(line)

    def _summary(self, now: float, final: bool = False) -> str:
        """The held-back line once its window has passed (or at the end); resets the count."""
        if not self._held or (now - self._told < self.every and not final):
            return ""
        n, first, seconds = self._held, self._first, now - self._told
        self._held, self._first, self._told = 0, "", now
        if n == 1:
            return first
        return f"{self.what}: {n:,} more problems in the last {seconds:.0f} s, the first: {first}"
