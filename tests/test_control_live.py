"""VJ control of a running `live` (virtual mic, dummy SDL, tiny model): OSC changes the recorded trajectory
from that point on, a preset edit reloads, a broken one keeps the look, beat cuts happen, a missing MIDI port
is one line, and the recording replays to the same steps."""
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from live.recordings.replay import replay_steps
from tests import vmic

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(vmic.missing() is not None, reason=str(vmic.missing()))


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def recorded_s(wav: Path, sr: int = 44100) -> float:
    try:
        return max(0, wav.stat().st_size - 58) / 4 / sr  # float32 mono after the 58-byte header
    except OSError:
        return 0.0


def edit(path: Path, text: str):
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_osc_hot_reload_and_beat_cuts_reach_the_recording(tiny_model_dir, tmp_path):
    music = vmic.write_music(tmp_path / "music.wav", 60)
    preset = tmp_path / "set.toml"
    edit(preset, "jitter = 0.5\n")
    rec, port = tmp_path / "rec", free_udp_port()
    with vmic.VirtualMic(tmp_path / "vm") as vm:
        vm.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        vm.play(music)
        app = subprocess.Popen(
            [sys.executable, "-m", "live", "-d", "pulse", "--model", str(tiny_model_dir), "--backend", "torch",
             "--duration", "9", "--osc", str(port), "--record", str(rec), "--cut-on-beat", "4",
             "--midi", "nanoKONTROL", "--preset", str(preset), "--seed", "1"],
            env=vm.env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            def at(seconds):  # wait for this much recorded audio (audio time, not wall time)
                deadline = time.monotonic() + 180
                while recorded_s(rec / "audio.wav") < seconds:
                    assert app.poll() is None, app.communicate()[1][-2000:]
                    assert time.monotonic() < deadline, "the recording did not grow"
                    time.sleep(0.05)

            osc = SimpleUDPClient("127.0.0.1", port)
            at(1.5)
            far = OscBundleBuilder(time.time() + 3600)  # refused in a line; froze OSC and shutdown before
            far.add_content(OscMessageBuilder("/live/truncation").build())
            osc.send(far.build())
            osc.send_message("/live/truncation", 0.3)
            osc.send_message("/live/jitter", 5.0)  # out of range: clamped to 1 and reported
            osc.send_message("/live/nope", 1.0)  # unknown: reported
            at(3.0)
            edit(preset, "jitter = 0.2\n")  # hot reload: only jitter changes, truncation stays 0.3
            at(5.0)
            edit(preset, "jitter = = 0.9\n")  # broken: keeps the look
            _, err = app.communicate(timeout=60)  # --duration 9 ends it, the bundle an hour ahead or not
        finally:
            if app.poll() is None:
                app.kill()
    assert app.returncode == 0, err[-2000:]
    lines = err.strip().splitlines()
    assert len([ln for ln in lines if "MIDI" in ln]) == 1, err  # missing port: one line, then on without it
    assert any("jitter 5 is out of range 0–1, clamped to 1" in ln for ln in lines), err
    assert any("unknown address /live/nope" in ln for ln in lines), err
    refused = r"time-tagged 3,(599|600)\.\d s ahead .* was refused: /live/truncation$"
    assert any(re.search(refused, ln) for ln in lines), err
    assert any("preset set.toml:1: invalid TOML" in ln and "keeping the current look" in ln for ln in lines), err

    events = [json.loads(ln) for ln in (rec / "events.jsonl").read_text().splitlines()]
    params = [e for e in events if e["kind"] == "params"]
    assert [(e["value"]["truncation"], e["value"]["jitter"]) for e in params] == [(0.3, 0.5), (0.3, 1.0),
                                                                                (0.3, 0.2)], events
    assert sum(e["kind"] == "classes" for e in events) >= 1, events  # a cut every 4 beats of 120 bpm music
    pos = params[0]["pos"]
    sr = sf.info(str(rec / "audio.wav")).samplerate
    lat = np.load(rec / "latents.npz")
    before = lat["time_s"] * sr <= pos + 0.5
    assert before.sum() > 10 and (~before).sum() > 10
    assert np.all(lat["t"][before] == 1.0)  # the trajectory changes from the event on...
    assert lat["t"][~before][0] < 1.0 and lat["t"][-1] == pytest.approx(0.3)  # ...gliding to the new value
    session = json.loads((rec / "session.json").read_text())
    assert session["complete"] and session["seed"] == 1 and session["samplerate"] == sr

    got = replay_steps(str(rec))  # the same steps again from audio.wav + events.jsonl
    for key in ("z", "c", "t", "time_s"):
        assert got[key].shape == lat[key].shape and np.abs(got[key] - lat[key]).max() <= 1e-5, key
