#!/usr/bin/env python3
"""GPU check: our BigGAN-deep graph on CUDA against the CPU, in one run of a few minutes.

Needs only torch and numpy (what a bare CUDA image has): it imports engine/graph.py, which imports nothing but
torch, and makes random full-width weights itself (no download, no pytorch-pretrained-biggan). For 128 and
512 px, fp32 (TF32 off: IEEE convs and matmuls), fp16 and bf16 (where the GPU computes it natively), batch 1
and 8, each without and with a CUDA graph (captured once, replayed): parity of the uint8 frames against the
same graph in fp32 on the CPU (PSNR, median over the frames, and max difference), ms per frame (CUDA events,
median of the repeats) and peak GPU memory. One line per case, and a JSON report with --json FILE.
  python tools/gpu_check.py [--json gpu_check.json] [--resolutions 128 512] [--batches 1 8] [--repeats 20]
Without CUDA it says so in one line and exits 2; --cpu-smoke runs the same code on the CPU with a narrow model
at 128 px, batch 1 and 2 (no CUDA graphs, no GPU memory), so its logic and report can be tested anywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.graph import Generator, ieee_fp32  # noqa: E402  (torch only)

CHANNEL_MULTS = {128: (16, 16, 8, 4, 2, 1), 256: (16, 16, 8, 8, 4, 2, 1), 512: (16, 16, 8, 8, 4, 2, 1, 1)}
Z_DIM = EMBED_DIM = 128
NUM_CLASSES, N_STATS, EPS = 1000, 51, 1e-4
MIN_PSNR = {"fp32": 45.0, "fp16": 30.0, "bf16": 30.0}  # the bars tests/test_backends.py and the self-test use
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
BRANCH_SCALE = 0.25  # residual branches at a quarter: a random deep net at full strength is chaotic


def config(resolution: int, width: int) -> dict:
    mults = CHANNEL_MULTS[resolution]
    layers = []
    for a, b in zip(mults, mults[1:]):
        layers += [(False, a, a), (True, a, b)]
    return {"channel_width": width, "z_dim": Z_DIM, "n_stats": N_STATS, "eps": EPS, "num_classes": NUM_CLASSES,
            "layers": layers, "attention_layer_position": 8}  # 64 px: level 4, two layers per level


def _sn(state: dict, prefix: str, shape: tuple, gen: torch.Generator, bias: bool = True) -> None:
    """A spectral-normed layer in the reference's format: weight_orig, and u, v from a few power iterations."""
    w = torch.randn(shape, generator=gen) / np.sqrt(np.prod(shape[1:]))
    flat = w.reshape(shape[0], -1)
    v = torch.nn.functional.normalize(torch.randn(flat.shape[1], generator=gen), dim=0)
    for _ in range(5):
        u = torch.nn.functional.normalize(flat @ v, dim=0)
        v = torch.nn.functional.normalize(flat.t() @ u, dim=0)
    state[prefix + "weight_orig"], state[prefix + "weight_u"], state[prefix + "weight_v"] = w, u, v
    if bias:
        state[prefix + "bias"] = torch.randn(shape[0], generator=gen) * 0.01


