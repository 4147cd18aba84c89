"""Every usable backend renders what the torch fp32 graph renders (tiny random model).

fp32 backends: uint8 within one level (float outputs within 1e-3 where the engine exposes them);
bf16/fp16 backends: PSNR >= 30 dB on the uint8 frames; int8: PSNR >= INT8_PSNR (its quality gate on the
full-width model is a benchmark: tools/int8_quality.py).
"""

import shutil
import sys

import numpy as np
import pytest
import torch

from engine.backends import create_engine, list_backends
from engine.errors import EngineError, NoSuchPrecision
from engine.graph import build_generator

USABLE = {name for name, ok, _ in list_backends() if ok}
# torch fp16 runs on CUDA or MPS, openvino fp16 on an Intel GPU/NPU: each skips where its hardware is missing.
CASES = [("torch", "fp32"), ("torch", "bf16"), ("torch", "fp16"), ("openvino", "fp32"), ("openvino", "bf16"),
         ("openvino", "fp16"), ("openvino", "int8"), ("tensorrt", "fp32"), ("tensorrt", "fp16")]
INT8_PSNR = 28.0  # 33 dB here (AVX-512 VNNI); margin for other CPUs' int8 kernels
MAX_BATCH = 4
BATCH = 7  # one full chunk and a short tail (padded by static-shape backends)


