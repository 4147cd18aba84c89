"""OpenVINO backend: our Generator's ONNX export compiled for a CPU, an Intel GPU or NPU (or OpenVINO's AUTO).

Choices (measured on the 2-core AVX512-BF16 dev machine, full-width 128 px):
- Compile from saved files (openvino_ir), not openvino.convert_model on the torch module: a cached start never
  builds the torch graph, and OpenVINO's model cache imports the compiled blob (~3 s to first frame).
- Static shapes, one compiled model per batch size used: 1 (live) and max_batch (export chunks); a short tail
  is padded to max_batch. Static vs one dynamic-batch model: bf16 23.5 vs 32 ms/frame at batch 1.
- Precision: CPU bf16 where it has it (~2x f32, ~36 dB PSNR vs f32), else f32; GPU and NPU fp16; int8 on
  request (engine/quantize.py; non-quantized layers f32). Written to OpenVINO's documented device properties
  (OPTIMIZATION_CAPABILITIES, INFERENCE_PRECISION_HINT); only the CPU ran here.
"""

from __future__ import annotations

import os

import threading

import numpy as np

from core.errors import first_line

from .. import progress
from ..cpu import isa_capped_below_bf16, physical_cores
from ..errors import EngineError, NoSuchPrecision
from .base import BaseEngine, model_inputs

NAME = "openvino"
DEVICES = ("GPU", "NPU", "CPU")  # auto's order within this backend (AUTO only on request)
PRECISIONS = {"bf16": "bf16", "fp32": "f32", "fp16": "f16", "int8": "int8"}
_CAPABILITY = {"bf16": "BF16", "f16": "FP16", "f32": "FP32", "int8": "INT8"}
_NAMES = {"f32": "fp32", "bf16": "bf16", "f16": "fp16", "int8": "int8"}


def _core():
    import openvino as ov

    return ov.Core()


def devices() -> list[tuple[str, bool, str]]:
    """[(device, usable, why)] for GPU, NPU, CPU."""
    try:
        core = _core()
        found = core.available_devices  # e.g. ["CPU", "GPU.0", "GPU.1", "NPU"]
    except ImportError:
        return [(d, False, "openvino not installed (pip install openvino)") for d in DEVICES]
    except Exception as exc:  # broken install / plugin load failure
        return [(d, False, f"OpenVINO failed to start ({first_line(exc)})") for d in DEVICES]
    rows = []
    for dev in DEVICES:
        present = [f for f in found if f.split(".")[0] == dev]
        if not present:
            rows.append((dev, False, f"OpenVINO sees no {dev}"))
            continue
        try:
            full = core.get_property(present[0], "FULL_DEVICE_NAME")
        except Exception:
            full = present[0]
        rows.append((dev, True, f"{dev} ({full})" if dev != "CPU" else "CPU"))
    return rows


def available() -> tuple[bool, str]:
    usable = [why for _, ok, why in devices() if ok]
    if usable:
        return True, ", ".join(usable)
    return False, devices()[-1][2]


def capabilities(core, device: str) -> set[str]:
    try:
        caps = set(core.get_property(device, "OPTIMIZATION_CAPABILITIES"))
    except Exception:
        caps = {"FP32"} if device.startswith("CPU") else set()
    if device.startswith("CPU") and isa_capped_below_bf16():  # OpenVINO reads cpuid, not the ISA cap
        caps.discard("BF16")
    return caps




def choose_precision(precision: str, caps: set[str], device: str = "CPU") -> str:
    """OpenVINO precision: auto -> fp16 on GPU/NPU, bf16 on a CPU that has it, else f32; explicit values force."""
    if precision in (None, "", "auto"):
        if device.split(".")[0] in ("GPU", "NPU") and "FP16" in caps:
            return "f16"
        if device == "AUTO":
            return "auto"  # each device its own default
        return "bf16" if "BF16" in caps else "f32"
    key = str(precision).lower()
    if key not in PRECISIONS:
        raise EngineError(f"openvino backend has no precision {precision!r}; use auto, fp32, bf16, fp16 or int8")
    ov_prec = PRECISIONS[key]
    if device != "AUTO" and _CAPABILITY[ov_prec] not in caps:
        raise NoSuchPrecision(f"this {device} has no {key} support in OpenVINO (it offers "
                          f"{', '.join(sorted(caps)) or 'nothing'}); use --precision auto")
    return ov_prec


def pick_device(device: str | None) -> str:
    """OpenVINO device for --engine-device: CPU, GPU, GPU.1, NPU, AUTO (auto: the first usable of GPU, NPU, CPU)."""
    rows = devices()
    if device in (None, "", "auto"):
        return next((d for d, ok, _ in rows if ok), "CPU")
    name = device.upper()
    if name == "AUTO" or name.split(".")[0] in DEVICES:
        status = {d: (ok, why) for d, ok, why in rows}
        ok, why = status.get(name.split(".")[0], (True, ""))
        if not ok:
            raise EngineError(f"OpenVINO device {name} is not usable here: {why}")
        return name
    raise EngineError(f"OpenVINO has no device {device!r}; use CPU, GPU, NPU or AUTO")


