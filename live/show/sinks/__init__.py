"""Video outputs beside (or instead of) the window: NDI, virtual camera, Syphon, Spout.

Outputs.open() starts the sinks the user asked for; one whose library, driver or platform is missing is one
line on stderr and live goes on without it (as MIDI does). Every sink gets the frames the window shows (after
display-rate blending and the flash guard); with --output-size they are scaled once, on a thread of their own,
with the window's scale filter and letterboxed, and that one copy goes to every sink.
"""
from __future__ import annotations

import numpy as np

from core.errors import warn
from live.show.sinks.base import Sink, SinkUnavailable


def _kinds() -> dict:
    from live.show.sinks.ndi import NdiSink
    from live.show.sinks.spout import SpoutSink
    from live.show.sinks.syphon import SyphonSink
    from live.show.sinks.vcam import VcamSink

    return {s.kind: s for s in (NdiSink, VcamSink, SyphonSink, SpoutSink)}


def letterbox(frame: np.ndarray, size: tuple[int, int], smooth: bool) -> np.ndarray:
    """`frame` scaled to fit (width, height), centred on black (pygame's scalers: the window's filters)."""
    import pygame

    h, w = frame.shape[:2]
    W, H = size
    k = min(W / w, H / h)
    sw, sh = max(1, round(w * k)), max(1, round(h * k))
    src = pygame.image.frombuffer(np.ascontiguousarray(frame), (w, h), "RGB")
    scaled = (pygame.transform.smoothscale if smooth else pygame.transform.scale)(src, (sw, sh))
    img = np.frombuffer(pygame.image.tobytes(scaled, "RGB"), np.uint8).reshape(sh, sw, 3)
    if (sw, sh) == (W, H):
        return img
    out = np.zeros((H, W, 3), np.uint8)
    y0, x0 = (H - sh) // 2, (W - sw) // 2
    out[y0:y0 + sh, x0:x0 + sw] = img
    return out


class _Scaler(Sink):
    """The one --output-size scaling, on its own thread, feeding every sink."""
    kind = "scale"

    def __init__(self, size, smooth, sinks):
        super().__init__("")
        self.size, self.smooth, self.sinks = size, smooth, sinks

    def write(self, frame):
        out = letterbox(frame, self.size, self.smooth)
        for s in self.sinks:
            s.offer(out)


class Outputs:
    def __init__(self, sinks: list[Sink], scaler: _Scaler | None = None):
        self.sinks, self.scaler = sinks, scaler

    @classmethod
    def open(cls, wanted: list[tuple[str, str]], frame_size: tuple[int, int], fps: float,
             size: tuple[int, int] | None = None, smooth: bool = True, kinds: dict | None = None) -> "Outputs":
        """wanted: (kind, name) pairs; frame_size (w, h) of the frames offered; size: --output-size."""
        kinds = kinds if kinds is not None else _kinds()
        w, h = size or frame_size
        sinks = []
        for kind, name in wanted:
            sink = kinds[kind](name)
            try:
                sinks.append(sink.start(w, h, fps))
            except SinkUnavailable as e:
                warn(f"{e} — live goes on without it")
        scaler = None
        if sinks and size is not None and tuple(size) != tuple(frame_size):
            scaler = _Scaler(tuple(size), smooth, sinks).start(w, h, fps)
        return cls(sinks, scaler)

    def offer(self, frame: np.ndarray) -> None:
        if self.scaler is not None:
            self.scaler.offer(frame)
        else:
            for s in self.sinks:
                s.offer(frame)

    def close(self) -> None:
        for s in ([self.scaler] if self.scaler else []) + self.sinks:
            s.close()

    def stats(self) -> list[dict]:
        out = [s.stats() for s in self.sinks]
        if self.scaler is not None:
            out.append(self.scaler.stats())
        return out

    def hud(self) -> str:
        return "   ".join(f"{s['kind'].upper()} {s['sent']} sent {s['dropped']} dropped"
                          + (" STOPPED" if s["error"] else "") for s in self.stats())

    def __bool__(self) -> bool:
        return bool(self.sinks)
