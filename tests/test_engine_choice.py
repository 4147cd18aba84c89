"""How an engine is chosen: auto's chain, its fallbacks, explicit backends and devices, precision per device.

The chain runs with fake backend modules (every machine the chain knows, on this one); the last tests use
the real modules on this machine.
"""

import types

import numpy as np
import pytest
import torch

import engine.backends as backends
from engine import progress
from engine.errors import EngineError


class FakeEngine:
    def __init__(self, name, resolution=128, broken=False):
        self.name, self.resolution, self.broken, self.closed = name, resolution, broken, False

    def render(self, z, c, t):
        size = 4 if self.broken else self.resolution  # a broken engine renders the wrong thing
        return np.zeros((len(z), size, size, 3), np.uint8)

    def close(self):
        self.closed = True


def fake_module(name, devices, fail=(), broken=(), made=None):
    """A backend module: devices [(device, usable, why)]; create fails on `fail` devices, renders badly on `broken`."""
    def create(model, precision, max_batch, device):
        dev = device or next(d for d, ok, _ in devices if ok)
        if dev in fail:
            raise EngineError(f"{name} cannot build on {dev}")
        engine = FakeEngine(f"{name}-{dev}-{precision}", broken=dev in broken)
        if made is not None:
            made.append(engine)
        return engine

    return types.SimpleNamespace(NAME=name, devices=lambda: devices, create=create,
                                 available=lambda: (any(ok for _, ok, _ in devices), "fake"))


@pytest.fixture
def machine(monkeypatch):
    """Install fake backends; returns a function that sets what each can do. Messages are collected."""
    lines = []
    monkeypatch.setattr(progress, "sink", lines.append)
    made = []

    def setup(cuda=False, mps=False, gpu=False, npu=False, fail=(), broken=()):
        mods = {
            "tensorrt": fake_module("tensorrt", [("cuda", cuda, "no CUDA device")], fail, broken, made),
            "torch": fake_module("torch", [("cuda", cuda, ""), ("mps", mps, ""), ("cpu", True, "CPU")], fail,
                                 broken, made),
            "openvino": fake_module("openvino", [("GPU", gpu, ""), ("NPU", npu, ""), ("CPU", True, "CPU")], fail,
                                    broken, made),
        }
        monkeypatch.setattr(backends, "_module", lambda name: (mods[name], ""))
        return made

    setup.lines = lines
    return setup


def chain(**kw):
    return [f"{c.backend}:{c.device}" for c in backends.candidates(**kw)]


def test_chain_order_on_each_kind_of_machine(machine):
    machine()
    assert chain() == ["openvino:CPU", "torch:cpu"]  # a plain CPU: OpenVINO before torch
    machine(cuda=True)
    assert chain() == ["tensorrt:cuda", "torch:cuda", "openvino:CPU", "torch:cpu"]
    machine(mps=True)
    assert chain() == ["torch:mps", "openvino:CPU", "torch:cpu"]  # Apple Silicon
    machine(gpu=True, npu=True)
    assert chain() == ["openvino:GPU", "openvino:NPU", "openvino:CPU", "torch:cpu"]  # Intel laptop
    # a precision only some candidates run, a device asked for
    assert chain(precision="int8") == ["openvino:GPU", "openvino:NPU", "openvino:CPU"]
    assert chain(precision="bf16") == ["openvino:CPU", "torch:cpu"]
    assert chain(device="cpu") == ["openvino:CPU", "torch:cpu"]
    assert chain(device="GPU") == ["openvino:GPU"]
    assert chain(backend="torch") == ["torch:cpu"]


def test_auto_runs_the_first_that_works_and_says_what_failed(machine, tiny_model_dir):
    made = machine(cuda=True, fail=("cuda",))
    engine = backends.create_engine(tiny_model_dir)
    assert engine.name == "openvino-CPU-auto"
    assert [str(c) for c, _ in engine.fallbacks] == ["tensorrt on cuda", "torch on cuda"]
    assert machine.lines == ["engine: tensorrt on cuda failed (tensorrt cannot build on cuda); running "
                             "openvino-CPU-auto instead",
                             "engine: torch on cuda failed (torch cannot build on cuda); running openvino-CPU-auto "
                             "instead"]
    assert len(made) == 1


def test_auto_checks_a_frame_before_choosing(machine, tiny_model_dir):
    made = machine(gpu=True, broken=("GPU",))  # builds, but renders garbage
    engine = backends.create_engine(tiny_model_dir)
    assert engine.name == "openvino-CPU-auto" and made[0].closed  # the broken one was released
    assert "rendered (1, 4, 4, 3)" in machine.lines[0]


def raising(exc):
    def create(*args):
        raise exc
    return create


def test_auto_falls_back_on_runtime_errors_but_not_on_bugs(machine, tiny_model_dir, monkeypatch):
    machine(cuda=True)
    trt = backends._module("tensorrt")[0]
    monkeypatch.setattr(trt, "create", raising(RuntimeError("CUDA error: out of memory")))
    engine = backends.create_engine(tiny_model_dir)
    assert engine.name == "torch-cuda-auto" and "RuntimeError: CUDA error: out of memory" in machine.lines[0]
    monkeypatch.setattr(trt, "create", raising(TypeError("create() takes 3 positional arguments but 4 were given")))
    with pytest.raises(TypeError, match="positional arguments"):  # a bug in a backend is not a fallback
        backends.create_engine(tiny_model_dir)


