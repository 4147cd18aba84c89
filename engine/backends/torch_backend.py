"""PyTorch backend: CPU fp32 or bf16 (native bf16 CPUs), CUDA fp16; channels_last weights and activations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import EngineError
from ..cpu import cpu_has_bf16, physical_cores
from .base import BaseEngine

NAME = "torch"
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def available() -> tuple[bool, str]:
    if torch.cuda.is_available():
        return True, f"CUDA ({torch.cuda.get_device_name(0)})"
    return True, "CPU" + (" with native bf16" if cpu_has_bf16() else "")


def resolve_precision(precision: str, device: str) -> str:
    if precision == "auto":
        if device == "cuda":
            return "fp16"
        return "bf16" if cpu_has_bf16() else "fp32"
    if precision == "fp16" and device == "cpu":
        raise EngineError("fp16 is not supported by the torch backend on CPU; use --precision fp32 or bf16")
    if precision == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise EngineError("this GPU has no bf16; use --precision fp16 or fp32")
    return precision


class TorchEngine(BaseEngine):
    def __init__(self, generator, precision: str, max_batch: int, device: str):
        self.device = torch.device(device)
        self.precision = precision
        self.max_batch = max_batch
        self.resolution = generator.resolution
        self.name = f"torch-{device}-{precision}"
        gen = generator.eval().to(self.device)
        if precision != "fp32":
            gen.set_body_dtype(_DTYPES[precision])
        # NHWC: oneDNN and cuDNN convs are faster on it (CPU full width: bf16 and fp32 both ~10% at batch 1),
        # and the attention's position-major matrices become free views.
        gen.to(memory_format=torch.channels_last)
        gen.channels_last = True
        self.gen = gen

    @torch.inference_mode()
    def _render_batch(self, z: np.ndarray, c: np.ndarray, t: np.ndarray) -> np.ndarray:
        dev = self.device
        args = [torch.from_numpy(a).to(dev, non_blocking=True) for a in (z, c, t)]
        out = self.gen(*args)
        return np.ascontiguousarray(out.cpu().numpy())

    def render_float(self, z, c, t) -> np.ndarray:
        """f32 [B, 3, H, W] in [-1, 1] (tests, quality checks); B <= max_batch not enforced."""
        with torch.inference_mode():
            args = [torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device) for a in (z, c, t)]
            return self.gen.forward_float(*args).float().cpu().numpy()

    def close(self) -> None:
        self.gen = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def create(model, precision: str = "auto", max_batch: int = 8) -> TorchEngine:
    """model: model directory (Path/str) or a built engine.graph.Generator (used as is, converted in place)."""
    from ..graph import Generator, build_generator

    device = "cuda" if torch.cuda.is_available() else "cpu"
    precision = resolve_precision(precision, device)
    if device == "cpu":
        torch.set_num_threads(physical_cores())
    gen = model if isinstance(model, Generator) else build_generator(Path(model))
    return TorchEngine(gen, precision, max_batch, device)
