"""TensorRT backend: cache key and atomic writes (pure Python, run everywhere); engine tests need CUDA + TensorRT."""

import numpy as np
import pytest

from core.files import atomic_output, write_bytes_atomic
from engine.backends import tensorrt_backend as trt_backend
from engine.errors import EngineError

FIELDS = dict(fingerprint="a" * 20, resolution=256, max_batch=8, precision="fp16", trt_version="10.7.0",
              gpu_name="NVIDIA GeForce RTX 4090", capability=(8, 9), exporter="e1-torch2.13.0")


def fields(**change):
    return trt_backend.key_fields(**{**FIELDS, **change})


def test_engine_key_is_stable_and_covers_every_input():
    base = trt_backend.engine_key(fields())
    assert base == trt_backend.engine_key(fields())  # deterministic across calls (and processes: no hash())
    changes = dict(fingerprint="b" * 20, resolution=512, max_batch=4, precision="fp32", trt_version="10.8.0",
                   gpu_name="NVIDIA A100", capability=(8, 0), exporter="e2-torch2.13.0")
    keys = {name: trt_backend.engine_key(fields(**{name: value})) for name, value in changes.items()}
    assert base not in keys.values() and len(set(keys.values())) == len(keys)


def test_engine_and_timing_cache_paths(tmp_path):
    path = trt_backend.engine_path(fields(), tmp_path)
    assert path.parent == tmp_path and path.suffix == ".engine"
    assert "256" in path.name and "fp16" in path.name and "b8" in path.name
    assert trt_backend.engine_key(fields()) in path.name
    timing = trt_backend.timing_cache_path(fields(), tmp_path)
    # one timing cache per GPU model + TensorRT version, shared by every model and batch profile
    assert timing == trt_backend.timing_cache_path(fields(fingerprint="c" * 20, max_batch=1), tmp_path)
    assert timing != trt_backend.timing_cache_path(fields(gpu_name="NVIDIA A100"), tmp_path)
    assert timing != trt_backend.timing_cache_path(fields(trt_version="10.8.0"), tmp_path)


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "sub" / "x.engine"
    write_bytes_atomic(target, b"old")
    write_bytes_atomic(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in target.parent.iterdir()] == ["x.engine"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "x.engine"
    target.write_bytes(b"good engine")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half an eng")
            assert not target.read_bytes().startswith(b"half")  # final name untouched while writing
            raise RuntimeError("build crashed")
    assert target.read_bytes() == b"good engine"
    assert [p.name for p in tmp_path.iterdir()] == ["x.engine"]


def test_available_says_why_on_this_machine():
    """The exact answer for this machine, derived independently: the reason it is unusable, or the
    version and GPU it will use."""
    import torch

    got = trt_backend.available()
    try:
        import tensorrt
    except ImportError:
        assert got == (False, "tensorrt not installed")
        return
    if int(tensorrt.__version__.split(".")[0]) < 10:
        assert got == (False, f"TensorRT {tensorrt.__version__} is too old (need 10 or newer)")
    elif not torch.cuda.is_available():
        assert got == (False, "no CUDA device")
    else:
        assert got == (True, f"TensorRT {tensorrt.__version__} on {torch.cuda.get_device_name(0)}")


def _cuda_fails():
    raise RuntimeError("driver too old")


@pytest.mark.parametrize("version, cuda, expected", [
    ("10.7.0", lambda: True, (True, "TensorRT 10.7.0 on Fake GPU")),
    ("10.7.0", lambda: False, (False, "no CUDA device")),
    ("8.6.1", lambda: True, (False, "TensorRT 8.6.1 is too old (need 10 or newer)")),
    ("10.7.0", _cuda_fails, (False, "CUDA check failed (RuntimeError)")),
])
def test_available_says_why_for_each_case(monkeypatch, version, cuda, expected):
    import sys
    import types

    import torch

    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__=version))
    monkeypatch.setattr(torch.cuda, "is_available", cuda)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Fake GPU")
    assert trt_backend.available() == expected


