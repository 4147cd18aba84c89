"""H.264 segments that join into one video without re-encoding.

A long render is cut into segments of consecutive frames; each is encoded on its own (x264, same settings) into
a small mp4 that starts with a key frame, so segments can be rendered anywhere, in any order, cached, and then
joined by copying their packets. Single-machine export and the cluster write the same segments, so their videos
are the same.

Joining: a segment's packets are shifted to its first frame. x264 with B-frames gives a stream a decode delay
(its first dts is below its first pts by d frames) and the delay depends on the segment (a one-frame segment has
none), so every segment's dts are shifted to the largest delay MAX_DELAY: dts stay monotonic across boundaries
and never exceed pts.
"""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

X264 = {"crf": "18", "preset": "fast"}
MAX_DELAY = 4  # frames of decode delay allowed for (x264 'fast' with b-pyramid uses 2)


def video_rate(fps: float) -> Fraction:
    """The stream rate for --fps: exact for whole rates, 30000/1001-style for NTSC rates."""
    return Fraction(fps).limit_denominator(1001)


class SegmentWriter:
    """Encode frames into one video-only mp4 whose first frame is a key frame."""

    def __init__(self, path: str, size: int, fps: float, x264: dict | None = None):
        self.container = av.open(str(path), "w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=video_rate(fps))
        self.stream.width = self.stream.height = int(size)
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = dict(X264 if x264 is None else x264)
        self.frames = 0

    def write(self, frames: np.ndarray) -> None:
        """uint8 [B, H, W, 3] frames, in order."""
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = self.frames
            self.frames += 1
            self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        """Flush the encoder and finish the file (call once, after the last write)."""
        self.container.mux(self.stream.encode(None))
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except (OSError, av.error.FFmpegError):
            pass


def segment_frames(path: str) -> int:
    """Frames in a finished segment (its packet count): a quick check of a cached segment."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return sum(1 for p in c.demux(s) if p.size)


class Joiner:
    """Copies segments' video packets into `container` (an open output), one after another, with their
    timestamps moved to their place in the whole video."""

    def __init__(self, container, first_segment: str):
        with av.open(str(first_segment)) as seg:
            self.stream = container.add_stream_from_template(seg.streams.video[0])
        self.container = container
        self.frames = 0  # frames joined so far

    def add(self, path: str) -> float:
        """Append one segment; returns the video time (seconds) joined so far."""
        with av.open(str(path)) as seg:
            s = seg.streams.video[0]
            step = 1 / (s.time_base * s.average_rate)  # time-base ticks per frame
            if step.denominator != 1:
                raise ValueError(f"segment {path}: time base {s.time_base} does not hold whole frames")
            step = int(step)
            packets = [p for p in seg.demux(s) if p.size]
            delay = max(0, -min(p.dts for p in packets)) if packets else 0
            if delay > MAX_DELAY * step:
                raise ValueError(f"segment {path}: decode delay {delay / step:g} frames exceeds {MAX_DELAY}")
            shift = self.frames * step
            for p in packets:
                p.pts += shift
                p.dts += shift - (MAX_DELAY * step - delay)
                p.stream = self.stream
                self.container.mux(p)
            self.frames += len(packets)
            return float(self.frames / s.average_rate)
