"""Network pickles in NVIDIA's real format, written by our own code (tests, benchmarks): no NVIDIA source inside.

A model is described by a skeleton (JSON): per module its class name, plain attributes, init kwargs, the
shapes of its parameters, and its buffers (filters, Fourier frequencies) verbatim. `write_pickle` fills the
parameters with deterministic random values (seeded by name) and emits what NVIDIA's `persistence` emits: a
`torch_utils.persistence._reconstruct_persistent_obj` call per module, whose meta holds a module source string
(`module_src`, empty unless a test plants one) and the module's state, inside a snapshot dict {"G_ema": ...}.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import sys
import types
import zlib
from pathlib import Path

import numpy as np
import torch

from core.files import atomic_output
from .unpickle import PERSISTENCE, Net

RANDOM_BUFFERS = ("w_avg", "noise_const")  # buffers a skeleton stores as shapes, like the parameters


def random_tensor(name: str, shape, seed: int = 0) -> torch.Tensor:
    """Deterministic N(0, 1) values for a parameter, the same on every machine (seeded by name and seed)."""
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()) * 1000 + int(seed))
    return torch.randn(tuple(shape), generator=g, dtype=torch.float32)


def _plain(value):
    """A stored attribute as JSON (numpy arrays and scalars marked so they come back as numpy)."""
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _unplain(value):
    if isinstance(value, dict):
        if set(value) == {"ndarray", "dtype"}:
            return np.asarray(value["ndarray"], dtype=value["dtype"])
        return {k: _unplain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    return value


def skeleton(net: Net) -> dict:
    """A loaded network (engine.stylegan.unpickle.Net) as a skeleton: structure without the random weights."""
    return {"class": net.class_name, "attrs": _plain(net.attrs), "init_kwargs": _plain(net.init_kwargs),
            "params": {k: list(v.shape) for k, v in net.params.items()},
            "buffers": {k: ({"shape": list(v.shape)} if k in RANDOM_BUFFERS else v.tolist())
                        for k, v in net.buffers.items()},
            "modules": {k: skeleton(v) for k, v in net.modules.items() if isinstance(v, Net)}}


class _Persistent:
    """Pickles as NVIDIA's persistent objects do: (_reconstruct_persistent_obj, (meta,))."""

    def __init__(self, meta: dict):
        self.meta = meta

    def __reduce__(self):
        return _RECONSTRUCT, (self.meta,)


def _reconstruct_persistent_obj(meta):  # never called: only its name goes into the file
    raise RuntimeError("placeholder")


_RECONSTRUCT = _reconstruct_persistent_obj


def _persistent(skel: dict, seed: int, module_src: str, prefix: str = "") -> _Persistent:
    params = {k: torch.nn.Parameter(random_tensor(prefix + k, shape, seed), requires_grad=False)
              for k, shape in skel["params"].items()}
    buffers = {}
    for k, v in skel["buffers"].items():
        if isinstance(v, dict):
            buffers[k] = random_tensor(prefix + k, v["shape"], seed)
        else:
            buffers[k] = torch.tensor(v, dtype=torch.float32)
    modules = {k: _persistent(sub, seed, module_src, f"{prefix}{k}.") for k, sub in skel["modules"].items()}
    state = {"training": False, "_parameters": params, "_buffers": buffers, "_non_persistent_buffers_set": set(),
             "_modules": modules, **_unplain(skel["attrs"]), "_init_args": (),
             "_init_kwargs": _unplain(skel["init_kwargs"])}
    return _Persistent({"type": "class", "version": 4, "module_src": module_src, "class_name": skel["class"],
                        "state": state})


@contextlib.contextmanager
def _persistence_name():
    """Let pickle record our placeholder under NVIDIA's global name (pickle checks the name resolves)."""
    mod_name, fn_name = PERSISTENCE
    saved = {k: sys.modules.get(k) for k in ("torch_utils", mod_name)}
    pkg, mod = types.ModuleType("torch_utils"), types.ModuleType(mod_name)
    pkg.persistence = mod
    setattr(mod, fn_name, _RECONSTRUCT)
    _RECONSTRUCT.__module__, _RECONSTRUCT.__qualname__ = mod_name, fn_name
    sys.modules.update({"torch_utils": pkg, mod_name: mod})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def write_pickle(path, skel: dict, seed: int = 0, module_src: str = "", snapshot: bool = True) -> Path:
    """Write a network pickle of skeleton skel with deterministic random weights (atomically)."""
    gen = _persistent(skel, seed, module_src)
    obj = {"G_ema": gen} if snapshot else gen
    with _persistence_name(), atomic_output(Path(path)) as tmp, open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=4)
    return Path(path)


def load_skeleton(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
