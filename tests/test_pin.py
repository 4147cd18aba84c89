"""Pinned trajectories: for a given input, seed and options (no LRC) the latents match those of the code
before the re-layout (tests/data/*_pin.json, made from the original code by the pin script described there).

Rows are always compared within a tight tolerance. The sha256 of every z, c, t byte is compared as well only
on the kind of machine that made the references (same numpy, scipy, and numpy SIMD dispatch targets; see
`cpu_fingerprint`), or when LIVE_PIN_EXACT=1 forces it: numpy's SIMD math may differ in the last bits
between AVX2 and AVX-512 CPUs, so elsewhere an exact hash would fail on correct code.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import deque
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DATA = Path(__file__).parent / "data"
RTOL, ATOL = 1e-5, 1e-6


def cpu_fingerprint() -> str:
    import scipy
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    targets = [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]
    return f"numpy {np.__version__}, scipy {scipy.__version__}, dispatch {'+'.join(targets)}"


def exact(ref: dict) -> bool:
    return os.environ.get("LIVE_PIN_EXACT") == "1" or ref.get("cpu") == cpu_fingerprint()


def pin_audio(sr: int = 22050, seconds: float = 3.0) -> np.ndarray:
    """Four tones entering every 0.5 s plus a click every 0.5 s (the pin script's audio)."""
    t = np.arange(int(sr * seconds)) / sr
    x = np.zeros_like(t)
    for i, f in enumerate((220.0, 277.18, 329.63, 392.0)):
        x += 0.2 * np.sin(2 * np.pi * f * t) * (t > i * 0.5)
    clicks = (np.mod(t, 0.5) < 0.01) * np.sin(2 * np.pi * 3000 * t) * 0.5
    return (x + clicks).astype(np.float32)


def check_rows(ref_rows: list, z, c, t, index_key: str) -> None:
    for row in ref_rows:
        i = row[index_key]
        np.testing.assert_allclose(z[i], row["z"], rtol=RTOL, atol=ATOL, err_msg=f"z at {index_key} {i}")
        assert list(np.flatnonzero(c[i])) == row["c_ids"], f"classes at {index_key} {i}"
        np.testing.assert_allclose(c[i][row["c_ids"]], row["c"], rtol=RTOL, atol=ATOL, err_msg=f"c at {i}")
        assert t[i] == pytest.approx(row["t"], rel=RTOL, abs=ATOL)


def test_steering_trajectory_is_pinned():
    # Two control changes at sample positions (params at 1 s, classes at 2 s), fed in 1000-sample blocks.
    from live.config import make_params
    from live.control.actions import Event, SetClasses, SetParams
    from live.walk.steering import Steering

    ref = json.loads((DATA / "trajectory_pin.json").read_text())
    steer = Steering(22050, make_params({}, {}), list(range(1, 13)), 3)
    events = deque([Event(22050, SetParams(make_params({}, {"truncation": 0.5, "num_classes": 6}))),
                    Event(44100, SetClasses((100, 200, 300, 400, 500, 600)))])
    x = pin_audio()
    out = []
    for i in range(0, len(x), 1000):
        out += steer.feed(x[i:i + 1000], events)
    assert len(out) == ref["steps"]
    times = np.array([ts for ts, _ in out])
    z, c, t = (np.stack([s.z for _, s in out]), np.stack([s.c for _, s in out]),
               np.array([s.t for _, s in out], np.float32))
    for row in ref["rows"]:
        assert times[row["step"]] == pytest.approx(row["time_s"], abs=1e-9)
    check_rows(ref["rows"], z, c, t, "step")
    if exact(ref):
        h = hashlib.sha256()
        for ts, st in out:
            for part in (np.float32(ts), st.z, st.c, np.float32(st.t)):
                h.update(part.tobytes())
        assert h.hexdigest() == ref["sha256"]


def test_export_latents_are_pinned(tiny_model_dir, tmp_path):
    ref = json.loads((DATA / "export_latents_pin.json").read_text())
    x = pin_audio(44100, 4.0)
    song, out, lat = tmp_path / "song.wav", tmp_path / "x.mp4", tmp_path / "x.npz"
    sf.write(song, np.stack([x, 0.5 * x], axis=1), 44100, subtype="FLOAT")
    r = subprocess.run([sys.executable, "-m", "live", "--export", song, "-o", out, "--model", tiny_model_dir,
                        "--backend", "torch", "--save-latents", lat, "--fps", "10", "--seed", "3",
                        "--classes", "1,2,3", "--quiet", "--pitch-sensitivity", "0.9"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with np.load(lat) as f:
        z, c, t = f["z"], f["c"], f["t"]
    assert len(z) == ref["frames"]
    check_rows(ref["rows"], z, c, t, "frame")
    if exact(ref):
        assert hashlib.sha256(z.tobytes() + c.tobytes() + t.tobytes()).hexdigest() == ref["sha256"]
