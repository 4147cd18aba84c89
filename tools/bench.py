#!/usr/bin/env python3
"""Time every usable backend against the reference BigGAN, side by side, on full-width random weights.

Reference = pytorch_pretrained_biggan.BigGAN as the original visualizer runs it: from_pretrained(dir), fp32,
spectral-norm hooks active (eval mode: no power iteration), truncation a Python float, frames generated
--ref-batch at a time (the visualizer's default --batch_size is 30), output moved to numpy. (The visualizer
never calls eval(), so it also power-iterates every spectral norm per forward: a negligible extra.) It is also
timed at each --batches size for a like-for-like ratio; at 512 px a batch of 30 needs ~10+ GB of RAM. Models: engine.testmodel.make_random_model at channel width
128 (the real models' size and cost), cached under cache_dir("bench-models"); nothing is downloaded.
  python tools/bench.py --resolutions 128 --batches 1 8 --repeats 5 --json bench.json
Medians after warm-up. Don't run the full table on a busy machine: the numbers are only as quiet as the CPU.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402

from core.dims import NUM_CLASSES, Z_DIM  # noqa: E402

BACKENDS = ("torch-fp32", "torch-bf16", "openvino-bf16", "openvino-fp32", "tensorrt-fp16")
REF_BATCH = 30  # deep-music-visualizer's default --batch_size
TRUNCATION = 0.5


def bench_model(resolution: int) -> Path:
    from core.cache import cache_dir
    from engine.testmodel import make_random_model

    out = cache_dir("bench-models", f"biggan-deep-{resolution}-random-w128")
    if not (out / "pytorch_model.bin").is_file() or not (out / "config.json").is_file():
        print(f"making full-width random {resolution} px model in {out} (once)", file=sys.stderr)
        make_random_model(out, resolution=resolution, channel_width=128, seed=0)
    return out


def inputs(batch: int, seed: int = 0):
    """Walker-like inputs: z within +-2 truncation, a soft mix of 12 classes, one truncation for all."""
    rng = np.random.default_rng(seed)
    z = (np.clip(rng.standard_normal((batch, Z_DIM)), -2, 2) * TRUNCATION).astype(np.float32)
    c = np.zeros((batch, NUM_CLASSES), np.float32)
    classes = rng.choice(NUM_CLASSES, 12, replace=False)
    c[:, classes] = rng.uniform(0, 1, (batch, 12))
    return z, c, np.full(batch, TRUNCATION, np.float32)


def timed(fn, warmup: int, repeats: int) -> float:
    """Median seconds of fn() after warm-up calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_reference(model_dir: Path, batch: int, warmup: int, repeats: int) -> tuple[float, float]:
    import torch
    from pytorch_pretrained_biggan import BigGAN

    start = time.perf_counter()
    model = BigGAN.from_pretrained(str(model_dir)).eval()
    created = time.perf_counter() - start
    z, c, _ = (torch.from_numpy(a) for a in inputs(batch))

    def run():
        with torch.no_grad():
            return model(z, c, TRUNCATION).cpu().numpy()

    return timed(run, warmup, repeats) / batch, created


def bench_engine(spec: str, model_dir: Path, batch: int, warmup: int, repeats: int) -> tuple[float, float]:
    from engine.backends import create_engine

    backend, precision = spec.split("-", 1)
    start = time.perf_counter()
    engine = create_engine(model_dir, backend=backend, precision=precision, max_batch=batch)
    created = time.perf_counter() - start
    z, c, t = inputs(batch)
    try:
        return timed(lambda: engine.render(z, c, t), warmup, repeats) / batch, created
    finally:
        engine.close()


def startup_seconds(spec: str, model_dir: Path) -> float:
    """Fresh-process wall time from interpreter start to the first frame (engine caches already warm)."""
    backend, precision = spec.split("-", 1)
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); import numpy as np; "
            f"from engine.backends import create_engine; "
            f"e = create_engine({str(model_dir)!r}, backend={backend!r}, precision={precision!r}, max_batch=1); "
            f"e.render(np.zeros((1, {Z_DIM}), np.float32), np.eye(1, {NUM_CLASSES}, dtype=np.float32), np.ones(1, np.float32))")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def usable_specs(wanted) -> tuple[list[str], dict[str, str]]:
    from engine.backends import list_backends

    status = {name: (ok, why) for name, ok, why in list_backends()}
    keep, skipped = [], {}
    for spec in wanted:
        ok, why = status.get(spec.split("-", 1)[0], (False, "unknown backend"))
        if spec == "openvino-bf16" and ok:
            import openvino as ov

            from engine.backends.openvino_backend import cpu_capabilities

            if "BF16" not in cpu_capabilities(ov.Core()):
                ok, why = False, "CPU has no bf16"
        if spec == "torch-bf16" and ok:
            from engine.cpu import cpu_has_bf16

            if not cpu_has_bf16():
                ok, why = False, "CPU has no native bf16 (emulated: not worth timing)"
        (keep.append(spec) if ok else skipped.__setitem__(spec, why))
    return keep, skipped


