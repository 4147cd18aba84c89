"""The mp4: finished segments joined without re-encoding, plus the song's audio (AAC) decoded once more from
its file, interleaved as they go so the muxer never buffers a whole track."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from live.audio import decode
from live.export.segments import Joiner

AUDIO_FRAME = 1024  # AAC frame size


class _AudioTrack:
    """The song's [start, start + duration) as AAC, encoded on demand up to a given time."""

    def __init__(self, container, info: decode.AudioInfo, start: float, duration: float):
        self.stream = container.add_stream("aac", rate=info.output_rate)
        self.stream.layout = "stereo"
        self.container, self.rate = container, info.output_rate
        self.lo = int(round(start * self.rate))
        self.hi = self.lo + int(round(duration * self.rate))
        self._blocks = (planar for _, planar in decode.blocks(info, mono=False))
        self._pos = 0  # decoded samples (from 0 s)
        self._pending = np.zeros((2, 0), np.float32)  # decoded, inside [lo, hi), not yet encoded
        self.pts = 0  # encoded samples

    def until(self, seconds: float) -> None:
        """Encode the track up to `seconds` of video time (all of it for inf)."""
        want = self.hi - self.lo if seconds == float("inf") else min(self.hi - self.lo, int(seconds * self.rate))
        while self.pts < want:
            while self._pending.shape[1] < AUDIO_FRAME and self._pos < self.hi:
                planar = next(self._blocks, None)
                if planar is None:
                    break
                a, b = max(self.lo - self._pos, 0), min(self.hi - self._pos, planar.shape[1])
                if b > a:
                    self._pending = np.concatenate([self._pending, planar[:, a:b]], axis=1)
                self._pos += planar.shape[1]
            n = min(AUDIO_FRAME, self._pending.shape[1], want - self.pts)
            if n <= 0:
                return
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(self._pending[:, :n]), format="fltp",
                                               layout="stereo")
            frame.sample_rate, frame.pts = self.rate, self.pts
            self._pending = self._pending[:, n:]
            self.pts += n
            self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        self.until(float("inf"))
        self.container.mux(self.stream.encode(None))
        self._blocks.close()


def write_mp4(path: Path, segments: list[Path], info: decode.AudioInfo, start: float, duration: float) -> None:
    """Join `segments` (in order) and the audio into a new mp4 at path."""
    container = av.open(str(path), "w", format="mp4")
    try:
        joiner = Joiner(container, segments[0])
        audio = _AudioTrack(container, info, start, duration)
        for seg in segments:
            audio.until(joiner.add(seg))
        audio.close()
    except BaseException:
        try:
            container.close()
        except (OSError, av.error.FFmpegError):
            pass  # the first error is the one to report
        raise
    container.close()  # writes the index: a full disk may show only here
