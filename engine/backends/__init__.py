"""Backend registry: pick and build an Engine (`render(z, c, t) -> uint8 [B,H,W,3]`).

Each backend is a module `engine.backends.<name>_backend` exposing
    NAME: str
    available() -> (bool, why: str)              # never raises; why is one short phrase
    devices() -> [(device, usable, why)]         # the devices it can run on, in auto's order
    create(model, precision, max_batch, device) -> Engine
where `model` is a model directory (Path) holding config.json + pytorch_model.bin, or an
`engine.graph.Generator` already built from one. Modules are imported lazily; one that is missing or fails to
import is listed as unusable, not an error.

`auto` walks CHAIN and keeps the first candidate that builds (or loads) an engine for this model and renders
a frame; each failure prints one line saying what failed and what runs instead. An explicit backend that
fails is an error.
"""

from __future__ import annotations

import copy
import importlib
from types import ModuleType
from typing import NamedTuple

import numpy as np

from core.dims import NUM_CLASSES, Z_DIM
from core.errors import first_line

from .. import progress
from ..errors import EngineError
from ..stylegan import is_pickle
from .base import BIGGAN_INPUTS, model_inputs

BACKENDS = ("tensorrt", "torch", "openvino")
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
# auto's order: TensorRT, torch CUDA, the other accelerators, then the CPU (OpenVINO, torch as the last resort).
CHAIN = (("tensorrt", "cuda"), ("torch", "cuda"), ("torch", "mps"), ("openvino", "GPU"), ("openvino", "NPU"),
         ("openvino", "CPU"), ("torch", "cpu"))
# What each (backend, device) can be asked for explicitly; the backend checks the hardware when it builds.
SUPPORTS = {("tensorrt", "cuda"): ("fp16", "fp32"), ("torch", "cuda"): ("fp16", "bf16", "fp32"),
            ("torch", "mps"): ("fp16", "fp32"), ("torch", "cpu"): ("bf16", "fp32"),
            ("openvino", "GPU"): ("fp16", "fp32", "int8"), ("openvino", "NPU"): ("fp16", "int8"),
            ("openvino", "CPU"): ("bf16", "fp32", "int8")}


# What a backend that cannot run here raises while it builds or renders its first frame, so auto moves down the
# chain: our one-line errors, the runtimes' errors (torch CUDA/MPS and OpenVINO raise RuntimeError, out of
# memory included), a driver or file that cannot be opened, a library that fails to load.
FALLBACK_ERRORS = (EngineError, RuntimeError, MemoryError, OSError, ImportError)


class Candidate(NamedTuple):
    backend: str
    device: str
    usable: bool
    why: str

    def __str__(self):
        return f"{self.backend} on {self.device}"


def _module(name: str) -> tuple[ModuleType | None, str]:
    modname = f"{__name__}.{name}_backend"
    try:
        return importlib.import_module(modname), ""
    except ModuleNotFoundError as exc:
        if exc.name == modname:
            return None, "not part of this build"
        return None, f"missing Python package {exc.name}"
    except Exception as exc:  # a broken optional backend must not take the others down
        return None, f"failed to import ({type(exc).__name__}: {exc})"


def _status(name: str) -> tuple[ModuleType | None, bool, str]:
    mod, why = _module(name)
    if mod is None:
        return None, False, why
    try:
        ok, why = mod.available()
    except Exception as exc:
        ok, why = False, f"availability check failed ({type(exc).__name__}: {exc})"
    return mod, bool(ok), str(why)


def list_backends() -> list[tuple[str, bool, str]]:
    """[(name, usable, why)] for every known backend, e.g. ("tensorrt", False, "no CUDA device")."""
    return [(name, ok, why) for name in BACKENDS for _, ok, why in [_status(name)]]


def list_devices() -> list[Candidate]:
    """Every (backend, device) of CHAIN, usable here or why not, in auto's order."""
    rows: dict[tuple[str, str], Candidate] = {}
    for name in BACKENDS:
        mod, ok, why = _status(name)
        try:
            found = mod.devices() if mod is not None else []
        except Exception as exc:
            found, why = [], f"device check failed ({type(exc).__name__}: {exc})"
        for dev, dev_ok, dev_why in found:
            rows[(name, dev)] = Candidate(name, dev, bool(dev_ok), str(dev_why))
        for b, d in CHAIN:
            if b == name and (b, d) not in rows:
                rows[(b, d)] = Candidate(b, d, False, why)
    return [rows[key] for key in CHAIN]