def random_state(cfg: dict, seed: int = 0) -> dict:
    """Random weights with every key engine.graph.Generator reads, shaped as the released models'."""
    gen, ch, cond = torch.Generator().manual_seed(seed), cfg["channel_width"], Z_DIM + EMBED_DIM
    state = {"embeddings.weight": torch.randn(EMBED_DIM, NUM_CLASSES, generator=gen) * 0.05}
    g = "generator."
    _sn(state, g + "gen_z.", (16 * 16 * ch, cond), gen)

    def bn(prefix: str, c: int, var: float = 1.0) -> None:
        _sn(state, prefix + "scale.", (c, cond), gen, bias=False)
        _sn(state, prefix + "offset.", (c, cond), gen, bias=False)
        state[prefix + "running_means"] = torch.zeros(N_STATS, c)
        state[prefix + "running_vars"] = torch.full((N_STATS, c), var)

    idx = 0
    for i, (_, m_in, m_out) in enumerate(cfg["layers"]):
        c_in, c_out = ch * m_in, ch * m_out
        if i == cfg["attention_layer_position"]:
            p = f"{g}layers.{idx}."
            for name, shape in (("theta", (c_in // 8, c_in)), ("phi", (c_in // 8, c_in)), ("g", (c_in // 2, c_in)),
                                ("o_conv", (c_in, c_in // 2))):
                _sn(state, f"{p}snconv1x1_{name}.", (*shape, 1, 1), gen, bias=False)
            state[p + "gamma"] = torch.tensor([0.3])
            idx += 1
        p, mid = f"{g}layers.{idx}.", c_in // 4
        for j, c in enumerate((c_in, mid, mid, mid)):
            bn(f"{p}bn_{j}.", c, var=1 / BRANCH_SCALE ** 2 if j == 3 else 1.0)
        for j, shape in enumerate(((mid, c_in, 1, 1), (mid, mid, 3, 3), (mid, mid, 3, 3), (c_out, mid, 1, 1))):
            _sn(state, f"{p}conv_{j}.", shape, gen)
        idx += 1
    state[g + "bn.weight"], state[g + "bn.bias"] = torch.ones(ch), torch.zeros(ch)
    state[g + "bn.running_means"], state[g + "bn.running_vars"] = torch.zeros(N_STATS, ch), torch.ones(N_STATS, ch)
    _sn(state, g + "conv_to_rgb.", (128, ch, 3, 3), gen)
    return state


def build(resolution: int, width: int, inputs) -> Generator:
    """The graph on random weights, its final BN calibrated on the inputs so the frames are neither flat nor
    saturated (what the released weights' statistics do)."""
    cfg = config(resolution, width)
    state = random_state(cfg)
    gen = Generator(cfg, state).eval()
    with torch.inference_mode():
        x, gain, bias = gen.head(*inputs)
        for layer in gen.layers:
            x = layer(x, gain, bias) if layer.__class__.__name__ == "_Block" else layer(x)
    state["generator.bn.running_vars"] = x.var(dim=(0, 2, 3)).expand(N_STATS, -1).clone()
    state["generator.bn.running_means"] = x.mean(dim=(0, 2, 3)).expand(N_STATS, -1).clone()
    return Generator(cfg, state).eval()


def inputs(batch: int, seed: int = 1):
    """Walker-like states: z within +-2 truncation, a soft mix of a few classes, truncations 0.4..1."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.4, 1.0, batch).astype(np.float32)
    z = (np.clip(rng.standard_normal((batch, Z_DIM)), -2, 2) * t[:, None]).astype(np.float32)
    c = np.zeros((batch, NUM_CLASSES), np.float32)
    for row in c:
        row[rng.choice(NUM_CLASSES, 3, replace=False)] = rng.dirichlet(np.ones(3))
    return tuple(torch.from_numpy(a) for a in (z, c, t))


def parity(out: np.ndarray, ref: np.ndarray, precision: str) -> dict:
    diff = np.abs(out.astype(np.int16) - ref.astype(np.int16))
    mse = float(np.median(np.mean(diff.astype(np.float64) ** 2, axis=(1, 2, 3))))
    psnr = None if mse == 0 else round(float(10 * np.log10(255.0 ** 2 / mse)), 2)
    return {"psnr_db": psnr, "max_diff": int(diff.max()), "parity_ok": psnr is None or psnr >= MIN_PSNR[precision]}


class Timer:
    """ms of a callable: CUDA events on a GPU (what the GPU spent), perf_counter on the CPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def __call__(self, fn, repeats: int) -> float:
        times = []
        for _ in range(repeats):
            if self.cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)


def run_case(cpu_gen: Generator, ref: np.ndarray, args_cpu, precision: str, batch: int, graphs: bool,
             device: torch.device, repeats: int) -> dict:
    """One configuration: convert, (capture), warm up, check parity, time, peak memory."""
    row = {"precision": precision, "batch": batch, "cuda_graph": graphs}
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    gen = copy.deepcopy(cpu_gen).to(device)
    if precision != "fp32":
        gen.set_body_dtype(DTYPES[precision])
    gen.to(memory_format=torch.channels_last)
    gen.channels_last = True
    z, c, t = (a[:batch].to(device) for a in args_cpu)
    precise = ieee_fp32() if cuda and precision == "fp32" else contextlib.nullcontext()
    with torch.inference_mode(), precise:
        if graphs:
            side = torch.cuda.Stream(device)  # warm up on a side stream before capture (torch's CUDA graph docs)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(3):
                    gen(z, c, t)
            torch.cuda.current_stream(device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = gen(z, c, t)

            def step():
                graph.replay()
                return static_out
        else:
            def step():
                return gen(z, c, t)
            for _ in range(3):
                step()
        out = step().cpu().numpy()
        row.update(parity(out, ref[:batch], precision))
        row["ms_per_frame"] = round(Timer(device)(step, repeats) / batch, 3)
    if cuda:
        torch.cuda.synchronize(device)
        row["peak_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)
    return row


def machine(device: torch.device) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "numpy": np.__version__, "device": str(device)}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=props.name, capability=f"{props.major}.{props.minor}",
                    memory_gb=round(props.total_memory / 2 ** 30, 1))
    return info


def run(resolutions, batches, precisions, device: torch.device, width: int, repeats: int, say=print) -> dict:
    started = time.perf_counter()
    report = {"machine": machine(device), "width": width, "rows": [], "skipped": []}
    graph_modes = (False, True) if device.type == "cuda" else (False,)
    if device.type != "cuda":
        report["skipped"].append("CUDA graphs: no CUDA device")
    if "bf16" in precisions and device.type == "cuda" and not torch.cuda.is_bf16_supported(including_emulation=False):
        precisions = [p for p in precisions if p != "bf16"]
        report["skipped"].append("bf16: this GPU has no native bf16 (needs compute 8.0+)")
    for res in resolutions:
        args_cpu = inputs(max(batches))
        t0 = time.perf_counter()
        cpu_gen = build(res, width, args_cpu)
        with torch.inference_mode():  # the reference: fp32 on the CPU, one frame at a time
            ref = np.concatenate([cpu_gen(*(a[i:i + 1] for a in args_cpu)).numpy() for i in range(max(batches))])
        say(f"{res} px: CPU fp32 reference of {max(batches)} frames in {time.perf_counter() - t0:.1f} s")
        for precision in precisions:
            for batch in batches:
                for graphs in graph_modes:
                    row = {"resolution": res, **run_case(cpu_gen, ref, args_cpu, precision, batch, graphs, device,
                                                         repeats)}
                    report["rows"].append(row)
                    psnr = "inf" if row["psnr_db"] is None else f"{row['psnr_db']:.1f}"
                    mem = f", peak {row['peak_memory_mb']:.0f} MB" if "peak_memory_mb" in row else ""
                    say(f"{res} px {precision:4} batch {batch} {'graph' if graphs else 'eager'}: "
                        f"{row['ms_per_frame']:.2f} ms/frame, PSNR {psnr} dB, max diff {row['max_diff']}{mem} "
                        f"{'ok' if row['parity_ok'] else 'FAIL'}")
    report["ok"] = all(r["parity_ok"] for r in report["rows"])
    report["wall_s"] = round(time.perf_counter() - started, 1)
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the report here")
    ap.add_argument("--resolutions", type=int, nargs="+", default=[128, 512], choices=sorted(CHANNEL_MULTS))
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "fp16", "bf16"], choices=list(DTYPES))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--cpu-smoke", action="store_true", help="no GPU: the same code on the CPU, narrow model, 128 px")
    args = ap.parse_args(argv)
    if args.cpu_smoke:
        device, width = torch.device("cpu"), 4
        args.resolutions, args.batches, args.repeats = [128], [1, 2], 1
        args.precisions = [p for p in args.precisions if p != "fp16"]  # CPU convs have no fp16 kernels worth timing
    elif not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device here (torch {torch.__version__}, CUDA build {torch.version.cuda}, "
              f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}); run it on an NVIDIA GPU "
              f"with a CUDA build of torch, or try --cpu-smoke", file=sys.stderr)
        return 2
    else:
        device, width = torch.device("cuda", torch.cuda.current_device()), 128
    report = run(args.resolutions, args.batches, args.precisions, device, width, args.repeats)
    print(f"{'all parity checks passed' if report['ok'] else 'PARITY FAILED'} in {report['wall_s']:.0f} s"
          + (f"; skipped: {'; '.join(report['skipped'])}" if report["skipped"] else ""))
    if args.json:
        tmp = args.json.with_name(f".{args.json.name}.{os.getpid()}.part")
        tmp.write_text(json.dumps(report, indent=2) + "\n")
        os.replace(tmp, args.json)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
