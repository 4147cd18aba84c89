"""The walk's latent space for a StyleGAN pickle, and the engine that renders walker states (z, c, t) with it.

The walker moves a noise vector z [z_dim] and a class-mix vector c, as for BigGAN; the model says their sizes:
- unconditional model: c has 1000 entries; class id k stands for the anchor w_k = mapping(z_k), z_k drawn
  from seed k as NVIDIA's tools draw it (np.random.RandomState(k).randn(z_dim)). The chroma mixes the chosen
  anchors exactly as it mixes BigGAN's classes; new classes (a beat cut, `c`, presets, OSC) are new anchors.
  The noise's own w, mapping(z), is blended in (NOISE_MIX), so flux and power move the picture.
- conditional model: c has c_dim entries (the labels; class id k plays label k mod c_dim): w = mapping(z, c).
Truncation t pulls w toward w_avg (w_avg + t (w - w_avg)), broadcast to the num_ws synthesis inputs. For
StyleGAN3 the walker's pose xform [angle in degrees, shift x, shift y] becomes the input transform as NVIDIA's
gen_images.py and visualizer make it from --rotate and --translate: the inverse of the rotation/translation
matrix (transform_matrix). `synthesis_inputs` is the one (z, c, t, xform) -> ws (, transform) function of live
mode, export and --save-latents.
"""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path

import numpy as np

from core.dims import BIGGAN, NUM_CLASSES, LatentDims
from .model import StyleGAN, build

NOISE_MIX = 0.5  # share of mapping(z) in an unconditional model's w; the rest is the chroma's anchor mix


def transform_matrix(xform) -> np.ndarray:
    """StyleGAN3's input transform [B, 3, 3] float32 for poses xform [B, 3] (angle in degrees, shift x, y in image
    widths): the inverse of [[cos, sin, x], [-sin, cos, y], [0, 0, 1]], as NVIDIA's tools feed it. None: identity."""
    xform = np.zeros((1, 3)) if xform is None else np.asarray(xform, np.float64).reshape(-1, 3)
    a = np.radians(xform[:, 0])
    m = np.zeros((len(xform), 3, 3))
    m[:, 0, 0] = m[:, 1, 1] = np.cos(a)
    m[:, 0, 1], m[:, 1, 0] = np.sin(a), -np.sin(a)
    m[:, :2, 2], m[:, 2, 2] = xform[:, 1:], 1.0
    return np.linalg.inv(m).astype(np.float32)


class StyleSpace:
    def __init__(self, model: StyleGAN):
        self.kind, self.num_ws, self.w_dim = model.kind, model.num_ws, model.w_dim
        self.mapping = copy.deepcopy(model.mapping).float().cpu()  # engines may move/convert the model's
        self.c_dim, self.z_dim = model.c_dim, model.z_dim
        self.dims = LatentDims(self.z_dim, self.c_dim if self.c_dim > 0 else NUM_CLASSES)
        self._w_avg = self.mapping.w_avg.detach().numpy().astype(np.float64)
        self._anchors: dict[int, np.ndarray] = {}

    def _map(self, z, c=None, psi=None) -> np.ndarray:
        import torch

        b = len(z)
        with torch.no_grad():
            c = np.zeros((b, self.c_dim), np.float32) if c is None else c
            psi = np.ones(b, np.float32) if psi is None else psi
            f = lambda a: torch.as_tensor(np.asarray(a, np.float32))  # noqa: E731
            return self.mapping(f(z), f(c), f(psi)).numpy().astype(np.float64)

    def anchor(self, k: int) -> np.ndarray:
        """w of anchor k (untruncated), computed once."""
        w = self._anchors.get(k)
        if w is None:
            z = np.random.RandomState(k).randn(1, self.z_dim)
            w = self._anchors[k] = self._map(z)[0]
        return w

    def w(self, z, c, t) -> np.ndarray:
        """Truncated w [B, w_dim] for walker states z [B, z_dim], c [B, n], t [B]."""
        z, c = np.atleast_2d(z), np.atleast_2d(c)
        t = np.broadcast_to(np.asarray(t, np.float64).reshape(-1), (len(z),))
        if self.c_dim > 0:
            return self._map(z, c, t)
        w = self._map(z)
        out = np.empty_like(w)
        for i in range(len(z)):
            ids = np.flatnonzero(c[i] > 0)
            total = c[i, ids].sum()
            mix = sum(c[i, k] * self.anchor(int(k)) for k in ids) / total if total > 1e-6 else self._w_avg
            raw = (1 - NOISE_MIX) * mix + NOISE_MIX * w[i]
            out[i] = self._w_avg + t[i] * (raw - self._w_avg)
        return out

    def synthesis_inputs(self, z, c, t, xform=None) -> tuple[np.ndarray, ...]:
        """What the synthesis network is fed: ws [B, num_ws, w_dim] (and transform [B, 3, 3] for StyleGAN3, from
        the poses xform [B, 3]; None: the identity)."""
        w = self.w(z, c, t).astype(np.float32)
        ws = np.repeat(w[:, None, :], self.num_ws, axis=1)
        if self.kind != "stylegan3":
            return (ws,)
        return ws, np.broadcast_to(transform_matrix(xform), (len(w), 3, 3)).copy()


class StyleEngine:
    """An engine for walker states: render(z, c, t) maps them to the synthesis inputs and renders those."""

    def __init__(self, inner, space: StyleSpace):
        self.inner, self.space = inner, space

    def __getattr__(self, name):  # name, resolution, max_batch, fallbacks, precision... of the backend engine
        return getattr(self.inner, name)

    def render(self, z, c, t, xform=None) -> np.ndarray:
        """Walker states; xform [B, 3]: StyleGAN3's poses (None: upright, unshifted; StyleGAN2 ignores them)."""
        z, c = np.atleast_2d(np.asarray(z, np.float32)), np.atleast_2d(np.asarray(c, np.float32))
        if z.shape[1:] != (self.space.z_dim,) or c.shape != (len(z), self.space.dims.n_classes):
            raise ValueError(f"render wants z [B,{self.space.z_dim}], c [B,{self.space.dims.n_classes}]; got "
                             f"{z.shape}, {c.shape}")
        if xform is not None and np.shape(xform) not in ((len(z), 3), (3,)):
            raise ValueError(f"render wants xform [B,3]; got {np.shape(xform)}")
        return self.inner.render(*self.space.synthesis_inputs(z, c, t, xform))

    def close(self) -> None:
        self.inner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@functools.lru_cache(maxsize=2)
def _cached(path: str, mtime_ns: int, size: int) -> StyleGAN:
    return build(path)


def load_model(spec) -> StyleGAN:
    """The built model of a pickle, loaded once per file version in this process (walk and engine share it)."""
    path = Path(spec).expanduser().resolve()
    try:
        st = os.stat(path)
    except OSError:
        return build(path)  # the loader words the error
    return _cached(str(path), st.st_mtime_ns, st.st_size)


def style_space(spec) -> StyleSpace:
    return StyleSpace(load_model(spec))


def latent_dims(spec) -> LatentDims:
    """The walk's latent sizes for --model: BigGAN's, or those a StyleGAN pickle describes."""
    from . import is_pickle

    return style_space(spec).dims if is_pickle(spec) else BIGGAN
