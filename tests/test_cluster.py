"""Export on a real local Ray cluster (`ray start --head`, 2 CPUs): the same video as this machine renders,
several songs at once, and a worker killed mid-render is retried."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from tests.audio_fixtures import music, write
from tests.test_export import export_args, run_live

ray = pytest.importorskip("ray", reason="the cluster tests need Ray: pip install -e '.[cluster]'")
# The cluster lives on loopback only (Ray's switch for one-machine clusters), with Ray's token authentication.
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The head node of a one-machine Ray cluster with 2 CPUs; its address."""
    if shutil.which("ray") is None:
        pytest.skip("the `ray` command is missing: pip install -e '.[cluster]'")
    port, temp = _free_port(), tmp_path_factory.mktemp("ray")
    env = dict(os.environ, **RAY_ENV)
    r = subprocess.run(["ray", "start", "--head", f"--port={port}", "--num-cpus=2", "--num-gpus=0",
                        "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                       capture_output=True, text=True, env=env, timeout=120)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        plain = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout + r.stderr)
        assert "Local node IP: 127.0.0.1" in plain, plain  # never a network interface
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(["ray", "stop", "--force"], capture_output=True, env=env, timeout=120)


def _env(tmp_path, name="cache"):
    return dict(os.environ, LIVE_CACHE_DIR=str(tmp_path / name), **RAY_ENV)


def _frames(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _streams(path):
    with av.open(str(path)) as c:
        return {s.type: (s.frames, round(float(s.duration * s.time_base), 2)) for s in c.streams}


def _psnr(a, b) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def _same_video(got, want):
    assert _streams(got) == _streams(want)
    a, b = _frames(got), _frames(want)
    assert len(a) == len(b) and min(_psnr(x, y) for x, y in zip(a, b)) >= 45  # boundaries included


def test_cluster_export_equals_this_machines(cluster, tiny_model_dir, tmp_path):
    """With the flash guard on, whose segments' guards know the cut between the two segments."""
    audio = write(tmp_path / "song.wav", music(12.0))
    one, many = tmp_path / "one.mp4", tmp_path / "many.mp4"
    r = run_live(*export_args(tiny_model_dir, audio, one, "--fps", 10, "--save-latents", tmp_path / "one.npz",
                              "--flash-guard", "on"))
    assert r.returncode == 0, r.stderr
    r = run_live(*export_args(tiny_model_dir, audio, many, "--fps", 10, "--save-latents", tmp_path / "many.npz",
                              "--flash-guard", "on", "--ray", cluster, "--workers", 2), env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "on 2 Ray workers" in r.stderr
    _same_video(many, one)
    a, b = np.load(tmp_path / "one.npz"), np.load(tmp_path / "many.npz")
    assert all(np.array_equal(a[k], b[k]) for k in ("z", "c", "t"))


def test_an_album_on_the_cluster_and_a_killed_worker(cluster, tiny_model_dir, tmp_path):
    """Two songs into one folder; a worker is SIGKILLed while it renders: Ray restarts it, the segment is
    rendered again, and both videos are whole and equal to this machine's."""
    songs = [write(tmp_path / "a.wav", music(40.0)), write(tmp_path / "b.flac", music(6.0)[::-1].copy())]
    ref = tmp_path / "ref"
    r = run_live("--export", *songs, "-o", f"{ref}/", "--model", tiny_model_dir, "--backend", "torch", "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(ref)) == ["a.mp4", "b.mp4"]
    out = tmp_path / "out"
    env = _env(tmp_path)
    p = subprocess.Popen([sys.executable, "-m", "live", "--export", *map(str, songs), "-o", f"{out}/", "--model",
                          str(tiny_model_dir), "--backend", "torch", "--quiet", "--ray", cluster],
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list((tmp_path / "cache").glob("export/*/seg-*.mp4")):
            assert p.poll() is None, p.communicate()[1]
            time.sleep(0.05)  # the first segment is back: the workers are rendering
        pids = subprocess.run(["pgrep", "-f", "ray::SegmentRenderer"], capture_output=True, text=True).stdout.split()
        assert pids, "no Ray worker found"
        os.kill(int(pids[0]), signal.SIGKILL)
        err = p.communicate(timeout=300)[1]
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    for name in ("a.mp4", "b.mp4"):
        _same_video(out / name, ref / name)
