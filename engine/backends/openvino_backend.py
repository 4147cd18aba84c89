"""OpenVINO CPU backend: our Generator's ONNX export compiled with bf16 where the CPU has it.

Choices (measured on the 2-core AVX512-BF16 dev machine, full-width 128 px, best of 5 on a busy machine):
- Compile from the cached ONNX export (engine/onnx_export.py), not openvino.convert_model on the torch module:
  a cached start never builds the torch graph; it compiles a saved IR path, so OpenVINO's model cache
  (CACHE_DIR under cache_dir("openvino", <model>)) imports the compiled blob without reading the model (~3 s to first
  frame in a fresh process, most of it Python imports).
- Static shapes, one compiled model per batch size used: 1 (live) and max_batch (export chunks); a short tail
  is padded to max_batch. Static vs one dynamic-batch model: bf16 23.5 vs 32 ms/frame at batch 1, 21 vs 30 at
  batch 8; f32 44 vs 69. Two sizes bound memory (each compiled model holds its own weights).
- bf16 roughly halves f32 time on AVX512-BF16 (PSNR vs f32 ~36 dB on full-width random weights, like torch bf16).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np

from core.cache import cache_dir
from core.errors import first_line

from ..errors import EngineError
from core.dims import NUM_CLASSES, Z_DIM

from .base import BaseEngine
from ..cpu import physical_cores

NAME = "openvino"
PRECISIONS = {"bf16": "bf16", "fp32": "f32", "f32": "f32", "fp16": "f16", "f16": "f16"}
_CAPABILITY = {"bf16": "BF16", "f16": "FP16", "f32": "FP32"}


def available() -> tuple[bool, str]:
    try:
        import openvino as ov
    except ImportError:
        return False, "openvino not installed (pip install openvino)"
    try:
        if "CPU" not in ov.Core().available_devices:
            return False, "OpenVINO sees no CPU device"
    except Exception as exc:  # broken install / plugin load failure
        return False, f"OpenVINO failed to start ({type(exc).__name__}: {exc})"
    return True, "CPU"


def cpu_capabilities(core) -> set[str]:
    try:
        return set(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception:
        return {"FP32"}


def choose_precision(precision: str, capabilities: set[str]) -> str:
    """OpenVINO precision string: "auto" -> bf16 where the CPU supports it, else f32; explicit values force."""
    if precision in (None, "", "auto"):
        return "bf16" if "BF16" in capabilities else "f32"
    key = str(precision).lower()
    if key not in PRECISIONS:
        raise EngineError(f"openvino backend has no precision {precision!r}; use auto, fp32, bf16 or fp16")
    ov_prec = PRECISIONS[key]
    if _CAPABILITY[ov_prec] not in capabilities:
        raise EngineError(f"this CPU has no {ov_prec} support for OpenVINO (it offers "
                          f"{', '.join(sorted(capabilities))}); use --precision auto or fp32")
    return ov_prec


class OpenVINOEngine(BaseEngine):
    """render(z[B,128], c[B,1000], t[B]) -> uint8 [B,H,W,3] on the CPU via OpenVINO."""

    def __init__(self, source, precision: str = "auto", max_batch: int = 8, static: bool = True):
        import openvino as ov

        from ..onnx_export import export_onnx, model_resolution

        if max_batch < 1:
            raise EngineError(f"max_batch must be >= 1, got {max_batch}")
        self.max_batch, self.static = int(max_batch), static
        self.resolution = model_resolution(source)
        self._core = ov.Core()
        self.precision = choose_precision(precision, cpu_capabilities(self._core))
        self.name = "openvino-" + {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}[self.precision]
        self._source, self._export = source, export_onnx
        self._onnx = export_onnx(source)
        # One folder per model: clearing a corrupt cache never touches other models' (or processes') files.
        self._cache = cache_dir("openvino", self._onnx.stem)
        self._config = {
            "CACHE_DIR": str(self._cache),
            "INFERENCE_PRECISION_HINT": self.precision,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": physical_cores(),
        }
        self._compiled: dict[int, object] = {}  # batch size (0 = dynamic) -> (compiled model, infer request)
        self._lock = threading.Lock()
        for size in ({1, self.max_batch} if static else {0}):  # compile now so no frame waits for it
            self._request(size)

    def _read(self):
        try:
            return self._core.read_model(str(self._onnx))
        except Exception:  # damaged cached export: export again once
            self._onnx = self._export(self._source, force=True)
            return self._core.read_model(str(self._onnx))

    def _static_ir(self, batch: int) -> Path:
        """OpenVINO IR of the export reshaped to a fixed batch, saved once: compiling from a file path lets a
        model-cache hit skip reading and reshaping the model (about a second of a cached start)."""
        import openvino as ov

        xml = self._cache / "ir" / f"{self._onnx.stem}-b{batch}.xml"
        if xml.is_file() and xml.with_suffix(".bin").is_file():
            return xml
        xml.parent.mkdir(parents=True, exist_ok=True)
        model = self._read()
        model.reshape({"z": [batch, Z_DIM], "c": [batch, NUM_CLASSES], "t": [batch]})
        tmp = xml.with_name(f"{xml.stem}.tmp-{os.getpid()}-{threading.get_ident()}.xml")
        try:
            ov.save_model(model, str(tmp), compress_to_fp16=False)  # keep f32 weights: precision is a hint
            os.replace(tmp.with_suffix(".bin"), xml.with_suffix(".bin"))
            os.replace(tmp, xml)  # the .xml appears last, so its presence means both files are whole
        finally:
            tmp.unlink(missing_ok=True)
            tmp.with_suffix(".bin").unlink(missing_ok=True)
        return xml

    def _compile(self, batch: int):
        def attempt():
            # dynamic: the export itself; static: its reshaped IR. Both from a path (see _static_ir).
            path = self._onnx if batch == 0 else self._static_ir(batch)
            return self._core.compile_model(str(path), "CPU", self._config)

        try:
            return attempt()
        except Exception:
            # A stale/corrupt cache blob or export must not be fatal: clear this model's and rebuild once.
            shutil.rmtree(self._cache, ignore_errors=True)
            self._cache.mkdir(parents=True, exist_ok=True)
            try:
                self._onnx = self._export(self._source, force=True)
                return attempt()
            except Exception as exc:
                why = first_line(exc)
                raise EngineError(f"OpenVINO could not compile the generator ({type(exc).__name__}: {why}); "
                                  f"use --backend torch") from None

    def _request(self, batch: int):
        entry = self._compiled.get(batch)
        if entry is None:
            compiled = self._compile(batch)
            entry = self._compiled[batch] = (compiled, compiled.create_infer_request())
        return entry[1]

    def _render_batch(self, z, c, t) -> np.ndarray:
        n = z.shape[0]
        size = 0 if not self.static else 1 if n == 1 else self.max_batch
        if size > n:  # pad a short tail to the compiled batch; the padding's outputs are dropped
            pad = size - n
            z = np.concatenate([z, np.zeros((pad, Z_DIM), np.float32)])
            c = np.concatenate([c, np.zeros((pad, NUM_CLASSES), np.float32)])
            t = np.concatenate([t, np.ones(pad, np.float32)])
        with self._lock:  # one infer request per compiled size: serialise callers
            req = self._request(size)
            req.infer({"z": z, "c": c, "t": t})
            return req.get_output_tensor(0).data[:n].copy()

    def close(self) -> None:
        self._compiled.clear()


def create(source, precision: str = "auto", max_batch: int = 8) -> OpenVINOEngine:
    ok, why = available()
    if not ok:
        raise EngineError(f"openvino backend unavailable: {why}")
    return OpenVINOEngine(source, precision, max_batch)
