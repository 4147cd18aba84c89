"""Spout sender (`--spout [NAME]`, Windows) through SpoutGL: Resolume, TouchDesigner and OBS (Spout plugin) on
Windows take it as a Spout source. SpoutGL opens its own OpenGL context on the sink's thread at the first
frame. Written to SpoutGL's documented API; it could only be tested against a fake here (no Windows)."""
from __future__ import annotations

import numpy as np

from live.show.sinks.base import Sink, require


class SpoutSink(Sink):
    kind = "spout"

    def open(self, width: int, height: int, fps: float) -> None:
        spout = require("SpoutGL", "--spout", "SpoutGL", "win32", "elsewhere use --ndi, or --syphon on macOS")
        self._format = require("SpoutGL.enums", "--spout", "SpoutGL").GL_RGB
        self.sender = spout.SpoutSender()
        self.sender.setSenderName(self.name)

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if not self.sender.sendImage(frame, w, h, self._format, False, 0):
            raise RuntimeError("Spout could not send the frame")
        self.sender.setFrameSync(self.name)

    def release(self) -> None:
        self.sender.releaseSender()
