#!/usr/bin/env python3
"""Our StyleGAN graphs against NVIDIA's own code, on full-width random weights of real configs.

NVIDIA's code is not part of this repository (its licence is non-commercial): check out NVlabs/stylegan3 and
NVlabs/stylegan2-ada-pytorch somewhere else and point --stylegan3 / --stylegan2-ada at them. Their reference
(non-CUDA) ops run on a CPU; torch 2.x lacks pkg_resources.parse_version, shimmed here.
For each config: NVIDIA's Generator with its own random init (biases, noise strengths and w_avg perturbed so
every term counts), saved as a real network pickle (NVIDIA's persistence, into --work), loaded by our safe
loader, then mapping and synthesis compared on the same z/ws (fp32, max abs difference).
  python tools/stylegan_nvidia.py --stylegan3 ~/src/stylegan3 --stylegan2-ada ~/src/stylegan2-ada-pytorch
"""

import argparse
import copy
import importlib
import json
import pickle
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402
import torch  # noqa: E402

# name: (repo, module, Generator kwargs) -- the configs of NVIDIA's train.py at these resolutions
CONFIGS = {
    "sg2-256": ("stylegan2-ada", "training.networks", dict(
        z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3, mapping_kwargs=dict(num_layers=8),
        synthesis_kwargs=dict(channel_base=16384, channel_max=512, num_fp16_res=4, conv_clamp=256))),
    "sg2-256-c10-resnet": ("stylegan3", "training.networks_stylegan2", dict(
        z_dim=512, c_dim=10, w_dim=512, img_resolution=256, img_channels=3, mapping_kwargs=dict(num_layers=8),
        channel_base=16384, channel_max=512, num_fp16_res=4, conv_clamp=256, architecture="resnet")),
    "sg2-1024-f": ("stylegan2-ada", "training.networks", dict(
        z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3, mapping_kwargs=dict(num_layers=8),
        synthesis_kwargs=dict(channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=256))),
    "sg3-t-512": ("stylegan3", "training.networks_stylegan3", dict(
        z_dim=512, c_dim=0, w_dim=512, img_resolution=512, img_channels=3, mapping_kwargs=dict(num_layers=2),
        channel_base=32768, channel_max=512, magnitude_ema_beta=0.999)),
    "sg3-t-256": ("stylegan3", "training.networks_stylegan3", dict(
        z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3, mapping_kwargs=dict(num_layers=2),
        channel_base=32768, channel_max=512, magnitude_ema_beta=0.999)),
    "sg3-r-256": ("stylegan3", "training.networks_stylegan3", dict(
        z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3, mapping_kwargs=dict(num_layers=2),
        channel_base=65536, channel_max=1024, conv_kernel=1, use_radial_filters=True)),
}


_INSERTED: list = []


def use_nvidia(repo: Path) -> None:
    """Import NVIDIA's packages (training, torch_utils, dnnlib) from repo, replacing any imported before."""
    importlib.import_module("torch.utils.cpp_extension")  # imports setuptools before the shim below
    from packaging.version import parse

    try:
        import pkg_resources
        if not hasattr(pkg_resources, "parse_version"):
            pkg_resources.parse_version = parse
    except ImportError:
        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)
    for name in [m for m in sys.modules if m.split(".")[0] in ("training", "torch_utils", "dnnlib")]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if p not in _INSERTED]  # the other repo's packages have the same names
    _INSERTED[:] = [str(repo)]
    sys.path.insert(0, str(repo))


def nvidia_generator(name: str, repos: dict, seed: int = 0):
    """NVIDIA's Generator of config `name`: its own init, with biases, noise strengths and w_avg made non-zero."""
    repo, module, kwargs = CONFIGS[name]
    use_nvidia(repos[repo])
    net = importlib.import_module(module)
    torch.manual_seed(seed)
    G = net.Generator(**copy.deepcopy(kwargs)).eval().requires_grad_(False)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for key, t in G.named_parameters():
            if key.endswith("noise_strength") or key.endswith(".bias"):
                t.add_(0.1 * torch.randn(t.shape, generator=g))
        G.mapping.w_avg.copy_(torch.randn(G.mapping.w_avg.shape, generator=g))
    return G