@pytest.fixture(scope="module", autouse=True)
def engine_cache(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "live-cache"  # shared with test_onnx_export.py: one export
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIVE_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def reference(tiny_model_dir):
    gen = build_generator(tiny_model_dir)
    rng = np.random.default_rng(42)
    t = np.linspace(0.3, 1.0, BATCH, dtype=np.float32)
    # z as the walker makes it: within +-2 truncation (untruncated z at low truncation saturates the image and
    # then any rounding flips whole pixels, which says nothing about a backend)
    z = (np.clip(rng.standard_normal((BATCH, 128)), -2, 2) * t[:, None]).astype(np.float32)
    c = np.zeros((BATCH, 1000), np.float32)
    c[np.arange(BATCH), rng.integers(0, 1000, BATCH)] = 1.0
    with torch.no_grad():
        args = [torch.from_numpy(a) for a in (z, c, t)]
        return (z, c, t), gen(*args).numpy(), gen.forward_float(*args).numpy()


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def make(backend, precision, model):
    if backend not in USABLE:
        pytest.skip(f"{backend} backend not usable here: {dict((n, w) for n, _, w in list_backends())[backend]}")
    try:
        return create_engine(model, backend=backend, precision=precision, max_batch=MAX_BATCH)
    except NoSuchPrecision as exc:  # e.g. fp16 on a CPU: the hardware lacks it. Any other failure (int8 without
        pytest.skip(str(exc))       # NNCF, a quantization that breaks) is a failure, not a skip.


@pytest.mark.parametrize("backend,precision", CASES, ids=[f"{b}-{p}" for b, p in CASES])
def test_backend_matches_torch_fp32(backend, precision, tiny_model_dir, reference):
    (z, c, t), ref_u8, ref_float = reference
    engine = make(backend, precision, tiny_model_dir)
    try:
        out = engine.render(z, c, t)
        assert out.shape == ref_u8.shape and out.dtype == np.uint8
        assert engine.resolution == 128 and engine.max_batch == MAX_BATCH
        if precision == "fp32":
            diff = np.abs(out.astype(np.int16) - ref_u8.astype(np.int16))
            assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
            if hasattr(engine, "render_float"):
                assert np.abs(engine.render_float(z, c, t) - ref_float).max() <= 1e-3
        else:
            assert psnr(out, ref_u8) >= (INT8_PSNR if precision == "int8" else 30.0)
        # batch-size independence: a single frame equals its row of the batch (padding leaks nothing)
        one = engine.render(z[3:4], c[3:4], t[3:4])
        if precision == "fp32":
            assert np.abs(one.astype(np.int16) - out[3:4].astype(np.int16)).max() <= 1
        else:
            assert psnr(one, out[3:4]) >= (INT8_PSNR if precision == "int8" else 30.0)
    finally:
        engine.close()


def test_openvino_precision_choice():
    pytest.importorskip("openvino")
    from engine.backends.openvino_backend import choose_precision

    assert choose_precision("auto", {"FP32", "BF16"}) == "bf16"
    assert choose_precision("auto", {"FP32"}) == "f32"
    assert choose_precision("fp32", {"FP32", "BF16"}) == "f32"
    with pytest.raises(EngineError, match="no bf16"):
        choose_precision("bf16", {"FP32"})
    with pytest.raises(EngineError):
        choose_precision("int3", {"FP32"})


def test_openvino_second_start_uses_the_model_cache(tiny_model_dir, reference):
    engine = make("openvino", "fp32", tiny_model_dir)
    engine.close()
    engine = make("openvino", "fp32", tiny_model_dir)  # same settings: the compiled blobs are imported
    try:
        assert all(compiled.get_property("LOADED_FROM_CACHE") for compiled, _ in engine._compiled.values())
    finally:
        engine.close()


@pytest.mark.parametrize("damage", ["blobs", "everything"])
def test_openvino_survives_a_corrupt_cache(damage, tiny_model_dir, reference, engine_cache, tmp_path, monkeypatch):
    (z, c, t), ref_u8, _ = reference
    make("openvino", "fp32", tiny_model_dir).close()  # make sure export, IR and blobs exist
    cache = tmp_path / "cache"
    shutil.copytree(engine_cache, cache)  # damage a private copy, not the module's shared cache
    monkeypatch.setenv("LIVE_CACHE_DIR", str(cache))
    for path in (cache / "openvino").rglob("*"):
        if path.is_file() and (damage == "everything" or path.suffix == ".blob"):
            path.chmod(0o644)
            path.write_bytes(b"garbage" * 100)
    if damage == "everything":
        for onnx_file in (cache / "onnx").glob("*.onnx"):
            onnx_file.write_bytes(onnx_file.read_bytes()[:1000])  # truncated export
    engine = make("openvino", "fp32", tiny_model_dir)
    try:
        out = engine.render(z[:2], c[:2], t[:2])
        assert np.abs(out.astype(np.int16) - ref_u8[:2].astype(np.int16)).max() <= 1
    finally:
        engine.close()


def test_openvino_failure_that_is_not_corruption_keeps_the_cache(tiny_model_dir, engine_cache, monkeypatch):
    """A compile error with every cached file intact (a device plugin, memory...) is one line; nothing is deleted."""
    from engine.backends import openvino_backend

    make("openvino", "fp32", tiny_model_dir).close()
    before = {p: p.stat().st_mtime_ns for p in engine_cache.rglob("*") if p.is_file()}

    class Core:  # OpenVINO's Core with a compile that fails for a reason other than our files
        def __init__(self):
            import openvino as ov

            self._core = ov.Core()

        def __getattr__(self, name):
            return getattr(self._core, name)

        def compile_model(self, *args, **kw):
            raise RuntimeError("Exception from src/plugins/intel_cpu: out of memory")

    monkeypatch.setattr(openvino_backend, "_core", Core)
    with pytest.raises(EngineError, match="out of memory.*intact and kept") as info:
        openvino_backend.create(tiny_model_dir, "fp32", MAX_BATCH, "CPU")
    assert "\n" not in str(info.value)
    after = {p: p.stat().st_mtime_ns for p in engine_cache.rglob("*") if p.is_file()}
    assert after == before  # not one file rebuilt or removed


def test_a_broken_int8_build_fails_instead_of_skipping(tiny_model_dir, tmp_path, monkeypatch):
    if "openvino" not in USABLE:
        pytest.skip("openvino backend not usable here")
    monkeypatch.setenv("LIVE_CACHE_DIR", str(tmp_path))  # nothing cached: it has to quantize
    monkeypatch.setitem(sys.modules, "nncf", None)  # `import nncf` fails, as without the extra
    with pytest.raises(EngineError, match="needs NNCF"):  # not pytest's Skipped: make() lets it through
        make("openvino", "int8", tiny_model_dir)
