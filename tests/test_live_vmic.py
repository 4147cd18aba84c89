"""Live mode end to end with real parts: `python -m live` capturing a paced virtual microphone (PulseAudio
null sink, see tests/vmic.py) through sounddevice/PortAudio, rendering a tiny random BigGAN and showing it
in an SDL window (dummy video driver)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from live.run.stats import STATS_KEYS
from tests import vmic

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(vmic.missing() is not None, reason=str(vmic.missing()))


@pytest.fixture(scope="module")
def mic(tmp_path_factory):
    root = tmp_path_factory.mktemp("vmic")
    with vmic.VirtualMic(root) as vm:
        vm.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        yield vm


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir):
    return str(tiny_model_dir)


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    # Long enough to outlast the app's start-up (model load, warm-up) plus the run itself.
    return vmic.write_music(tmp_path_factory.mktemp("audio") / "music.wav", 90)


def run_live(mic, *args, timeout=180):
    return subprocess.run([sys.executable, "-m", "live", *args], env=mic.env, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_list_devices_shows_the_virtual_mic(mic):
    r = run_live(mic, "-l")
    assert r.returncode == 0, r.stderr
    assert "pulse" in r.stdout and "idx" in r.stdout


def test_missing_device_is_one_line_and_nonzero(mic, model_dir):
    r = run_live(mic, "-d", "no such microphone", "--model", model_dir, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("live: ") and "no such microphone" in lines[0], r.stderr


def test_music_moves_the_image_more_than_silence(mic, model_dir, music, tmp_path):
    stats = {}
    for name in ("music", "silence"):
        player = mic.play(music) if name == "music" else None  # silence: the idle sink's monitor
        try:
            out = tmp_path / f"{name}.json"
            # -d by name substring, as sounddevice matches it
            r = run_live(mic, "-d", "puls", "--model", model_dir, "--backend", "torch", "--duration", "4",
                         "--stats", str(out), "--seed", "1")
        finally:
            if player is not None:
                player.terminate()
                player.wait()
        assert r.returncode == 0, r.stderr[-2000:]
        stats[name] = json.loads(out.read_text())
        assert set(STATS_KEYS) <= set(stats[name]), stats[name]
        s = stats[name]
        assert s["frames_rendered"] > 0 and s["frames_displayed"] > 0, s
        assert s["device"] == "pulse" and s["resolution"] == 128 and s["duration_s"] >= 4
        assert s["latency_ms_p50"] is not None and s["latency_ms_p95"] >= s["latency_ms_p50"] > 0
    assert stats["music"]["motion"] > stats["silence"]["motion"] + 0.5, stats


KEYS_AND_QUIT = r"""
import os, sys, threading, time
import pygame
from live.cli import main

flag = sys.argv[1]

def drive():
    while not (pygame.display.get_init() and pygame.display.get_surface()):
        time.sleep(0.05)
    def key(k, uni=""):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, unicode=uni, mod=0, scancode=0))
        time.sleep(0.15)
    for k, u in [(pygame.K_h, "h"), (pygame.K_SLASH, "?"), (pygame.K_u, "u"), (pygame.K_DOWN, ""),
                 (pygame.K_n, "n"), (pygame.K_DOWN, ""), (pygame.K_c, "c"), (pygame.K_r, "r"),
                 (pygame.K_2, "2"), (pygame.K_SPACE, " "), (pygame.K_SPACE, " "), (pygame.K_f, "f")]:
        key(k, u)
    print("ready", flush=True)
    seen = set()
    while not os.path.exists(flag):
        seen.add(pygame.display.get_caption()[0])
        time.sleep(0.05)
    print("captions seen:", sorted(seen), flush=True)
    print("caption:", pygame.display.get_caption()[0], flush=True)
    key(pygame.K_q, "q")

