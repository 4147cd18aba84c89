#!/usr/bin/env python3
"""Walker states from generated music: the int8 calibration set the engine ships, and held-out test states.

A song is synthesised (no audio file needed): a chord progression of harmonic tones over a bass line, a kick
on every beat, hats on the off-beats, loud and quiet sections. It runs through the app's own features and
walker (live.walk.steering.Steering, as export does) under each packaged preset, so the states are what the
engine really sees: z on the bounded walk, soft class mixes, the presets' truncations.
  python tools/walker_states.py engine/data/calibration_states.npz          # the shipped calibration set
The engine stores no audio code: it reads the .npz (engine/quantize.py).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402

SR = 22050
PRESETS = ("default", "chill", "dream", "rave")
CHORDS = ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12))  # I V vi IV, semitones above the key


def synth_song(seed: int, seconds: float = 24.0, sr: int = SR) -> np.ndarray:
    """Deterministic mono float32 music for (seed, seconds): key, tempo and section loudness vary by seed."""
    rng = np.random.default_rng(seed)
    key, bpm = int(rng.integers(0, 12)), float(rng.uniform(90, 150))
    n = int(seconds * sr)
    t = np.arange(n) / sr
    beat = 60.0 / bpm
    out = np.zeros(n)
    for i, start in enumerate(np.arange(0.0, seconds, 4 * beat)):  # one chord per bar
        a, b = int(start * sr), min(n, int((start + 4 * beat) * sr))
        tt = t[a:b] - start
        chord = CHORDS[i % len(CHORDS)]
        for semi in chord:
            f = 261.63 * 2 ** ((key + semi) / 12)
            for h in (1, 2, 3):
                out[a:b] += 0.12 / h * np.sin(2 * np.pi * f * h * tt) * np.exp(-tt / (3 * beat))
        fb = 65.41 * 2 ** ((key + chord[0]) / 12)
        out[a:b] += 0.25 * np.sin(2 * np.pi * fb * tt)
    for k, start in enumerate(np.arange(0.0, seconds, beat / 2)):
        a = int(start * sr)
        m = min(n - a, int(0.2 * sr))
        tt = t[:m]
        if k % 2 == 0:  # kick: a falling sine
            out[a:a + m] += 0.6 * np.sin(2 * np.pi * (50 + 100 * np.exp(-tt / 0.03)) * tt) * np.exp(-tt / 0.08)
        else:  # hat: a short noise burst
            out[a:a + m] += 0.15 * rng.standard_normal(m) * np.exp(-tt / 0.02)
    sections = np.repeat(rng.uniform(0.15, 1.0, int(seconds // 6) + 1), int(6 * sr))[:n]
    out *= sections
    return (out / max(1e-9, np.abs(out).max()) * 0.8).astype(np.float32)


def walker_states(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """{z [N,128], c [N,1000], t [N]}: `count` states spread evenly over songs walked under each preset."""
    from live.classes import random_classes
    from live.config import make_params
    from live.control.presets import read_preset
    from live.walk.steering import Steering

    per = -(-count // len(PRESETS))
    zs, cs, ts = [], [], []
    for i, name in enumerate(PRESETS):
        preset = read_preset(name)
        params = make_params(preset)
        run_seed = seed * 100 + i
        classes = random_classes(params.num_classes, run_seed)
        steer = Steering(SR, params, classes, run_seed)
        states = [st for _, st in steer.push(synth_song(run_seed))]
        for j in np.linspace(len(states) // 10, len(states) - 1, per).astype(int):  # skip the first seconds
            zs.append(states[j].z)
            cs.append(states[j].c)
            ts.append(states[j].t)
    return {"z": np.stack(zs)[:count].astype(np.float32), "c": np.stack(cs)[:count].astype(np.float32),
            "t": np.asarray(ts, np.float32)[:count]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help=".npz to write (z, c, t)")
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0, help="0 makes the shipped calibration set")
    args = ap.parse_args(argv)
    from core.files import atomic_output

    states = walker_states(args.count, args.seed)
    with atomic_output(args.out) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **states)
    print(f"{args.out}: {len(states['t'])} states, {args.out.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
