#!/usr/bin/env python3
"""Make the pinned trajectories that tests/test_pin.py holds the code to (tests/data/*_pin.json).

- trajectory_pin.json: the one audio -> states path (live.walk.steering.Steering) fed the pin audio in
  1000-sample blocks, with two control changes at sample positions: truncation 0.5 and 6 classes at 1 s, six
  new classes at 2 s. Rows every 16 walker steps: truncation falls below 1, the class set changes.
- export_latents_pin.json: `live --export --save-latents` of 4 s of the pin audio (stereo, 44.1 kHz) on a tiny
  random model (torch), truncation 0.6, classes 1,2,3 (their weights follow the tones; the class set changes
  only through control events, which the trajectory pin covers on the same Steering path). Rows every 8 frames.
Each file holds the rows (z, the class ids in c and their weights, t), the sha256 of every z, c, t byte, and the
numpy/scipy/SIMD fingerprint of the machine that made it: the hash is only comparable on that kind of machine.
Re-running this on the same kind of machine reproduces the files byte for byte.
  python tools/make_pins.py [--out tests/data]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import numpy as np  # noqa: E402

TRAJECTORY_EVERY, EXPORT_EVERY = 16, 8
EXPORT_ARGS = ("--backend", "torch", "--fps", "10", "--seed", "3", "--classes", "1,2,3",
               "--truncation", "0.6", "--pitch-sensitivity", "0.9", "--quiet")


def cpu_fingerprint() -> str:
    import scipy
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    targets = [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]
    return f"numpy {np.__version__}, scipy {scipy.__version__}, dispatch {'+'.join(targets)}"


def pin_audio(sr: int = 22050, seconds: float = 3.0) -> np.ndarray:
    """Four tones entering every 0.5 s plus a click every 0.5 s."""
    t = np.arange(int(sr * seconds)) / sr
    x = np.zeros_like(t)
    for i, f in enumerate((220.0, 277.18, 329.63, 392.0)):
        x += 0.2 * np.sin(2 * np.pi * f * t) * (t > i * 0.5)
    clicks = (np.mod(t, 0.5) < 0.01) * np.sin(2 * np.pi * 3000 * t) * 0.5
    return (x + clicks).astype(np.float32)


def trajectory(truncation_event: bool = True, classes_event: bool = True) -> dict:
    """Steering's states for the pin audio (the events can be left out: the test's controls)."""
    from live.config import make_params
    from live.control.actions import Event, SetClasses, SetParams
    from live.walk.steering import Steering

    steer = Steering(22050, make_params({}, {}), list(range(1, 13)), 3)
    events = deque()
    if truncation_event:
        events.append(Event(22050, SetParams(make_params({}, {"truncation": 0.5, "num_classes": 6}))))
    if classes_event:
        events.append(Event(44100, SetClasses((100, 200, 300, 400, 500, 600))))
    x = pin_audio()
    out = []
    for i in range(0, len(x), 1000):
        out += steer.feed(x[i:i + 1000], events)
    return {"time_s": np.array([ts for ts, _ in out]), "z": np.stack([s.z for _, s in out]),
            "c": np.stack([s.c for _, s in out]), "t": np.array([s.t for _, s in out])}


def trajectory_sha256(states: dict) -> str:
    h = hashlib.sha256()
    for ts, z, c, t in zip(states["time_s"], states["z"], states["c"], states["t"]):
        for part in (np.float32(ts), z, c, np.float32(t)):
            h.update(part.tobytes())
    return h.hexdigest()


def export_latents(model_dir: Path, work: Path) -> dict:
    """z, c, t per frame of `live --export` of the pin audio on model_dir."""
    import soundfile as sf

    x = pin_audio(44100, 4.0)
    song, video, latents = work / "song.wav", work / "pin.mp4", work / "pin.npz"
    sf.write(song, np.stack([x, 0.5 * x], axis=1), 44100, subtype="FLOAT")
    r = subprocess.run([sys.executable, "-m", "live", "--export", str(song), "-o", str(video), "--model",
                        str(model_dir), "--save-latents", str(latents), *EXPORT_ARGS],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"live --export failed: {r.stderr.strip()}")
    with np.load(latents) as f:
        return {k: f[k] for k in ("z", "c", "t")}


def rows(states: dict, every: int, key: str) -> list[dict]:
    out = []
    for i in range(0, len(states["t"]), every):
        ids = np.flatnonzero(states["c"][i])
        row = {key: i}
        if "time_s" in states:
            row["time_s"] = float(states["time_s"][i])
        row.update({"t": float(states["t"][i]), "z": states["z"][i].tolist(), "c_ids": ids.tolist(),
                    "c": states["c"][i][ids].tolist()})
        out.append(row)
    return out


def trajectory_pin() -> dict:
    states = trajectory()
    return {"steps": len(states["t"]), "sha256": trajectory_sha256(states),
            "rows": rows(states, TRAJECTORY_EVERY, "step"), "cpu": cpu_fingerprint(), "made_by": "tools/make_pins.py"}


def export_pin(model_dir: Path, work: Path) -> dict:
    states = export_latents(model_dir, work)
    digest = hashlib.sha256(states["z"].tobytes() + states["c"].tobytes() + states["t"].tobytes()).hexdigest()
    return {"frames": len(states["t"]), "sha256": digest, "rows": rows(states, EXPORT_EVERY, "frame"),
            "cpu": cpu_fingerprint(), "made_by": "tools/make_pins.py (live --export " + " ".join(EXPORT_ARGS) + ")"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "data")
    args = ap.parse_args(argv)
    from core.files import write_text_atomic
    from engine.testmodel import make_random_model

    with tempfile.TemporaryDirectory() as tmp:
        model = make_random_model(Path(tmp) / "model", resolution=128, channel_width=8, seed=0)  # the tests' model
        pins = {"trajectory_pin.json": trajectory_pin(), "export_latents_pin.json": export_pin(model, Path(tmp))}
    for name, pin in pins.items():
        write_text_atomic(args.out / name, json.dumps(pin) + "\n")
        print(f"wrote {args.out / name}: {len(pin['rows'])} rows, sha256 {pin['sha256'][:12]}, {pin['cpu']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
