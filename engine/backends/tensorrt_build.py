"""Build, cache and load TensorRT engines.

- Precision lives in the ONNX graph (export variant "pixels-fp16": fp16 body, f32 head), built with
  STRONGLY_TYPED: the TensorRT 10.12+ way; the weak FP16 builder flag is deprecated and gone in 11.
- One optimisation profile over the batch: min 1, opt = max = max_batch.
- The plan is cached under a key of everything that changes it (tensorrt_cache), sealed with its digest. A
  cached plan that does not load is rebuilt only when it is corrupt (digest differs) or not ours (wrong I/O);
  an intact one that fails (out of GPU memory, CUDA error) is reported and kept: a rebuild takes minutes.
- A timing cache per GPU / TensorRT version / wheel flavour makes rebuilds fast.
"""

from __future__ import annotations

import logging
from pathlib import Path

from core.dims import NUM_CLASSES, Z_DIM
from core.errors import first_line
from core.files import write_bytes_atomic

from .. import progress, sealed
from ..errors import EngineError
from . import tensorrt_cache as keys

WORKSPACE_BYTES = 2 << 30
VARIANTS = {"fp16": "pixels-fp16", "fp32": "pixels"}
INPUTS = {"z": (Z_DIM,), "c": (NUM_CLASSES,), "t": ()}
OUTPUT = "pixels"
log = logging.getLogger(__name__)
_LOGGER = _RUNTIME = None


class _ParseError(EngineError):
    pass


class _NotOurs(Exception):
    """A plan that deserialises to an engine with other inputs/outputs (an older layout): stale."""


def trt_logger():
    global _LOGGER
    import tensorrt as trt

    if _LOGGER is None:  # TensorRT wants one logger per process
        _LOGGER = trt.Logger(trt.Logger.WARNING)
    return _LOGGER


def runtime():
    global _RUNTIME
    import tensorrt as trt

    if _RUNTIME is None:  # one per process; it must outlive the engines it deserialises
        _RUNTIME = trt.Runtime(trt_logger())
        if _RUNTIME is None:
            raise EngineError("TensorRT could not create its runtime (CUDA driver?)")
    return _RUNTIME


def _timing_cache(config, timing_path: Path):
    """A timing cache from the file, or a fresh one when it is unreadable or from another TensorRT/GPU."""
    blob = b""
    try:
        blob = timing_path.read_bytes() if timing_path.is_file() else b""
    except OSError:
        pass
    cache = config.create_timing_cache(blob) if blob else None  # a corrupt blob gives None, not an exception
    if cache is not None and config.set_timing_cache(cache, ignore_mismatch=False):
        return
    if blob:
        log.warning("TensorRT timing cache %s does not fit this GPU/TensorRT; starting a fresh one", timing_path.name)
    if not config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False):
        log.warning("TensorRT refused an empty timing cache; building without one")


def _save_timing_cache(config, timing_path: Path) -> None:
    cache = config.get_timing_cache()  # None when no timing cache was set
    if cache is None:
        return
    try:
        write_bytes_atomic(timing_path, bytes(memoryview(cache.serialize())))
    except Exception as exc:  # only a speed-up for the next build
        log.warning("could not save the TensorRT timing cache (%s)", first_line(exc))


def build_plan(onnx_path: Path, precision: str, max_batch: int, timing_path: Path) -> bytes:
    """Parse the ONNX export and build a serialized engine (bytes); updates the timing cache file."""
    import tensorrt as trt

    logger = trt_logger()
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
    _timing_cache(config, timing_path)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineError("TensorRT engine build failed (see the TensorRT messages above); use --backend torch")
    _save_timing_cache(config, timing_path)
    return bytes(memoryview(plan))


def deserialize(data: bytes):
    """ICudaEngine from plan bytes; None if TensorRT rejects them; _NotOurs for an engine of another layout."""
    import tensorrt as trt

    engine = runtime().deserialize_cuda_engine(data)
    if engine is None:
        return None
    names = {engine.get_tensor_name(i) for i in range(engine.num_io_tensors)}
    if names != set(INPUTS) | {OUTPUT} or any(engine.get_tensor_dtype(n) != trt.float32 for n in names):
        raise _NotOurs()
    return engine


def _load_cached(path: Path):
    """The cached engine, or None when the entry is missing, corrupt or stale (then it is discarded)."""
    if not path.is_file():
        return None
    try:
        engine = deserialize(path.read_bytes())
    except _NotOurs:
        engine, why = None, "an older layout"
    except Exception as exc:  # CUDA errors, out of memory, unreadable file: not the file's fault
        if not sealed.intact(path):
            engine, why = None, f"unreadable ({first_line(exc)})"
        else:
            raise EngineError(f"TensorRT could not load its cached engine ({first_line(exc)}); the engine file is "
                              f"intact and kept ({path}); free GPU memory or use --backend torch") from None
    else:
        if engine is not None:
            return engine
        if sealed.intact(path):
            raise EngineError(f"TensorRT rejected its cached engine {path.name}, which is intact and kept (see "
                              f"the TensorRT messages above: out of GPU memory?); use --backend torch") from None
        why = "corrupt"
    log.warning("cached TensorRT engine %s is %s; rebuilding it", path.name, why)
    sealed.discard(path)
    return None


def load_or_build(model, precision: str, max_batch: int, force: bool = False):
    """(ICudaEngine, path): the cached engine for (model, precision, max_batch), built if missing/stale/corrupt."""
    import tensorrt as trt
    import torch

    from ..onnx_export import export_onnx, exporter_tag, model_fingerprint, model_resolution

    fields = keys.key_fields(model_fingerprint(model), model_resolution(model), max_batch, precision,
                             trt.__version__, torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0),
                             exporter_tag(), keys.flavour())
    path = keys.engine_path(fields)
    engine = None if force else _load_cached(path)
    if engine is not None:
        return engine, path
    what = f"building the TensorRT {precision} engine for {fields['resolution']} px, batch 1..{max_batch} (once)"
    try:
        with progress.step(what, silent_s=0):
            try:
                plan = build_plan(export_onnx(model, VARIANTS[precision]), precision, max_batch,
                                  keys.timing_cache_path(fields))
            except _ParseError:  # perhaps a damaged cached export: export again once
                plan = build_plan(export_onnx(model, VARIANTS[precision], force=True), precision, max_batch,
                                  keys.timing_cache_path(fields))
    except EngineError:
        raise
    except Exception as exc:  # CUDA init, out of memory...
        raise EngineError(f"TensorRT engine build failed ({first_line(exc)}); use --backend torch") from None
    try:
        sealed.seal(write_bytes_atomic(path, plan))
    except OSError as exc:
        log.warning("could not cache the TensorRT engine in %s (%s); it is rebuilt next time", path, exc)
    try:
        engine = deserialize(plan)
    except Exception as exc:
        raise EngineError(f"TensorRT could not load the engine it just built ({first_line(exc)}); "
                          f"use --backend torch") from None
    if engine is None:
        raise EngineError("TensorRT could not load the engine it just built; use --backend torch")
    return engine, path
