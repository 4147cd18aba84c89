"""PyTorch backend: CPU fp32 or bf16 (native bf16 CPUs), CUDA fp16; channels_last weights and activations."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..errors import EngineError
from .base import BaseEngine

NAME = "torch"
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def available() -> tuple[bool, str]:
    if torch.cuda.is_available():
        return True, f"CUDA ({torch.cuda.get_device_name(0)})"
    return True, "CPU" + (" with native bf16" if cpu_has_bf16() else "")


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    if {"avx512_bf16", "amx_bf16"} & _cpu_flags():
        return True
    return "AMX" in torch.backends.cpu.get_cpu_capability()  # non-Linux: what torch's dispatcher detected


def physical_cores() -> int:
    """Physical cores this process may run on (hyperthreads only slow conv-heavy inference down)."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cores, phys, core = set(), None, None
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    phys = val.strip()
                elif key == "core id":
                    core = val.strip()
                elif not key and core is not None:  # blank line ends one logical CPU
                    cores.add((phys, core))
                    phys = core = None
        if core is not None:
            cores.add((phys, core))
    except OSError:
        pass
    return max(1, min(allowed, len(cores) or allowed))


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
