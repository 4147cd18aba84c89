"""Record and replay: events at sample positions, crash-safe recordings, `live --export --replay` equality."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from core.errors import LiveError
from live.cli import main
from live.config import make_params
from live.control.actions import Event, Freeze, Reseed, SetClasses, SetParams, event_from_json, event_to_json
from live.walk.steering import Steering
from live.recordings.latents import ROW
from live.recordings.record import Recorder, WavWriter
from live.recordings.replay import load_recording, read_events, replay_steps
from tests import vmic

REPO = Path(__file__).resolve().parents[1]
P0 = make_params()
CLASSES = list(range(12))


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    path = vmic.write_music(tmp_path_factory.mktemp("song") / "song.wav", 4)
    y, sr = sf.read(str(path), dtype="float32")
    return y, sr


def record_set(directory, y, sr, script, chunk=None, seed=3):
    """Play y through a Steering + Recorder as the live analysis thread does: random reads of <= one hop,
    with the walker action script[k] applied before the k-th read."""
    rec = Recorder(str(directory), sr, dict(seed=seed, preset="default", model="test",
                                            params=dataclasses.asdict(P0), classes=CLASSES))
    steer = Steering(sr, P0, CLASSES, seed, on_event=rec.event)
    rng, pos, k, states = np.random.default_rng(1), 0, 0, []
    while pos < len(y):
        if k in script:
            steer.apply(script[k])
        n = chunk or int(rng.integers(1, steer.features.hop + 1))
        x = y[pos:pos + n]
        rec.audio(x)
        for t, s in steer.push(x):
            rec.step(t, s)
            states.append((t, s))
        pos, k = pos + n, k + 1
    rec.close()
    return states


SCRIPT = {40: SetParams(dataclasses.replace(P0, truncation=0.3)), 100: SetClasses((107, 980, 1)),
          150: Freeze(True), 170: Freeze(False), 220: Reseed(77),
          260: SetParams(dataclasses.replace(P0, num_classes=3, jitter=0.1))}  # ~340 reads in the song
KIND = {SetParams: "params", SetClasses: "classes", Freeze: "freeze", Reseed: "reseed"}


def test_event_lines_round_trip():
    for action in SCRIPT.values():
        ev = Event(1234, action)
        assert event_from_json(event_to_json(ev, 44100)) == ev


@pytest.mark.parametrize("line, match", [
    ('{"pos": 1, "kind": "warp", "value": 1}', "unknown event kind 'warp' — known: params, classes, reseed, freeze"),
    ('{"pos": 1}', "not an event (KeyError: 'kind')"),
    ("not json", "not an event (JSONDecodeError"),
    ('{"pos": -5, "kind": "freeze", "value": true}', "position -5 is not a sample count >= 0"),
    ('{"pos": 1, "kind": "params", "value": {"truncation": 9}}', "truncation = 9 is out of range 0.02–1"),
    ('{"pos": 1, "kind": "params", "value": {"warp": 1}}', "unknown parameter 'warp' — known: pitch_sensitivity"),
    ('{"pos": 1, "kind": "classes", "value": [1, 5000]}', "classes must be ImageNet ids 0–999, got [1, 5000]"),
    ('{"pos": 1, "kind": "classes", "value": "jellyfish"}', "classes 'jellyfish' is not a list of class ids"),
    ('{"pos": 1, "kind": "reseed", "value": -1}', "seed -1 is not an integer >= 0"),
    ('{"pos": 1, "kind": "freeze", "value": 2}', "freeze 2 is not true or false"),
])
def test_bad_event_lines_are_one_line_errors(line, match):
    with pytest.raises(LiveError) as e:
        event_from_json(line)
    assert match in str(e.value) and "\n" not in str(e.value)


def test_a_damaged_recording_names_the_file_and_line(tmp_path, song, capsys):
    rec = tmp_path / "rec"
    record_set(rec, song[0][:22050], song[1], {3: Freeze(True)}, chunk=512)
    lines = (rec / "events.jsonl").read_text().splitlines()
    (rec / "events.jsonl").write_text("\n".join(['{"pos": 1, "kind": "classes", "value": [5000]}'] + lines) + "\n")
    assert main(["--export", "--replay", str(rec), "-o", str(tmp_path / "o.mp4")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"live: {rec / 'events.jsonl'}:1: classes must be ImageNet ids 0–999, got [5000] — "
                   "the recording is damaged")
    assert not (tmp_path / "o.mp4").exists()


GOOD = '{"pos": 1, "kind": "freeze", "value": true}'
BAD_VALUE = '{"pos": 2, "kind": "classes", "value": [5000]}'


@pytest.mark.parametrize("text, error_line", [
    (f"{GOOD}\n{BAD_VALUE}\n", 2),  # a complete last line with a bad value: damage, not a torn write
    (f"{BAD_VALUE}\n{GOOD}\n", 1),
    (f"{GOOD}\n{BAD_VALUE}", 2),  # no newline, but JSON: complete, and bad
    (f"{GOOD}\nnot json\n{GOOD}\n", 2),
    (f"{GOOD}\nnot json\n", 2),  # not JSON, but its newline was written: not torn
])
def test_a_bad_event_line_is_an_error_naming_its_line_wherever_it_stands(tmp_path, text, error_line):
    path = tmp_path / "events.jsonl"
    path.write_text(text)
    with pytest.raises(LiveError) as e:
        read_events(path)
    assert str(e.value).startswith(f"{path}:{error_line}: ") and str(e.value).endswith("the recording is damaged")


def test_only_a_torn_last_line_is_ignored_with_a_warning(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    path.write_text(f'{GOOD}\n{{"pos": 99999999, "kind": "par')  # killed mid-write
    assert read_events(path) == [Event(1, Freeze(True))]
    assert capsys.readouterr().err == f"live: {path}:2: incomplete last event (no newline, not JSON), ignored\n"
    path.write_text(f"{GOOD}\n{GOOD}")  # a whole last event without its newline is an event
    assert read_events(path) == [Event(1, Freeze(True))] * 2 and capsys.readouterr().err == ""


def test_replay_takes_exactly_the_recorded_steps(tmp_path, song):
    y, sr = song
    record_set(tmp_path / "rec", y, sr, SCRIPT)
    got, want = replay_steps(str(tmp_path / "rec")), np.load(tmp_path / "rec" / "latents.npz")
    assert len(want["t"]) > 100
    for key in ("z", "c", "t", "time_s"):
        assert got[key].shape == want[key].shape
        assert np.abs(got[key] - want[key]).max() <= 1e-5, key
    events = [json.loads(line) for line in (tmp_path / "rec" / "events.jsonl").read_text().splitlines()]
    assert [e["kind"] for e in events] == [KIND[type(a)] for a in SCRIPT.values()]
    session = json.loads((tmp_path / "rec" / "session.json").read_text())
    assert session["complete"] and session["samples"] == len(y) and session["steps"] == len(want["t"])


def test_an_event_changes_the_trajectory_from_its_position_on(tmp_path, song):
    y, sr = song
    base = record_set(tmp_path / "a", y, sr, {}, chunk=300)
    moved = record_set(tmp_path / "b", y, sr, {100: SetParams(dataclasses.replace(P0, truncation=0.3))},
                       chunk=300)
    at = 100 * 300 / sr  # the event's time
    for (t, s0), (_, s1) in zip(base, moved):
        if t <= at:
            assert np.array_equal(s0.z, s1.z) and s0.t == s1.t == 1.0
    assert moved[-1][1].t == pytest.approx(0.3) and base[-1][1].t == 1.0


def test_freeze_holds_the_walker(tmp_path, song):
    y, sr = song
    states = record_set(tmp_path / "rec", y, sr, {50: Freeze(True), 150: Freeze(False)}, chunk=300)
    times = np.array([t for t, _ in states])
    gap = np.diff(times).max()
    assert gap == pytest.approx(100 * 300 / sr, abs=0.05)  # no steps while frozen


def test_wav_is_valid_after_every_sync(tmp_path):
    w = WavWriter(tmp_path / "a.wav", 16000)
    x = np.linspace(-1, 1, 16000, dtype=np.float32)
    w.write(x)
    w.sync()
    w.write(x)  # written but not synced: a crash now loses at most this part
    w.f.flush()
    data, sr = sf.read(str(tmp_path / "a.wav"), dtype="float32")
    assert sr == 16000 and len(data) >= 16000 and np.array_equal(data[:16000], x)
    w.close()
    data, _ = sf.read(str(tmp_path / "a.wav"), dtype="float32")
    assert len(data) == 32000
    with av.open(str(tmp_path / "a.wav")) as c:  # the export's decoder reads it too
        assert sum(f.samples for f in c.decode(audio=0)) == 32000


CRASHER = r"""
import dataclasses, sys, time
import numpy as np, soundfile as sf
from live.config import make_params
from live.control.actions import SetParams
from live.walk.steering import Steering
from live.recordings.record import Recorder
y, sr = sf.read(sys.argv[2], dtype="float32")
p = make_params()
rec = Recorder(sys.argv[1], sr, dict(seed=5, preset="default", model="t", params=dataclasses.asdict(p),
                                     classes=list(range(12))))
