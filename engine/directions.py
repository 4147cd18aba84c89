"""The top principal directions of a BigGAN-deep model's latent space (the matrix's dir1..dir8 targets).

As GANSpace does for BigGAN: sample z (for one class: the class only shifts that layer's activations, so every
class gives the same directions), take the activations of the generator's first
layer (the 4×4×16ch tensor the first residual block reads: its default layer for BigGAN), find their principal
components, and regress z on each sample's component scores: row k of the regression, normalised, is the z
direction that moves the activations along component k. Computed once per model with the engine's own torch
graph and weights (engine.graph), then cached in the user cache under the weights' fingerprint.

That layer is linear in its input (z and the class embedding, 256 numbers), so the activations' covariance is
W·M·Wᵀ with M the covariance of the sampled inputs: its principal components are the left singular
vectors of W·M^½, exactly those of the sampled activations, without the N × 32768 activations in memory.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from core.cache import cache_dir
from core.files import write_bytes_atomic

N_DIRECTIONS = 8
SAMPLES = 3000
VERSION = 2  # bump when the method changes: old cache files are not read


def compute_directions(gen, n: int = N_DIRECTIONS, samples: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """[n, z_dim] float32 unit directions in z, strongest first, for an engine.graph.Generator."""
    import torch
    
    rng = np.random.default_rng(seed)
    z = torch.from_numpy(rng.standard_normal((samples, gen.z_dim)).astype(np.float32))
    with torch.no_grad():
        cond = torch.cat([z, gen.embed.t()[torch.zeros(samples, dtype=torch.long)]], dim=1).double()
        cond -= cond.mean(dim=0)  # the bias drops out of centred activations
        w = gen.w_z.double()  # [features, 256]: the first layer, as the graph runs it
        evals, evecs = torch.linalg.eigh(cond.t() @ cond)
        half = evecs * evals.clamp(min=0).sqrt()  # M^(1/2) up to a rotation, which the SVD absorbs
        u = torch.linalg.svd(w @ half, full_matrices=False)[0][:, :n]  # [features, n]: top components
        scores = cond @ (w.t() @ u)  # [samples, n]: each sample's centred activations on them
        zc = z.double() - z.double().mean(dim=0)
        coef = torch.linalg.lstsq(scores, zc).solution  # [n, z_dim]: z ≈ scores @ coef
    d = coef.numpy()
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    return d.astype(np.float32)


def cache_path(fingerprint: str, n: int = N_DIRECTIONS) -> Path:
    return cache_dir("directions") / f"biggan-{fingerprint}-{n}-v{VERSION}.npy"


def latent_directions(model: str, n: int = N_DIRECTIONS) -> np.ndarray:
    """The model's (a name or folder, as --model) directions from the cache, computed once when missing."""
    from .graph import build_generator
    from .onnx_export import model_fingerprint
    from .weights import resolve_model

    model_dir = resolve_model(model)
    path = cache_path(model_fingerprint(model_dir), n)
    try:
        d = np.load(path, allow_pickle=False)
        if d.ndim == 2 and d.shape[0] == n and np.isfinite(d).all():
            return d
    except (OSError, ValueError):
        pass  # not computed yet, or damaged: compute again
    d = compute_directions(build_generator(model_dir), n)
    buf = io.BytesIO()
    np.save(buf, d)
    write_bytes_atomic(path, buf.getvalue())
    return d