def candidates(backend: str = "auto", precision: str = "auto", device: str = "auto") -> list[Candidate]:
    """The usable candidates auto (or one backend) would try for this precision and device, in order."""
    dev = (device or "auto").lower()
    return [c for c in list_devices() if c.usable and backend in ("auto", c.backend)
            and (precision == "auto" or precision in SUPPORTS[(c.backend, c.device)])
            and dev in ("auto", c.device.lower(), c.device.lower().split(".")[0])]


def _probe(engine) -> None:
    """One frame, so a backend that builds but cannot run is caught while another can still be chosen."""
    inputs = model_inputs(engine)
    if inputs == BIGGAN_INPUTS:
        c = np.zeros((1, NUM_CLASSES), np.float32)
        c[0, 0] = 1.0
        out = engine.render(np.zeros((1, Z_DIM), np.float32), c, np.ones(1, np.float32))
    else:
        out = engine.render(*(np.broadcast_to(np.eye(3, dtype=np.float32), (1, *tail)) if name == "transform"
                              else np.zeros((1, *tail), np.float32) for name, tail in inputs))
    if out.shape != (1, engine.resolution, engine.resolution, 3) or out.dtype != np.uint8:
        raise EngineError(f"{engine.name} rendered {out.shape} {out.dtype}, not uint8 frames")


def _check_args(backend: str, precision: str, max_batch: int) -> None:
    if backend not in ("auto",) + BACKENDS:
        raise EngineError(f"unknown backend {backend!r}: choose auto, {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise EngineError(f"unknown precision {precision!r}: choose {', '.join(PRECISIONS)}")
    if int(max_batch) < 1:
        raise EngineError(f"max batch must be >= 1 (got {max_batch})")


def create_engine(model, backend: str = "auto", precision: str = "auto", max_batch: int = 8,
                  device: str = "auto"):
    """Resolve `model` (name or directory, see engine.weights.resolve_model; or a StyleGAN network pickle,
    loaded and built once for every candidate) and build an Engine.

    backend auto: the first of CHAIN (restricted to `device` when given) that builds and renders; the engine's
    `fallbacks` lists [(candidate, why)] of those that failed first. Explicit backend: that one or an EngineError.
    """
    _check_args(backend, precision, max_batch)
    space = None
    if is_pickle(model):  # one load for every candidate; the engine renders walker states through its space
        from ..stylegan.space import StyleSpace, load_model

        model = copy.deepcopy(load_model(model))  # backends convert it in place; the cached one stays fp32
        space = StyleSpace(model)
    engine = _create(model, backend, precision, max_batch, device)
    if space is None:
        return engine
    from ..stylegan.space import StyleEngine

    return StyleEngine(engine, space)


def _create(model, backend: str, precision: str, max_batch: int, device: str):
    from ..weights import resolve_model

    model_dir = model if _is_generator(model) else resolve_model(str(model))
    if backend != "auto":
        mod, ok, why = _status(backend)
        if not ok:
            usable = [n for n, u, _ in list_backends() if u]
            raise EngineError(f"backend {backend} is not usable here: {why}; use --backend auto"
                              + (f" (usable: {', '.join(usable)})" if usable else ""))
        engine = mod.create(model_dir, precision, int(max_batch), None if device == "auto" else device)
        engine.fallbacks = []
        return engine
    tried: list[tuple[Candidate, str]] = []
    for cand in candidates("auto", precision, device):
        mod, _, _ = _status(cand.backend)
        engine = None
        try:
            engine = mod.create(model_dir, precision, int(max_batch), cand.device)
            _probe(engine)
        except FALLBACK_ERRORS as exc:  # a bug (TypeError, AttributeError...) keeps its traceback
            tried.append((cand, f"{type(exc).__name__}: {first_line(exc)}" if not isinstance(exc, EngineError)
                          else first_line(exc)))
            if engine is not None:
                engine.close()
            continue
        for failed, why in tried:
            progress.say(f"{failed} failed ({why}); running {engine.name} instead")
        engine.fallbacks = tried
        return engine
    if tried:
        raise EngineError("no engine works here: " + "; ".join(f"{c}: {why}" for c, why in tried))
    raise EngineError(f"no usable backend runs precision {precision} on device {device}; see live --list-backends")


def _is_generator(model) -> bool:
    from ..graph import Generator
    from ..stylegan.model import StyleGAN

    return isinstance(model, (Generator, StyleGAN))