steer = Steering(sr, p, list(range(12)), 5, on_event=rec.event)
pos = 0
while True:
    if pos == 20 * 512:
        steer.apply(SetParams(dataclasses.replace(p, truncation=0.4)))
    x = y[pos % len(y):pos % len(y) + 512]
    rec.audio(x)
    for t, s in steer.push(x):
        rec.step(t, s)
    pos += 512
    if pos == 3 * sr // 512 * 512:
        print("recording", flush=True)
    time.sleep(0.005)
"""


def test_a_killed_recording_replays_up_to_its_last_second(tmp_path, song):
    wav = tmp_path / "song.wav"
    sf.write(str(wav), song[0], song[1], subtype="FLOAT")
    rec = tmp_path / "rec"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    app = subprocess.Popen([sys.executable, "-c", CRASHER, str(rec), str(wav)], env=env, stdout=subprocess.PIPE,
                           text=True)
    try:
        assert app.stdout.readline().strip() == "recording"
        time.sleep(1.5)  # at least one header sync after the first 3 s
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait()
    assert not (rec / "latents.npz").exists()
    r = load_recording(str(rec))
    assert r.events and r.events[0].action.params.truncation == 0.4
    assert sf.info(str(rec / "audio.wav")).frames >= 3 * song[1] - 512
    got = replay_steps(str(rec))
    raw = np.fromfile(rec / "latents.spool", np.float32)  # what the recorder had flushed of its steps
    rows = raw[: len(raw) // ROW * ROW].reshape(-1, ROW)
    n = min(len(rows), len(got["t"]))
    assert n > 100
    assert np.abs(got["z"][:n] - rows[:n, :128]).max() <= 1e-5
    assert np.abs(got["t"][:n] - rows[:n, 1128]).max() <= 1e-5
    # a torn last line (killed mid-write) is ignored
    with open(rec / "events.jsonl", "a") as f:
        f.write('{"pos": 99999999, "kind": "par')
    assert len(load_recording(str(rec)).events) == len(r.events)


def test_export_replay_renders_the_same_trajectory(tmp_path, song, tiny_model_dir):
    y, sr = song
    record_set(tmp_path / "rec", y, sr, SCRIPT)
    out, lat = tmp_path / "set.mp4", tmp_path / "lat.npz"
    r = subprocess.run([sys.executable, "-m", "live", "--export", "--replay", str(tmp_path / "rec"), "-o", str(out),
                        "--model", str(tiny_model_dir), "--backend", "torch", "--quiet", "--fps", "5",
                        "--save-latents", str(lat)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert r.returncode == 0, r.stderr
    got, want = np.load(lat), np.load(tmp_path / "rec" / "latents.npz")
    for key in ("z", "c", "t", "time_s"):
        assert got[key].shape == want[key].shape and np.abs(got[key] - want[key]).max() <= 1e-5, key
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 20 and c.streams.audio


@pytest.mark.parametrize("case, match", [
    ("missing", "no such folder"),
    ("empty", "session.json is missing"),
    ("flags", "re-renders the recorded look: drop --truncation, --seed"),
    ("audio", "takes its audio from"),
    ("no-export", "--replay needs --export"),
])
def test_replay_mistakes_are_one_line(tmp_path, song, capsys, case, match):
    rec = tmp_path / "rec"
    if case in ("flags", "audio"):
        record_set(rec, song[0][:22050], song[1], {}, chunk=512)
    elif case == "empty":
        rec.mkdir()
    args = ["--export", "--replay", str(rec), "-o", str(tmp_path / "o.mp4")]
    if case == "flags":
        args += ["--truncation", "0.5", "--seed", "2"]
    elif case == "audio":
        args = ["--export", "song.wav", "--replay", str(rec), "-o", str(tmp_path / "o.mp4")]
    elif case == "no-export":
        args = ["--replay", str(rec)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("live: ") and match in err and "\n" not in err
