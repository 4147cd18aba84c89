"""StyleGAN3's pose (rotate, spin, shift_x/y, cut_turn, cut_shift): NVIDIA's input transform from walker
parameters, carried by the one walk path through live controls, cuts, export, replay and segments."""

import dataclasses
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch

from engine.stylegan.model import build
from engine.stylegan.space import latent_dims, style_space, transform_matrix
from engine.stylegan.testmodel import load_skeleton, write_pickle
from live.analysis.features import Frame
from live.analysis.lfo import LfoSpec
from live.analysis.sources import SourceSpec
from live.cli import main
from live.config import make_params
from live.control.actions import Event, Reseed, SetParams, Turn, event_from_json, event_to_json
from live.control.dispatch import Dispatcher
from live.control.look import Look
from live.control.osc import parse_message
from live.export.workdir import work_key
from live.recordings.record import Recorder
from live.walk.modulation import Matrix, Row
from live.walk.steering import Steering
from live.walk.trajectory import Latents
from live.walk.walker import Walker

DATA = Path(__file__).parent / "data" / "stylegan"
SR = 22050


@pytest.fixture(scope="module")
def sg3(tmp_path_factory):
    return write_pickle(tmp_path_factory.mktemp("pose") / "sg3-t.pkl", load_skeleton(DATA / "sg3-t.json"))


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """2 s of a tone with clicks: the walk moves."""
    t = np.arange(2 * SR) / SR
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.5 * (np.mod(t, 0.25) < 0.01) * np.sin(2 * np.pi * 3000 * t)
    path = tmp_path_factory.mktemp("song") / "song.wav"
    sf.write(path, x.astype(np.float32), SR, subtype="FLOAT")
    return path


def _frame(k, hop):
    return Frame(index=k, time_s=k * hop, chroma=np.eye(12)[k % 12], flux=0.5, power=0.5)


def test_transform_is_nvidias_and_renders_as_nvidia_does(sg3):
    """The pinned reference: NVIDIA's code fed the inverse of its rotation/translation matrix for 0.3 rad and
    translate (0.1, -0.05), then rendered; our pose [degrees, x, y] gives that matrix and those pixels."""
    ref = np.load(DATA / "sg3-t.npz")
    pose = np.array([[np.degrees(0.3), 0.1, -0.05]])
    np.testing.assert_allclose(transform_matrix(pose)[0], ref["transform"], atol=1e-6)
    assert np.abs(transform_matrix(pose * [-1, 1, 1])[0] - ref["transform"]).max() > 0.1  # control: other sense
    assert np.array_equal(transform_matrix(np.zeros((2, 3))), np.broadcast_to(np.eye(3, dtype=np.float32), (2, 3, 3)))
    model = build(sg3)
    with torch.no_grad():
        def img(p):
            m = torch.from_numpy(np.broadcast_to(transform_matrix(p), (len(ref["ws"]), 3, 3)).copy())
            return model.forward_float(torch.from_numpy(ref["ws"]), m).numpy()
        assert np.abs(img(pose) - ref["img_transform"]).max() <= 1e-3
        assert np.abs(img(np.zeros((1, 3))) - ref["img"]).max() <= 1e-3  # rotate 0: NVIDIA's untransformed frames


def test_walker_pose_from_parameters_leaves_the_walk_alone():
    hop, p0 = 0.05, make_params()
    posed = make_params({"rotate": 30, "spin": 90, "shift_x": 0.25, "shift_y": -0.1})
    a, b = Walker(p0, list(range(12)), 1, hop), Walker(posed, list(range(12)), 1, hop)
    for k in range(1, 41):
        sa, sb = a.step(_frame(k, hop)), b.step(_frame(k, hop))
        assert np.array_equal(sa.z, sb.z) and np.array_equal(sa.c, sb.c) and sa.t == sb.t  # the walk is the same
        assert np.array_equal(sa.xform, np.zeros(3, np.float32))  # control: no pose, nothing turns
        want = (30 + 90 * hop * k + 180) % 360 - 180  # spin integrates, wrapped to [-180, 180)
        np.testing.assert_allclose(sb.xform, [want, 0.25, -0.1], atol=1e-4)
    b.turn(45, 0.5, 0)  # a cut's pose adds to the set one
    np.testing.assert_allclose(b.step(_frame(41, hop)).xform, [(30 + 90 * hop * 41 + 45 + 180) % 360 - 180, 0.75, -0.1],
                               atol=1e-4)