def save_real_pickle(G, path: Path) -> Path:
    """A training-snapshot-style pickle written by NVIDIA's persistence (embedded source included): stays in
    --work, never in the repository."""
    with open(path, "wb") as f:
        pickle.dump({"G_ema": copy.deepcopy(G)}, f)
    return path


def nvidia_inputs(G, n: int = 2, seed: int = 3):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.z_dim, generator=g)
    c = torch.zeros(n, G.c_dim)
    if G.c_dim:
        c[torch.arange(n), torch.arange(n) % G.c_dim] = 1
    return z, c


def nvidia_synthesis(G, ws, transform=None):
    """NVIDIA's synthesis of ws in fp32 (force_fp32: stylegan2-ada would run its fp16 blocks in fp16 even on a
    CPU), constant noise; StyleGAN3: the input transform set as its gen_images does."""
    with torch.no_grad():
        if hasattr(G.synthesis, "input"):
            G.synthesis.input.transform.copy_(torch.eye(3) if transform is None else torch.as_tensor(transform))
        return G.synthesis(ws, noise_mode="const", force_fp32=True)


def parity(name: str, repos: dict, work: Path) -> dict:
    from engine.stylegan.model import build

    G = nvidia_generator(name, repos)
    path = save_real_pickle(G, work / f"{name}.pkl")
    z, c = nvidia_inputs(G)
    with torch.no_grad():
        ws = G.mapping(z, c, truncation_psi=0.7)
        t0 = time.perf_counter()
        ref = nvidia_synthesis(G, ws)
        ref_s = time.perf_counter() - t0
    ours = build(path)
    w = ours.map(z.numpy(), c.numpy(), np.full(len(z), 0.7, np.float32))
    args = (ws,) if ours.kind == "stylegan2" else (ws, torch.eye(3).expand(len(ws), 3, 3))
    with torch.no_grad():
        t0 = time.perf_counter()
        img = ours.forward_float(*args)
        our_s = time.perf_counter() - t0
    row = {"config": name, "kind": ours.kind, "resolution": ours.resolution, "num_ws": ours.num_ws,
           "mapping_max_abs": float(np.abs(w - ws[:, 0].numpy()).max()),
           "synthesis_max_abs": float((img - ref[:, :3]).abs().max()), "image_max_abs": float(ref.abs().max()),
           "nvidia_s": round(ref_s, 2), "ours_torch_fp32_s": round(our_s, 2), "batch": len(z)}
    if ours.kind == "stylegan3":  # the input transform too
        m = np.array([[np.cos(0.4), np.sin(0.4), 0.2], [-np.sin(0.4), np.cos(0.4), -0.1], [0, 0, 1]], np.float32)
        m = np.linalg.inv(m)
        ref_t = nvidia_synthesis(G, ws, m)
        with torch.no_grad():
            img_t = ours.forward_float(ws, torch.from_numpy(m).expand(len(ws), 3, 3))
        row["transform_max_abs"] = float((img_t - ref_t).abs().max())
    return row


def repo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stylegan3", type=Path, required=True, help="a checkout of NVlabs/stylegan3")
    p.add_argument("--stylegan2-ada", type=Path, required=True, help="a checkout of NVlabs/stylegan2-ada-pytorch")
    p.add_argument("--work", type=Path, default=Path("/tmp/stylegan-nvidia"),
                   help="where the real pickles go (outside the repository)")


def run_rows(a, rows_of) -> list:
    """rows_of(config, repos, work) for each --configs, printed as they come, saved to --json."""
    a.work.mkdir(parents=True, exist_ok=True)
    repos = {"stylegan3": a.stylegan3, "stylegan2-ada": a.stylegan2_ada}
    rows = []
    for name in a.configs:
        for row in rows_of(name, repos, a.work):
            rows.append(row)
            print(json.dumps(row), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo_args(p)
    p.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--json", help="write the rows here")
    a = p.parse_args()
    rows = run_rows(a, lambda *args: [parity(*args)])
    return 0 if all(r["synthesis_max_abs"] <= 1e-3 and r.get("transform_max_abs", 0) <= 1e-3 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
