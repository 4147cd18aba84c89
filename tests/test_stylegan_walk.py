"""A StyleGAN pickle's latent space: the walk's sizes come from the model; chroma-mixed anchors, noise and
truncation make the synthesis inputs; the engine renders walker states through them."""

from pathlib import Path

import numpy as np
import pytest
import torch

from core.dims import LatentDims
from engine.backends import create_engine
from engine.stylegan.space import StyleSpace, latent_dims
from engine.stylegan.model import build
from engine.stylegan.testmodel import load_skeleton, write_pickle
from live.analysis.features import Frame
from live.config import WalkerParams
from live.walk.walker import Walker

DATA = Path(__file__).parent / "data" / "stylegan"


@pytest.fixture(scope="module")
def pkl(tmp_path_factory):
    d = tmp_path_factory.mktemp("sgwalk")
    return {n: write_pickle(d / f"{n}.pkl", load_skeleton(DATA / f"{n}.json")) for n in ("sg2-orig", "ada-skip-c")}


def _frame(chroma, t=0.0):
    return Frame(index=0, time_s=t, chroma=np.asarray(chroma, float), flux=0.5, power=0.5)


def test_dims_come_from_the_model(pkl):
    assert latent_dims(pkl["sg2-orig"]) == LatentDims(8, 1000)  # unconditional: 1000 anchor ids
    assert latent_dims(pkl["ada-skip-c"]) == LatentDims(8, 5)  # conditional: its labels
    assert latent_dims("biggan-deep-128") == LatentDims(128, 1000)
    w = Walker(WalkerParams(), list(range(12)), 0, 0.05, latent_dims(pkl["ada-skip-c"]))
    s = w.step(_frame(np.eye(12)[3]))
    assert s.z.shape == (8,) and s.c.shape == (5,)
    assert s.c[3 % 5] > 0  # class id 3 plays label 3


def test_anchor_mix_noise_and_truncation(pkl):
    space = StyleSpace(build(pkl["sg2-orig"]))
    z = np.random.default_rng(0).standard_normal((1, 8))
    c = np.zeros((1, 1000))
    c[0, 7] = 1.0
    w_avg = space.mapping.w_avg.numpy()
    assert np.allclose(space.w(z, c, 0.0), w_avg, atol=1e-6)  # truncation 0: w_avg
    full = space.w(z, c, 1.0)[0]
    with torch.no_grad():
        anchor7 = space.mapping(torch.from_numpy(np.random.RandomState(7).randn(1, 8)).float(), torch.zeros(1, 0),
                                torch.ones(1)).numpy()[0]
        noise = space.mapping(torch.from_numpy(z).float(), torch.zeros(1, 0), torch.ones(1)).numpy()[0]
    assert np.allclose(full, 0.5 * anchor7 + 0.5 * noise, atol=1e-6)  # anchor 7 = NVIDIA's seed 7
    c2 = np.zeros((1, 1000))
    c2[0, 8] = 1.0
    assert np.abs(space.w(z, c2, 1.0) - full).max() > 1e-4  # another class id: another anchor
    half = space.w(z, c, 0.5)[0]
    assert np.allclose(half, w_avg + 0.5 * (full - w_avg), atol=1e-6)
    ws, = space.synthesis_inputs(z, c, 0.7)
    assert ws.shape == (1, space.num_ws, space.w_dim) and np.array_equal(ws[0, 0], ws[0, -1])


def test_engine_renders_walker_states(pkl):
    engine = create_engine(pkl["ada-skip-c"], backend="torch", precision="fp32", max_batch=2)
    try:
        w = Walker(WalkerParams(), list(range(12)), 1, 0.05, engine.space.dims)
        states = [w.step(_frame(np.eye(12)[k], k * 0.05)) for k in range(3)]
        z, c, t = (np.stack([getattr(s, f) for s in states]) for f in ("z", "c", "t"))
        out = engine.render(z, c, t)
        assert out.shape == (3, 32, 32, 3) and out.dtype == np.uint8
        assert np.array_equal(out, engine.inner.render(*engine.space.synthesis_inputs(z, c, t)))
        with pytest.raises(ValueError, match="render wants z"):
            engine.render(np.zeros((1, 128)), np.zeros((1, 1000)), np.ones(1))  # BigGAN's sizes
    finally:
        engine.close()


def test_direction_rows_get_the_principal_directions_of_w(pkl):
    """dir1..dir8 for a pickle: W's principal components, as z directions (read back from the cache)."""
    from engine.directions import latent_directions

    d = latent_directions(str(pkl["sg2-orig"]), n=4)
    assert d.shape == (4, 8) and np.allclose(np.linalg.norm(d, axis=1), 1, atol=1e-5)
    assert np.array_equal(latent_directions(str(pkl["sg2-orig"]), n=4), d)
    space = StyleSpace(build(pkl["sg2-orig"]))
    z0 = np.random.default_rng(1).standard_normal((16, 8))

    def moved(v):  # how far w moves for a small step along v, around a few points
        return float(np.linalg.norm(space._map(z0 + 0.1 * v) - space._map(z0)))

    rand = np.random.default_rng(0).standard_normal((32, 8))
    rand /= np.linalg.norm(rand, axis=1, keepdims=True)
    assert moved(d[0]) > np.median([moved(v) for v in rand])  # control: a typical random direction moves w less
    assert moved(d[0]) >= moved(d[3])  # strongest first
