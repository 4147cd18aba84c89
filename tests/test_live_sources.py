"""The sources of a live set (virtual microphone: the mix on channel 1, a kick stem on channel 2) as OSC out sends
them: exactly what a replay of its recording computes, and close to what an export of the same audio file
computes."""
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_bundle import OscBundle

from live.analysis.lfo import LfoSpec
from live.analysis.sources import SourceSpec, source_names
from live.audio import decode
from live.config import WalkerParams
from live.recordings.replay import ReplaySource, load_recording, replay_steps
from live.walk.actions import SetMatrix
from live.walk.modulation import Matrix, Row
from live.walk.steering import Steering
from tests import vmic
from tests.audio_fixtures import drums, write

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(vmic.missing() is not None, reason=str(vmic.missing()))
SR = 44100
AUDIO = ("power", "sub", "bass", "high", "kick")  # sources of the audio alone (LFOs and beat count from 0)
ROWS = (Row("kick", "truncation", -0.5), Row("high", "jitter", 0.4))


class Receiver:
    """Collects /live/source bundles on a UDP port: one row of values per frame, in `names` order."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.port = self.sock.getsockname()[1]
        self.rows, self.names, self._stop = [], None, False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data.startswith(b"#bundle"):
                continue  # /live/features/... messages
            msgs = list(OscBundle(data))
            self.names = [m.address[len("/live/source/"):] for m in msgs]
            self.rows.append([m.params[0] for m in msgs])

    def stop(self):
        self._stop = True
        self.thread.join()
        self.sock.close()


def export_values(mix_path, stem_path, matrix):
    """Every frame's sources of an export of the file (the export's decoder and analysis rate)."""
    steer = Steering(decode.ANALYSIS_SR, WalkerParams(), list(range(12)), 0, matrix=matrix, stems=("kick",))
    rows = []
    steer.on_frame = lambda fr: rows.append(steer.sources.values.copy())
    blocks = decode.with_stems((m for m, _ in decode.blocks(decode.probe(mix_path), planar=False)),
                               [(m for m, _ in decode.blocks(decode.probe(stem_path), planar=False))])
    for b in blocks:
        steer.push(b)
    return np.array(rows)


def best_lag(live, export):
    """The frame offset of the live capture in the file, by correlation of the audio sources."""
    n = len(live)
    scores = [np.corrcoef(live.ravel(), export[k:k + n].ravel())[0, 1] for k in range(len(export) - n)]
    return int(np.argmax(scores))


def test_live_sources_are_the_replays_and_about_the_exports(tiny_model_dir, tmp_path):
    kick, hats, _, _ = drums(SR, seconds=60)
    mix_path = write(tmp_path / "mix.wav", kick + hats, SR)
    stem_path = write(tmp_path / "kick.wav", kick, SR)
    sf.write(str(tmp_path / "both.wav"), np.stack([kick + hats, kick], axis=1), SR)  # L: mix, R: the stem
    preset = tmp_path / "drums.toml"
    preset.write_text('[lfo1]\nseconds = 2\n\n[[modulation]]\nsource = "kick"\ntarget = "truncation"\n'
                      'amount = -0.5\n\n[[modulation]]\nsource = "high"\ntarget = "jitter"\namount = 0.4\n')
    rec, osc = tmp_path / "rec", Receiver()
    try:
        with vmic.VirtualMic(tmp_path / "vm") as vm:
            vm.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
            vm.play(tmp_path / "both.wav")
            r = subprocess.run([sys.executable, "-m", "live", "-d", "pulse", "--channels", "1", "--stems", "kick=2",
                                "--model", str(tiny_model_dir), "--backend", "torch", "--duration", "5",
                                "--preset", str(preset), "--osc-out", f"127.0.0.1:{osc.port}", "--record", str(rec)],
                               env=vm.env, cwd=REPO, capture_output=True, text=True, timeout=240)
    finally:
        osc.stop()
    assert r.returncode == 0, r.stderr[-2000:]
    assert osc.names == list(source_names(("kick",)))
    live = np.array(osc.rows, np.float32)
    assert len(live) > 100 and (rec / "stems.wav").is_file()

    # Replay: the recorded mix and stem through the same analysis give every frame's sources exactly.
    def replay(matrix=None):
        src = ReplaySource(load_recording(str(rec)))
        if matrix is not None:
            src.steering.apply(SetMatrix(matrix))
        rows = []
        src.steering.on_frame = lambda fr: rows.append(src.steering.sources.values.astype(np.float32))
        src.finish()
        return np.array(rows)

    again = replay()
    assert again.shape == live.shape and np.array_equal(again, live)
    lat, steps = np.load(rec / "latents.npz"), replay_steps(str(rec))  # and the walk they modulated
    assert np.ptp(lat["t"]) > 0.3  # the kick row moved the truncation
    for key in ("z", "c", "t"):
        assert np.array_equal(steps[key], lat[key]), key
    slower = replay(Matrix(ROWS, SourceSpec(release_ms=400, lfos=(LfoSpec("sine", 2.0),) * 4)))
    assert not np.array_equal(slower, live)  # the control: other envelopes would show

    # Export: the file decoded at the export's rate, aligned to where the capture began in it.
    cols = [osc.names.index(n) for n in AUDIO]
    export = export_values(mix_path, stem_path, Matrix(ROWS))[:, cols]
    heard = live[:, cols][int(1.0 / 0.0232):]  # after the first second (the running peaks have seen a kick)
    k = best_lag(heard, export)
    aligned = export[k:k + len(heard)]
    for j, name in enumerate(AUDIO):
        corr = np.corrcoef(heard[:, j], aligned[:, j])[0, 1]
        print(f"{name}: correlation {corr:.3f}, mean |live - export| {np.abs(heard[:, j] - aligned[:, j]).mean():.4f}")
        assert corr > 0.9 and np.abs(heard[:, j] - aligned[:, j]).mean() < 0.08, (name, corr)
    off = export[k + 11:k + 11 + len(heard)]  # the control: a quarter beat off, the comparison fails
    assert np.corrcoef(heard[:, 2], off[:, 2])[0, 1] < 0.5

