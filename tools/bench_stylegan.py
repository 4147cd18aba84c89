#!/usr/bin/env python3
"""StyleGAN speed: our engines beside NVIDIA's reference forward, same CPU, same run, rounds interleaved.

Full-width random weights of real configs (tools/stylegan_nvidia.py: NVIDIA's Generator, saved as a real
network pickle outside the repository, loaded by our safe loader). Reference = NVIDIA's G.synthesis on the
CPU in fp32 (its reference ops; force_fp32, constant noise), a frame batch at a time. Ours = create_engine on
the pickle (the export and live path), rendering the same ws.
  export ms/frame: batch --batch;  live fps: batch 1 (the live renderer renders one frame at a time).
Rows print the CPU, its thread count and the load average beside the figures: on a busy machine they are
only as quiet as the CPU.
  python tools/bench_stylegan.py --stylegan3 ~/src/stylegan3 --stylegan2-ada ~/src/stylegan2-ada-pytorch
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.cpu import cpu_name  # noqa: E402

from stylegan_nvidia import CONFIGS, nvidia_generator, nvidia_inputs, nvidia_synthesis, repo_args, run_rows, \
    save_real_pickle  # noqa: E402


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench(name: str, repos: dict, work: Path, engines: list, batch: int, rounds: int) -> list:
    from engine.backends import create_engine
    from engine.cpu import physical_cores

    G = nvidia_generator(name, repos)
    path = save_real_pickle(G, work / f"{name}.pkl")
    z, c = nvidia_inputs(G, batch)
    with torch.no_grad():
        ws = G.mapping(z, c, truncation_psi=0.7)
    torch.set_num_threads(physical_cores())
    ref1 = lambda: nvidia_synthesis(G, ws[:1])  # noqa: E731
    refb = lambda: nvidia_synthesis(G, ws)  # noqa: E731
    built = []
    for spec in engines:
        backend, precision = spec.split("-")
        e = create_engine(str(path), backend=backend, precision=precision, max_batch=batch).inner
        args = [ws.numpy()] + ([np.broadcast_to(np.eye(3, dtype=np.float32), (batch, 3, 3)).copy()]
                               if e.inputs[-1][0] == "transform" else [])
        built.append((spec, e, args))
    times = {k: [] for k in ["nvidia-b1", f"nvidia-b{batch}"] + [f"{s}-b{b}" for s, _, _ in built for b in (1, batch)]}
    for fn in [ref1] + [lambda e=e, a=args: e.render(*(x[:1] for x in a)) for _, e, args in built]:
        fn()  # warm-up
    for _ in range(rounds):  # interleaved: reference, then each engine, every round
        times["nvidia-b1"].append(once(ref1))
        times[f"nvidia-b{batch}"].append(once(refb) / batch)
        for spec, e, args in built:
            times[f"{spec}-b1"].append(once(lambda: e.render(*(x[:1] for x in args))))
            times[f"{spec}-b{batch}"].append(once(lambda: e.render(*args)) / batch)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    for spec, e, _ in built:
        rows.append({"config": name, "engine": e.name, "export_ms_per_frame": round(1000 * med[f"{spec}-b{batch}"], 1),
                     "nvidia_ms_per_frame": round(1000 * med[f"nvidia-b{batch}"], 1),
                     "speedup_export": round(med[f"nvidia-b{batch}"] / med[f"{spec}-b{batch}"], 1),
                     "live_fps": round(1 / med[f"{spec}-b1"], 2), "nvidia_b1_fps": round(1 / med["nvidia-b1"], 2),
                     "batch": batch, "rounds": rounds, "cpu": cpu_name(), "threads": torch.get_num_threads(),
                     "load": load()})
        e.close()
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo_args(p)
    p.add_argument("--configs", nargs="*", default=["sg2-256"], choices=list(CONFIGS))
    p.add_argument("--engines", nargs="*", default=["openvino-bf16", "openvino-fp32", "torch-fp32"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", help="write the rows here")
    a = p.parse_args()
    run_rows(a, lambda name, repos, work: bench(name, repos, work, a.engines, a.batch, a.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
