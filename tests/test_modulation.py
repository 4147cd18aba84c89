"""Sources and the modulation matrix on synthetic drums: a row makes its target follow its source's hits within
two video frames and ignores the other instrument; stems, LFOs, cuts, directions; rows in presets; amounts live,
recorded and replayed."""
import json
from collections import deque

import numpy as np
import pytest

from core.errors import LiveError
from live.analysis.lfo import LfoSpec
from live.analysis.sources import SourceSpec
from live.config import WalkerParams, make_params
from live.control import actions as A
from live.control.dispatch import Dispatcher
from live.control.look import Look
from live.control.midi import MidiControl, MidiMap
from live.control.osc import parse_message
from live.control.presets import PresetReloader, read_preset
from live.walk.modulation import Matrix, Row
from live.walk.steering import Steering
from live.walk.trajectory import frame_trajectory
from tests.audio_fixtures import drums, write

SR, FPS = 22050, 30
KICK, HATS, KICKS, HAT_TIMES = drums(SR)


def frames_t(matrix, x=None, stems=(), fps=FPS, params=WalkerParams()):
    """Per-video-frame truncation of an export-style trajectory of x (default: the drums' mix)."""
    x = KICK + HATS if x is None else x
    steer = Steering(SR, params, list(range(12)), 0, matrix=matrix, stems=stems)
    n = int(len(x) / SR * fps) - 1
    blocks = (x[i:i + 4096] for i in range(0, len(x), 4096))
    return frame_trajectory(blocks, steer.push, 0.0, fps, n, "drums").t


def drops(t, onsets, others, fps=FPS):
    """For each onset clear of the other instrument: the lowest t in the video frames up to two frame periods
    after it, minus t in the frame before it (negative: the target moved down with the hit)."""
    out = []
    for o in onsets:
        if np.min(np.abs(others - o)) < 0.1:
            continue
        a, b = int(np.ceil(o * fps)), int(np.floor((o + 2 / fps) * fps))
        out.append(float(t[a:b + 1].min() - t[a - 1]))
    return np.array(out)


def follows(t, onsets, others) -> bool:
    return bool(np.all(drops(t, onsets, others) < -0.25))


def ignores(t, onsets, others) -> bool:
    return bool(np.all(drops(t, onsets, others) > -0.1))


def row(source, target="truncation", amount=-0.6, curve="linear", **spec):
    return Matrix((Row(source, target, amount, curve),), SourceSpec(**spec))


def test_bass_row_follows_the_kick_within_two_frames_and_not_the_hats():
    t = frames_t(row("bass"))
    assert follows(t, KICKS, HAT_TIMES) and ignores(t, HAT_TIMES, KICKS)
    t = frames_t(row("high"))
    assert follows(t, HAT_TIMES, KICKS) and ignores(t, KICKS, HAT_TIMES)
    # Controls: the checks catch a target that does not follow (slow attack, no row, the other band).
    assert not follows(frames_t(row("bass", attack_ms=300)), KICKS, HAT_TIMES)
    assert not follows(frames_t(Matrix()), KICKS, HAT_TIMES)
    assert not ignores(frames_t(row("high")), HAT_TIMES, KICKS)
    # Two rows on one target add, clamped to its range.
    both = frames_t(Matrix((Row("bass", "truncation", -0.6), Row("bass", "truncation", -0.6))))
    assert both.min() == pytest.approx(0.02) and both.min() < frames_t(row("bass")).min()


def test_onset_rows_pulse_on_their_band(tmp_path):
    t = frames_t(row("onset_bass"))
    assert follows(t, KICKS, HAT_TIMES) and ignores(t, HAT_TIMES, KICKS)


