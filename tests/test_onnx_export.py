"""ONNX export of our Generator: onnxruntime reproduces the torch graph; the cache is keyed and atomic."""

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from engine import onnx_export  # noqa: E402
from engine.graph import build_generator  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def engine_cache(tmp_path_factory):
    # One cache dir per test session (shared with test_backends.py, so the export happens once), never the user's.
    path = tmp_path_factory.getbasetemp() / "live-cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIVE_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    return build_generator(tiny_model_dir)


def inputs(batch, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, 128)).astype(np.float32)
    c = np.zeros((batch, 1000), np.float32)
    c[np.arange(batch), rng.integers(0, 1000, batch)] = 0.7
    c[:, 7] += 0.3
    t = np.linspace(0.23, 1.0, batch, dtype=np.float32)  # off the 1/50 statistics grid: interpolation runs
    return z, c, t


def torch_uint8(gen, z, c, t):
    with torch.no_grad():
        return gen(torch.from_numpy(z), torch.from_numpy(c), torch.from_numpy(t)).numpy()


def run_ort(path, z, c, t):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"z": z, "c": c, "t": t})[0]


def assert_close_uint8(out, ref):
    assert out.shape == ref.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(np.int16) - ref.astype(np.int16))
    assert diff.max() <= 1  # float rounding at a .5 boundary may flip one level
    assert (diff > 0).mean() < 1e-3


def test_graph_signature(tiny_model_dir):
    model = onnx.load(str(onnx_export.export_onnx(tiny_model_dir)))
    ins = {i.name: i.type.tensor_type for i in model.graph.input}
    assert list(ins) == ["z", "c", "t"]
    assert all(t.elem_type == onnx.TensorProto.FLOAT for t in ins.values())
    assert [d.dim_value for d in ins["z"].shape.dim][1:] == [128]
    assert [d.dim_value for d in ins["c"].shape.dim][1:] == [1000]
    batch_dims = {t.shape.dim[0].dim_param for t in ins.values()}
    assert len(batch_dims) == 1 and batch_dims.pop()  # one symbolic batch axis shared by all inputs
    (out,) = model.graph.output
    assert out.name == "image" and out.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_value for d in out.type.tensor_type.shape.dim][1:] == [128, 128, 3]


@pytest.mark.parametrize("batch", [1, 3])
def test_uint8_export_matches_torch(tiny_model_dir, generator, batch):
    z, c, t = inputs(batch)
    assert_close_uint8(run_ort(onnx_export.export_onnx(tiny_model_dir), z, c, t), torch_uint8(generator, z, c, t))


def test_truncation_is_a_live_input(tiny_model_dir, generator):
    z, c, _ = inputs(2)
    path = onnx_export.export_onnx(tiny_model_dir)
    low, high = (run_ort(path, z, c, np.full(2, v, np.float32)) for v in (0.31, 0.87))
    assert np.abs(low.astype(int) - high.astype(int)).mean() > 1.0  # truncation changes the image...
    assert_close_uint8(high, torch_uint8(generator, z, c, np.full(2, 0.87, np.float32)))  # ...as torch does


def test_pixels_variant_is_float_uint8_values(tiny_model_dir, generator):
    z, c, t = inputs(2, seed=1)
    out = run_ort(onnx_export.export_onnx(tiny_model_dir, "pixels"), z, c, t)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 255
    assert np.array_equal(out, np.round(out))
    assert_close_uint8(out.astype(np.uint8), torch_uint8(generator, z, c, t))


def test_fp16_variant_for_tensorrt(tiny_model_dir, generator):
    """The graph TensorRT builds from: f32 in/out, fp16 body weights, and onnxruntime renders it faithfully."""
    path = onnx_export.export_onnx(tiny_model_dir, "pixels-fp16")
    model = onnx.load(str(path))
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in model.graph.input)
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    conv_weights = {n.input[1] for n in model.graph.node if n.op_type == "Conv"}
    types = {i.data_type for i in model.graph.initializer if i.name in conv_weights}
    assert types == {onnx.TensorProto.FLOAT16}
    z, c, t = inputs(3, seed=2)
    t = np.clip(t, 0.3, 1.0)
    z = np.clip(z, -2, 2) * t[:, None]
    out = run_ort(path, z, c, t)
    ref = torch_uint8(generator, z, c, t).astype(np.float64)
    assert 10 * np.log10(255.0 ** 2 / np.mean((out - ref) ** 2)) >= 30.0


def test_export_is_cached_and_keyed(tiny_model_dir, generator):
    path = onnx_export.export_onnx(tiny_model_dir)
    stamp = path.stat().st_mtime_ns
    assert onnx_export.export_onnx(tiny_model_dir) == path and path.stat().st_mtime_ns == stamp  # no re-export
    assert not list(path.parent.glob(".*.part"))
    fp = onnx_export.model_fingerprint(tiny_model_dir)
    assert path == onnx_export.onnx_cache_path(fp, 128, "uint8")
    assert f"-{fp}-" in path.name and "-128-" in path.name and onnx_export.exporter_tag() in path.name
    others = {onnx_export.onnx_cache_path(fp, 256, "uint8"), onnx_export.onnx_cache_path(fp, 128, "pixels"),
              onnx_export.onnx_cache_path("0" * 20, 128, "uint8")}
    assert path not in others and len(others) == 3


def test_fingerprint_follows_the_weights(tiny_model_dir, generator, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert onnx_export.model_fingerprint(copy) == onnx_export.model_fingerprint(tiny_model_dir)
    state = torch.load(copy / "pytorch_model.bin", weights_only=True)
    state["embeddings.weight"][0, 0] += 1.0
    torch.save(state, copy / "pytorch_model.bin")
    assert onnx_export.model_fingerprint(copy) != onnx_export.model_fingerprint(tiny_model_dir)
    # a Generator is keyed by its own tensors
    fp = onnx_export.model_fingerprint(generator)
    assert fp == onnx_export.model_fingerprint(generator) and fp != onnx_export.model_fingerprint(tiny_model_dir)


def test_bad_variant_is_rejected():
    with pytest.raises(ValueError):
        onnx_export.onnx_cache_path("x", 128, "int4")


def test_a_new_export_removes_the_one_it_supersedes(tiny_model_dir, engine_cache):
    """A torch upgrade changes the exporter tag: the old export and what OpenVINO compiled from it go."""
    from core.cache import cache_dir

    path = onnx_export.export_onnx(tiny_model_dir, "pixels")
    old = path.with_name(path.name.replace(onnx_export.exporter_tag(), "e1-torch2.0.0"))
    other_variant = path.with_name(path.name.replace("-pixels-", "-pixels-fp16-").replace(
        onnx_export.exporter_tag(), "e1-torch2.0.0"))
    for f in (old, other_variant):
        f.write_bytes(b"old export")
    compiled = cache_dir("openvino", old.stem) / "blob"
    compiled.write_bytes(b"old blob")
    onnx_export.export_onnx(tiny_model_dir, "pixels", force=True)
    assert path.is_file() and not old.exists() and not compiled.parent.exists()
    assert other_variant.exists()  # another variant is not superseded by this one
    other_variant.unlink()
