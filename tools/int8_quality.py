#!/usr/bin/env python3
"""The int8 quality gate and what speed is left: OpenVINO int8 vs fp32 (and bf16) on the full-width random model.

Quality: PSNR of int8 (and bf16) frames against OpenVINO fp32 on held-out walker states (tools/walker_states.py,
seed 1: other songs, classes and seeds than the calibration set), median and minimum; the gate is a median
>= 32 dB over >= 32 states. Speed: ms/frame at batch 1, the variants interleaved round by round (A/B/C, ...)
and the median of the rounds, with the load average beside it (a shared machine is noisy).
--isa AVX2 re-runs itself with ONEDNN_MAX_CPU_ISA=AVX2 (OpenVINO's CPU plugin and torch honour it) and prints
the kernels the convolutions got, so the restriction is checked, not assumed.
  python tools/int8_quality.py --resolution 128 --states 32 [--isa AVX2] [--json FILE]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

GATE_DB = 32.0


def psnr_each(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    mse = np.mean((out.astype(np.float64) - ref.astype(np.float64)) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-12))


def render_states(engine, states: dict) -> np.ndarray:
    z, c, t = states["z"], states["c"], states["t"]
    return np.concatenate([engine.render(z[i:i + 1], c[i:i + 1], t[i:i + 1]) for i in range(len(t))])


def quality(frames: np.ndarray, ref: np.ndarray, t: np.ndarray) -> dict:
    """PSNR of frames against the fp32 frames: median (the gate's figure), minimum, median per truncation."""
    each = psnr_each(frames, ref)
    return {"psnr_median_db": float(np.median(each)), "psnr_min_db": float(each.min()),
            "psnr_by_truncation": {f"{tt:g}": float(np.median(each[t == tt])) for tt in np.unique(t)}}


def interleaved_ms(engines: dict, rounds: int, per_round: int) -> dict[str, float]:
    state = {"z": np.zeros((1, 128), np.float32), "c": np.eye(1, 1000, 7, dtype=np.float32),
             "t": np.full(1, 0.6, np.float32)}
    times = {name: [] for name in engines}
    for _ in range(rounds):
        for name, engine in engines.items():
            engine.render(**state)  # settle after the other engines ran
            start = time.perf_counter()
            for _ in range(per_round):
                engine.render(**state)
            times[name].append((time.perf_counter() - start) / per_round * 1e3)
    return {name: statistics.median(ts) for name, ts in times.items()}


def run(args) -> dict:
    from bench import bench_model, conv_kernels
    from engine.backends import create_engine
    from engine.cpu import cpu_has_bf16, cpu_name
    from walker_states import walker_states

    model = bench_model(args.resolution)
    held_out = walker_states(args.states, seed=1)
    precisions = ["fp32", "int8"] + (["bf16"] if cpu_has_bf16() else [])
    engines = {p: create_engine(model, backend="openvino", precision=p, max_batch=1) for p in precisions}
    frames = {p: render_states(e, held_out) for p, e in engines.items()}
    scores = {p: quality(frames[p], frames["fp32"], held_out["t"]) for p in precisions[1:]}
    load_before = os.getloadavg()
    ms = interleaved_ms(engines, args.rounds, args.per_round)
    result = {"resolution": args.resolution, "states": len(held_out["t"]),
              "isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "native"),
              "cpu": cpu_name(), "load_before": load_before, "load_after": os.getloadavg(), "ms_per_frame": ms,
              "int8_speedup_vs_fp32": ms["fp32"] / ms["int8"], "quality": scores,
              "gate_db": GATE_DB, "gate_passed": scores["int8"]["psnr_median_db"] >= GATE_DB,
              "conv_kernels": {p: conv_kernels(e) for p, e in engines.items()}}
    if "bf16" in ms:
        result["int8_speedup_vs_bf16"] = ms["bf16"] / ms["int8"]
    for e in engines.values():
        e.close()
    return result


def report(r: dict) -> str:
    lines = [f"{r['cpu']}, ISA {r['isa']}, {r['resolution']} px, {r['states']} held-out walker states, "
             f"load {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}"]
    for p, ms in r["ms_per_frame"].items():
        q = r["quality"].get(p)
        extra = (f"  PSNR vs fp32: median {q['psnr_median_db']:.1f} dB, min {q['psnr_min_db']:.1f} dB"
                 if q else "")
        lines.append(f"  openvino-{p:5s} {ms:7.1f} ms/frame{extra}")
    lines.append(f"  int8 is {r['int8_speedup_vs_fp32']:.2f}x fp32" + (
        f", {r['int8_speedup_vs_bf16']:.2f}x bf16" if "int8_speedup_vs_bf16" in r else ""))
    lines.append(f"  gate (median >= {r['gate_db']:g} dB): {'passed' if r['gate_passed'] else 'FAILED'}")
    lines.append("  conv kernels: " + "; ".join(f"{p}: {k}" for p, k in r["conv_kernels"].items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=128, choices=(128, 256, 512))
    ap.add_argument("--states", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--per-round", type=int, default=5)
    ap.add_argument("--isa", default="native", help="native, or a oneDNN ISA cap such as AVX2 (re-runs itself)")
    ap.add_argument("--json", type=Path, help="write the result here too")
    args = ap.parse_args(argv)
    if args.isa.lower() != "native" and os.environ.get("ONEDNN_MAX_CPU_ISA") != args.isa.upper():
        env = {**os.environ, "ONEDNN_MAX_CPU_ISA": args.isa.upper(), "ATEN_CPU_CAPABILITY": args.isa.lower()}
        return subprocess.call([sys.executable, __file__, *(argv if argv is not None else sys.argv[1:])], env=env)
    result = run(args)
    print(report(result))
    if args.json:
        from core.files import write_text_atomic

        write_text_atomic(args.json, json.dumps(result, indent=2))
    return 0 if result["gate_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
