"""Our BigGAN-deep graph against the reference pytorch-pretrained-biggan forward, and the torch backend."""

import numpy as np
import pytest
import torch

from engine.errors import EngineError
from engine.graph import Generator
from engine.testmodel import deep_layers
from engine.weights import load_model


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(tiny_model_dir)


@pytest.fixture(scope="module")
def gen(loaded):
    return Generator(*loaded).eval()


@pytest.fixture(scope="module")
def ref(loaded):
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    config, state = loaded
    model = BigGAN(BigGANConfig.from_dict(config))
    model.load_state_dict(state, strict=True)
    return model.eval()


def inputs(b, seed=0, trunc=0.6):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(b, 128, generator=g).clamp(-2, 2) * trunc
    c = torch.softmax(torch.randn(b, 1000, generator=g) * 4, dim=1)  # mixed classes, like the walker's
    return z, c


@pytest.mark.parametrize("trunc", [0.5, 1.0])
def test_float_output_matches_reference_on_grid_truncations(gen, ref, trunc):
    z, c = inputs(3, seed=1, trunc=trunc)
    with torch.no_grad():
        want = ref(z, c, trunc)
        got = gen.forward_float(z, c, torch.full((3,), trunc))
    assert got.shape == want.shape == (3, 3, 128, 128)
    assert got.std() > 0.1  # a meaningful image, not a constant
    assert (got - want).abs().max().item() <= 1e-4


def test_truncation_is_continuous_between_grid_points_unlike_reference(gen, ref):
    z, c = inputs(1, seed=2)
    ts = 0.419 + np.arange(21) * 1e-4  # crosses the 0.42 grid point of the 51 BN statistics rows
    with torch.no_grad():
        ours = gen.forward_float(z.expand(len(ts), -1), c.expand(len(ts), -1), torch.tensor(ts, dtype=torch.float32))
        theirs = torch.cat([ref(z, c, float(t)) for t in ts])
    step = (ours[1:] - ours[:-1]).abs().amax(dim=(1, 2, 3))
    ref_step = (theirs[1:] - theirs[:-1]).abs().amax(dim=(1, 2, 3))
    assert ref_step.max() > 10 * ref_step.median()  # the reference's swapped weights jump at 0.42 ...
    assert step.max() < 2 * step.median()  # ... ours moves at an even pace across it
    assert step.max() < 0.02


def test_per_sample_truncation_and_batch_independence(gen):
    z, c = inputs(3, seed=3)
    t = torch.tensor([0.3, 0.77, 1.0])
    with torch.no_grad():
        batch = gen.forward_float(z, c, t)
        single = torch.cat([gen.forward_float(z[i:i + 1], c[i:i + 1], t[i:i + 1]) for i in range(3)])
    assert (batch - single).abs().max() < 1e-4  # kernels may block a batch differently: rounding only
    assert (batch[0] - batch[1]).abs().max() > 0.05


def test_uint8_output_is_rounded_hwc_of_float_output(gen):
    z, c = inputs(2, seed=4)
    t = torch.tensor([0.5, 0.9])
    with torch.no_grad():
        img = gen(z, c, t)
        flt = gen.forward_float(z, c, t)
    assert img.dtype == torch.uint8 and img.shape == (2, 128, 128, 3)
    want = torch.round(((flt + 1) * 127.5).clamp(0, 255)).to(torch.uint8).permute(0, 2, 3, 1)
    assert torch.equal(img, want)
    assert gen.resolution == 128


def test_graph_exports_with_dynamic_batch(gen):
    # torch.export refuses Python control flow on tensor values and data-dependent shapes (ONNX/OpenVINO need that)
    z, c = inputs(2, seed=5)
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(gen, (z, c, torch.tensor([0.5, 0.8])), dynamic_shapes=({0: batch},) * 3)
    z4, c4 = inputs(4, seed=6)
    t4 = torch.tensor([0.2, 0.4, 0.6, 1.0])
    with torch.no_grad():
        assert torch.equal(program.module()(z4, c4, t4), gen(z4, c4, t4))


@pytest.mark.parametrize("res,n_layers", [(128, 10), (256, 12), (512, 14)])
def test_deep_layer_lists(res, n_layers):
    layers, attn = deep_layers(res)
    assert len(layers) == n_layers and attn == 8
    size = 4 * 2 ** sum(up for up, _, _ in layers[:attn])
    assert size == 64  # attention sits at 64 px
    assert 4 * 2 ** sum(up for up, _, _ in layers) == res
    assert all(layers[i][2] == layers[i + 1][1] for i in range(len(layers) - 1))


# --- torch backend -------------------------------------------------------------------------------------------

def np_inputs(b, seed=0):
    z, c = inputs(b, seed)
    return z.numpy(), c.numpy(), np.linspace(0.4, 1.0, b).astype(np.float32)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def test_torch_backend_fp32_renders_any_batch(tiny_model_dir, gen):
    from engine.backends import create_engine

    eng = create_engine(str(tiny_model_dir), backend="torch", precision="fp32", max_batch=2)
    assert eng.name == "torch-cpu-fp32" and eng.resolution == 128 and eng.max_batch == 2
    z, c, t = np_inputs(5)
    out = eng.render(z, c, t)  # split into 2 + 2 + 1
    assert out.shape == (5, 128, 128, 3) and out.dtype == np.uint8
    with torch.no_grad():
        want = gen(torch.from_numpy(z), torch.from_numpy(c), torch.from_numpy(t)).numpy()
    assert np.abs(out.astype(int) - want.astype(int)).max() <= 1  # same graph; fp rounding at .5 may differ
    assert eng.render(z[0], c[0], 0.7).shape == (1, 128, 128, 3)  # one state, scalar truncation
    eng.close()


def test_torch_backend_bf16_close_to_fp32(tiny_model_dir):
    from engine.backends import create_engine
    from engine.cpu import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("CPU has no native bf16 (avx512_bf16/amx)")
    z, c, t = np_inputs(4, seed=7)
    ref = create_engine(str(tiny_model_dir), backend="torch", precision="fp32").render(z, c, t)
    eng = create_engine(str(tiny_model_dir), backend="torch", precision="bf16")
    assert eng.name == "torch-cpu-bf16"
    assert psnr(eng.render(z, c, t), ref) >= 30.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_backend_cuda_fp16_close_to_fp32(tiny_model_dir):
    from engine.backends import create_engine

    z, c, t = np_inputs(3, seed=8)
    fp32 = create_engine(str(tiny_model_dir), backend="torch", precision="fp32").render(z, c, t)
    eng = create_engine(str(tiny_model_dir), backend="torch", precision="fp16")
    assert eng.name == "torch-cuda-fp16"
    assert psnr(eng.render(z, c, t), fp32) >= 30.0


def test_fp16_on_cpu_is_a_one_line_error(tiny_model_dir):
    from engine.backends import create_engine

    if torch.cuda.is_available():
        pytest.skip("CUDA present: fp16 is valid")
    with pytest.raises(EngineError, match="fp16") as info:
        create_engine(str(tiny_model_dir), backend="torch", precision="fp16")
    assert "\n" not in str(info.value)