def _cell(value, width: int, digits: int = 2) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def table(rows: list[dict]) -> str:
    head = (f"{'res':>4} {'backend':<14} {'batch':>5} {'ms/frame':>9} {'fps':>7} {'x ref':>7} "
            f"{'x ref@' + str(REF_BATCH):>9} {'create s':>8} {'start s':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lead = f"{r['resolution']:>4} {r['backend']:<14} {r['batch']:>5}"
        if "error" in r:
            lines.append(f"{lead}  failed: {r['error']}")
            continue
        lines.append(f"{lead} {_cell(r['ms_per_frame'], 9, 1)} {_cell(r['fps'], 7)} "
                     f"{_cell(r.get('speedup_vs_ref_same_batch'), 7)} {_cell(r.get('speedup_vs_ref_visualizer'), 9)} "
                     f"{_cell(r['create_s'], 8)} {_cell(r.get('startup_s'), 7)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    global REF_BATCH
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolutions", type=int, nargs="+", default=[128, 256, 512], choices=(128, 256, 512))
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    ap.add_argument("--no-reference", action="store_true", help="skip the reference model")
    ap.add_argument("--ref-batch", type=int, default=REF_BATCH,
                    help=f"batch of the visualizer-style reference row (default {REF_BATCH}; 0 skips it)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--startup", action="store_true", help="also time a fresh process's cached start (batch 1)")
    ap.add_argument("--json", type=Path, help="write the results here too")
    args = ap.parse_args(argv)
    REF_BATCH = args.ref_batch

    specs, skipped = usable_specs(args.backends)
    for spec, why in skipped.items():
        print(f"skipping {spec}: {why}", file=sys.stderr)
    rows = []
    for res in args.resolutions:
        model = bench_model(res)
        ref = {}
        ref_batches = [] if args.no_reference else sorted(set(args.batches) | ({REF_BATCH} if REF_BATCH else set()))
        jobs = [("reference", b) for b in ref_batches] + [(s, b) for s in specs for b in args.batches]
        for spec, batch in jobs:
            print(f"{res} px {spec} batch {batch} ...", file=sys.stderr, flush=True)
            row = {"resolution": res, "backend": spec, "batch": batch}
            try:
                if spec == "reference":
                    per_frame, created = bench_reference(model, batch, min(args.warmup, 1), args.repeats)
                    ref[batch] = per_frame
                else:
                    per_frame, created = bench_engine(spec, model, batch, args.warmup, args.repeats)
            except Exception as exc:  # an OOM or a broken backend must not lose the rest of the table
                row["error"] = f"{type(exc).__name__}: {str(exc)[:120]}"
                rows.append(row)
                continue
            row.update(ms_per_frame=per_frame * 1e3, fps=1.0 / per_frame, create_s=created)
            if args.startup and spec != "reference" and batch == min(args.batches):
                try:
                    row["startup_s"] = startup_seconds(spec, model)
                except subprocess.CalledProcessError as exc:  # keep the table; say why this cell is empty
                    print(f"  startup of {spec} failed: exit {exc.returncode}", file=sys.stderr)
            rows.append(row)
        for row in rows:  # ratios once every reference time of this resolution is known
            if row["resolution"] == res and "error" not in row:
                per_frame = row["ms_per_frame"] / 1e3
                row["speedup_vs_ref_same_batch"] = ref[row["batch"]] / per_frame if row["batch"] in ref else None
                row["speedup_vs_ref_visualizer"] = ref[REF_BATCH] / per_frame if REF_BATCH in ref else None
    print(table(rows))
    if args.json:
        import torch

        meta = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                "torch": torch.__version__, "python": platform.python_version(), "ref_batch": REF_BATCH,
                "truncation": TRUNCATION, "repeats": args.repeats, "warmup": args.warmup, "skipped": skipped,
                "time": time.strftime("%Y-%m-%d %H:%M:%S")}
        from core.files import write_bytes_atomic

        write_bytes_atomic(args.json, json.dumps({"meta": meta, "rows": rows}, indent=2).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
