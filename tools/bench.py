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
Rows are backend[:device]-precision; those this machine cannot run are skipped with the reason. The default
command also times an AVX2-only block (--isa): the same rows with OpenVINO's and torch's kernels capped at AVX2
(ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY; the OpenVINO kernel names are printed to prove it), as a plain AVX2
CPU would run them. `python tools/bench.py` alone makes every row of README's tables.
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

BACKENDS = ("torch-fp32", "torch-bf16", "torch:cuda-fp16", "torch:mps-fp16", "openvino-bf16", "openvino-fp32",
            "openvino-int8", "openvino:GPU-fp16", "openvino:NPU-fp16", "tensorrt-fp16")
REF_BATCH = 30  # deep-music-visualizer's default --batch_size
KERNELS: dict[str, dict] = {}  # spec -> OpenVINO conv kernel names of its last engine
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


def conv_kernels(engine) -> dict[str, int]:
    """OpenVINO's kernel names of the compiled convolutions (e.g. brgconv_avx512_I8, jit_avx2_I8): the ISA used."""
    import collections

    counts = collections.Counter()
    for compiled, _ in getattr(engine, "_compiled", {}).values():
        for op in compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if "onvolution" in info["layerType"].astype(str):
                counts[info["primitiveType"].astype(str)] += 1
    return dict(counts)


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


def parse_spec(spec: str) -> tuple[str, str, str]:
    """"openvino:GPU-fp16" -> ("openvino", "GPU", "fp16"); no device: the backend's own choice on the CPU."""
    head, precision = spec.rsplit("-", 1)
    backend, _, device = head.partition(":")
    return backend, device or ("CPU" if backend == "openvino" else "cpu" if backend == "torch" else "cuda"), precision


def bench_engine(spec: str, model_dir: Path, batch: int, warmup: int, repeats: int) -> tuple[float, float]:
    from engine.backends import create_engine

    backend, device, precision = parse_spec(spec)
    start = time.perf_counter()
    engine = create_engine(model_dir, backend=backend, precision=precision, max_batch=batch, device=device)
    created = time.perf_counter() - start
    z, c, t = inputs(batch)
    try:
        KERNELS[spec] = conv_kernels(engine)
        return timed(lambda: engine.render(z, c, t), warmup, repeats) / batch, created
    finally:
        engine.close()


def startup_seconds(spec: str, model_dir: Path) -> float:
    """Fresh-process wall time from interpreter start to the first frame (engine caches already warm)."""
    backend, device, precision = parse_spec(spec)
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); import numpy as np; "
            f"from engine.backends import create_engine; "
            f"e = create_engine({str(model_dir)!r}, backend={backend!r}, precision={precision!r}, max_batch=1, "
            f"device={device!r}); "
            f"e.render(np.zeros((1, {Z_DIM}), np.float32), np.eye(1, {NUM_CLASSES}, dtype=np.float32), np.ones(1, np.float32))")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def usable_specs(wanted) -> tuple[list[str], dict[str, str]]:
    from engine.backends import SUPPORTS, list_devices
    from engine.cpu import cpu_has_bf16

    status = {(c.backend, c.device): (c.usable, c.why) for c in list_devices()}
    keep, skipped = [], {}
    for spec in wanted:
        backend, device, precision = parse_spec(spec)
        ok, why = status.get((backend, device), (False, "unknown backend or device"))
        if ok and precision not in SUPPORTS[(backend, device)]:
            ok, why = False, f"{backend} on {device} has no {precision}"
        if ok and precision == "bf16" and device in ("CPU", "cpu") and not cpu_has_bf16():
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


def run_block(args) -> tuple[list[dict], dict[str, str]]:
    """Every usable row at args.resolutions on this process's ISA."""
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
            if KERNELS.get(spec):
                row["conv_kernels"] = KERNELS[spec]
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
    return rows, skipped


def capped_block(isa: str, args) -> tuple[list[dict], dict[str, str]]:
    """The same rows in a child process whose oneDNN/ATen kernels are capped at `isa` (e.g. AVX2)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "block.json"
        cmd = [sys.executable, __file__, "--isa", "native", "--resolutions", *map(str, args.isa_resolutions),
               "--batches", *map(str, args.batches), "--backends", *args.backends, "--repeats", str(args.repeats),
               "--warmup", str(args.warmup), "--ref-batch", str(args.ref_batch), "--json", str(out)]
        env = {**os.environ, "ONEDNN_MAX_CPU_ISA": isa.upper(), "ATEN_CPU_CAPABILITY": isa.lower()}
        subprocess.run(cmd + (["--no-reference"] if args.no_reference else []), env=env, check=True)
        data = json.loads(out.read_text())
    return data["rows"], data["meta"]["skipped"]


def main(argv=None) -> int:
    global REF_BATCH
    from engine.cpu import cpu_name

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
    ap.add_argument("--isa", nargs="+", default=["native", "AVX2"],
                    help="blocks to time: native, and oneDNN ISA caps such as AVX2 (default: native AVX2)")
    ap.add_argument("--isa-resolutions", type=int, nargs="+", default=[128], choices=(128, 256, 512),
                    help="resolutions of the capped blocks (default 128)")
    ap.add_argument("--json", type=Path, help="write the results here too")
    args = ap.parse_args(argv)
    REF_BATCH = args.ref_batch

    rows, skipped = [], {}
    for isa in args.isa:
        block, why = run_block(args) if isa.lower() == "native" else capped_block(isa, args)
        label = os.environ.get("ONEDNN_MAX_CPU_ISA", "native") if isa.lower() == "native" else isa.upper()
        for row in block:
            row["isa"] = label
        if isa.lower() == "native":  # a capped block printed its own table from its process
            print(f"\n{cpu_name()}, {os.cpu_count()} cores, ISA {label}, load {os.getloadavg()[0]:.2f}")
            print(table(block))
            for row in block:
                if row.get("conv_kernels"):
                    print(f"  {row['backend']} batch {row['batch']} conv kernels: {row['conv_kernels']}")
        rows += block
        skipped.update({f"{spec} ({label})": w for spec, w in why.items()})
    if args.json:
        import torch

        meta = {"cpu": cpu_name(), "cores": os.cpu_count(), "load": os.getloadavg(),
                "torch": torch.__version__, "python": platform.python_version(), "ref_batch": REF_BATCH,
                "truncation": TRUNCATION, "repeats": args.repeats, "warmup": args.warmup, "skipped": skipped,
                "time": time.strftime("%Y-%m-%d %H:%M:%S")}
        from core.files import write_bytes_atomic

        write_bytes_atomic(args.json, json.dumps({"meta": meta, "rows": rows}, indent=2).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