threading.Thread(target=drive, daemon=True).start()
sys.exit(main(sys.argv[2:]))
"""


def _source_outputs(vm) -> int:
    r = subprocess.run(["pactl", "list", "short", "source-outputs"], env=vm.env, capture_output=True, text=True)
    return len(r.stdout.strip().splitlines()) if r.returncode == 0 else 0


def _wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_keys_sound_server_loss_and_q_quit_cleanly(model_dir, music, tmp_path):
    """Keys drive the look; the sound server dies mid-set and comes back: the app reconnects on its own
    and `q` then quits with exit 0 and a stats file."""
    vm = vmic.VirtualMic(tmp_path / "vm").start()
    vm.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    flag, stats = tmp_path / "quit-now", tmp_path / "stats.json"
    app = subprocess.Popen([sys.executable, "-c", KEYS_AND_QUIT, str(flag), "-d", "pulse", "--model", model_dir,
                            "--backend", "torch", "--duration", "150", "--stats", str(stats)],
                           env=vm.env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        vm.play(music)
        _wait(lambda: _source_outputs(vm) > 0 or app.poll() is not None, 120, "the app to start capturing")
        assert app.poll() is None, app.communicate()[1][-2000:]
        time.sleep(3.0)  # a fresh PulseAudio stream takes ~1.5 s to deliver its first block
        vm.stop()  # the "device" disappears mid-set
        time.sleep(2.5)
        assert app.poll() is None, "the app must survive losing its input"
        vm.start()
        vm.play(music)
        _wait(lambda: _source_outputs(vm) > 0 or app.poll() is not None, 30, "the app to reconnect")
        time.sleep(3.0)
        flag.write_text("q")
        out, err = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
        vm.stop()
    assert app.returncode == 0, err[-2000:]
    assert "caption: live — pulse\n" in out, out  # the title names the tool and the device...
    assert "live — pulse (no input)" in out, out  # ...and said "no input" while the server was gone
    s = json.loads(stats.read_text())
    assert s["input_reopens"] >= 1 and s["frames_displayed"] > 0 and s["duration_s"] < 150, s


def test_lrc_lyrics_switch_classes_live_and_the_recording_has_it(mic, model_dir, music, tmp_path):
    from live.classes import class_id

    lrc = tmp_path / "song.lrc"
    lrc.write_text("[00:00.00]the ocean waves roll onto the sandy beach\n"
                   "[00:01.00]jellyfish and coral reef under the sea\n"
                   "[00:02.00]a plate of spaghetti and ice cream for dessert\n")
    rec = tmp_path / "set"
    r = run_live(mic, "--model", model_dir, "--backend", "torch", "--duration", "5", "--lyrics", str(lrc),
                 "--num-classes", "4", "--record", str(rec), "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    events = [json.loads(line) for line in (rec / "events.jsonl").read_text().splitlines()]
    changes = [e for e in events if e.get("kind") == "classes"]
    ice_cream = class_id("ice cream")
    late = [e for e in changes if ice_cream in e["value"]]
    sr = json.loads((rec / "session.json").read_text())["samplerate"]
    assert late, (events, (rec / "audio.wav").stat().st_size / 4 / sr)
    assert late[0]["pos"] / sr >= 2.0 - 0.1  # switched at its timed line, not before


# What a live run's --stats holds, written out here rather than taken from live.run.stats.
LIVE_STATS = {"frames_rendered": int, "frames_displayed": int, "duration_s": float, "fps_rendered": float,
              "fps_displayed": float, "latency_ms_p50": float, "latency_ms_p95": float, "xruns": int,
              "dropped_frames": int, "backend": str, "resolution": int, "device": str, "samplerate": int,
              "input_reopens": int, "motion": float, "images_displayed": int, "images_per_s": float,
              "interpolating": bool, "display_rate_hz": float, "added_latency_ms": float, "window": bool,
              "outputs": list, "link": type(None), "flash_guard": type(None), "beat_cuts": dict,
              "time_monotonic_end": float}  # no outputs, no Link, windowed: no flash guard


def test_sigterm_ends_the_set_like_ctrl_c_with_stats_and_a_whole_recording(mic, model_dir, music, tmp_path):
    stats, rec = tmp_path / "stats.json", tmp_path / "set"
    player = mic.play(music)
    app = subprocess.Popen([sys.executable, "-m", "live", "-d", "puls", "--model", model_dir, "--backend", "torch",
                            "--duration", "150", "--stats", str(stats), "--record", str(rec)],
                           env=mic.env, cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: _source_outputs(mic) > 0 or app.poll() is not None, 120, "the app to start capturing")
        assert app.poll() is None, app.communicate()[1][-2000:]
        time.sleep(3.0)
        app.send_signal(signal.SIGTERM)
        err = app.communicate(timeout=60)[1]
    finally:
        if app.poll() is None:
            app.kill()
        player.terminate()
        player.wait()
    assert app.returncode == 0 and "Traceback" not in err, err[-2000:]
    s = json.loads(stats.read_text())
    assert {k: type(v) for k, v in s.items()} == LIVE_STATS, s
    assert s["frames_displayed"] > 0 and 2.0 < s["duration_s"] < 150 and s["resolution"] == 128, s
    assert s["device"] == "pulse" and s["backend"].startswith("torch") and s["samplerate"] > 0, s
    session = json.loads((rec / "session.json").read_text())
    assert session["complete"] and session["steps"] > 0 and (rec / "latents.npz").is_file()
    assert [p.name for p in tmp_path.rglob("*") if p.name.endswith((".part", ".spool"))] == []
