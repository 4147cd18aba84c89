"""A paced virtual microphone for live-mode tests: a private PulseAudio with a null sink.

`paplay --device=vmic` plays into the sink; PortAudio (ALSA default -> pulse plugin, PULSE_SOURCE=vmic.monitor)
captures its monitor at the real sample rate, like a desktop mic. Everything lives in a temp HOME and
XDG_RUNTIME_DIR, so it never touches a user's sound server. The live app must run as a subprocess with
`env` (PortAudio reads the environment once, at initialisation).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import soundfile as sf

PACKAGES = "pulseaudio pulseaudio-utils libasound2-plugins libportaudio2"
SINK = "vmic"


def missing() -> str | None:
    """Why a virtual mic cannot run here (for pytest.skip), or None."""
    for tool in ("pulseaudio", "paplay", "pactl"):
        if shutil.which(tool) is None:
            return f"{tool} not found: apt-get install {PACKAGES}"
    if not any(Path(p).exists() for p in ("/usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so",
                                          "/usr/lib/aarch64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so",
                                          "/usr/lib/alsa-lib/libasound_module_pcm_pulse.so")):
        return f"ALSA pulse plugin not found: apt-get install {PACKAGES}"
    return None


class VirtualMic:
    def __init__(self, root: Path):
        self.root = Path(root)
        home, run = self.root / "home", self.root / "run"
        home.mkdir(parents=True, exist_ok=True)
        run.mkdir(parents=True, exist_ok=True)
        run.chmod(0o700)
        (home / ".asoundrc").write_text("pcm.!default { type pulse }\nctl.!default { type pulse }\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "ALSA_"))}
        env.update(HOME=str(home), XDG_RUNTIME_DIR=str(run), PULSE_SOURCE=f"{SINK}.monitor",
                   SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")
        env.pop("DISPLAY", None)
        self.env = env
        self.server: subprocess.Popen | None = None
        self.players: list[subprocess.Popen] = []

    def start(self, timeout: float = 15.0) -> "VirtualMic":
        # As root pulseaudio only warns ("not intended to be run as root") and runs per-user; -n skips
        # default.pa so nothing probes real hardware.
        self.log = open(self.root / "pulseaudio.log", "wb")
        self.server = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
             "--log-target=stderr", "-L", "module-native-protocol-unix",
             "-L", f"module-null-sink sink_name={SINK}"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"pulseaudio exited: {(self.root / 'pulseaudio.log').read_text()[-500:]}")
            r = subprocess.run(["pactl", "list", "short", "sources"], env=self.env, capture_output=True, text=True)
            if r.returncode == 0 and f"{SINK}.monitor" in r.stdout:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("pulseaudio did not come up in time")

    def play(self, wav: Path) -> subprocess.Popen:
        p = subprocess.Popen(["paplay", f"--device={SINK}", str(wav)], env=self.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.players.append(p)
        return p

    def stop(self):
        for p in self.players + ([self.server] if self.server else []):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.players, self.server = [], None
        if getattr(self, "log", None):
            self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def write_music(path: Path, seconds: float, sr: int = 44100, seed: int = 0) -> Path:
    """Chords that change every half second plus a noise-burst kick on each beat (120 bpm): chroma moves,
    onsets and loudness move. Deterministic."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    out = np.zeros(n)
    chords = [(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)]
    seg = sr // 2
    for i in range(0, n, seg):
        notes = chords[(i // seg) % len(chords)]
        tt = t[i:i + seg]
        for m in notes:
            out[i:i + seg] += 0.12 * np.sin(2 * np.pi * 440 * 2 ** ((m - 69) / 12) * tt)
    env = np.exp(-np.arange(int(0.08 * sr)) / (0.02 * sr))
    for b in range(0, n, seg):
        k = min(len(env), n - b)
        out[b:b + k] += 0.5 * env[:k] * rng.standard_normal(k)
    sf.write(str(path), np.clip(out, -1, 1).astype(np.float32), sr, subtype="PCM_16")
    return path


def write_silence(path: Path, seconds: float, sr: int = 44100) -> Path:
    sf.write(str(path), np.zeros(int(seconds * sr), np.float32), sr, subtype="PCM_16")
    return path
