"""Our StyleGAN2/3 graphs against NVIDIA's reference outputs (computed once with NVIDIA's code on these exact
weights and pinned in tests/data/stylegan), and the same frames through the engines."""

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.backends import create_engine
from engine.stylegan.model import build, info
from engine.stylegan.testmodel import load_skeleton, write_pickle

DATA = Path(__file__).parent / "data" / "stylegan"
CONFIGS = ("ada-skip-c", "sg2-resnet", "sg2-orig", "sg3-t", "sg3-r-c")


@pytest.fixture(scope="module")
def pickles(tmp_path_factory):
    d = tmp_path_factory.mktemp("stylegan")
    return {name: write_pickle(d / f"{name}.pkl", load_skeleton(DATA / f"{name}.json")) for name in CONFIGS}


def _inputs(ref, transform=None):
    ws = ref["ws"]
    if "transform" not in ref:
        return (ws,)
    t = np.eye(3, dtype=np.float32) if transform is None else transform
    return ws, np.broadcast_to(t, (len(ws), 3, 3)).copy()


def _nvidia_uint8(img):
    return np.floor(np.clip(img * 127.5 + 128, 0, 255)).astype(np.uint8).transpose(0, 2, 3, 1)


@pytest.mark.parametrize("name", CONFIGS)
def test_parity_with_nvidia_reference(pickles, name):
    ref = np.load(DATA / f"{name}.npz")
    model = build(pickles[name])
    w = model.map(ref["z"], ref["c"], np.full(len(ref["z"]), 0.7, np.float32))
    assert np.abs(w - ref["ws"][:, 0]).max() <= 1e-5
    with torch.no_grad():
        img = model.forward_float(*map(torch.from_numpy, _inputs(ref))).numpy()
        assert np.abs(img - ref["img"]).max() <= 1e-3
        assert np.abs(ref["img"]).max() > 0.1  # the reference is not a blank
        if "transform" in ref:
            moved = model.forward_float(*map(torch.from_numpy, _inputs(ref, ref["transform"]))).numpy()
            assert np.abs(moved - ref["img_transform"]).max() <= 1e-3
            assert np.abs(moved - ref["img"]).max() > 1e-2  # control: the transform changes the picture


def test_wrong_weights_break_parity(pickles, tmp_path):
    """Control: a different seed's weights (same structure) do not match the pinned reference."""
    ref = np.load(DATA / "sg2-resnet.npz")
    other = build(write_pickle(tmp_path / "other.pkl", load_skeleton(DATA / "sg2-resnet.json"), seed=1))
    with torch.no_grad():
        img = other.forward_float(torch.from_numpy(ref["ws"])).numpy()
    assert np.abs(img - ref["img"]).max() > 1e-2


def test_info(pickles):
    i = info(pickles["ada-skip-c"])
    assert (i["kind"], i["resolution"], i["z_dim"], i["w_dim"], i["c_dim"], i["num_ws"], i["mapping_layers"]) == \
        ("stylegan2", 32, 8, 8, 5, 8, 2)
    assert info(pickles["sg3-r-c"])["kind"] == "stylegan3-r" and info(pickles["sg3-t"])["kind"] == "stylegan3-t"


@pytest.mark.parametrize("backend", ["torch", "openvino"])
def test_engines_render_nvidia_frames(pickles, backend):
    """fp32 engines (torch; ONNX export run by OpenVINO) give NVIDIA's uint8 frames for the same ws."""
    pytest.importorskip(backend)
    ref = np.load(DATA / "sg3-t.npz")
    engine = create_engine(pickles["sg3-t"], backend=backend, precision="fp32", max_batch=2).inner
    try:
        assert engine.inputs == (("ws", (8, 8)), ("transform", (3, 3)))
        out = engine.render(*_inputs(ref, ref["transform"]))
        assert np.array_equal(out, _nvidia_uint8(ref["img_transform"]))
        single = engine.render(*(a[0] for a in _inputs(ref)))  # one state, no batch axis
        assert np.array_equal(single, _nvidia_uint8(ref["img"])[:1])
    finally:
        engine.close()


def test_openvino_runs_stylegan3_in_fp32_on_a_cpu(pickles):
    """OpenVINO's CPU plugin does not finish compiling full-width StyleGAN3 graphs in bf16: auto takes fp32 for
    them and an explicit bf16 is one line; StyleGAN2 (the control) keeps auto's bf16 where the CPU has it."""
    pytest.importorskip("openvino")
    from engine.backends.openvino_backend import capabilities, _core
    from engine.errors import NoSuchPrecision

    with create_engine(pickles["sg3-t"], backend="openvino", max_batch=1) as e:
        assert e.name == "openvino-fp32"
    with pytest.raises(NoSuchPrecision, match="StyleGAN3|no bf16"):
        create_engine(pickles["sg3-t"], backend="openvino", precision="bf16", max_batch=1)
    if "BF16" in capabilities(_core(), "CPU"):
        with create_engine(pickles["ada-skip-c"], backend="openvino", max_batch=1) as e:
            assert e.name == "openvino-bf16"