def test_load_or_build_logic_with_a_fake_tensorrt(monkeypatch, tmp_path, tiny_model_dir):
    """Cache hit, stale/corrupt rebuild, parse-error re-export and crash safety, with TensorRT itself faked."""
    import sys
    import types

    import torch

    from engine import onnx_export

    monkeypatch.setenv("LIVE_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.99.0"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *_: (8, 6))
    exports, builds = [], []
    monkeypatch.setattr(onnx_export, "export_onnx", lambda model, variant, force=False: exports.append(
        (variant, force)) or tmp_path / f"{variant}.onnx")
    plan = {"fail": None}

    def fake_build(onnx_path, precision, max_batch, timing_path):
        builds.append((onnx_path.name, precision, max_batch))
        if plan["fail"]:
            exc, plan["fail"] = plan["fail"], None
            raise exc
        return b"PLAN" + bytes(100)

    monkeypatch.setattr(trt_backend, "build_plan", fake_build)
    monkeypatch.setattr(trt_backend, "_deserialize", lambda data: "engine" if data.startswith(b"PLAN") else None)

    engine, path = trt_backend.load_or_build(tiny_model_dir, "fp16", 8)
    assert engine == "engine" and path.read_bytes().startswith(b"PLAN")
    assert builds == [("pixels-fp16.onnx", "fp16", 8)] and exports == [("pixels-fp16", False)]
    assert trt_backend.load_or_build(tiny_model_dir, "fp16", 8) == ("engine", path) and len(builds) == 1
    path.write_bytes(b"\x00garbage")  # corrupt or from another TensorRT: rebuilt, not a crash
    assert trt_backend.load_or_build(tiny_model_dir, "fp16", 8) == ("engine", path) and len(builds) == 2
    other = trt_backend.load_or_build(tiny_model_dir, "fp16", 1)[1]  # another profile: another file
    assert other != path and len(builds) == 3
    plan["fail"] = trt_backend._ParseError("cannot parse")  # damaged export: re-exported once, then built
    trt_backend.load_or_build(tiny_model_dir, "fp32", 8)
    assert exports[-2:] == [("pixels", False), ("pixels", True)]
    plan["fail"] = RuntimeError("out of memory")  # a crashed build: one line, nothing under the final name
    with pytest.raises(EngineError, match="out of memory"):
        trt_backend.load_or_build(tiny_model_dir, "bf16", 8)
    assert not list(tmp_path.glob("tensorrt/*bf16*")) and not list(tmp_path.glob("tensorrt/.*.part"))


# ---- real engines: only with TensorRT and a CUDA GPU ----------------------------------------------------------

OK, WHY = trt_backend.available()
gpu = pytest.mark.skipif(not OK, reason=f"TensorRT engine tests need TensorRT + CUDA: {WHY}")


@pytest.fixture(scope="module")
def trt_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("trt-cache")
        mp.setenv("LIVE_CACHE_DIR", str(path))
        yield path


def frames(tiny_model_dir, batch, seed=0):
    import torch

    from engine.graph import build_generator

    rng = np.random.default_rng(seed)
    t = np.linspace(0.3, 1.0, batch, dtype=np.float32)
    z = (np.clip(rng.standard_normal((batch, 128)), -2, 2) * t[:, None]).astype(np.float32)
    c = np.zeros((batch, 1000), np.float32)
    c[np.arange(batch), rng.integers(0, 1000, batch)] = 1.0
    with torch.no_grad():
        ref = build_generator(tiny_model_dir)(*(torch.from_numpy(a) for a in (z, c, t))).numpy()
    return (z, c, t), ref


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@gpu
def test_fp16_engine_parity_batches_and_cuda_graph(tiny_model_dir, trt_cache):
    (z, c, t), ref = frames(tiny_model_dir, 6)
    engine = trt_backend.create(tiny_model_dir, "fp16", 4)
    try:
        assert engine.name == "tensorrt-fp16"
        out = engine.render(z, c, t)  # 4 + tail of 2 (shape change, eager)
        assert out.shape == ref.shape and psnr(out, ref) >= 30.0
        runs = [engine.render(z[:4], c[:4], t[:4]) for _ in range(4)]  # eager, eager+capture, graph, graph
        for r in runs:
            assert np.array_equal(r, runs[0])
        assert np.array_equal(runs[0], out[:4])
        one = engine.render(z[5:6], c[5:6], t[5:6])  # shape change drops the graph
        assert psnr(one, ref[5:6]) >= 30.0
    finally:
        engine.close()


@gpu
def test_fp32_engine_within_one_level(tiny_model_dir, trt_cache):
    (z, c, t), ref = frames(tiny_model_dir, 3, seed=1)
    engine = trt_backend.create(tiny_model_dir, "fp32", 4)
    try:
        diff = np.abs(engine.render(z, c, t).astype(np.int16) - ref.astype(np.int16))
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    finally:
        engine.close()


@gpu
def test_cached_engine_is_reused_and_corrupt_one_rebuilt(tiny_model_dir, trt_cache):
    _, path = trt_backend.load_or_build(tiny_model_dir, "fp16", 2)
    stamp = path.stat().st_mtime_ns
    _, again = trt_backend.load_or_build(tiny_model_dir, "fp16", 2)
    assert again == path and path.stat().st_mtime_ns == stamp  # loaded, not rebuilt
    assert trt_backend.timing_cache_path(trt_fields(tiny_model_dir, 2)).is_file()
    path.write_bytes(path.read_bytes()[:4096])  # truncated engine
    engine, rebuilt = trt_backend.load_or_build(tiny_model_dir, "fp16", 2)
    assert rebuilt == path and engine is not None and path.stat().st_size > 4096
    assert not list(path.parent.glob(".*.part"))


def trt_fields(model, max_batch):
    import tensorrt as trt
    import torch

    from engine.onnx_export import exporter_tag, model_fingerprint

    return trt_backend.key_fields(model_fingerprint(model), 128, max_batch, "fp16", trt.__version__,
                                  torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0),
                                  exporter_tag())
