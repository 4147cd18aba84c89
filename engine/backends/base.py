"""What every backend's engine shares: input checking and splitting batches larger than max_batch."""

from __future__ import annotations

import numpy as np

from core.dims import NUM_CLASSES, Z_DIM


BIGGAN_INPUTS = (("z", (Z_DIM,)), ("c", (NUM_CLASSES,)), ("t", ()))


def model_inputs(model) -> tuple:
    """((name, per-sample shape), ...) a model's engine takes: BigGAN's z, c, t unless the model says."""
    return tuple(getattr(model, "inputs", BIGGAN_INPUTS))


class BaseEngine:
    """Engine protocol: `render(z [B,128], c [B,1000], t [B]) -> uint8 [B,H,W,3]` for any B >= 1; a StyleGAN
    engine renders its `inputs` instead (ws [B,num_ws,w_dim], and transform [B,3,3] for StyleGAN3). The walker's
    StyleGAN3 pose (`xform`, engine.stylegan.space) is taken and ignored: BigGAN has no input transform.

    Subclasses set `name`, `resolution`, `max_batch` and implement `_render_batch` for 1 <= B <= max_batch
    (float32, C-contiguous inputs). Padding to a fixed batch, if a backend needs it, happens there.
    """

    name: str = "base"
    resolution: int = 0
    max_batch: int = 1
    inputs: tuple = BIGGAN_INPUTS

    def render(self, *arrays, xform=None) -> np.ndarray:
        if self.inputs != BIGGAN_INPUTS:
            return self._render_named(arrays)
        z, c, t = arrays
        z = np.ascontiguousarray(z, dtype=np.float32)
        c = np.ascontiguousarray(c, dtype=np.float32)
        if z.ndim == 1:  # a single state
            z, c = z[None], c.reshape(1, -1)
        b = z.shape[0]
        t = np.asarray(t, dtype=np.float32).reshape(-1)
        t = np.full(b, t[0], dtype=np.float32) if t.size == 1 else np.ascontiguousarray(t)  # scalar: all samples
        if z.shape != (b, Z_DIM) or c.shape != (b, NUM_CLASSES) or t.shape != (b,) or b < 1:
            raise ValueError(f"render wants z [B,{Z_DIM}], c [B,{NUM_CLASSES}], t [B]; got "
                             f"{z.shape}, {c.shape}, {t.shape}")
        return self._split(b, (z, c, t))

    def _render_named(self, arrays) -> np.ndarray:
        if len(arrays) != len(self.inputs):
            raise ValueError(f"render wants {', '.join(n for n, _ in self.inputs)}; got {len(arrays)} arrays")
        arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
        if arrays[0].ndim == len(self.inputs[0][1]):  # a single state
            arrays = [a[None] for a in arrays]
        b = arrays[0].shape[0]
        for a, (name, tail) in zip(arrays, self.inputs):
            if a.shape != (b, *tail) or b < 1:
                raise ValueError(f"render wants {name} [B,{','.join(map(str, tail))}]; got {a.shape}")
        return self._split(b, arrays)

    def _split(self, b: int, arrays) -> np.ndarray:
        if b <= self.max_batch:
            return self._render_batch(*arrays)
        out = np.empty((b, self.resolution, self.resolution, 3), dtype=np.uint8)
        for i in range(0, b, self.max_batch):
            j = min(i + self.max_batch, b)
            out[i:j] = self._render_batch(*(a[i:j] for a in arrays))
        return out

    def _render_batch(self, *arrays: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Release device memory/threads; the engine is unusable afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
