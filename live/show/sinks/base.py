"""A video sink: one output on its own thread, fed through a one-slot mailbox.

offer() never blocks: a frame the sink has not taken yet when the next one comes is replaced and counted as
dropped, so a slow consumer (a busy network, a stalled virtual camera) never holds up rendering or audio.
A sink that fails while running says so once and stops; live goes on with the others.
"""
from __future__ import annotations

import importlib
import sys
import threading

import numpy as np

from core.errors import LiveError, first_line, warn


class SinkUnavailable(LiveError):
    """The library, driver or platform a sink needs is missing (reported as one line; live goes on)."""


class Sink:
    kind = "sink"  # the flag's word: ndi, vcam, syphon, spout

    def __init__(self, name: str):
        self.name = name
        self.sent = self.dropped = 0
        self.error: str | None = None
        self._slot: np.ndarray | None = None
        self._cv = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None

    # ---- what a sink implements (called on its thread, except open) --------------------------------------
    def open(self, width: int, height: int, fps: float) -> None:
        """Create the device/sender (on the main thread, before the set starts); SinkUnavailable if impossible."""

    def write(self, frame: np.ndarray) -> None:
        """Send one frame (uint8 h x w x 3 RGB, C-contiguous)."""
        raise NotImplementedError

    def release(self) -> None:
        """Free the device/sender (on the sink's thread, after the last write)."""

    # ---- the mailbox -------------------------------------------------------------------------------------
    def start(self, width: int, height: int, fps: float) -> "Sink":
        self.open(width, height, fps)
        self._thread = threading.Thread(target=self._run, name=f"sink-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def offer(self, frame: np.ndarray) -> None:
        with self._cv:
            if self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self._cv.notify()

    def close(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self):
        try:
            while True:
                with self._cv:
                    while self._slot is None and not self._closing:
                        self._cv.wait()
                    if self._closing:
                        return
                    frame, self._slot = self._slot, None
                if self.error is None:
                    self.write(frame)
                    self.sent += 1
        except Exception as e:  # a device that went away: say it once, keep the set running
            self.error = first_line(e)
            warn(f"{self.label()} stopped ({self.error}) — live goes on without it")
        finally:
            try:
                self.release()
            except Exception as e:  # noqa: BLE001 - a device that went away may fail to close: one line
                warn(f"{self.label()} did not close cleanly ({first_line(e)})")

    def label(self) -> str:
        return f"{self.kind} output {self.name!r}" if self.name else f"{self.kind} output"

    def stats(self) -> dict:
        return dict(kind=self.kind, name=self.name, sent=self.sent, dropped=self.dropped, error=self.error)


def rgba(frame: np.ndarray, buf: np.ndarray | None) -> np.ndarray:
    """The frame as RGBX (alpha 255) in a reused buffer, for senders that want 4 bytes a pixel."""
    h, w = frame.shape[:2]
    if buf is None or buf.shape[:2] != (h, w):
        buf = np.full((h, w, 4), 255, np.uint8)
    buf[..., :3] = frame
    return buf


def require(module: str, flag: str, package: str, platform: str | None = None, elsewhere: str = ""):
    """Import a sink's library, or SinkUnavailable naming what to install (or that the platform is wrong)."""
    if platform is not None and sys.platform != platform:
        where = {"darwin": "macOS", "win32": "Windows"}.get(platform, platform)
        raise SinkUnavailable(f"{flag} needs {where}; {elsewhere}")
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise SinkUnavailable(f"{flag} needs {package} ({e}): pip install {package}") from None