def compile_config(device: str, precision: str, cache: str) -> dict:
    config = {"CACHE_DIR": cache, "PERFORMANCE_HINT": "LATENCY"}
    if precision != "auto":  # int8: the layers NNCF left in float run in f32
        config["INFERENCE_PRECISION_HINT"] = "f32" if precision == "int8" else precision
    if device == "CPU":
        threads = physical_cores()
        config["INFERENCE_NUM_THREADS"] = threads
        if threads < (os.cpu_count() or threads):  # a share of the machine (a Ray actor): OpenVINO would pin
            config["ENABLE_CPU_PINNING"] = False  # its threads to the first cores, the same in every process
    return config


class OpenVINOEngine(BaseEngine):
    """render(z[B,128], c[B,1000], t[B]) (or a StyleGAN's inputs) -> uint8 [B,H,W,3] via OpenVINO on one device."""

    def __init__(self, source, precision: str = "auto", max_batch: int = 8, device: str = "CPU"):
        from ..onnx_export import model_resolution
        from .openvino_ir import ModelFiles

        if max_batch < 1:
            raise EngineError(f"max_batch must be >= 1, got {max_batch}")
        self.max_batch, self.device = int(max_batch), device
        self.resolution = model_resolution(source)
        self.inputs = model_inputs(source)
        self._core = _core()
        self.precision = choose_precision(precision, capabilities(self._core, device), device)
        if self.precision == "bf16" and any(name == "transform" for name, _ in self.inputs):
            # OpenVINO's CPU plugin (2026.4) did not finish compiling a full-width StyleGAN3 graph in bf16 in 37
            # minutes (fp32: under a second; tiny test graphs compile either way), so StyleGAN3 runs in fp32 here.
            if precision not in (None, "", "auto"):
                raise NoSuchPrecision("OpenVINO does not finish compiling StyleGAN3 networks in bf16 on a CPU; use "
                                      "--precision fp32 (or auto)")
            self.precision = "f32"
        tag = _NAMES.get(self.precision, self.precision)
        self.name = f"openvino-{tag}" if device == "CPU" else f"openvino-{device.lower()}-{tag}"
        self._files = ModelFiles(self._core, source, int8=self.precision == "int8")
        self._config = compile_config(device, self.precision, str(self._files.cache))
        self._compiled: dict[int, tuple] = {}  # batch size -> (compiled model, infer request)
        self._lock = threading.Lock()
        for size in sorted({1, self.max_batch}):  # compile now so no frame waits for it
            self._request(size)

    def _compile(self, batch: int):
        def attempt():
            path = self._files.static_ir(batch)  # exported, quantized, reshaped as needed
            with progress.step(f"compiling {self.name} for {self.device}, {self.resolution} px, batch {batch}"):
                return self._core.compile_model(str(path), self.device, self._config)

        try:
            return attempt()
        except EngineError:
            raise
        except Exception as exc:
            cause = f"{type(exc).__name__}: {first_line(exc)}"
        # Only a corrupt file of ours is rebuilt (OpenVINO replaces a bad blob itself); anything else keeps the cache.
        if not self._files.repair(batch):
            raise EngineError(f"OpenVINO could not compile the generator for {self.device} ({cause}); its cached "
                              f"files are intact and kept; use --backend torch")
        try:
            return attempt()
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"OpenVINO could not compile the generator for {self.device} "
                              f"({type(exc).__name__}: {first_line(exc)}); use --backend torch") from None

    def _request(self, batch: int):
        entry = self._compiled.get(batch)
        if entry is None:
            compiled = self._compile(batch)
            entry = self._compiled[batch] = (compiled, compiled.create_infer_request())
        return entry[1]

    def _render_batch(self, *arrays) -> np.ndarray:
        n = arrays[0].shape[0]
        size = 1 if n == 1 else self.max_batch
        if size > n:  # pad a short tail to the compiled batch (repeating the last sample); its outputs are dropped
            arrays = [np.concatenate([a, np.repeat(a[-1:], size - n, axis=0)]) for a in arrays]
        with self._lock:  # one infer request per compiled size: serialise callers
            req = self._request(size)
            req.infer({name: a for (name, _), a in zip(self.inputs, arrays)})
            return req.get_output_tensor(0).data[:n].copy()

    def close(self) -> None:
        self._compiled.clear()


def create(source, precision: str = "auto", max_batch: int = 8, device: str | None = None) -> OpenVINOEngine:
    return OpenVINOEngine(source, precision, max_batch, pick_device(device))
