"""The export's mp4 writer: H.264 video + AAC audio from a queue of ("video", frames) / ("audio", planar)
items, muxed into an open PyAV container (run in its own thread by live.output.export)."""
from __future__ import annotations

import queue
import threading
from fractions import Fraction

import av
import numpy as np

from core.files import writing

DONE = object()  # the end of the items (also the producer's end of work)


def encode(container, output: str, fps: float, size: int, rate: int, q: queue.Queue, stop: threading.Event,
           crf: int = 18, preset: str = "fast") -> None:
    """Mux every item of q until DONE (then flush the encoders) or until stop is set.

    A failed write (full disk, I/O error) is a one-line LiveError about `output`.
    """
    with writing(output, "-o"):
        video = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"crf": str(crf), "preset": preset}
        audio = container.add_stream("aac", rate=rate)
        audio.layout = "stereo"
        v_pts = a_pts = 0
        while not stop.is_set():
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is DONE:
                break
            kind, data = item
            if kind == "video":
                for rgb in data:
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                    frame.pts = v_pts
                    v_pts += 1
                    container.mux(video.encode(frame))
            else:
                frame = av.AudioFrame.from_ndarray(data, format="fltp", layout="stereo")
                frame.sample_rate = rate
                frame.pts = a_pts
                a_pts += data.shape[1]
                container.mux(audio.encode(frame))
        else:
            return
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
