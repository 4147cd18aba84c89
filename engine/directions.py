"""The top principal directions of a model's latent space (the matrix's dir1..dir8 targets), as z directions.

As GANSpace does for BigGAN: sample z (for one class: the class only shifts that layer's activations, so every
class gives the same directions), take the activations of the generator's first
layer (the 4×4×16ch tensor the first residual block reads: its default layer for BigGAN), find their principal
components, and regress z on each sample's component scores: row k of the regression, normalised, is the z
direction that moves the activations along component k. Computed once per model with the engine's own torch
graph and weights (engine.graph), then cached in the user cache under the weights' fingerprint.

That layer is linear in its input (z and the class embedding, 256 numbers), so the activations' covariance is
W·M·Wᵀ with M the covariance of the sampled inputs: its principal components are the left singular
vectors of W·M^½, exactly those of the sampled activations, without the N × 32768 activations in memory.

A StyleGAN pickle: as GANSpace does for StyleGAN, the principal components of w = mapping(z) over sampled z
(label 0 for a conditional model), each regressed back to the z direction that moves w along it (the walker
moves z; the mapping network is not linear, so this is the least-squares direction).
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


def compute_w_directions(space, n: int = N_DIRECTIONS, samples: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """[n, z_dim] float32 unit directions in z, strongest first, for an engine.stylegan.space.StyleSpace."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((samples, space.z_dim))
    c = np.zeros((samples, space.c_dim), np.float32)
    if space.c_dim:
        c[:, 0] = 1
    w = space._map(z, c)  # [samples, w_dim], untruncated
    wc = w - w.mean(axis=0)
    comps = np.linalg.svd(wc, full_matrices=False)[2][:n]  # [n, w_dim]: top components of w
    coef = np.linalg.lstsq(wc @ comps.T, z - z.mean(axis=0), rcond=None)[0]  # [n, z_dim]: z ≈ scores @ coef
    coef /= np.maximum(np.linalg.norm(coef, axis=1, keepdims=True), 1e-12)
    return coef.astype(np.float32)


def cache_path(fingerprint: str, n: int = N_DIRECTIONS, family: str = "biggan") -> Path:
    return cache_dir("directions") / f"{family}-{fingerprint}-{n}-v{VERSION}.npy"


def latent_directions(model: str, n: int = N_DIRECTIONS) -> np.ndarray:
    """The model's (a name or folder, as --model) directions from the cache, computed once when missing."""
    from .graph import build_generator
    from .onnx_export import model_fingerprint
    from .stylegan import is_pickle
    from .weights import resolve_model

    stylegan = is_pickle(model)
    model_dir = model if stylegan else resolve_model(model)
    path = cache_path(model_fingerprint(model_dir), n, "stylegan" if stylegan else "biggan")
    try:
        d = np.load(path, allow_pickle=False)
        if d.ndim == 2 and d.shape[0] == n and np.isfinite(d).all():
            return d
    except (OSError, ValueError):
        pass  # not computed yet, or damaged: compute again
    if stylegan:
        from .stylegan.space import style_space

        d = compute_w_directions(style_space(model), n)
    else:
        d = compute_directions(build_generator(model_dir), n)
    buf = io.BytesIO()
    np.save(buf, d)
    write_bytes_atomic(path, buf.getvalue())
    return d
