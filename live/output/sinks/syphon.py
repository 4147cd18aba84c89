"""Syphon server (`--syphon [NAME]`, macOS) through syphon-python's Metal server: Resolume, MadMapper,
VDMX and TouchDesigner on a Mac take it as a Syphon source. Written to syphon-python's documented API; it could
only be tested against a fake here (no macOS)."""
from __future__ import annotations

import sys

import numpy as np

from live.output.sinks.base import Sink, SinkUnavailable, rgba


class SyphonSink(Sink):
    kind = "syphon"

    def open(self, width: int, height: int, fps: float) -> None:
        if sys.platform != "darwin":
            raise SinkUnavailable("--syphon needs macOS (Syphon); elsewhere use --ndi or --spout (Windows)")
        try:
            import syphon
            from syphon.utils.numpy import copy_image_to_mtl_texture
            from syphon.utils.raw import create_mtl_texture
        except ImportError as e:
            raise SinkUnavailable(f"--syphon needs syphon-python ({e}): pip install syphon-python") from None
        self.server = syphon.SyphonMetalServer(self.name)
        self.texture = create_mtl_texture(self.server.device, width, height)
        self._copy = copy_image_to_mtl_texture
        self._buf = None

    def write(self, frame: np.ndarray) -> None:
        self._buf = rgba(frame, self._buf)
        self._copy(self._buf, self.texture)
        self.server.publish_frame_texture(self.texture)

    def release(self) -> None:
        self.server.stop()
