"""Segments encoded on their own join into one video without re-encoding: the joined video decodes to
exactly the segments' frames, whatever their lengths (a one-frame segment has no B-frame delay)."""
import av
import numpy as np
import pytest

from live.export.segments import Joiner, SegmentWriter, segment_frames


def _frames(n, size=64, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size, size, 3)).astype(np.float32)
    return np.stack([np.clip(base + 40 * np.sin(i / 5) + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
                     for i in range(n)])


def _decode(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.mark.parametrize("fps", [30, 29.97])
def test_joined_segments_decode_to_the_segments_frames(tmp_path, fps):
    frames = _frames(60)
    bounds = [0, 25, 26, 28, 50, 60]  # one- and two-frame segments among longer ones
    segs = []
    for k in range(len(bounds) - 1):
        p = tmp_path / f"s{k}.mp4"
        w = SegmentWriter(str(p), 64, fps)
        w.write(frames[bounds[k]:bounds[k + 1]])
        w.close()
        segs.append(p)
    assert [segment_frames(p) for p in segs] == list(np.diff(bounds))
    out = av.open(str(tmp_path / "joined.mp4"), "w", format="mp4")
    joiner = Joiner(out, segs[0])
    for p in segs:
        seconds = joiner.add(p)
    out.close()
    assert seconds == pytest.approx(60 / fps)
    joined, parts = _decode(tmp_path / "joined.mp4"), [f for p in segs for f in _decode(p)]
    assert len(joined) == 60 and all(np.array_equal(a, b) for a, b in zip(joined, parts))
    with av.open(str(tmp_path / "joined.mp4")) as c:
        keys = [p.is_keyframe for p in c.demux(c.streams.video[0]) if p.size]
    assert all(keys[b] for b in bounds[:-1])  # each segment starts on a key frame
