"""TensorRT backend (CUDA): a strongly typed engine built from our ONNX export (tensorrt_build), cached on disk.

I/O buffers are torch CUDA tensors allocated once; the engine writes float pixels (0..255, rounded) and the
uint8 cast runs on the GPU. After two eager runs at one batch size the enqueue + cast is captured into a CUDA
graph, kept only if its replay matches the eager output bit for bit.
Precisions: fp16 (auto) and fp32 (TF32 off). No bf16: a bfloat16 Conv is ONNX only from opset 22, which our
exporter and TensorRT's parser do not share; fp16 is as fast on every GPU TensorRT 10 supports.
"""

from __future__ import annotations

import functools
import logging
import threading

import numpy as np

from core.errors import first_line

from ..errors import EngineError, NoSuchPrecision
from . import tensorrt_cache as keys
from .base import BaseEngine
from .tensorrt_build import INPUTS, OUTPUT, VARIANTS, load_or_build, runtime, trt_logger

NAME = "tensorrt"
DEVICES = ("cuda",)
PRECISIONS = ("fp16", "fp32")
log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def available() -> tuple[bool, str]:
    """Usable only when the bindings import, the GPU and driver fit the wheels, and a Builder and a Runtime
    can actually be created (a wrong-flavour wheel or a driver too old fails right there)."""
    try:
        import tensorrt as trt
    except ImportError:
        return False, "tensorrt not installed"
    except Exception as exc:  # the bindings import but their libraries do not load
        return False, f"tensorrt failed to load ({first_line(exc)})"
    if int(trt.__version__.split(".")[0]) < 10:
        return False, f"TensorRT {trt.__version__} is too old (need 10 or newer)"
    try:
        import torch

        if not torch.cuda.is_available():
            return False, "no CUDA device"
        name, cap = torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0)
    except Exception as exc:
        return False, f"CUDA check failed ({type(exc).__name__})"
    problem = keys.gpu_problem(keys.flavour(), keys.cuda_driver_version(), cap, name)
    if problem:
        return False, problem
    try:
        if trt.Builder(trt_logger()) is None:
            return False, "TensorRT could not create a builder (CUDA driver or GPU not supported)"
        runtime()
    except Exception as exc:
        return False, f"TensorRT cannot start on {name} ({first_line(exc)})"
    return True, f"TensorRT {trt.__version__} on {name}"


def devices() -> list[tuple[str, bool, str]]:
    ok, why = available()
    return [("cuda", ok, why)]


class TensorRTEngine(BaseEngine):
    def __init__(self, engine, resolution: int, max_batch: int, precision: str, cuda_graph: bool = True):
        import torch

        self.name, self.resolution, self.max_batch = f"tensorrt-{precision}", int(resolution), int(max_batch)
        self.device, self.precision, self.cuda_graph = "cuda", precision, cuda_graph
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
        self._stream.wait_stream(torch.cuda.current_stream())  # the zero fills above run on the default stream
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
    if precision in (None, "", "auto"):
        return "fp16"
    if precision == "bf16":
        raise NoSuchPrecision("the tensorrt backend runs fp16 or fp32, not bf16 (use --precision fp16, or "
                          "--backend torch --precision bf16)")
    if precision not in VARIANTS:
        raise EngineError(f"tensorrt backend has no precision {precision!r}; use auto, fp16 or fp32")
    return precision


def create(model, precision: str = "auto", max_batch: int = 8, device: str = "cuda") -> TensorRTEngine:
    from ..onnx_export import model_resolution

    if device not in (None, "auto", "cuda"):
        raise EngineError(f"the tensorrt backend runs on cuda, not {device!r}")
    ok, why = available()
    if not ok:
        raise EngineError(f"tensorrt backend unavailable: {why}")
    if hasattr(model, "inputs"):  # its bindings are BigGAN's z, c, t
        raise EngineError("the tensorrt backend runs BigGAN models only; use --backend torch for a StyleGAN pickle")
    precision = resolve_precision(precision)
    engine, _ = load_or_build(model, precision, int(max_batch))
    return TensorRTEngine(engine, model_resolution(model), int(max_batch), precision)
