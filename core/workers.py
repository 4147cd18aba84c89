"""Worker threads whose errors reach the caller, and queue hand-offs that never hang on a dead partner."""
from __future__ import annotations

import queue
import threading
from typing import Callable, Optional


class Worker(threading.Thread):
    """A daemon thread whose exception is re-raised by the caller via check()."""

    def __init__(self, target: Callable[[], None], name: str):
        super().__init__(name=name, daemon=True)
        self._target_fn, self.error = target, None

    def run(self):
        try:
            self._target_fn()
        except BaseException as e:  # handed to the caller's thread
            self.error = e

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def alive(self) -> None:
        """Raise its error, or RuntimeError if it ended without one before its work was done."""
        self.check()
        if not self.is_alive():
            self.check()
            raise RuntimeError(f"{self.name} thread stopped")


def put(q: queue.Queue, item, stop: threading.Event, consumer: Optional[Worker] = None) -> None:
    """Blocking put that gives up when stopped, and raises if the consumer died (no hang on a full queue)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            if consumer is not None:
                consumer.alive()


def get(q: queue.Queue, stop: threading.Event):
    """Blocking get; None once `stop` is set (the producer failed or was interrupted)."""
    while not stop.is_set():
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            pass
    return None
