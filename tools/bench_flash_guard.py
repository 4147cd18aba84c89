#!/usr/bin/env python3
"""What the flash guard (live.show.flashguard) costs per frame, at the model's 128 px, at 512 px and on a
1920 x 1080 output, on two kinds of video:

- calm: a slow cross-fade between two photos-like textures (every frame passes through untouched);
- strobe: black / white swapped every 3 frames at 60 fps, far over budget (most frames are softened: the guard
  searches for the largest cross-fade weight, so these frames cost several measurements).

Sizes and kinds are interleaved in rounds, and `uptime`'s load is read beside every figure (the machine may be
shared). One thread for OpenCV and NumPy's BLAS, as the guard runs on the presenter's thread. `--against REV`
times the guard of a git revision too, run after run with this checkout's (an A/B on the same load). Frames
are read from memory (at 1920 x 1080 that read is most of the cost), or with `--fresh` copied just before the
guard sees each one, as from a decoder or an upscaler.
  python tools/bench_flash_guard.py --rounds 3 --json guard.json
  python tools/bench_flash_guard.py --rounds 5 --against main --fresh
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from engine.cpu import cpu_name  # noqa: E402
from live.show.flashguard import FlashGuard  # noqa: E402

SIZES = {"128": (128, 128), "512": (512, 512), "1080p": (1080, 1920)}
FPS = 60.0


def videos(size, n: int) -> dict:
    rng = np.random.default_rng(0)
    h, w = size
    # smooth random textures (blurred noise), like a photo more than like noise
    a, b = (cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), np.uint8), (0, 0), max(1.0, w / 100))
            for _ in range(2))
    calm = [cv2.addWeighted(a, 1 - i / n, b, i / n, 0) for i in range(n)]
    black, white = np.zeros((h, w, 3), np.uint8), np.full((h, w, 3), 255, np.uint8)
    strobe = [white if (i // 3) % 2 else black for i in range(n)]
    return {"calm": calm, "strobe": strobe}


def guard_at(rev: str):
    """FlashGuard as it is at git revision rev (its two modules loaded under other names)."""
    cells_name, mods = "live.show.flashcells", {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("flashcells", "flashguard"):
            path = Path(tmp) / f"{name}.py"
            path.write_bytes(subprocess.run(["git", "show", f"{rev}:live/show/{name}.py"], cwd=ROOT, check=True,
                                            capture_output=True).stdout)
            spec = importlib.util.spec_from_file_location(f"{name}_at_{rev}", path)
            mods[name] = importlib.util.module_from_spec(spec)
            saved = sys.modules[cells_name]
            sys.modules[cells_name] = mods["flashcells"]  # what that revision's guard imports
            try:
                spec.loader.exec_module(mods[name])
            finally:
                sys.modules[cells_name] = saved
    return mods["flashguard"].FlashGuard


def time_guard(frames, make=FlashGuard, fresh: bool = False) -> dict:
    """Wall time per frame, and the thread's CPU time per frame (what the guard costs, without the time it
    waited for a core: on a shared machine the two differ). fresh: each frame is copied just before the guard
    sees it (untimed), as a decoder or an upscaler hands it over, so it is in the cache, not only in memory."""
    guard = make()
    guard.apply(frames[0], 0.0)
    per, cpu = [], 0.0
    for i, f in enumerate(frames[1:], 1):
        f = f.copy() if fresh else f
        c0, t0 = time.thread_time(), time.perf_counter()
        guard.apply(f, i / FPS)
        per.append(time.perf_counter() - t0)
        cpu += time.thread_time() - c0
    cpu /= len(per)
    return dict(ms_median=round(1000 * statistics.median(per), 3), ms_mean=round(1000 * statistics.mean(per), 3),
                ms_p95=round(1000 * float(np.percentile(per, 95)), 3), cpu_ms_mean=round(1000 * cpu, 3),
                frames=len(per), softened=guard.limited)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--frames", type=int, default=240, help="frames per run (4 s at 60 fps)")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--against", metavar="REV", help="also time the guard of this git revision (e.g. main)")
    p.add_argument("--fresh", action="store_true", help="copy each frame just before the guard sees it (in the "
                   "cache, as from a decoder); without it, frames are read from memory")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    guards = {"this": FlashGuard} | ({args.against: guard_at(args.against)} if args.against else {})
    clips = {name: videos(size, args.frames) for name, size in SIZES.items()}
    rows = []
    for r in range(args.rounds):
        for name in SIZES:
            for kind in ("calm", "strobe"):
                for code, make in guards.items():
                    load = os.getloadavg()[0]
                    fig = time_guard(clips[name][kind], make, args.fresh)
                    rows.append(dict(round=r + 1, code=code, size=name, kind=kind, load_1min=round(load, 2),
                                     **fig))
                    print(f"round {r + 1} {code:>6} {name:>6} {kind:6}: median {fig['ms_median']:.3f} ms, mean "
                          f"{fig['ms_mean']:.3f}, p95 {fig['ms_p95']:.3f}, CPU {fig['cpu_ms_mean']:.3f} "
                          f"({fig['softened']}/{fig['frames']} softened)  load {load:.2f}", flush=True)
    summary = {f"{c} {s} {k}": {m: statistics.median(x[m] for x in rows
                                                     if (x["code"], x["size"], x["kind"]) == (c, s, k))
                                for m in ("ms_median", "ms_mean", "ms_p95", "cpu_ms_mean")}
               for c in guards for s in SIZES for k in ("calm", "strobe")}
    loads = [x["load_1min"] for x in rows]
    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical CPUs; 1-minute load {min(loads):.2f}-{max(loads):.2f}; "
          f"frames {'fresh' if args.fresh else 'from memory'}; median over the rounds (ms/frame):")
    for key, m in summary.items():
        print(f"  {key:22s} wall median {m['ms_median']:.3f}, mean {m['ms_mean']:.3f}, p95 {m['ms_p95']:.3f}, "
              f"CPU mean {m['cpu_ms_mean']:.3f}")
    if args.json:
        report = dict(cpu=cpu_name(), fresh=args.fresh, rows=rows, summary=summary)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
