"""TensorRT backend: cache key, timing cache, availability and the cache policy (pure Python with TensorRT faked,
run everywhere); engine tests need CUDA + TensorRT."""

import sys
import types

import numpy as np
import pytest

from core.files import atomic_output, write_bytes_atomic
from engine import sealed
from engine.backends import tensorrt_backend as trt_backend
from engine.backends import tensorrt_build as trt_build
from engine.backends import tensorrt_cache as trt_keys
from engine.errors import EngineError

FIELDS = dict(fingerprint="a" * 20, resolution=256, max_batch=8, precision="fp16", trt_version="10.7.0",
              gpu_name="NVIDIA GeForce RTX 4090", capability=(8, 9), exporter="e1-torch2.13.0",
              flavour="tensorrt_cu12_bindings")


def fields(**change):
    return trt_keys.key_fields(**{**FIELDS, **change})


def test_engine_key_is_stable_and_covers_every_input():
    base = trt_keys.engine_key(fields())
    assert base == trt_keys.engine_key(fields())  # deterministic across calls (and processes: no hash())
    changes = dict(fingerprint="b" * 20, resolution=512, max_batch=4, precision="fp32", trt_version="10.8.0",
                   gpu_name="NVIDIA A100", capability=(8, 0), exporter="e2-torch2.13.0",
                   flavour="tensorrt_cu13_bindings")
    keys = {name: trt_keys.engine_key(fields(**{name: value})) for name, value in changes.items()}
    assert base not in keys.values() and len(set(keys.values())) == len(keys)


def test_engine_and_timing_cache_paths(tmp_path):
    path = trt_keys.engine_path(fields(), tmp_path)
    assert path.parent == tmp_path and path.suffix == ".engine"
    assert "256" in path.name and "fp16" in path.name and "b8" in path.name
    assert trt_keys.engine_key(fields()) in path.name
    timing = trt_keys.timing_cache_path(fields(), tmp_path)
    # one timing cache per GPU model + TensorRT version + wheel flavour, shared by every model and batch profile
    assert timing == trt_keys.timing_cache_path(fields(fingerprint="c" * 20, max_batch=1), tmp_path)
    assert timing != trt_keys.timing_cache_path(fields(gpu_name="NVIDIA A100"), tmp_path)
    assert timing != trt_keys.timing_cache_path(fields(trt_version="10.8.0"), tmp_path)
    # cu12 and cu13 bindings report the same __version__: they must not share a timing cache
    assert timing != trt_keys.timing_cache_path(fields(flavour="tensorrt_cu13_bindings"), tmp_path)


def test_flavour_and_gpu_checks():
    assert trt_keys.flavour_cuda_major("tensorrt_cu13_bindings") == 13
    assert trt_keys.flavour_cuda_major("tensorrt_cu12_bindings") == 12
    assert trt_keys.flavour_cuda_major("") is None
    gpu = "NVIDIA RTX 3060"
    assert trt_keys.gpu_problem("tensorrt_cu12_bindings", 12020, (8, 6), gpu) == ""
    assert "r580" in trt_keys.gpu_problem("tensorrt_cu13_bindings", 12020, (8, 6), gpu)  # r535 driver
    assert trt_keys.gpu_problem("tensorrt_cu13_bindings", 13000, (8, 6), gpu) == ""
    assert "Turing" in trt_keys.gpu_problem("tensorrt_cu12_bindings", 12020, (7, 0), "Tesla V100")
    assert trt_keys.gpu_problem("tensorrt_cu12_bindings", None, (8, 9), gpu) == ""  # unknown driver: try it
    assert "tensorrt" not in trt_keys.flavour("numpy")  # flavour is read from the installed distributions


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

    trt_backend.available.cache_clear()
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
    else:  # a GPU machine: usable, or a reason naming this GPU
        ok, why = got
        name = torch.cuda.get_device_name(0)
        assert why == f"TensorRT {tensorrt.__version__} on {name}" if ok else name in why or "driver" in why


def _cuda_fails():
    raise RuntimeError("driver too old")


