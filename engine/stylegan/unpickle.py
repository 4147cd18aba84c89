"""NVIDIA network pickles (StyleGAN2-ADA, StyleGAN3) read without running a line of the file.

NVIDIA's own loader unpickles through `torch_utils.persistence`, which `exec`s the Python source embedded in
the file: a downloaded .pkl can run anything. This restricted unpickler resolves only a fixed set of globals:
- `torch_utils.persistence._reconstruct_persistent_obj` -> a `Net` holder of the module's parameters, buffers,
  submodules and plain attributes (the embedded `module_src` is never looked at, let alone exec'd), for the
  known network class names only;
- tensor rebuilds (`torch._utils`), whose storages are read by `torch.load(weights_only=True)`;
- OrderedDict, EasyDict (as a dict), set, and numpy's array/scalar/dtype reconstruction.
Everything else, and any persistent id, is refused with one line naming it.
"""

from __future__ import annotations

import collections
import importlib
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch

from core.errors import first_line
from ..errors import EngineError

# Network classes of stylegan2-ada-pytorch (training.networks, training.augment) and stylegan3
# (training.networks_stylegan2/3): a snapshot also holds the discriminator and the augment pipe.
NET_CLASSES = frozenset({
    "Generator", "MappingNetwork", "SynthesisNetwork", "SynthesisBlock", "SynthesisLayer", "SynthesisInput",
    "ToRGBLayer", "FullyConnectedLayer", "Conv2dLayer", "Discriminator", "DiscriminatorBlock",
    "DiscriminatorEpilogue", "MinibatchStdLayer", "MappingNetwork", "AugmentPipe"})
PERSISTENCE = ("torch_utils.persistence", "_reconstruct_persistent_obj")
_MODULE_KEYS = ("_parameters", "_buffers", "_modules")


class Net:
    """A network module as stored: class name, parameters, buffers, submodules, init kwargs, attributes."""

    def __init__(self, class_name: str, state: dict):
        self.class_name = class_name
        params, buffers, modules = (state.get(k) or {} for k in _MODULE_KEYS)
        self.params = {k: _tensor(v, k) for k, v in params.items() if v is not None}
        self.buffers = {k: _tensor(v, k) for k, v in buffers.items() if v is not None}
        self.modules = dict(modules)
        self.init_kwargs = dict(state.get("_init_kwargs") or {})
        self.attrs = {k: v for k, v in state.items() if not k.startswith("_") and k != "training"}

    def __getitem__(self, name: str) -> "Net":
        """Submodule by name, or one line naming what the file lacks."""
        sub = self.modules.get(name)
        if not isinstance(sub, Net):
            raise EngineError(f"the {self.class_name} in this file has no {name} network; not a StyleGAN2/3 pickle")
        return sub

    def attr(self, name: str, default=None):
        return self.attrs.get(name, self.init_kwargs.get(name, default))

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Flat state dict (parameters and buffers) of this module and its submodules, like nn.Module's."""
        out = {prefix + k: v for k, v in {**self.params, **self.buffers}.items()}
        for name, sub in self.modules.items():
            if isinstance(sub, Net):
                out.update(sub.tensors(f"{prefix}{name}."))
        return out

    def __repr__(self):
        return f"Net({self.class_name}, {len(self.params)} params, {list(self.modules)})"


def _tensor(value, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise EngineError(f"parameter {name} is a {type(value).__name__}, not a tensor; not a network pickle")
    return value.detach()


def _reconstruct(meta) -> Net:
    """Stands in for NVIDIA's persistence hook: a holder of the stored state; module_src is never used."""
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise EngineError("a persistent object in this file is malformed; not a StyleGAN2/3 network pickle")
    name = meta.get("class_name")
    if name not in NET_CLASSES:
        raise EngineError(f"refused persistent class {name!r}: not a known StyleGAN2/3 network class")
    return Net(name, meta["state"])


def _storage_from_bytes(data: bytes):
    # torch's plain-pickle storage format: a legacy torch.save of one storage, read with the safe unpickler.
    return torch.load(io.BytesIO(data), weights_only=True)


def _easydict(*args, **kwargs):
    return dict(*args, **kwargs)


def _numpy_globals() -> dict:
    # numpy 2 names the module numpy._core.multiarray; numpy 1.26 has a shim of that name (for reading numpy 2's
    # pickles), imported on demand. Pickles name either, whichever numpy wrote them.
    multiarray = importlib.import_module("numpy._core.multiarray")
    out = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[(mod, "_reconstruct")] = multiarray._reconstruct
        out[(mod, "scalar")] = multiarray.scalar
    out[("numpy", "dtype")] = np.dtype
    out[("numpy", "ndarray")] = np.ndarray
    return out


ALLOWED = {
    PERSISTENCE: _reconstruct,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("dnnlib.util", "EasyDict"): _easydict,
    ("dnnlib", "EasyDict"): _easydict,
    ("torch", "Size"): torch.Size,
    **_numpy_globals(),
}


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        found = ALLOWED.get((module, name))
        if found is None:
            raise EngineError(f"refused {module}.{name}: this file would run code that is not part of a "
                              f"StyleGAN2/3 network pickle")
        return found

    def persistent_load(self, pid):
        raise EngineError(f"refused persistent id {str(pid)[:60]!r}: NVIDIA network pickles have none")


def load_pickle(path) -> object:
    """Unpickle an NVIDIA network pickle safely; one-line EngineError for anything refused or unreadable."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        raise EngineError(f"{path} is a torch.save archive, not a network pickle (.pkl from NVIDIA's "
                          f"stylegan2-ada-pytorch or stylegan3)")
    try:
        with open(path, "rb") as f:
            return SafeUnpickler(f).load()
    except EngineError as exc:
        raise EngineError(f"{path}: {exc}") from None
    except OSError as exc:
        raise EngineError(f"cannot read {path} ({exc.strerror or exc}); check the path") from None
    except Exception as exc:  # truncated, not a pickle, wrong types inside: never a traceback for a bad file
        raise EngineError(f"{path} is not a readable network pickle ({type(exc).__name__}: {first_line(exc)})") \
            from None


def load_generator(path) -> Net:
    """The generator of a network pickle: a training snapshot's G_ema, or a bare pickled Generator."""
    obj = load_pickle(path)
    if isinstance(obj, dict):
        obj = obj.get("G_ema", obj.get("G"))
    if not isinstance(obj, Net) or obj.class_name != "Generator":
        raise EngineError(f"{path} holds no generator (a snapshot dict with G_ema, or a Generator); "
                          f"not a StyleGAN2/3 network pickle")
    return obj
