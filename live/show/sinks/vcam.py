"""Virtual camera (`--vcam`) through pyvirtualcam: v4l2loopback on Linux, OBS Virtual Camera on Windows and
macOS. Zoom, OBS, a browser or any camera app can then take the picture as a webcam."""
from __future__ import annotations

import numpy as np

from core.errors import first_line
from live.show.sinks.base import Sink, SinkUnavailable, require


class VcamSink(Sink):
    kind = "vcam"

    def open(self, width: int, height: int, fps: float) -> None:
        pyvirtualcam = require("pyvirtualcam", "--vcam", "pyvirtualcam")
        try:
            self.cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB)
        except Exception as e:  # no v4l2loopback device / no OBS Virtual Camera installed
            raise SinkUnavailable(f"--vcam: no virtual camera ({first_line(e)}): on Linux load v4l2loopback "
                                  "(modprobe v4l2loopback), on Windows/macOS install OBS Studio") from None
        self.name = self.cam.device

    def write(self, frame: np.ndarray) -> None:
        self.cam.send(frame)

    def release(self) -> None:
        self.cam.close()