@pytest.mark.parametrize("version, cuda, expected", [
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
    trt_backend.available.cache_clear()
    assert trt_backend.available() == expected
    trt_backend.available.cache_clear()


class FakeTimingConfig:
    """The three IBuilderConfig calls the timing cache uses, with TensorRT's documented return values."""

    def __init__(self, accept_blob=True, corrupt=False):
        self.accept_blob, self.corrupt, self.cache = accept_blob, corrupt, None

    def create_timing_cache(self, blob):
        if blob and self.corrupt:
            return None  # a corrupt blob comes back as None, not an exception
        return types.SimpleNamespace(blob=bytes(blob), serialize=lambda: b"TIMING")

    def set_timing_cache(self, cache, ignore_mismatch):
        ok = not cache.blob or self.accept_blob  # False on a mismatch (another GPU or TensorRT)
        self.cache = cache if ok else None
        return ok

    def get_timing_cache(self):
        return self.cache


@pytest.mark.parametrize("accept,corrupt", [(True, False), (False, False), (True, True)])
def test_timing_cache_mismatch_or_corruption_starts_fresh(tmp_path, accept, corrupt):
    timing = tmp_path / "timing.cache"
    timing.write_bytes(b"OLD")
    config = FakeTimingConfig(accept_blob=accept, corrupt=corrupt)
    trt_build._timing_cache(config, timing)
    assert config.cache is not None and config.cache.blob == (b"OLD" if accept and not corrupt else b"")
    trt_build._save_timing_cache(config, timing)  # a build that succeeded is never reported as failed
    assert timing.read_bytes() == b"TIMING"
    config.cache = None  # get_timing_cache() -> None: nothing to save, no AttributeError
    trt_build._save_timing_cache(config, timing)


def test_available_creates_a_builder(monkeypatch):
    """A wheel that imports but cannot start (wrong flavour, old driver) is not usable: auto moves on."""
    import torch

    class Logger:
        WARNING = 2

        def __init__(self, level):
            pass

    def fake_trt(builder):
        return types.SimpleNamespace(__version__="10.99.0", Builder=builder, Runtime=lambda logger: object(),
                                     Logger=Logger)

    def broken_builder(logger):
        raise RuntimeError("CUDA initialization failure with error: 35")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *_: (8, 6))
    monkeypatch.setattr(trt_keys, "cuda_driver_version", lambda: 12040)
    monkeypatch.setattr(trt_build, "_LOGGER", None)
    monkeypatch.setattr(trt_build, "_RUNTIME", None)
    for builder, usable in ((broken_builder, False), (lambda logger: object(), True)):
        monkeypatch.setitem(sys.modules, "tensorrt", fake_trt(builder))
        trt_backend.available.cache_clear()
        ok, why = trt_backend.available()
        assert ok == usable
        assert ("error: 35" in why) if not usable else why == "TensorRT 10.99.0 on Fake GPU"
        monkeypatch.setattr(trt_build, "_LOGGER", None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *_: (6, 1))  # Pascal: no TensorRT 10
    trt_backend.available.cache_clear()
    assert trt_backend.available() == (False, "Fake GPU is compute 6.1; TensorRT 10 needs 7.5 (Turing) or newer")
    trt_backend.available.cache_clear()


def test_precisions():
    assert trt_backend.resolve_precision("auto") == "fp16"
    assert trt_backend.resolve_precision("fp32") == "fp32"
    with pytest.raises(EngineError, match="not bf16"):
        trt_backend.resolve_precision("bf16")


@pytest.fixture
def fake_tensorrt(monkeypatch, tmp_path, tiny_model_dir):
    """TensorRT and the GPU faked: load_or_build's cache logic runs as is. Yields (builds, exports, plan)."""
    import torch

    from engine import onnx_export

    monkeypatch.setenv("LIVE_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.99.0"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *_: (8, 6))
    exports, builds = [], []
    monkeypatch.setattr(onnx_export, "export_onnx", lambda model, variant, force=False: exports.append(
        (variant, force)) or tmp_path / f"{variant}.onnx")
    plan = {"fail": None, "load": None}

    def fake_build(onnx_path, precision, max_batch, timing_path):
        builds.append((onnx_path.name, precision, max_batch))
        if plan["fail"]:
            exc, plan["fail"] = plan["fail"], None
            raise exc
        return b"PLAN" + bytes(100)

    def fake_deserialize(data):
        if plan["load"]:
            raise plan["load"]
        if data.startswith(b"OLD"):
            raise trt_build._NotOurs()
        return "engine" if data.startswith(b"PLAN") else None

    monkeypatch.setattr(trt_build, "build_plan", fake_build)
    monkeypatch.setattr(trt_build, "deserialize", fake_deserialize)
    return builds, exports, plan


def test_load_or_build_logic_with_a_fake_tensorrt(fake_tensorrt, tmp_path, tiny_model_dir):
    """Cache hit, corrupt/stale rebuild, parse-error re-export and crash safety."""
    builds, exports, plan = fake_tensorrt
    engine, path = trt_build.load_or_build(tiny_model_dir, "fp16", 8)
    assert engine == "engine" and path.read_bytes().startswith(b"PLAN") and sealed.intact(path)
    assert builds == [("pixels-fp16.onnx", "fp16", 8)] and exports == [("pixels-fp16", False)]
    assert trt_build.load_or_build(tiny_model_dir, "fp16", 8) == ("engine", path) and len(builds) == 1
    path.write_bytes(b"\x00garbage")  # corrupt: rebuilt, not a crash
    assert trt_build.load_or_build(tiny_model_dir, "fp16", 8) == ("engine", path) and len(builds) == 2
    write_bytes_atomic(path, b"OLD layout")  # an engine of another layout, sealed: stale, rebuilt
    sealed.seal(path)
    assert trt_build.load_or_build(tiny_model_dir, "fp16", 8) == ("engine", path) and len(builds) == 3
    other = trt_build.load_or_build(tiny_model_dir, "fp16", 1)[1]  # another profile: another file
    assert other != path and len(builds) == 4
    plan["fail"] = trt_build._ParseError("cannot parse")  # damaged export: re-exported once, then built
    trt_build.load_or_build(tiny_model_dir, "fp32", 8)
    assert exports[-2:] == [("pixels", False), ("pixels", True)]
    plan["fail"] = RuntimeError("out of memory")  # a crashed build: one line, nothing under the final name
    with pytest.raises(EngineError, match="out of memory"):
        trt_build.load_or_build(tiny_model_dir, "fp16", 2)
    assert not list(tmp_path.glob("tensorrt/*b2-*")) and not list(tmp_path.glob("tensorrt/.*.part"))


@pytest.mark.parametrize("failure", ["rejected", "raises"])
def test_an_intact_engine_that_fails_to_load_is_kept(fake_tensorrt, tiny_model_dir, failure):
    """Out of GPU memory or a CUDA error is not the file's fault: one line, no rebuild, the engine file kept."""
    builds, _, plan = fake_tensorrt
    _, path = trt_build.load_or_build(tiny_model_dir, "fp16", 8)
    if failure == "rejected":  # deserialize_cuda_engine returned None for a file that is exactly what we built
        data = b"NOPE" + bytes(100)
        write_bytes_atomic(path, data)
        sealed.seal(path)
    else:
        plan["load"] = RuntimeError("CUDA error: out of memory")
    with pytest.raises(EngineError, match="intact and kept") as info:
        trt_build.load_or_build(tiny_model_dir, "fp16", 8)
    assert "\n" not in str(info.value) and path.is_file() and sealed.intact(path) and len(builds) == 1


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
    _, path = trt_build.load_or_build(tiny_model_dir, "fp16", 2)
    stamp = path.stat().st_mtime_ns
    _, again = trt_build.load_or_build(tiny_model_dir, "fp16", 2)
    assert again == path and path.stat().st_mtime_ns == stamp  # loaded, not rebuilt
    assert trt_keys.timing_cache_path(trt_fields(tiny_model_dir, 2)).is_file()
    path.write_bytes(path.read_bytes()[:4096])  # truncated engine
    engine, rebuilt = trt_build.load_or_build(tiny_model_dir, "fp16", 2)
    assert rebuilt == path and engine is not None and path.stat().st_size > 4096
    assert not list(path.parent.glob(".*.part"))


def trt_fields(model, max_batch):
    import tensorrt as trt
    import torch

    from engine.onnx_export import exporter_tag, model_fingerprint

    return trt_keys.key_fields(model_fingerprint(model), 128, max_batch, "fp16", trt.__version__,
                                  torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0),
                                  exporter_tag(), trt_keys.flavour())