def test_a_stem_file_drives_the_matrix_like_the_band_does(tmp_path):
    from live.export.job import ExportJob, prepare, trajectory

    mix = write(tmp_path / "mix.wav", KICK + HATS)
    stems = (("kick", write(tmp_path / "kick.wav", KICK)), ("hh", write(tmp_path / "hh.wav", HATS)))

    def export_t(source):
        job = ExportJob(mix, str(tmp_path / "o.mp4"), WalkerParams(), list(range(12)), fps=FPS,
                        matrix=row(source), stems=stems)
        return trajectory(job, prepare(job)).t

    t = export_t("kick")
    assert follows(t, KICKS, HAT_TIMES) and ignores(t, HAT_TIMES, KICKS)
    t = export_t("hh")  # the control: the other stem follows the other rhythm
    assert follows(t, HAT_TIMES, KICKS) and ignores(t, KICKS, HAT_TIMES)
    t = export_t("onset_kick")
    assert follows(t, KICKS, HAT_TIMES)
    short = write(tmp_path / "short.wav", KICK[: len(KICK) // 2])
    job = ExportJob(mix, str(tmp_path / "o.mp4"), WalkerParams(), [1], stems=(("kick", short),))
    with pytest.raises(LiveError, match=r"--stem kick=.*short.wav: 3.00 s long, the song 6.00 s"):
        prepare(job)


def test_stem_names_and_channel_specs_are_checked():
    from live.analysis.sources import check_stem_names
    from live.options import export_stems, live_stems

    assert live_stems("drums=1-2,keys=3") == (("drums", (0, 1)), ("keys", (2,)))
    assert export_stems(["vox=a.wav"]) == (("vox", "a.wav"),)
    for bad in ("drums=0", "drums=3-1", "drums", "drums=x"):
        with pytest.raises(LiveError, match="NAME=CHANNEL"):
            live_stems(bad)
    with pytest.raises(LiveError, match="stem name 'Drums!'"):
        export_stems(["Drums!=b.wav"])
    assert check_stem_names(["drums", "vox"]) == ("drums", "vox")
    for clash in (["bass"], ["drums", "drums"], ["lfo1"], ["sub"]):
        with pytest.raises(LiveError, match=f"'{clash[-1]}' clashes with a source"):
            check_stem_names(clash)
    with pytest.raises(LiveError, match="'bass' clashes"):  # where an export and a live set check them
        Steering(SR, WalkerParams(), [1], 0, stems=("bass",))


def period_s(t, fps=FPS) -> float:
    """Mean period of t's swing, from its upward crossings of the mid level."""
    mid = (t.max() + t.min()) / 2
    up = np.flatnonzero((t[:-1] < mid) & (t[1:] >= mid))
    return float(np.mean(np.diff(up))) / fps


def test_an_lfo_swings_at_its_period():
    quiet = np.zeros(12 * SR, np.float32)
    for seconds in (2.0, 3.0):  # 3 s is the control: the measurement tells periods apart
        t = frames_t(Matrix((Row("lfo1", "truncation", -0.5),), SourceSpec(lfos=(LfoSpec("sine", seconds),) * 4)),
                     quiet)
        assert period_s(t) == pytest.approx(seconds, abs=0.05)
        assert t.max() == pytest.approx(1.0, abs=0.01) and t.min() == pytest.approx(0.51, abs=0.01)
    # beats = 4 on a 120 BPM kick: one cycle per 2 s, locked to the beat once the tracker has the tempo.
    kick = np.tile(KICK[: SR // 2], 30)[: 14 * SR]
    t = frames_t(Matrix((Row("lfo2", "truncation", -0.5),), SourceSpec(lfos=(LfoSpec(), LfoSpec("saw", beats=4),
                                                                              LfoSpec(), LfoSpec()))), kick)
    assert period_s(t[6 * FPS:]) == pytest.approx(2.0, abs=0.05)


def test_sources_do_not_depend_on_how_the_audio_is_split():
    x = np.stack([KICK + HATS, KICK], axis=1)
    rows = (Row("bass", "truncation", -0.5), Row("kick", "jitter", 0.3), Row("onset_high", "cut", 1.0),
            Row("lfo1", "noise_push", 0.5))

    def run(sizes):
        steer = Steering(SR, WalkerParams(), list(range(12)), 0, matrix=Matrix(rows), stems=("kick",))
        seen, out = [], []
        steer.on_frame = lambda fr: seen.append(steer.sources.values.copy())
        pos, i = 0, 0
        while pos < len(x):
            n = sizes[i % len(sizes)]
            out += steer.push(x[pos:pos + n])
            pos, i = pos + n, i + 1
        return np.array(seen), np.array([s.z for _, s in out]), steer.classes

    a, za, ca = run([len(x)])
    b, zb, cb = run([1, 511, 7, 3000, 1024, 2])
    assert a.shape == b.shape and np.array_equal(a, b) and np.array_equal(za, zb) and ca == cb
    assert np.all((a >= 0) & (a <= 1))


def test_cut_noise_push_and_num_classes_rows():
    cuts = []
    steer = Steering(SR, make_params({"num_classes": 4}), list(range(4)), 0,
                     matrix=Matrix((Row("onset_bass", "cut", 1.0), Row("bass", "num_classes", 1.0))))
    steer.walker.set_classes = lambda ids, f=steer.walker.set_classes: (cuts.append(list(ids)), f(ids))
    steer.push(KICK + HATS)
    # a kick every 0.5 s, a cut at most once a second: about one cut per second
    assert 4 <= len(cuts) <= 6 and all(len(c) == 4 for c in cuts) and len({tuple(c) for c in cuts}) == len(cuts)
    again = Steering(SR, make_params({"num_classes": 4}), list(range(4)), 0, matrix=steer.matrix)
    again.push(KICK + HATS)
    assert again.classes == steer.classes  # drawn from the seed: a replay makes the same cuts

    def travel(matrix):
        s = Steering(SR, WalkerParams(), list(range(12)), 0, matrix=matrix)
        z = np.array([st.z for _, st in s.push(HATS)])
        return float(np.abs(np.diff(z, axis=0)).sum())

    assert travel(row("high", "noise_push", 2.0)) > 1.5 * travel(Matrix())


def test_direction_rows_move_z_along_the_models_directions():
    dirs = np.eye(8, 128, dtype=np.float32)
    lfo = SourceSpec(lfos=(LfoSpec("square", 1.0),) * 4)
    base = Steering(SR, WalkerParams(truncation=0.5), list(range(12)), 0, matrix=Matrix((), lfo))
    mod = Steering(SR, WalkerParams(truncation=0.5), list(range(12)), 0, directions=dirs,
                   matrix=Matrix((Row("lfo1", "dir3", 1.0),), lfo))
    quiet = np.zeros(3 * SR, np.float32)
    zb = np.array([s.z for _, s in base.push(quiet)])
    zm = np.array([s.z for _, s in mod.push(quiet)])
    diff = zm - zb
    assert np.abs(np.delete(diff, 2, axis=1)).max() < 1e-6  # only along dir3
    # one standard deviation of z (0.88 × truncation) while the square is up, nothing while it is down
    assert {round(float(v), 2) for v in diff[:, 2]} == {0.0, 0.44}
    no_dirs = Steering(SR, WalkerParams(truncation=0.5), list(range(12)), 0, matrix=mod.matrix)
    assert np.array_equal(np.array([s.z for _, s in no_dirs.push(quiet)]), zb)  # without directions: nothing


def test_engine_directions_are_the_strongest_directions_of_the_first_layer(tiny_model_dir):
    import torch

    from engine.directions import cache_path, latent_directions
    from engine.graph import build_generator
    from engine.onnx_export import model_fingerprint

    d = latent_directions(str(tiny_model_dir))
    assert d.shape == (8, 128) and np.allclose(np.linalg.norm(d, axis=1), 1, atol=1e-5)
    assert cache_path(model_fingerprint(tiny_model_dir)).is_file()
    assert np.array_equal(latent_directions(str(tiny_model_dir)), d)  # read back from the cache
    gen = build_generator(tiny_model_dir)
    with torch.no_grad():  # the first layer's activations (the graph's own head) around a few points
        z0 = torch.from_numpy(np.random.default_rng(1).standard_normal((4, 128)).astype(np.float32))
        c = torch.zeros(4, 1000)
        c[:, 3] = 1
        t = torch.ones(4)

        def moved(v):
            step = torch.from_numpy(np.asarray(v, np.float32))[None]
            return float((gen.head(z0 + step, c, t)[0] - gen.head(z0, c, t)[0]).norm())
    rand = np.random.default_rng(0).standard_normal((32, 128))
    rand /= np.linalg.norm(rand, axis=1, keepdims=True)
    assert moved(d[0]) > max(moved(v) for v in rand)  # no random direction moves them as much
    assert moved(d[0]) >= moved(d[1]) >= moved(d[7])  # strongest first
    assert moved(d[7]) > np.median([moved(v) for v in rand])  # all eight are among the strong ones


def test_preset_rows_are_checked_with_file_line_and_field(tmp_path):
    p = tmp_path / "m.toml"
    good = ('truncation = 0.8\n\n[bands]\nattack_ms = 10\n\n[lfo1]\nshape = "triangle"\nbeats = 8\n\n'
            '[[modulation]]\nsource = "bass"\ntarget = "truncation"\namount = -0.5\n\n'
            '[[modulation]]\nsource = "chroma_C#"\ntarget = "dir2"\namount = 1.5\ncurve = "exp"\n')
    p.write_text(good)
    m = read_preset(str(p))["matrix"]
    assert m.rows == (Row("bass", "truncation", -0.5), Row("chroma_Cs", "dir2", 1.5, "exp"))
    assert m.sources.attack_ms == 10 and m.sources.lfos[0] == LfoSpec("triangle", beats=8)
    for bad, msg in [
        (good.replace('"dir2"', '"dir9"'), r"m.toml:17: modulation row 2: target = 'dir9' is unknown"),
        (good.replace("-0.5", "-1.5"), r"m.toml:13: modulation row 1: amount = -1.5 is out of range -1–1"),
        (good.replace('"bass"', '"bas"'), r"m.toml:11: modulation row 1: source = unknown source 'bas' — did "
                                          r"you mean bass\?"),
        (good.replace("beats = 8", "beats = 8\nseconds = 2"), r"m.toml:8: \[lfo1\] takes seconds or beats"),
        (good.replace('"triangle"', '"wobble"'), r"m.toml:7: \[lfo1\] shape = 'wobble' is unknown"),
        (good.replace('curve = "exp"', 'curve = "cubic"'), r"m.toml:19: modulation row 2: curve = 'cubic'"),
        (good.replace("attack_ms", "atack_ms"), r"m.toml:4: \[bands\] unknown key 'atack_ms' — did you mean "
                                                r"attack_ms\?"),
    ]:
        p.write_text(bad)
        with pytest.raises(LiveError, match=r"^preset " + msg):
            read_preset(str(p))
    p.write_text(good.replace('"bass"', '"drums"'))  # a stem's name is a source too
    assert read_preset(str(p))["matrix"].rows[0].source == "drums"


def test_amounts_live_are_recorded_and_replayed_identically(tmp_path):
    p = tmp_path / "mod.toml"
    p.write_text('[[modulation]]\nsource = "bass"\ntarget = "truncation"\namount = -0.5\n\n'
                 '[[modulation]]\nsource = "lfo1"\ntarget = "jitter"\namount = 0.4\n')
    preset = read_preset(str(p))
    look = Look(make_params(preset), list(range(12)), 0, str(p), matrix=preset["matrix"])
    d = Dispatcher(look, midi=MidiControl(MidiMap({8: "mod2"})))
    osc = parse_message("/live/mod/1/amount", [-0.9])
    walker_actions, toast = d.dispatch(osc)
    assert walker_actions == [A.SetModAmount(1, -0.9)] and "mod1 bass -> truncation -0.90" in toast
    _, toast = d.dispatch(parse_message("/live/mod/1/amount", [-3.0]))
    assert "out of range -1–1, clamped" in toast and look.matrix.rows[0].amount == -1.0
    assert d.dispatch(parse_message("/live/mod/7/amount", [0.1]))[0] == []  # no such row: reported
    import mido
    midi_actions, _ = d.dispatch(A.MidiMessage(mido.Message("control_change", control=8, value=127)))
    assert midi_actions == [A.SetModAmount(2, 1.0)]
    assert d.dispatch(A.Select("mod2"))[1].startswith("mod2 lfo1 -> jitter")
    assert d.dispatch(A.Nudge(None, -5))[0] == [A.SetModAmount(2, 0.8)]  # Up/Down step a row's range too

    # Live: the actions applied between audio reads, recorded; replay: the recorded events at their samples.
    events = []
    live = Steering(SR, look.params, look.classes, 0, on_event=events.append, matrix=preset["matrix"])
    x = KICK + HATS
    states = live.push(x[:SR])
    for a in [A.SetModAmount(1, -0.9), A.SetMatrix(look.matrix)]:
        live.apply(a)
        states += live.push(x[SR:2 * SR] if isinstance(a, A.SetModAmount) else x[2 * SR:])
    lines = [A.event_to_json(e, SR) for e in events]
    assert [json.loads(ln)["kind"] for ln in lines] == ["mod_amount", "matrix"]
    replay = Steering(SR, look.params, look.classes, 0, matrix=preset["matrix"])
    again = replay.feed(x, deque(A.event_from_json(ln) for ln in lines))
    assert len(again) == len(states)
    assert all(np.array_equal(a.z, b.z) and a.t == b.t for (_, a), (_, b) in zip(states, again))
    unchanged = Steering(SR, look.params, look.classes, 0, matrix=preset["matrix"]).push(x)  # control
    assert any(a.t != b.t for (_, a), (_, b) in zip(states, unchanged))


def test_a_preset_edit_of_the_rows_reloads_the_matrix(tmp_path):
    import os

    p = tmp_path / "mine.toml"
    p.write_text("jitter = 0.4\n")
    look = Look(make_params({"jitter": 0.4}), list(range(12)), 0, str(p))
    reloader = PresetReloader()
    reloader.changed(look.preset, [])
    p.write_text('jitter = 0.4\n[[modulation]]\nsource = "high"\ntarget = "cut"\namount = 1\ncurve = "gate"\n')
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
    [(requests, toast)] = reloader.changed(look.preset, [p.resolve()])
    assert requests == [A.SetMatrix(Matrix((Row("high", "cut", 1.0, "gate"),)))] and "reloaded" in toast
    assert Dispatcher(look).dispatch(requests[0])[0] == requests
    assert look.matrix.rows[0].target == "cut"


def test_the_beat_follows_links_clock_while_it_leads_and_replays():
    steer = Steering(SR, WalkerParams(), list(range(12)), 0, on_event=(events := []).append)
    beat, pulse = steer.sources.index["beat"], steer.sources.index["beat_pulse"]
    seen = []
    steer.on_frame = lambda fr: seen.append((fr.time_s, steer.sources.values[beat], steer.sources.values[pulse]))
    steer.push(KICK[:SR])  # the tracker leads (no tempo yet after 1 s: phase 0)
    steer.apply(A.SetBeatClock(0.25, 100.0))  # Link: beat 0.25 at 1 s, 100 BPM
    steer.push(KICK[SR:3 * SR])
    steer.apply(A.SetBeatClock(None))
    steer.push(KICK[3 * SR:4 * SR])
    t, phase, pul = map(np.array, zip(*seen))
    link = (t > 1.0) & (t <= 3.0)
    expect = 0.25 + (t[link] - 1.0) * 100 / 60
    assert np.allclose(phase[link], expect - np.floor(expect), atol=1e-9)
    crossings = np.flatnonzero(np.diff(np.floor(expect)) > 0) + 1
    assert np.array_equal(np.flatnonzero(pul[link] == 1.0), crossings)  # a pulse on each of Link's beats
    assert np.all(phase[t <= 1.0] == 0) and not np.allclose(phase[t > 3.0], phase[link][-1])
    lines = [A.event_to_json(e, SR) for e in events]
    assert [json.loads(ln)["value"] for ln in lines] == [[0.25, 100.0], None]
    again = Steering(SR, WalkerParams(), list(range(12)), 0)
    seen2 = []
    again.on_frame = lambda fr: seen2.append(again.sources.values[beat])
    again.feed(KICK[:4 * SR], deque(A.event_from_json(ln) for ln in lines))
    assert np.array_equal(seen2, phase)


class _Audio:
    """A fake input: silence hop by hop, its capture clock 1000 s + audio time, for 3 s."""
    samplerate, stems = SR, ()

    def __init__(self, stop):
        self.n, self.stop = 0, stop

    def read(self, hop):
        if self.n >= 3 * SR:
            self.stop.set()
            return np.zeros(0, np.float32), None
        self.n += hop
        return np.zeros(hop, np.float32), 1000.0 + self.n / SR


class _VJ:
    recorder = None

    def __init__(self, leads):
        self.leads = leads

    def on_frame(self, frame, t_capture, sources):
        pass

    def beat_clock(self, t):
        return (2.0 * (t - 1000.0), 120.0) if self.leads else None  # Link: beat 0 at 1000 s, 120 BPM


@pytest.mark.parametrize("leads", [True, False])
def test_live_analysis_sends_links_clock_as_recorded_actions(leads):
    import threading

    from live.run.stages import Analysis

    stop = threading.Event()
    look = Look(WalkerParams(), list(range(12)), 0)
    analysis = Analysis(_Audio(stop), look, stop, vj=_VJ(leads))
    events = []
    analysis.steer.on_event = events.append
    analysis.run()
    clocks = [e for e in events if isinstance(e.action, A.SetBeatClock)]
    phase = analysis.sources[1][analysis.steer.sources.index["beat"]]
    t_end = analysis.steer.pos / SR
    if leads:  # one a second, each Link's beat at its sample; the phase is Link's
        assert len(clocks) == 3 and all(e.action.beat == pytest.approx(2 * e.pos / SR) for e in clocks)
        assert phase == pytest.approx((2 * t_end) % 1.0, abs=1e-6)
    else:  # the control: without Link the tracker leads (silence: no tempo, phase 0)
        assert clocks == [] and phase == 0.0


def test_midi_learn_binds_a_knob_to_a_rows_amount(tmp_path):
    import mido

    matrix = Matrix((Row("bass", "truncation", -0.5), Row("high", "dir1", 1.0)))
    look = Look(make_params(), list(range(12)), 0, matrix=matrix)
    midi = MidiControl(MidiMap({}), tmp_path / "map.toml")
    d = Dispatcher(look, midi=midi)
    d.dispatch(A.Select("mod1"))
    d.dispatch(A.MidiLearn())
    d.dispatch(A.MidiMessage(mido.Message("control_change", control=40, value=0)))  # the knob moved
    _, toast = d.dispatch(A.Select(step=1))  # Right: the next one, row 2, is what the knob will set
    assert "CC 40 -> mod2" in toast and 'mod2' in (tmp_path / "map.toml").read_text()
    actions, _ = d.dispatch(A.MidiMessage(mido.Message("control_change", control=40, value=127)))
    assert actions == [A.SetModAmount(2, 3.0)]  # the top of a direction row's range (standard deviations)
    assert MidiMap.load(tmp_path / "map.toml").cc == {40: "mod2"}
