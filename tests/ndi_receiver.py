"""An NDI receiver for tests: finds a source by name on this machine (finder with extra_ips 127.0.0.1) and
captures its video frames as RGBX arrays."""
from __future__ import annotations

import time

import numpy as np


class NdiReceiver:
    def __init__(self, name: str):
        import NDIlib as ndi

        self.ndi, self.name = ndi, name
        self.finder = self.recv = None

    def __enter__(self):
        ndi = self.ndi
        assert ndi.initialize()
        settings = ndi.FindCreate()
        settings.show_local_sources = True
        settings.extra_ips = "127.0.0.1"
        self.finder = ndi.find_create_v2(settings)
        return self

    def connect(self, timeout: float, poll=None) -> bool:
        ndi = self.ndi
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if poll is not None:
                poll()
            ndi.find_wait_for_sources(self.finder, 200)
            found = [s for s in ndi.find_get_current_sources(self.finder) if s.ndi_name.endswith(f"({self.name})")]
            if found:
                rc = ndi.RecvCreateV3()
                rc.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA
                self.recv = ndi.recv_create_v3(rc)
                ndi.recv_connect(self.recv, found[0])
                return True
        return False

    def collect(self, poll, count: int, timeout: float) -> list[tuple[np.ndarray, float]]:
        """Up to `count` video frames (copies) with the time the sender sent each (NDI's timestamp, seconds:
        frames may arrive in bursts); `poll` runs between tries."""
        ndi = self.ndi
        deadline = time.monotonic() + timeout
        if self.recv is None and not self.connect(timeout, poll):
            return []
        got = []
        while len(got) < count and time.monotonic() < deadline:
            poll()
            kind, video, _, _ = ndi.recv_capture_v2(self.recv, 100)
            if kind == ndi.FRAME_TYPE_VIDEO:
                got.append((np.array(video.data, copy=True), video.timestamp / 1e7))
                ndi.recv_free_video_v2(self.recv, video)
        return got

    def __exit__(self, *exc):
        if self.recv is not None:
            self.ndi.recv_destroy(self.recv)
        if self.finder is not None:
            self.ndi.find_destroy(self.finder)
        self.ndi.destroy()
