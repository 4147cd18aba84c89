#!/usr/bin/env python3
"""What the modulation sources and the matrix cost per analysis hop (budget: 0.3 ms).

Generated drums (tests/audio_fixtures.drums: a kick, hats) with two stems run through the one analysis path
(live.walk.steering.Steering) at the live rate, 44.1 kHz. Two pipelines, interleaved round by round:
  base  the features without bands and stem levels, and the walker: what ran before the sources existed
  full  the features with bands and stem levels, the sources, a six-row matrix (truncation, noise_push, cut,
        jitter, two latent directions) and the walker
Their difference per hop is the cost; the parts are timed alone too. Times are the thread's CPU time (on a
shared machine wall time mostly measures the wait for a core); prints the CPU and the load average.
  python tools/bench_sources.py --seconds 20 --rounds 5
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402

from engine.cpu import cpu_name  # noqa: E402

SR = 44100


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="audio per round (default 20)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = ap.parse_args()

    from live.analysis.features import FeatureExtractor
    from live.config import WalkerParams
    from live.walk.modulation import Matrix, Row
    from live.walk.steering import Steering
    from tests.audio_fixtures import drums

    kick, hats, _, _ = drums(SR, seconds=args.seconds)
    x = np.stack([kick + hats, kick, hats], axis=1)
    rows = (Row("bass", "truncation", -0.5), Row("high", "noise_push", 0.8, "exp"), Row("onset_bass", "cut", 1.0,
            "gate"), Row("kick", "jitter", 0.3), Row("lfo1", "dir1", 1.5), Row("hats", "dir2", 1.0, "log"))
    dirs = np.linalg.qr(np.random.default_rng(0).standard_normal((128, 8)))[0].T.astype(np.float32)
    hop = round(SR * 512 / 22050)
    block = 512  # as the audio callback delivers it

    def base():
        s = Steering(SR, WalkerParams(), list(range(12)), 0)
        s.features._levels = lambda newest, z=np.zeros(6): (z, z)  # no bands
        fe = s.features
        walker = s.walker
        t0 = time.thread_time()
        n = 0
        for i in range(0, len(x), block):
            for frame in fe.push(x[i:i + block, 0]):
                walker.step(frame)
                n += 1
        return (time.thread_time() - t0) / n

    def full():
        s = Steering(SR, WalkerParams(), list(range(12)), 0, matrix=Matrix(rows), stems=("kick", "hats"),
                     directions=dirs)
        t0 = time.thread_time()
        for i in range(0, len(x), block):
            s.push(x[i:i + block])
        return (time.thread_time() - t0) / (len(x) // hop)

    def parts():
        s = Steering(SR, WalkerParams(), list(range(12)), 0, matrix=Matrix(rows), stems=("kick", "hats"),
                     directions=dirs)
        frames = []
        for i in range(0, len(x), block):
            frames += s.features.push(x[i:i + block])
        fe = FeatureExtractor(SR, 2)
        newest = np.random.default_rng(1).standard_normal(fe.band_win)
        t0 = time.thread_time()
        for _ in frames:
            fe._levels(newest)
        t_levels = (time.thread_time() - t0) / len(frames)
        t0 = time.thread_time()
        values = [s.sources.step(f).copy() for f in frames]
        t_sources = (time.thread_time() - t0) / len(frames)
        state = s.walker.step(frames[0])
        from live.walk.modulation import shape
        t0 = time.thread_time()
        for v in values:
            shape(state, s.mod.step(s.params, v))
        t_matrix = (time.thread_time() - t0) / len(frames)
        return t_levels, t_sources, t_matrix

    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores); {args.seconds:g} s of audio at {SR} Hz per round, "
          f"hop {hop} samples ({1000 * hop / SR:.1f} ms), 2 stems, {len(rows)} rows")
    results = []
    for r in range(args.rounds):
        load = os.getloadavg()[0]
        b, f = base(), full()
        lv, so, mx = parts()
        results.append((b, f, lv, so, mx))
        print(f"round {r + 1}: load {load:.1f}  base {1000 * b:.3f} ms/hop  full {1000 * f:.3f} ms/hop  "
              f"difference {1000 * (f - b):.3f}  |  bands+stems {1000 * lv:.3f}  sources {1000 * so:.3f}  "
              f"matrix {1000 * mx:.3f}")
    med = np.median(np.array(results), axis=0) * 1000
    print(f"median: base {med[0]:.3f} ms/hop, full {med[1]:.3f}, difference {med[1] - med[0]:.3f} ms/hop "
          f"(budget 0.3); parts: bands+stems {med[2]:.3f}, sources {med[3]:.3f}, matrix {med[4]:.3f} "
          f"(sum {med[2] + med[3] + med[4]:.3f}); load now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