def test_osc_and_preset_values_rotate_the_frames(sg3, tmp_path):
    from engine.backends import create_engine
    from live.control.presets import read_preset

    preset = tmp_path / "turned.toml"
    preset.write_text("rotate = 45\nshift_x = 0.1\n")
    assert make_params(read_preset(str(preset))).rotate == 45
    look = Look(make_params(), list(range(12)), seed=0)
    actions, _ = Dispatcher(look).dispatch(parse_message("/live/rotate", [60.0]))
    steer = Steering(SR, make_params(), list(range(12)), 0, dims=latent_dims(sg3))
    noise = np.random.default_rng(0).standard_normal(SR // 2).astype(np.float32) * 0.1
    before = steer.push(noise)[-1][1]
    for a in actions:
        steer.apply(a)
    after = steer.push(noise)[-1][1]
    assert before.xform[0] == 0 and after.xform[0] == 60
    engine = create_engine(sg3, backend="torch", precision="fp32", max_batch=2)
    try:
        z, c, t = after.z[None], after.c[None], np.float32([after.t])
        plain = engine.render(z, c, t)
        assert np.array_equal(engine.render(z, c, t, xform=np.zeros((1, 3))), plain)  # control: rotate 0 = identity
        turned = engine.render(z, c, t, xform=after.xform[None])
        assert np.abs(turned.astype(int) - plain).mean() > 2
        assert np.array_equal(turned, engine.inner.render(*engine.space.synthesis_inputs(z, c, t, after.xform[None])))
    finally:
        engine.close()


def test_cuts_turn_the_picture_when_the_look_asks():
    # keys, beat cuts, OSC and MIDI cut through the look: a Turn beside the new classes, recorded as an event
    for cut_turn, cut_shift in ((90.0, 0.5), (0.0, 0.0)):
        look = Look(make_params({"cut_turn": cut_turn, "cut_shift": cut_shift}), list(range(12)), seed=0)
        actions, _ = look.new_classes()
        turns = [a for a in actions if isinstance(a, Turn)]
        assert len(turns) == (1 if cut_turn else 0)  # control: no cut_turn, no turn
        for a in turns:
            assert abs(a.angle) <= 90 and abs(a.dx) <= 0.5 and (a.angle, a.dx) != (0, 0)
            assert event_from_json(event_to_json(Event(7, a))) == Event(7, a)
    # the matrix's cut rows: drawn from the seed and the cut's number, like the classes
    rows = (Row("lfo1", "cut", 1.0, "gate"),)
    matrix = Matrix(rows, SourceSpec(lfos=(LfoSpec("square", 1.0),) * 4))
    noise = np.random.default_rng(0).standard_normal(3 * SR).astype(np.float32) * 0.1

    def angles(params):
        steer = Steering(SR, params, list(range(12)), 5, matrix=matrix)
        return np.array([s.xform[0] for _, s in steer.push(noise)]), steer.cuts

    turned, cuts = angles(make_params({"cut_turn": 120}))
    assert cuts >= 2 and len(np.unique(turned)) == cuts  # a new angle at each cut (the first one at the start)
    assert np.array_equal(angles(make_params({"cut_turn": 120}))[0], turned)  # a replay draws the same
    still, cuts0 = angles(make_params())
    assert cuts0 == cuts and not still.any()  # control: the same cuts without cut_turn keep the angle


def test_a_reseed_keeps_the_pose_turning():
    steer = Steering(SR, make_params({"spin": 90}), list(range(12)), 5)
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    before = [s.xform[0] for _, s in steer.push(noise)]
    steer.apply(Turn(30.0, 0.0, 0.0))
    steer.apply(Reseed(9))
    after = [s.xform[0] for _, s in steer.push(noise)]
    step = 90 * steer.features.hop_s
    assert after[0] == pytest.approx(before[-1] + 30 + step, abs=1e-3)  # no jump back to 0 (a new seed, same pose)
    assert np.allclose((np.diff(after) + 180) % 360 - 180, step, atol=1e-3)  # wrapped to [-180, 180)


def test_segments_and_work_keys_carry_the_pose():
    rng = np.random.default_rng(0)
    lat = Latents(rng.random((10, 8), np.float32), rng.random((10, 1000), np.float32), rng.random(10, np.float32),
                  xform=np.zeros((10, 3), np.float32))
    seg = lat.rows(2, 5)
    assert seg.xform.shape == (3, 3) and seg.time_s is None and np.array_equal(seg.z, lat.z[2:5])
    key = work_key(lat, {})
    assert key == work_key(lat._replace(xform=None), {})  # unposed: the key it always had
    posed = lat._replace(xform=np.arange(30, dtype=np.float32).reshape(10, 3))
    assert work_key(posed, {}) != key and np.array_equal(posed.rows(2, 5).xform, posed.xform[2:5])
    assert "xform" in posed.arrays() and "xform" not in lat.arrays()


def test_a_cluster_segment_renders_its_rows_poses(sg3, tmp_path):
    """The Ray actor's code, called here: a segment's rows carry their poses to its engine."""
    from engine.backends import create_engine
    from live.export.cluster import SegmentRenderer

    w = Walker(make_params(), list(range(12)), 1, 0.05, latent_dims(sg3))
    states = [w.step(_frame(k, 0.05)) for k in range(6)]
    lat = Latents(*(np.stack([getattr(s, f) for s in states]) for f in ("z", "c", "t")),
                  xform=np.tile(np.float32([90, 0.2, 0]), (6, 1)))
    path = tmp_path / "seg.mp4"
    path.write_bytes(SegmentRenderer(str(sg3), "torch", "fp32", "auto", 2).render(0, lat.rows(2, 6), 10.0, 2, 6))
    got = _frames(path)
    with create_engine(sg3, backend="torch", precision="fp32", max_batch=2) as engine:
        seg = lat.rows(2, 6)
        posed, plain = engine.render(seg.z, seg.c, seg.t, xform=seg.xform), engine.render(seg.z, seg.c, seg.t)
    assert got.shape == posed.shape
    assert np.abs(got - posed).mean() < 0.5 * np.abs(got - plain).mean()  # control: the unposed frames


def _export(args, tmp_path, name):
    out, npz = tmp_path / f"{name}.mp4", tmp_path / f"{name}.npz"
    assert main([*args, "-o", str(out), "--save-latents", str(npz), "--backend", "torch", "--precision", "fp32",
                 "--fps", "10", "--quiet"]) == 0
    with np.load(npz) as f:
        return {k: f[k] for k in f.files}, out


def _frames(path):
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(int)


def test_export_saves_the_transform_and_replay_reproduces_it(sg3, song, tmp_path):
    base = ["--export", str(song), "--model", str(sg3), "--duration", "1", "--seed", "2"]
    spun, video = _export(base + ["--spin", "90"], tmp_path, "spun")
    plain, plain_video = _export(base, tmp_path, "plain")
    assert "transform" not in plain and "xform" not in plain and plain["ws"].shape == (10, 8, 8)  # control
    assert spun["transform"].shape == (10, 3, 3) and spun["xform"].shape == (10, 3)
    assert not np.allclose(spun["transform"][-1], np.eye(3), atol=1e-3)
    assert np.all(np.diff(spun["xform"][:, 0]) > 0) and 7 < spun["xform"][-1, 0] / 9 < 10  # ~9 degrees a frame
    np.testing.assert_array_equal(spun["transform"], transform_matrix(spun["xform"]))
    np.testing.assert_array_equal(spun["ws"], plain["ws"])  # the pose changes the picture, not the walk
    assert np.abs(_frames(video)[-1] - _frames(plain_video)[-1]).mean() > 3

    # a set recorded with a spin change and a cut's turn replays to the same poses, ws and transforms
    space = style_space(sg3)
    rec = tmp_path / "set"
    p0 = make_params()
    recorder = Recorder(str(rec), SR, dict(seed=3, preset="default", model="test", params=dataclasses.asdict(p0),
                                           classes=list(range(12))))
    steer = Steering(SR, p0, list(range(12)), 3, on_event=recorder.event, dims=space.dims)
    y, _ = sf.read(str(song), dtype="float32")
    script = {10: SetParams(dataclasses.replace(p0, spin=-120.0)), 30: Turn(45.0, 0.1, -0.2)}
    for k, i in enumerate(range(0, len(y), 1000)):
        if k in script:
            steer.apply(script[k])
        recorder.audio(y[i:i + 1000])
        for t, s in steer.push(y[i:i + 1000]):
            recorder.step(t, s)
    recorder.close()
    with np.load(rec / "latents.npz") as f:
        live = {k: f[k] for k in f.files}
    assert live["xform"][-1, 1] == pytest.approx(0.1) and np.ptp(live["xform"][:, 0]) > 45
    got, _ = _export(["--export", "--replay", str(rec), "--model", str(sg3)], tmp_path, "replay")
    for key in ("z", "c", "t", "xform"):
        np.testing.assert_array_equal(got[key], live[key], err_msg=key)
    np.testing.assert_array_equal(got["ws"], space.synthesis_inputs(live["z"], live["c"], live["t"])[0])
    np.testing.assert_array_equal(got["transform"], transform_matrix(live["xform"]))
