"""A song's whole trajectory: one (z, c, t, xform) per video frame, computed before any frame is rendered.

The audio is decoded from 0 s (so a clip looks like the same part of the full render) and fed through
steering (features + walker, lyric lines and recorded events applied at their samples); video frame k shows
the newest walker state at or before start + k / fps. This is cheap and sequential; the frames are then
independent, so they can be rendered in any order, anywhere (live.export.job, live.export.cluster).
"""
from __future__ import annotations

from typing import Callable, Iterable, NamedTuple, Optional

import numpy as np

from core.errors import LiveError


class Latents(NamedTuple):
    z: np.ndarray  # float32 [N, z_dim] (BigGAN: 128)
    c: np.ndarray  # float32 [N, n_classes] (BigGAN: 1000)
    t: np.ndarray  # float32 [N]
    time_s: Optional[np.ndarray] = None  # float32 [N]: when each walker step was computable
    xform: Optional[np.ndarray] = None  # float32 [N, 3]: StyleGAN3's pose (live.walk.walker.State); None: none

    def arrays(self) -> dict:
        """The arrays a latents file holds: xform only when a pose was used (other files stay as they were)."""
        out = dict(z=self.z, c=self.c, t=self.t)
        if self.time_s is not None:
            out["time_s"] = self.time_s
        if self.posed():
            out["xform"] = self.xform
        return out

    def posed(self) -> bool:
        return self.xform is not None and bool(np.any(self.xform))

    def rows(self, lo: int, hi: int) -> "Latents":
        """Rows lo..hi (a segment's frames) of every array."""
        return Latents(*(None if a is None else a[lo:hi] for a in self))


def frame_trajectory(blocks: Iterable[np.ndarray], push: Callable, start: float, fps: float, n_frames: int,
                     what: str) -> Latents:
    """Per-frame states from mono analysis blocks: push(block) -> [(time_s, State)] (a Steering's feed).

    Stops reading once every frame has its state; `what` names the input in the error for too short audio.
    """
    z = c = None  # sized by the first state: the model's latent sizes
    t = np.empty(n_frames, np.float32)
    xform = np.empty((n_frames, 3), np.float32)
    k, last = 0, None

    def emit(state) -> None:
        nonlocal k, z, c
        if z is None:
            z = np.empty((n_frames, len(state.z)), np.float32)
            c = np.empty((n_frames, len(state.c)), np.float32)
        z[k], c[k], t[k], xform[k] = state.z, state.c, state.t, state.xform
        k += 1

    for mono in blocks:
        for time_s, state in push(mono):
            while k < n_frames and start + k / fps < time_s:
                emit(last if last is not None else state)
            last = state
        if k >= n_frames:
            break
    while k < n_frames and last is not None:
        emit(last)
    if k < n_frames:
        raise LiveError(f"'{what}' is too short to analyse: pass at least 0.1 s of audio")
    if z is None:  # no frames asked for
        z = c = np.empty((0, 0), np.float32)
    return Latents(z, c, t, xform=xform)