def test_explicit_backend_failure_is_an_error(machine, tiny_model_dir):
    machine(cuda=True, fail=("cuda",))
    with pytest.raises(EngineError, match="tensorrt cannot build on cuda"):
        backends.create_engine(tiny_model_dir, backend="tensorrt")
    assert backends.create_engine(tiny_model_dir, backend="torch", device="cpu").name == "torch-cpu-auto"
    machine()
    with pytest.raises(EngineError, match="tensorrt is not usable here"):
        backends.create_engine(tiny_model_dir, backend="tensorrt")


def test_nothing_works(machine, tiny_model_dir):
    machine(fail=("CPU", "cpu"))
    with pytest.raises(EngineError, match="no engine works here: openvino on CPU: .*; torch on cpu: "):
        backends.create_engine(tiny_model_dir)
    with pytest.raises(EngineError, match="no usable backend runs precision int8 on device mps"):
        backends.create_engine(tiny_model_dir, precision="int8", device="mps")


def test_argument_errors(tiny_model_dir):
    with pytest.raises(EngineError, match="unknown backend"):
        backends.create_engine(str(tiny_model_dir), backend="cuda")
    with pytest.raises(EngineError, match="unknown precision"):
        backends.create_engine(str(tiny_model_dir), backend="torch", precision="int4")


# ---- the real modules on this machine ------------------------------------------------------------------------

def test_real_devices_here():
    rows = {(c.backend, c.device): c for c in backends.list_devices()}
    assert [key for key in rows] == list(backends.CHAIN)
    assert rows[("torch", "cpu")].usable
    if not torch.cuda.is_available():
        assert not rows[("torch", "cuda")].usable and rows[("torch", "cuda")].why == "no CUDA device"
        assert not rows[("tensorrt", "cuda")].usable
    if not torch.backends.mps.is_available():
        assert not rows[("torch", "mps")].usable and "MPS" in rows[("torch", "mps")].why


def test_torch_precision_per_device(monkeypatch):
    from engine.backends import torch_backend as tb

    assert tb.resolve_precision("auto", "cuda") == "fp16"
    assert tb.resolve_precision("auto", "mps") == "fp16"
    with pytest.raises(EngineError, match="mps runs fp16, fp32, not bf16"):
        tb.resolve_precision("bf16", "mps")
    with pytest.raises(EngineError, match="cpu runs bf16, fp32, not fp16"):
        tb.resolve_precision("fp16", "cpu")
    calls = []  # bf16 on a GPU only where it is native: is_bf16_supported must not count emulation
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: calls.append(
        including_emulation) or including_emulation)
    with pytest.raises(EngineError, match="no native bf16"):
        tb.resolve_precision("bf16", "cuda")
    assert calls == [False]
    if not torch.backends.mps.is_available():
        with pytest.raises(EngineError, match="torch device mps is not usable here"):
            tb.pick_device("mps")


def test_torch_fp32_on_cuda_turns_tf32_off_only_around_its_calls(tiny_model_dir):
    from engine.backends import torch_backend as tb
    from engine.graph import build_generator
    from tests.conftest import torch_flags

    before = torch_flags()
    with tb.ieee_fp32():
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
    assert torch_flags() == before  # a trace after it works: the flags are what torch.export expects
    assert tb.TorchEngine(build_generator(tiny_model_dir), "fp32", 1, "cpu")._precise is not tb.ieee_fp32
    # control: the flags set for good (as the backend did before) are seen as mixed, and an export fails
    torch.backends.cudnn.conv.fp32_precision = "ieee"
    try:
        assert torch_flags()["cudnn.allow_tf32"] == "mixed"
        with pytest.raises(Exception, match="TF32"):
            torch.export.export(torch.nn.Linear(2, 2), (torch.zeros(1, 2),))
    finally:
        torch.backends.cudnn.conv.fp32_precision = before["cudnn.conv"]
    assert torch_flags() == before


def test_openvino_device_and_precision_choice():
    pytest.importorskip("openvino")
    from engine.backends import openvino_backend as ovb

    assert ovb.choose_precision("auto", {"FP32", "FP16", "INT8"}, "GPU") == "f16"  # Intel GPU: fp16
    assert ovb.choose_precision("auto", {"FP16", "INT8"}, "NPU") == "f16"
    assert ovb.choose_precision("auto", {"FP32", "BF16", "INT8"}, "CPU") == "bf16"
    assert ovb.choose_precision("auto", {"FP32", "INT8"}, "CPU") == "f32"
    assert ovb.choose_precision("int8", {"FP32", "INT8"}, "CPU") == "int8"
    assert ovb.choose_precision("auto", set(), "AUTO") == "auto"
    with pytest.raises(EngineError, match="this GPU has no bf16"):
        ovb.choose_precision("bf16", {"FP32", "FP16"}, "GPU")
    gpu = ovb.compile_config("GPU", "f16", "/c")
    assert gpu == {"CACHE_DIR": "/c", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f16"}
    assert ovb.compile_config("CPU", "int8", "/c")["INFERENCE_PRECISION_HINT"] == "f32"
    assert "INFERENCE_NUM_THREADS" in ovb.compile_config("CPU", "bf16", "/c")
    assert "INFERENCE_PRECISION_HINT" not in ovb.compile_config("AUTO", "auto", "/c")
    assert ovb.pick_device("cpu") == "CPU" and ovb.pick_device("AUTO") == "AUTO"
    with pytest.raises(EngineError, match="no device 'TPU'"):
        ovb.pick_device("TPU")
    rows = dict((d, ok) for d, ok, _ in ovb.devices())
    if not rows["GPU"]:
        with pytest.raises(EngineError, match="OpenVINO device GPU is not usable here: OpenVINO sees no GPU"):
            ovb.pick_device("gpu")
