"""Latents files (.npz): z [N,128], c [N,1000], t [N] float32, for walker steps time_s [N], and xform [N, 3]
(StyleGAN3's pose: angle in degrees, shift x and y in image widths) when the look used one. A StyleGAN model's
walk has its own z and c sizes, and its files also hold what the synthesis network was fed per row:
ws [N, num_ws, w_dim] after truncation and, for StyleGAN3, transform [N, 3, 3].

The one writer and reader: export's --save-latents (one row per video frame), replay's --save-latents and a
recording's latents.npz (one row per walker step, with time_s). Written atomically (core.files).
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from core.dims import BIGGAN, NUM_CLASSES, Z_DIM, LatentDims
from core.errors import LiveError, first_line
from core.files import save_npz_atomic
from live.walk.trajectory import Latents

ROW = Z_DIM + NUM_CLASSES + 5  # one BigGAN step as a flat float32 row: z, c, t, time_s, xform (a recording's spool)


def _want(n: int, z_dim: int = Z_DIM, n_classes: int = NUM_CLASSES) -> dict:
    return dict(z=(n, z_dim), c=(n, n_classes), t=(n,), time_s=(n,), xform=(n, 3))


def save(path, lat: Latents, synthesis: dict | None = None) -> Path:
    """Write lat (and a StyleGAN's synthesis inputs, e.g. ws and transform, one row per state) to path
    atomically (OSError on a failed write: the caller names its option)."""
    n = len(lat.z)
    arrays = lat.arrays()
    shapes = {k: a.shape for k, a in arrays.items()}
    want = _want(n, *(lat.z.shape[1:] + lat.c.shape[1:]))
    extra = synthesis or {}
    if any(shapes[k] != want[k] for k in shapes) or any(len(a) != n for a in extra.values()):
        raise ValueError(f"latents of mismatched shapes {shapes}")
    return save_npz_atomic(path, **{k: np.asarray(a, np.float32) for k, a in {**arrays, **extra}.items()})


def load(path, dims: LatentDims = BIGGAN) -> Latents:
    """Read and check a latents file (of a walk with these latent sizes); one-line LiveError naming it if it is
    not one."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("z", "c", "t", "time_s", "xform") if k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise LiveError(f"{path}: not a readable latents file ({first_line(e)}): pass an .npz written by live") \
            from None
    missing = [k for k in ("z", "c", "t") if k not in arrays]
    if missing:
        raise LiveError(f"{path}: no {', '.join(missing)} array: pass an .npz written by live")
    n = len(arrays["z"])
    want = _want(n, *dims)
    for k, a in arrays.items():
        if a.shape != want[k] or not np.issubdtype(a.dtype, np.floating):
            raise LiveError(f"{path}: {k} is {a.dtype} {list(a.shape)}, expected float {list(want[k])}: "
                            f"pass an .npz written by live")
    return Latents(**{k: a.astype(np.float32, copy=False) for k, a in arrays.items()})


def step_row(time_s: float, state) -> np.ndarray:
    """One walker step as a flat float32 row z, c, t, time_s, xform (for a spool file; ROW long for BigGAN)."""
    return np.concatenate([state.z, state.c, [state.t, time_s], state.xform]).astype(np.float32)


def from_spool(path, dims: LatentDims = BIGGAN) -> Latents:
    """Latents (with time_s) from a file of step_row rows of a walk with these sizes, memory-mapped; a torn
    last row is dropped."""
    z_dim, width = dims.z_dim, dims.z_dim + dims.n_classes + 5
    n = os.path.getsize(path) // (4 * width)
    rows = np.memmap(path, np.float32, "r", shape=(n, width)) if n else np.zeros((0, width), np.float32)
    return Latents(rows[:, :z_dim], rows[:, z_dim:-5], rows[:, -5], rows[:, -4], rows[:, -3:])


class LatentLog:
    """Rows collected one walker state at a time (with time_s when `timed`), then latents()."""

    def __init__(self, timed: bool = False):
        self.timed = timed
        self._rows: list = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, state, time_s: float = 0.0) -> None:
        self._rows.append((state.z, state.c, state.t, time_s, state.xform))

    def latents(self) -> Latents:
        n = len(self._rows)
        z_dim, n_classes = (len(self._rows[0][0]), len(self._rows[0][1])) if n else BIGGAN
        z = np.array([r[0] for r in self._rows], np.float32).reshape(n, z_dim)
        c = np.array([r[1] for r in self._rows], np.float32).reshape(n, n_classes)
        t = np.array([r[2] for r in self._rows], np.float32)
        ts = np.array([r[3] for r in self._rows], np.float32) if self.timed else None
        return Latents(z, c, t, ts, np.array([r[4] for r in self._rows], np.float32).reshape(n, 3))
