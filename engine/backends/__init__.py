"""Backend registry: pick and build an Engine (`render(z, c, t) -> uint8 [B,H,W,3]`).

Each backend is a module `engine.backends.<name>_backend` exposing
    NAME: str
    available() -> (bool, why: str)              # cheap, never raises; why is one short phrase
    create(model, precision: str, max_batch: int) -> Engine
where `model` is a model directory (Path) holding config.json + pytorch_model.bin, or an
`engine.graph.Generator` already built from one, and precision is "auto" | "fp32" | "bf16" | "fp16".
Modules are imported lazily; one that is missing or fails to import is listed as unusable, not an error.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import EngineError

BACKENDS = ("tensorrt", "openvino", "torch")  # also the order of preference of "auto" (see _auto)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


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


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def _auto() -> str:
    """TensorRT on a CUDA GPU, else torch on CUDA, else OpenVINO on CPU, else torch on CPU."""
    if _cuda():
        if _status("tensorrt")[1]:
            return "tensorrt"
        return "torch"
    if _status("openvino")[1]:
        return "openvino"
    return "torch"


def create_engine(model, backend: str = "auto", precision: str = "auto", max_batch: int = 8):
    """Resolve `model` (name or directory, see engine.weights.resolve_model) and build an Engine on `backend`."""
    from ..weights import resolve_model

    if backend not in ("auto",) + BACKENDS:
        raise EngineError(f"unknown backend {backend!r}: choose auto, {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise EngineError(f"unknown precision {precision!r}: choose {', '.join(PRECISIONS)}")
    if int(max_batch) < 1:
        raise EngineError(f"max batch must be >= 1 (got {max_batch})")
    name = _auto() if backend == "auto" else backend
    mod, ok, why = _status(name)
    if not ok:
        usable = [n for n, u, _ in list_backends() if u]
        raise EngineError(f"backend {name} is not usable here: {why}; use --backend auto"
                          + (f" (usable: {', '.join(usable)})" if usable else ""))
    model_dir = model if _is_generator(model) else resolve_model(str(model))
    return mod.create(model_dir, precision, int(max_batch))


def _is_generator(model) -> bool:
    from ..graph import Generator

    return isinstance(model, Generator)
