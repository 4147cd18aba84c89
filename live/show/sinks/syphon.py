"""Syphon server (`--syphon [NAME]`, macOS) through syphon-python's Metal server: Resolume, MadMapper,
VDMX and TouchDesigner on a Mac take it as a Syphon source. Written to syphon-python's documented API; it could
only be tested against a fake here (no macOS)."""
from __future__ import annotations

import numpy as np

from live.show.sinks.base import Sink, require, rgba


class SyphonSink(Sink):
    kind = "syphon"

    def open(self, width: int, height: int, fps: float) -> None:
        syphon = require("syphon", "--syphon", "syphon-python", "darwin", "elsewhere use --ndi, or --spout on Windows")
        raw = require("syphon.utils.raw", "--syphon", "syphon-python")
        self._copy = require("syphon.utils.numpy", "--syphon", "syphon-python").copy_image_to_mtl_texture
        self.server = syphon.SyphonMetalServer(self.name)
        self.texture = raw.create_mtl_texture(self.server.device, width, height)
        self._buf = None

    def write(self, frame: np.ndarray) -> None:
        self._buf = rgba(frame, self._buf)
        self._copy(self._buf, self.texture)
        self.server.publish_frame_texture(self.texture)

    def release(self) -> None:
        self.server.stop()
