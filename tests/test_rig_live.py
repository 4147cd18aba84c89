"""Live mode in a VJ's rig, end to end with real peers (virtual mic, tiny model): headless with an NDI output
received by an NDI receiver in the test, the flash guard on a rave set with beat cuts (and its control: the same
run without the guard flashes), and Ableton Link with a
second peer process at 128 BPM whose beats the cuts must land on."""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests import vmic
from tests.flashes import flashes_per_second

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(vmic.missing() is not None, reason=str(vmic.missing()))


@pytest.fixture(scope="module")
def mic(tmp_path_factory):
    with vmic.VirtualMic(tmp_path_factory.mktemp("vmic")) as vm:
        vm.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        vm.play(vmic.write_music(tmp_path_factory.mktemp("audio") / "music.wav", 120))
        yield vm


def start_live(mic, model, *args):
    return subprocess.Popen([sys.executable, "-m", "live", "-d", "pulse", "--model", str(model), "--backend",
                             "torch", "--no-window", "--seed", "2", *args], env=mic.env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(app, timeout=120):
    try:
        _, err = app.communicate(timeout=timeout)
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 0, err[-2000:]
    return err


def ndi_run(mic, model, tmp_path, guard: str):
    """Live headless with an NDI output on a rave set with a cut on every beat: the frames an NDI receiver got
    (after start-up), their send times, live's --stats and its log."""
    from tests.ndi_receiver import NdiReceiver

    stats = tmp_path / f"stats-{guard}.json"
    app = start_live(mic, model, "--ndi", f"rig-{guard}", "--duration", "12", "--stats", str(stats),
                     "--preset", "rave", "--cut-on-beat", "1", "--display-rate", "30", "--flash-guard", guard)
    try:
        with NdiReceiver(f"rig-{guard}") as rx:
            assert rx.connect(90, poll=lambda: app.poll() is None or pytest.fail(app.communicate()[1][-2000:]))
            rx.collect(lambda: None, count=30, timeout=30)  # past the start-up
            got = rx.collect(lambda: None, count=120, timeout=30)
    finally:
        err = finish(app)
    return [f[..., :3] for f, _ in got], [t for _, t in got], json.loads(stats.read_text()), err


def test_headless_ndi_output_is_received_and_the_flash_guard_holds_on_a_rave_set(mic, tiny_model_dir, tmp_path):
    """The control first: the same run with --flash-guard off flashes more than three times a second on the
    receiver's frames (tests/flashes.py counts every pixel); with the guard at most three, and it worked."""
    pytest.importorskip("NDIlib", reason="ndi-python not installed: pip install ndi-python")
    frames, times, s, _ = ndi_run(mic, tiny_model_dir, tmp_path, "off")
    assert s["flash_guard"] is None and len(frames) >= 80, (s["flash_guard"], len(frames))
    control = flashes_per_second(times, frames)
    assert max(control.values()) > 3, control

    frames, times, s, err = ndi_run(mic, tiny_model_dir, tmp_path, "on")
    assert len(frames) >= 80, len(frames)
    assert all(f.shape == (128, 128, 3) for f in frames)
    steps = [float(np.abs(a.astype(np.int16) - b).mean()) for a, b in zip(frames, frames[1:])]
    moving = np.mean([x > 0.5 for x in steps])  # the guard holds some frames of this flashing set, not all
    assert moving > 0.1 and np.abs(frames[0].astype(np.int16) - frames[-1]).mean() > 5, (moving, steps)
    guarded = flashes_per_second(times, frames)
    assert max(guarded.values()) <= 3, (control, guarded)
    ndi = s["outputs"][0]
    assert ndi["kind"] == "ndi" and ndi["sent"] > 80 and ndi["error"] is None, s["outputs"]
    assert s["window"] is False and s["beat_cuts"]["shown"] >= 5, s
    assert s["flash_guard"]["frames"] > 0 and s["flash_guard"]["limited_frames"] > 0, s["flash_guard"]
    lines = err.strip().splitlines()
    assert all(line.startswith("live: ") for line in lines), err
    assert any("render" in line and "NDI" in line and "sent" in line for line in lines), err  # the HUD, logged


def test_cuts_land_on_the_beats_of_a_link_peer_at_128_bpm(mic, tiny_model_dir, tmp_path):
    pytest.importorskip("aalink", reason="aalink not installed: pip install aalink")
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import BlockingOSCUDPServer

    got = []
    d = Dispatcher()
    d.set_default_handler(lambda address, *args: got.append((time.monotonic(), address, args)))
    osc = BlockingOSCUDPServer(("127.0.0.1", 0), d)
    threading.Thread(target=osc.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    peer_out, stats = tmp_path / "peer.json", tmp_path / "stats.json"
    peer = subprocess.Popen([sys.executable, "-m", "tests.link_peer", "128", "60", str(peer_out)], cwd=REPO,
                            env=mic.env)
    try:
        app = start_live(mic, tiny_model_dir, "--link", "--cut-on-beat", "2", "--duration", "14", "--stats",
                         str(stats), "--osc-out", f"127.0.0.1:{osc.server_address[1]}")
        finish(app)
    finally:
        peer.terminate()
        peer.wait(10)
        osc.shutdown()
        osc.server_close()
    s = json.loads(stats.read_text())
    assert s["link"]["tempo"] == pytest.approx(128, abs=0.01) and s["link"]["peers"] >= 1, s["link"]
    cuts = s["beat_cuts"]["cuts"]
    assert len(cuts) >= 8, s["beat_cuts"]
    # The peer's beat grid from its own readings; with quantum 4 both share the phase, so a cut every 2 beats
    # falls on the peer's even beats.
    t, beat, peers = np.loadtxt(peer_out, ndmin=2).T
    assert peers.max() >= 1
    slope, b0 = np.polyfit(t, beat, 1)
    assert slope * 60 == pytest.approx(128, abs=0.01)
    shown = np.array([c["shown"] for c in cuts])
    at = slope * shown + b0
    errors = np.abs(((at + 1) % 2 - 1) / slope * 1000)  # ms to the nearest even beat
    assert np.median(errors) <= 10 and (errors <= 20).mean() >= 0.9, (errors, s["beat_cuts"]["lead_ms"])

    # OSC out: the HUD's Link figures, and beats sent on the session's beats (not on analysis frames)
    status = [args for _, address, args in got if address == "/live/status/link"]
    assert status and status[-1][0] == pytest.approx(128) and status[-1][1] >= 1, status[-3:]
    beats = np.array([t for t, address, _ in got if address == "/live/features/beat"])
    on_link = beats[beats > shown[0]]  # once Link leads
    assert len(on_link) >= 10
    off = np.abs(((slope * on_link + b0 + 0.5) % 1 - 0.5) / slope * 1000)  # ms to the nearest peer beat
    assert np.median(off) <= 10, off
