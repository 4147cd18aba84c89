"""tools/flash_guard.py on real files: a strobing clip with audio comes out with at most three flashes a second
(counted after H.264, per pixel: tests/flashes.py), its audio stream copied; bad paths are one line, exit 2."""
import subprocess
import sys
from pathlib import Path

import av
import numpy as np

from tests.flashes import flashes_per_second

REPO = Path(__file__).resolve().parents[1]
FPS = 30


def write_clip(path, seconds=3.0):
    """A black/white strobe (10 flashes a second) with a 440 Hz tone in AAC."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = 128, 96, "yuv420p"
        a = c.add_stream("aac", rate=48000)
        a.layout = "mono"
        for i in range(int(seconds * FPS)):
            level = 255 if (i // 1.5) % 2 else 0
            f = av.VideoFrame.from_ndarray(np.full((96, 128, 3), level, np.uint8), format="rgb24")
            f.pts = i
            c.mux(v.encode(f))
        c.mux(v.encode(None))
        t = np.arange(int(seconds * 48000)) / 48000
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for lo in range(0, len(tone), 1024):
            f = av.AudioFrame.from_ndarray(tone[None, lo:lo + 1024], format="flt", layout="mono")
            f.sample_rate, f.pts = 48000, lo
            c.mux(a.encode(f))
        c.mux(a.encode(None))
    return path


def decode(path):
    with av.open(str(path)) as c:
        frames = [(f.to_ndarray(format="rgb24"), float(f.time)) for f in c.decode(video=0)]
        s = c.streams.audio[0] if c.streams.audio else None
        audio = (s.codec_context.name, float(s.duration * s.time_base)) if s is not None else None
    return [f for f, _ in frames], [t for _, t in frames], audio


def run(*args):
    return subprocess.run([sys.executable, str(REPO / "tools" / "flash_guard.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


def test_a_strobing_clip_comes_out_safe_with_its_audio(tmp_path):
    src, dst = write_clip(tmp_path / "loop.mp4"), tmp_path / "safe.mp4"
    frames, times, audio = decode(src)
    assert flashes_per_second(times, frames)["general"] > 3  # the control: the input flashes
    r = run(src, "-o", dst)
    assert r.returncode == 0, r.stderr
    assert "softened by the flash guard" in r.stderr
    out, out_times, out_audio = decode(dst)
    assert len(out) == len(frames) and np.allclose(out_times, times, atol=1e-3)
    assert flashes_per_second(out_times, out)["general"] <= 3
    assert out_audio[0] == audio[0] == "aac" and abs(out_audio[1] - audio[1]) < 0.05
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop.mp4", "safe.mp4"]  # no temp file left


def test_bad_paths_are_one_line_and_write_nothing(tmp_path):
    src = write_clip(tmp_path / "loop.mp4", seconds=0.5)
    (tmp_path / "notes.txt").write_text("not a video")
    for args, says in [((tmp_path / "missing.mp4", "-o", tmp_path / "x.mp4"), "no such file"),
                       ((src, "-o", src), "input"),
                       ((src, "-o", tmp_path / "x.avi"), ".mp4"),
                       ((tmp_path / "notes.txt", "-o", tmp_path / "x.mp4"), "cannot read it as a video")]:
        r = run(*args)
        assert r.returncode == 2 and says in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop.mp4", "notes.txt"]
