"""TensorRT 10 backend (CUDA): a strongly typed engine built from our ONNX export, cached on disk.

- Precision lives in the ONNX graph (export variant "pixels-fp16": fp16 body, f32 head), built with
  STRONGLY_TYPED. That is the TensorRT 10.12+ way; the weak FP16 builder flag is deprecated and gone in 11.
- One optimisation profile over the batch: min 1, opt = max = max_batch (live asks for max_batch 1, export for
  its chunk size, so max_batch is the batch each user actually runs).
- The serialized engine is cached in cache_dir("tensorrt") under a key of everything that changes it; a timing
  cache per GPU/TensorRT version makes rebuilds fast. A stale/corrupt entry is rebuilt; writes are atomic.
- I/O buffers are torch CUDA tensors allocated once; the engine writes float pixels (0..255, rounded) and the
  uint8 cast runs on the GPU. After two eager runs at one batch size the enqueue + cast is captured into a CUDA
  graph, kept only if its replay matches the eager output bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

import numpy as np

from core.files import write_bytes_atomic
from core.cache import cache_dir
from core.errors import first_line

from ..errors import EngineError
from core.dims import NUM_CLASSES, Z_DIM

from .base import BaseEngine

NAME = "tensorrt"
BUILD_VERSION = "1"  # bump when build settings below change what an engine contains
WORKSPACE_BYTES = 2 << 30
VARIANTS = {"fp16": "pixels-fp16", "bf16": "pixels-bf16", "fp32": "pixels"}
INPUTS = {"z": (Z_DIM,), "c": (NUM_CLASSES,), "t": ()}
OUTPUT = "pixels"
log = logging.getLogger(__name__)
_LOGGER = _RUNTIME = None


def available() -> tuple[bool, str]:
    try:
        import tensorrt as trt
    except ImportError:
        return False, "tensorrt not installed"
    if int(trt.__version__.split(".")[0]) < 10:
        return False, f"TensorRT {trt.__version__} is too old (need 10 or newer)"
    try:
        import torch

        if not torch.cuda.is_available():
            return False, "no CUDA device"
        return True, f"TensorRT {trt.__version__} on {torch.cuda.get_device_name(0)}"
    except Exception as exc:
        return False, f"CUDA check failed ({type(exc).__name__})"


def engine_key(fields: dict) -> str:
    """Stable hash of every field that changes a built engine (pure Python: tested without a GPU)."""
    canonical = json.dumps({**fields, "build": BUILD_VERSION}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def key_fields(fingerprint: str, resolution: int, max_batch: int, precision: str, trt_version: str,
               gpu_name: str, capability: tuple[int, int], exporter: str) -> dict:
    return {"weights": fingerprint, "resolution": int(resolution), "profile": [1, int(max_batch), int(max_batch)],
            "precision": precision, "tensorrt": trt_version, "gpu": gpu_name,
            "capability": f"{capability[0]}.{capability[1]}", "exporter": exporter}


def engine_path(fields: dict, root: Path | None = None) -> Path:
    root = root or cache_dir("tensorrt")
    return root / f"biggan-{fields['resolution']}-{fields['precision']}-b{fields['profile'][2]}-{engine_key(fields)}.engine"


def timing_cache_path(fields: dict, root: Path | None = None) -> Path:
    """Timing caches are only valid for one GPU model and TensorRT version."""
    root = root or cache_dir("tensorrt")
    tag = engine_key({"gpu": fields["gpu"], "capability": fields["capability"], "tensorrt": fields["tensorrt"]})
    return root / f"timing-{tag[:16]}.cache"


class _ParseError(EngineError):
    pass


def _trt_logger():
    global _LOGGER
    import tensorrt as trt

    if _LOGGER is None:  # TensorRT wants one logger per process
        _LOGGER = trt.Logger(trt.Logger.WARNING)
    return _LOGGER


def build_plan(onnx_path: Path, precision: str, max_batch: int, timing_path: Path) -> bytes:
    """Parse the ONNX export and build a serialized engine (bytes); updates the timing cache file."""
    import tensorrt as trt

    logger = _trt_logger()
    builder = trt.Builder(logger)
    # Strong typing: precision comes from the ONNX graph (10.x opt-in; 11.x always on and the flag a no-op).
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise _ParseError(f"TensorRT cannot parse {onnx_path.name} ({errors[:300]}); use --backend torch")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision == "fp32":
        config.clear_flag(trt.BuilderFlag.TF32)  # fp32 means fp32, not 10-bit-mantissa TF32 matmuls
    profile = builder.create_optimization_profile()
    for name, tail in INPUTS.items():
        profile.set_shape(name, (1, *tail), (max_batch, *tail), (max_batch, *tail))
    config.add_optimization_profile(profile)
    try:
        timing = config.create_timing_cache(timing_path.read_bytes() if timing_path.is_file() else b"")
    except Exception:  # unreadable timing cache: start a fresh one
        timing = None
    if timing is None:  # a corrupt blob comes back as None, not an exception
        timing = config.create_timing_cache(b"")
    config.set_timing_cache(timing, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineError("TensorRT engine build failed (see the TensorRT messages above); use --backend torch")
    try:
        write_bytes_atomic(timing_path, bytes(memoryview(config.get_timing_cache().serialize())))
    except OSError as exc:  # only a speed-up for the next build
        log.warning("could not save TensorRT timing cache: %s", exc)
    return bytes(memoryview(plan))


def _deserialize(data: bytes):
    global _RUNTIME
    import tensorrt as trt

    try:
        if _RUNTIME is None:  # one per process; it must outlive the engines it deserialises
            _RUNTIME = trt.Runtime(_trt_logger())
        engine = _RUNTIME.deserialize_cuda_engine(data)
    except Exception:
        return None
    if engine is None:
        return None
    names = {engine.get_tensor_name(i) for i in range(engine.num_io_tensors)}
    if names != set(INPUTS) | {OUTPUT} or any(engine.get_tensor_dtype(n) != trt.float32 for n in names):
        return None  # not an engine of ours (or an older layout): rebuild
    return engine


def load_or_build(model, precision: str, max_batch: int, force: bool = False):
    """(ICudaEngine, path): the cached engine for (model, precision, max_batch), built if missing/stale/corrupt."""
    import tensorrt as trt
    import torch

    from ..onnx_export import export_onnx, exporter_tag, model_fingerprint, model_resolution

    fields = key_fields(model_fingerprint(model), model_resolution(model), max_batch, precision, trt.__version__,
                        torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0), exporter_tag())
    path = engine_path(fields)
    if path.is_file() and not force:
        engine = _deserialize(path.read_bytes())
        if engine is not None:
            return engine, path
        log.warning("cached TensorRT engine %s is stale or corrupt; rebuilding", path.name)
        path.unlink(missing_ok=True)
    log.warning("building TensorRT %s engine for %d px, batch 1..%d (minutes, once)",
                precision, fields["resolution"], max_batch)
    try:
        try:
            plan = build_plan(export_onnx(model, VARIANTS[precision]), precision, max_batch,
                              timing_cache_path(fields))
        except _ParseError:  # perhaps a damaged cached export: export again once
            plan = build_plan(export_onnx(model, VARIANTS[precision], force=True), precision, max_batch,
                              timing_cache_path(fields))
    except EngineError:
        raise
    except Exception as exc:  # CUDA init, out of memory...
        raise EngineError(f"TensorRT engine build failed ({first_line(exc)}); use --backend torch") from None
    try:
        write_bytes_atomic(path, plan)
    except OSError as exc:
        log.warning("could not cache the TensorRT engine in %s (%s); it is rebuilt next time", path, exc)
    engine = _deserialize(plan)
    if engine is None:
        raise EngineError("TensorRT could not load the engine it just built; use --backend torch")
    return engine, path


class TensorRTEngine(BaseEngine):
    def __init__(self, engine, resolution: int, max_batch: int, precision: str, cuda_graph: bool = True):
        import torch

        self.name, self.resolution, self.max_batch = f"tensorrt-{precision}", int(resolution), int(max_batch)
        self.cuda_graph = cuda_graph
        self._engine, self._lock = engine, threading.Lock()
        self._context = engine.create_execution_context()
        if self._context is None:
            raise EngineError("TensorRT could not create an execution context (out of GPU memory?)")
        self._stream = torch.cuda.Stream()
        dev, shape_out = torch.device("cuda"), (self.max_batch, self.resolution, self.resolution, 3)
        self._dev = {name: torch.zeros((self.max_batch, *tail), dtype=torch.float32, device=dev)
                     for name, tail in INPUTS.items()}
        self._dev[OUTPUT] = torch.zeros(shape_out, dtype=torch.float32, device=dev)  # float pixels 0..255
        self._u8 = torch.zeros(shape_out, dtype=torch.uint8, device=dev)
        self._host = {name: torch.zeros((self.max_batch, *tail), dtype=torch.float32).pin_memory()
                      for name, tail in INPUTS.items()}
        self._host_out = torch.zeros(shape_out, dtype=torch.uint8).pin_memory()
        for name, buf in self._dev.items():  # addresses are fixed for the engine's life (CUDA graph safe)
            self._context.set_tensor_address(name, buf.data_ptr())
        self._batch, self._eager_runs, self._graph = 0, 0, None

    def _enqueue(self, n: int) -> None:
        if not self._context.execute_async_v3(stream_handle=self._stream.cuda_stream):
            raise EngineError("TensorRT inference failed (see the TensorRT messages above)")
        self._u8[:n].copy_(self._dev[OUTPUT][:n])  # values are already rounded 0..255: the cast is exact

    def _set_batch(self, n: int) -> None:
        for name, tail in INPUTS.items():
            if not self._context.set_input_shape(name, (n, *tail)):
                raise EngineError(f"TensorRT rejected batch {n} (engine profile is 1..{self.max_batch})")
        self._batch, self._eager_runs, self._graph = n, 0, None  # a graph bakes shapes: drop it

    def _download(self, n: int) -> np.ndarray:
        self._host_out[:n].copy_(self._u8[:n], non_blocking=True)
        self._stream.synchronize()
        return self._host_out[:n].numpy().copy()

    def _capture(self, n: int, expected: np.ndarray) -> None:
        import torch

        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, stream=self._stream, capture_error_mode="thread_local"):
                self._enqueue(n)
            graph.replay()  # same inputs still in the device buffers: must reproduce the eager frame
            ok = np.array_equal(self._download(n), expected)
        except Exception as exc:  # capture unsupported by this engine/driver: stay eager
            log.warning("CUDA graph capture failed (%s); running TensorRT without it", exc)
            ok = False
        if ok:
            self._graph = graph
        else:
            self.cuda_graph = False

    def _render_batch(self, z, c, t) -> np.ndarray:
        import torch

        n = z.shape[0]
        if self._context is None:
            raise EngineError("the TensorRT engine was closed")
        with self._lock, torch.cuda.stream(self._stream):
            if n != self._batch:
                self._set_batch(n)
            for name, arr in (("z", z), ("c", c), ("t", t)):
                self._host[name][:n].numpy()[...] = arr
                self._dev[name][:n].copy_(self._host[name][:n], non_blocking=True)
            if self._graph is not None:
                self._graph.replay()
                return self._download(n)
            self._enqueue(n)
            out = self._download(n)
            self._eager_runs += 1
            if self.cuda_graph and self._eager_runs >= 2:  # a one-off tail batch never pays for a capture
                self._capture(n, out)
            return out

    def close(self) -> None:
        import torch

        with self._lock:
            self._graph = self._context = self._engine = None
            self._dev, self._host = {}, {}
            self._u8 = self._host_out = self._stream = None
        torch.cuda.empty_cache()


def resolve_precision(precision: str) -> str:
    import torch

    if precision in (None, "", "auto"):
        return "fp16"
    if precision not in VARIANTS:
        raise EngineError(f"tensorrt backend has no precision {precision!r}; use auto, fp16, bf16 or fp32")
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise EngineError("this GPU has no bf16; use --precision fp16 or fp32")
    return precision


def create(model, precision: str = "auto", max_batch: int = 8) -> TensorRTEngine:
    ok, why = available()
    if not ok:
        raise EngineError(f"tensorrt backend unavailable: {why}")
    from ..onnx_export import model_resolution

    precision = resolve_precision(precision)
    engine, _ = load_or_build(model, precision, int(max_batch))
    return TensorRTEngine(engine, model_resolution(model), int(max_batch), precision)
