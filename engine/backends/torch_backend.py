"""PyTorch backend: CPU fp32/bf16 (native bf16 CPUs), CUDA fp16/bf16/fp32, Apple Silicon (MPS) fp16/fp32.

CPU and CUDA run channels_last (oneDNN and cuDNN convs are faster on NHWC); MPS keeps NCHW, its default
layout. CUDA fp32 turns TF32 off around its own calls (torch's default lets cuDNN convs round to TF32): fp32
means fp32, as on TensorRT. bf16 on CUDA only where the GPU computes it (compute 8.0+), never emulated.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from ..cpu import cpu_has_bf16, physical_cores
from ..errors import EngineError, NoSuchPrecision
from ..graph import ieee_fp32
from .base import BaseEngine, model_inputs

NAME = "torch"
DEVICES = ("cuda", "mps", "cpu")  # also auto's order within this backend
PRECISIONS = {"cuda": ("fp16", "bf16", "fp32"), "mps": ("fp16", "fp32"), "cpu": ("bf16", "fp32")}
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def _mps_status() -> tuple[bool, str]:
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_built():
        return False, "this torch build has no MPS (Apple Silicon only)"
    if not mps.is_available():
        return False, "MPS not available (needs an Apple Silicon Mac with macOS 12.3+)"
    return True, "Apple GPU (MPS)"


def devices() -> list[tuple[str, bool, str]]:
    """[(device, usable, why)] in auto's order."""
    cuda = torch.cuda.is_available()
    return [("cuda", cuda, f"CUDA ({torch.cuda.get_device_name(0)})" if cuda else "no CUDA device"),
            ("mps", *_mps_status()),
            ("cpu", True, "CPU" + (" with native bf16" if cpu_has_bf16() else ""))]


def available() -> tuple[bool, str]:
    usable = [why for _, ok, why in devices() if ok]
    return True, ", ".join(usable)


def cuda_bf16() -> bool:
    """Native bf16 on this GPU (compute 8.0+); the default of is_bf16_supported also counts emulation."""
    return torch.cuda.is_bf16_supported(including_emulation=False)


def resolve_precision(precision: str, device: str) -> str:
    if precision in (None, "", "auto"):
        if device in ("cuda", "mps"):
            return "fp16"
        return "bf16" if cpu_has_bf16() else "fp32"
    if precision not in PRECISIONS[device]:
        raise NoSuchPrecision(f"the torch backend on {device} runs {', '.join(PRECISIONS[device])}, not {precision}; "
                          f"use --precision auto")
    if precision == "bf16" and device == "cuda" and not cuda_bf16():
        raise NoSuchPrecision("this GPU has no native bf16 (needs compute 8.0+); use --precision fp16 or fp32")
    return precision


def pick_device(device: str | None) -> str:
    """The device for --engine-device (auto: the first usable of cuda, mps, cpu)."""
    status = {name: (ok, why) for name, ok, why in devices()}
    if device in (None, "", "auto"):
        return next(name for name, (ok, _) in status.items() if ok)
    device = device.lower()
    if device not in status:
        raise EngineError(f"the torch backend has no device {device!r}; use cpu, cuda or mps")
    ok, why = status[device]
    if not ok:
        raise EngineError(f"torch device {device} is not usable here: {why}")
    return device


class TorchEngine(BaseEngine):
    def __init__(self, generator, precision: str, max_batch: int, device: str):
        self.device = torch.device(device)
        self.precision = precision
        self.max_batch = max_batch
        self.resolution = generator.resolution
        self.inputs = model_inputs(generator)
        self.name = f"torch-{device}-{precision}"
        gen = generator.eval().to(self.device)
        if precision != "fp32":
            gen.set_body_dtype(_DTYPES[precision])
        if device != "mps":
            # NHWC: oneDNN and cuDNN convs are faster on it (CPU full width: bf16 and fp32 both ~10% at batch 1),
            # and the attention's position-major matrices become free views.
            gen.to(memory_format=torch.channels_last)
            gen.channels_last = True
        self.gen = gen
        self._precise = ieee_fp32 if (device, precision) == ("cuda", "fp32") else contextlib.nullcontext

    @torch.inference_mode()
    def _render_batch(self, *arrays: np.ndarray) -> np.ndarray:
        dev = self.device
        args = [torch.from_numpy(a).to(dev, non_blocking=True) for a in arrays]
        with self._precise():
            out = self.gen(*args)
            return np.ascontiguousarray(out.cpu().numpy())

    def render_float(self, *arrays) -> np.ndarray:
        """f32 [B, 3, H, W] in [-1, 1] (tests, quality checks); B <= max_batch not enforced."""
        with torch.inference_mode(), self._precise():
            args = [torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device) for a in arrays]
            return self.gen.forward_float(*args).float().cpu().numpy()

    def close(self) -> None:
        self.gen = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        elif self.device.type == "mps":
            torch.mps.empty_cache()


def create(model, precision: str = "auto", max_batch: int = 8, device: str | None = None) -> TorchEngine:
    """model: model directory (Path/str), a built engine.graph.Generator or engine.stylegan.model.StyleGAN
    (used as is, converted in place)."""
    from ..graph import Generator, build_generator
    from ..stylegan.model import StyleGAN

    device = pick_device(device)
    precision = resolve_precision(precision, device)
    if device == "cpu":
        torch.set_num_threads(physical_cores())
    gen = model if isinstance(model, (Generator, StyleGAN)) else build_generator(Path(model))
    return TorchEngine(gen, precision, max_batch, device)
