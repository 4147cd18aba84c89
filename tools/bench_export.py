#!/usr/bin/env python3
"""Export speed on this machine and on a local Ray cluster, with the driver's own cost per frame.

Renders a generated song (chords and clicks) with a random full-width model of the chosen resolution:
this machine's engine (twice: the first run fills the engine cache and is not counted), then `--ray local`
with 1 and 2 workers (CPUs split between them), and prints
frames/s, wall time, the render phase and the driver's work per frame (trajectory + join + mux) against the
engine's per-frame time. Nothing is downloaded.
  python tools/bench_export.py --seconds 60 --resolution 128
  python tools/bench_export.py --seconds 10 --resolution 512 --no-ray
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from engine.cpu import cpu_name  # noqa: E402
from tools.bench import bench_model  # noqa: E402


def song(path: Path, seconds: float) -> Path:
    import numpy as np
    import soundfile as sf

    sr = 44100
    t = np.arange(int(seconds * sr)) / sr
    chords = [(261.63, 329.63, 392.0), (220.0, 261.63, 329.63), (174.61, 220.0, 261.63), (196.0, 246.94, 293.66)]
    x = np.zeros_like(t)
    for i, chord in enumerate(chords):
        on = (t.astype(int) % 4) == i
        x += on * sum(0.15 * np.sin(2 * np.pi * f * t) for f in chord)
    x += (np.mod(t, 0.5) < 0.01) * 0.5 * np.sin(2 * np.pi * 3000 * t)
    sf.write(str(path), np.stack([x, x], 1).astype(np.float32), sr)
    return path


def run(audio: Path, out: Path, model: Path, ray_workers: int | None, backend: str, batch: int) -> dict:
    from live.options import ClusterOptions, EngineOptions, ExportOptions, LookOptions
    from live.export.executors import make_executor
    from live.export.job import export
    from live.export.songs import OutputFolders, export_jobs

    cluster = ClusterOptions("local", ray_workers, max(1, os.cpu_count() // ray_workers)) if ray_workers else None
    opts = ExportOptions(output=str(out), audio=(str(audio),), batch=batch, quiet=True, cluster=cluster)
    engine_opts = EngineOptions(model=str(model), backend=backend)
    t0 = time.perf_counter()
    jobs, preps = zip(*export_jobs(opts, LookOptions(), engine_opts, OutputFolders()))
    executor = make_executor(opts, engine_opts)  # engines load here (Ray: the cluster starts too)
    t_start = time.perf_counter() - t0
    try:
        [fig] = export(jobs, preps, executor, progress=False)
    finally:
        executor.close()
    wall, n = time.perf_counter() - t0, fig["frames"]
    return dict(executor=executor.name, wall_s=round(wall, 2), startup_s=round(t_start, 2), fps=round(n / wall, 2),
                frames=n, driver_ms_per_frame=round(1000 * fig["driver_s"] / n, 3),
                engine_ms_per_frame=round(getattr(executor, "engine_s", 0) * 1000 / n, 2) or None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--resolution", type=int, default=128, choices=(128, 256, 512))
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--no-ray", action="store_true", help="only this machine (the driver-cost figure)")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    model = bench_model(args.resolution)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        os.environ.setdefault("LIVE_CACHE_DIR", str(Path(d) / "cache"))  # no work folder left behind
        audio = song(Path(d) / "song.wav", args.seconds)
        for i, workers in enumerate([None, None] + ([] if args.no_ray else [1, 2])):
            row = run(audio, Path(d) / f"out{i}.mp4", model, workers, args.backend, args.batch)
            print(json.dumps(row), file=sys.stderr)
            if i > 0:  # the first run fills the engine cache (compile, quantize): not timed
                rows.append(row)
    base = rows[0]["wall_s"]
    print(f"{cpu_name()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {args.seconds:g} s song at "
          f"{args.resolution} px, batch {args.batch}")
    print(f"{'executor':<40} {'wall s':>7} {'x local':>7} {'fps':>6} {'driver ms/frame':>16} {'engine ms/frame':>16}")
    for r in rows:
        print(f"{r['executor']:<40} {r['wall_s']:>7.1f} {r['wall_s'] / base:>7.2f} {r['fps']:>6.1f} "
              f"{r['driver_ms_per_frame']:>16.3f} {r['engine_ms_per_frame'] or float('nan'):>16.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
