"""Ableton Link (`--link`, through aalink): join the session on the local network and read its tempo and beat.

aalink is asyncio based: a Link must be created inside a running event loop, and its beat futures and
callbacks resolve on that loop. The session therefore lives on a thread of its own running one loop; other
threads read the timeline through state() (Link's session state is thread safe) and change it through
propose_tempo() and set_enabled(). Link's clock is not time.monotonic: state() reads the beat with a
monotonic time taken around the call, so beat times convert without knowing the clocks' offset.
"""
from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Callable, NamedTuple

from core.errors import LiveError, first_line


class LinkState(NamedTuple):
    enabled: bool
    tempo: float  # BPM of the session
    peers: int  # other apps in the session
    beat: float  # the session's beat (phase aligned to the quantum) at time t
    t: float  # time.monotonic of that beat reading
    quantum: float

    def beat_at(self, t: float) -> float:
        return self.beat + (t - self.t) * self.tempo / 60.0

    def time_of(self, beat: float) -> float:
        return self.t + (beat - self.beat) * 60.0 / self.tempo

    def next_beat(self, every: float = 1.0, after: float | None = None) -> float:
        """The next beat number that is a multiple of `every`, after time `after` (default: the reading)."""
        b = self.beat_at(self.t if after is None else after)
        return (math.floor(b / every + 1e-9) + 1) * every


class LinkSession:
    def __init__(self, quantum: float = 4.0, bpm: float = 120.0,
                 on_beat: Callable[[int, float], None] | None = None):
        try:
            import aalink
        except ImportError as e:
            raise LiveError(f"--link needs aalink ({e}): pip install aalink") from None
        self.quantum, self.on_beat, self.beats = float(quantum), on_beat, 0
        self._aalink, self._bpm = aalink, float(bpm)
        self.link = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready, self.error = threading.Event(), None
        self._thread = threading.Thread(target=self._run, name="link", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self.error is not None:
            raise LiveError(f"--link: could not join a Link session ({self.error or 'timed out'})")

    def _run(self):
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except Exception as e:  # noqa: BLE001 - aalink's failure to join, whatever it raises: one line
            if self._ready.is_set():
                raise  # after joining it is a bug: its traceback, from this thread
            self.error = first_line(e)
            self._ready.set()
        finally:
            loop.close()

    async def _main(self):
        self._stop = asyncio.Event()
        link = self._aalink.Link(self._bpm)
        link.quantum = self.quantum
        link.enabled = True
        self.link = link
        self._ready.set()
        tasks = {asyncio.ensure_future(self._stop.wait())}
        if self.on_beat is not None:
            tasks.add(asyncio.ensure_future(self._beats()))
        done, running = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in running:
            task.cancel()
        link.enabled = False
        self.link = None
        del link  # on this thread, while the loop still runs
        for task in done:
            task.result()  # the beat callback's bug, raised here rather than lost with its task

    async def _beats(self):
        """Beat-synced callbacks (OSC out): aalink resolves sync(1) on each beat of the session."""
        while True:
            beat = await self.link.sync(1)
            self.beats += 1
            self.on_beat(int(round(beat)), float(self.link.tempo))  # OSC out: a network error is counted there

    # ---- any thread ----------------------------------------------------------------------------------------
    def state(self) -> LinkState:
        link = self.link
        if link is None:
            return LinkState(False, self._bpm, 0, 0.0, time.monotonic(), self.quantum)
        t0 = time.monotonic()
        beat = link.beat
        t1 = time.monotonic()
        return LinkState(bool(link.enabled), float(link.tempo), int(link.num_peers), float(beat), (t0 + t1) / 2,
                         self.quantum)

    def propose_tempo(self, bpm: float) -> None:
        """A new tempo for the whole session (tap tempo); peers adopt it."""
        if self.link is not None and 20 <= bpm <= 999:
            self.link.tempo = float(bpm)

    def set_enabled(self, on: bool) -> None:
        if self.link is not None:
            self.link.enabled = bool(on)

    def close(self) -> None:
        loop = self._loop
        if loop is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(lambda: self._stop.set())
            self._thread.join(5)
