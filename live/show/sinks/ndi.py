"""NDI video source (`--ndi [NAME]`) through ndi-python, which bundles the NDI runtime (Linux, Windows, macOS).

Mixers (Resolume, TouchDesigner, OBS with obs-ndi, vMix) list it as "HOST (NAME)". Frames go out as RGBX at
the display rate; the sender does not clock itself (clock_video off): live paces the frames.
"""
from __future__ import annotations

import numpy as np

from live.show.sinks.base import Sink, SinkUnavailable, require, rgba


class NdiSink(Sink):
    kind = "ndi"

    def open(self, width: int, height: int, fps: float) -> None:
        ndi = require("NDIlib", "--ndi", "ndi-python")
        if not ndi.initialize():
            raise SinkUnavailable("--ndi: the NDI runtime did not start on this machine (CPU or platform "
                                  "not supported)")
        settings = ndi.SendCreate()
        settings.ndi_name = self.name
        settings.clock_video = False
        self.ndi = ndi
        self.sender = ndi.send_create(settings)
        if self.sender is None:
            ndi.destroy()
            raise SinkUnavailable(f"--ndi {self.name}: could not create the NDI sender")
        self.video = ndi.VideoFrameV2()
        self.video.FourCC = ndi.FOURCC_VIDEO_TYPE_RGBX
        self.video.frame_rate_N, self.video.frame_rate_D = int(round(fps * 1000)), 1000
        self._buf = None

    def write(self, frame: np.ndarray) -> None:
        self._buf = rgba(frame, self._buf)
        self.video.data = self._buf
        self.ndi.send_send_video_v2(self.sender, self.video)

    def release(self) -> None:
        self.ndi.send_destroy(self.sender)
        self.ndi.destroy()
