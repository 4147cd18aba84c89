"""Export on a real local Ray cluster (`ray start --head`, 2 CPUs): the same video as this machine renders,
several songs at once, a worker killed while it renders has its segment rendered again, signals stop the
cluster's work and keep its segments for a rerun, an unreachable head is one line; `--ray local` resumes after
a killed driver. Nothing here reads or writes HOME: the token lives in a temp folder."""
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.audio_fixtures import music, write
from tests.test_export import export_args, run_live

ray = pytest.importorskip("ray", reason="the cluster tests need Ray: pip install -e '.[cluster]'")
# The cluster lives on loopback only (Ray's switch for one-machine clusters), with Ray's token authentication.
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS")
# An actor renders segment N into a temp file named after it and its process (core.files.create_temp).
RENDER = re.compile(r"\.seg-(\d+)\.mp4\.(\d+)-[0-9a-f]{6}\.[0-9a-f]{8}\.part")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, address: str, env: dict, worker_tmp: Path):
        self.address, self.env, self.worker_tmp = address, env, worker_tmp

    def renders(self) -> set:
        """(segment, worker pid, temp folder) of every render the workers have under way now."""
        found = set()
        try:
            paths = list(self.worker_tmp.glob("live-segment-*/.seg-*.part"))
        except FileNotFoundError:  # a finished segment's temp folder went away under the glob: look again
            return self.renders()
        for p in paths:
            if m := RENDER.fullmatch(p.name):
                found.add((int(m[1]), int(m[2]), p.parent.name))
        return found


@pytest.fixture(scope="module")
def cluster():
    """The head node of a one-machine Ray cluster with 2 CPUs, its token in a temp folder (Ray's
    RAY_AUTH_TOKEN_PATH, a token as `ray get-auth-token --generate` makes one), its workers' TMPDIR a folder
    the tests watch."""
    if shutil.which("ray") is None:
        pytest.skip("the `ray` command is missing: pip install -e '.[cluster]'")
    # Ray's sockets and session live in a folder of our own: pytest prunes old basetemps of other sessions.
    port, temp = _free_port(), Path(tempfile.mkdtemp(prefix="ray"))
    token = temp / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    worker_tmp = temp / "workers"
    worker_tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in AUTH_VARS}
    env.update(RAY_ENV, RAY_AUTH_TOKEN_PATH=str(token))
    try:
        for _ in range(2):  # Ray gives its raylet 30 s to register: a loaded machine may need a second try
            r = subprocess.run(["ray", "start", "--head", f"--port={port}", "--num-cpus=2", "--num-gpus=0",
                                "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp / 'ray'}"],
                               capture_output=True, text=True, env=dict(env, TMPDIR=str(worker_tmp)), timeout=120)
            if r.returncode == 0 or "timed out during startup" not in r.stderr:
                break
            subprocess.run(["ray", "stop", "--force"], capture_output=True, env=env, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        plain = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout + r.stderr)
        assert "Local node IP: 127.0.0.1" in plain, plain  # never a network interface
        yield Cluster(f"127.0.0.1:{port}", env, worker_tmp)
    finally:
        subprocess.run(["ray", "stop", "--force"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def _env(cluster, tmp_path, name="cache"):
    return dict(cluster.env, LIVE_CACHE_DIR=str(tmp_path / name))


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


def _live(args, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "live", *map(str, args)], stderr=subprocess.PIPE, text=True,
                            env=env)


def _wait_for(p, what, timeout=180, step=0.02):
    """Poll what() until it is true (the export still running); returns its value."""
    deadline = time.time() + timeout
    while not (value := what()):
        assert p.poll() is None, p.communicate()[1]
        assert time.time() < deadline, f"timed out waiting for {what.__doc__}"
        time.sleep(step)
    return value


def _segments(cache: Path) -> list:
    return sorted(cache.glob("export/*/seg-*.mp4"))


def _one_thread(tmp_path) -> dict:
    """This machine's export on one thread, as each 1-CPU worker runs: the CPU engine's pixels depend on its
    thread count (bf16: 41 dB between 1 and 2 threads here)."""
    return dict(os.environ, OMP_NUM_THREADS="1", LIVE_CACHE_DIR=str(tmp_path / "ref-cache"))


def test_cluster_export_equals_this_machines(cluster, tiny_model_dir, tmp_path):
    """With the flash guard on, whose segments' guards know the cut between the two segments (48 + 12 frames)."""
    audio = write(tmp_path / "song.wav", music(12.0))
    one, many = tmp_path / "one.mp4", tmp_path / "many.mp4"
    r = run_live(*export_args(tiny_model_dir, audio, one, "--fps", 5, "--save-latents", tmp_path / "one.npz",
                              "--flash-guard", "on"), env=_one_thread(tmp_path))
    assert r.returncode == 0, r.stderr
    r = run_live(*export_args(tiny_model_dir, audio, many, "--fps", 5, "--save-latents", tmp_path / "many.npz",
                              "--flash-guard", "on", "--ray", cluster.address, "--workers", 2),
                 env=_env(cluster, tmp_path))
    assert r.returncode == 0, r.stderr
    assert "on 2 Ray workers" in r.stderr
    _same_video(many, one)
    a, b = np.load(tmp_path / "one.npz"), np.load(tmp_path / "many.npz")
    assert all(np.array_equal(a[k], b[k]) for k in ("z", "c", "t"))


def test_a_posed_stylegan3_pickle_on_the_cluster_equals_this_machines(cluster, tmp_path):
    """Your own model on the cluster: a StyleGAN3 pickle with a spinning pose, the workers' video and saved
    synthesis inputs (ws, transform) equal to this machine's."""
    from engine.stylegan.testmodel import load_skeleton, write_pickle

    pkl = write_pickle(tmp_path / "sg3-t.pkl", load_skeleton(Path(__file__).parent / "data/stylegan/sg3-t.json"))
    audio = write(tmp_path / "song.wav", music(12.0))
    one, many = tmp_path / "one.mp4", tmp_path / "many.mp4"
    extra = ("--fps", 5, "--spin", 90)  # two segments (48 + 12 frames)
    r = run_live(*export_args(pkl, audio, one, *extra, "--save-latents", tmp_path / "one.npz"),
                 env=_one_thread(tmp_path))
    assert r.returncode == 0, r.stderr
    r = run_live(*export_args(pkl, audio, many, *extra, "--save-latents", tmp_path / "many.npz", "--ray",
                              cluster.address, "--workers", 2), env=_env(cluster, tmp_path))
    assert r.returncode == 0, r.stderr
    assert "on 2 Ray workers" in r.stderr
    _same_video(many, one)
    a, b = np.load(tmp_path / "one.npz"), np.load(tmp_path / "many.npz")
    assert {"ws", "transform", "xform"} <= set(b.files) and len(np.unique(b["xform"][:, 0])) > 10, b.files
    assert all(np.array_equal(a[k], b[k]) for k in a.files), a.files


def test_an_album_on_the_cluster_and_a_worker_killed_while_it_renders(cluster, tiny_model_dir, tmp_path):
    """Two songs into one folder; the worker rendering a segment is SIGKILLed mid-segment: Ray restarts it and
    that segment is rendered again (two renders of it, by two processes), every other segment once (the
    control: the count sees a single render as one), and both videos are whole and equal to this machine's."""
    # at 10 fps a segment is 96 frames: a.wav has 4 segments (96, 96, 96, 12), b.flac one
    songs = [write(tmp_path / "a.wav", music(30.0)), write(tmp_path / "b.flac", music(6.0)[::-1].copy())]
    ref = tmp_path / "ref"
    r = run_live("--export", *songs, "-o", f"{ref}/", "--model", tiny_model_dir, "--backend", "torch", "--quiet",
                 "--fps", 10, env=_one_thread(tmp_path))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(ref)) == ["a.mp4", "b.mp4"]
    out = tmp_path / "out"
    p = _live(["--export", *songs, "-o", f"{out}/", "--model", tiny_model_dir, "--backend", "torch", "--quiet",
               "--fps", 10, "--ray", cluster.address], _env(cluster, tmp_path))
    seen = set()
    try:
        def rendering_a_later_segment():
            """a worker rendering a.wav's segment 1 or 2 (b.flac has only a segment 0; a's last is 12 frames)"""
            seen.update(now := cluster.renders())
            return next((r for r in sorted(now) if r[0] in (1, 2)), None)

        victim = _wait_for(p, rendering_a_later_segment)
        os.kill(victim[1], signal.SIGKILL)
        while p.poll() is None:
            seen.update(cluster.renders())
            time.sleep(0.02)
        err = p.communicate(timeout=300)[1]
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    # the killed render's temp is still there: it died while writing the segment
    assert list(cluster.worker_tmp.glob(f"{victim[2]}/.seg-{victim[0]:05d}.mp4.{victim[1]}-*.part"))
    renders = {i: sorted(pid for j, pid, _ in seen if j == i) for i in range(4)}
    assert len(renders[victim[0]]) == 2 and victim[1] in renders[victim[0]], renders  # rendered again
    assert {i: len(pids) for i, pids in renders.items() if i != victim[0]} == \
        {i: 2 if i == 0 else 1 for i in range(4) if i != victim[0]}, renders  # segment 0: a's and b's
    for name in ("a.mp4", "b.mp4"):
        _same_video(out / name, ref / name)


def _actors_gone() -> bool:
    """no SegmentRenderer actor process left on the cluster"""
    return not subprocess.run(["pgrep", "-f", "ray::SegmentRenderer"], capture_output=True).stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_the_cluster_and_keeps_its_segments(cluster, tiny_model_dir, tmp_path, sig):
    """Ctrl-C, SIGTERM, SIGHUP while the workers render: exit 128+n in one line, no output, the actors stop,
    the finished segments stay and a rerun reuses them."""
    audio, out = write(tmp_path / "song.wav", music(40.0)), tmp_path / "out.mp4"
    env = _env(cluster, tmp_path)
    args = export_args(tiny_model_dir, audio, out, "--fps", 5, "--ray", cluster.address)  # 5 segments (4 x 48 + 8)
    p = _live(args, env)
    try:
        _wait_for(p, lambda: _segments(tmp_path / "cache") and cluster.renders())
        p.send_signal(sig)
        err = p.communicate(timeout=60)[1]
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 128 + sig, err
    *ray_logs, last = err.strip().splitlines()
    assert last == f"live: interrupted ({sig.name}); no output written" and "Traceback" not in err, err
    # Ray's C++ core in the driver may log a line of its own as it disconnects (its "failed to push error")
    assert all(re.match(r"\[\d{4}-\d\d-\d\d [\d:,]+ [EW] \d+ \d+\] \w+\.cc:\d+: ", line) for line in ray_logs), err
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["cache", "song.wav"]
    kept = _segments(tmp_path / "cache")
    assert kept
    deadline = time.time() + 30
    while not _actors_gone():
        assert time.time() < deadline, "the actors still run after the driver stopped"
        time.sleep(0.1)
    if sig == signal.SIGTERM:
        r = run_live(*args, env=env)
        assert r.returncode == 0, r.stderr
        assert r.stderr.splitlines()[0].startswith(f"live: {audio}: reusing {len(kept)} of 5 segments"), r.stderr
        assert _streams(out)["video"][0] == 200


def test_an_unreachable_head_is_one_line_and_leaves_no_folder(tiny_model_dir, tmp_path):
    """Nothing listens at the address (a free loopback port): one line at once, not minutes of Ray's
    retries; the album's output folder, made before the model loads, is gone again."""
    songs = [write(tmp_path / "a.wav", music(1.0)), write(tmp_path / "b.wav", music(1.0))]
    address = f"127.0.0.1:{_free_port()}"
    t0 = time.time()
    r = run_live("--export", *songs, "-o", f"{tmp_path / 'out'}/", "--model", tiny_model_dir, "--backend", "torch",
                 "--quiet", "--ray", address, timeout=120)
    assert r.returncode == 2 and time.time() - t0 < 30
    assert r.stderr.strip().splitlines() == [
        f"live: --ray {address}: cannot reach a Ray cluster (nothing answers at {address}: Connection refused): "
        "start one with `ray start --head`, or use --ray local"]
    assert sorted(os.listdir(tmp_path)) == ["a.wav", "b.wav"]


def _raylet_log(ray_tmp: Path) -> str:
    """The end of the newest session's raylet log: why a driver was ended without a word."""
    logs = sorted(ray_tmp.glob("ray/session_2*/logs/raylet.out"))
    return logs[-1].read_text()[-3000:] if logs else ""


def _ray_processes(folder) -> list[int]:
    """pids of the processes whose command line names folder (a Ray instance's temp dir)"""
    out = subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def test_ray_local_resumes_after_a_killed_driver_and_leaves_home_alone(tiny_model_dir, tmp_path):
    """`--ray local` in a fresh HOME: the driver SIGKILLed mid-render takes its Ray instance with it; the
    same command then reuses the finished segments. HOME stays empty (no ~/.ray/auth_token)."""
    home, ray_tmp = Path(tempfile.mkdtemp(prefix="home")), Path(tempfile.mkdtemp(prefix="rt"))
    audio, out = write(tmp_path / "song.wav", music(30.0)), tmp_path / "out.mp4"
    env = {k: v for k, v in os.environ.items() if k not in AUTH_VARS}
    env.update(HOME=str(home), RAY_TMPDIR=str(ray_tmp), LIVE_CACHE_DIR=str(tmp_path / "cache"),
               RAY_USAGE_STATS_ENABLED="0")
    args = export_args(tiny_model_dir, audio, out, "--fps", 5, "--ray", "local")  # 4 segments (3 x 48 + 6)
    p = _live(args, env)
    try:
        deadline = time.time() + 300
        while p.poll() is None and not _segments(tmp_path / "cache") and time.time() < deadline:
            time.sleep(0.05)
        if p.returncode == 2 and "timed out during startup" in p.stderr.read():  # Ray's 30 s, a loaded machine
            p = _live(args, env)
        _wait_for(p, lambda: _segments(tmp_path / "cache"), timeout=300, step=0.05)
        p.kill()
        p.wait()
        deadline = time.time() + 30
        while _ray_processes(ray_tmp):
            assert time.time() < deadline, "the Ray instance outlived its killed driver"
            time.sleep(0.2)
        kept = len(_segments(tmp_path / "cache"))
        r = run_live(*args, env=env)
        assert r.returncode == 0, r.stderr + _raylet_log(ray_tmp)
        assert r.stderr.splitlines()[0] == f"live: {audio}: reusing {kept} of 4 segments rendered by an earlier run"
        assert _streams(out)["video"][0] == 150
        assert os.listdir(home) == []
    finally:
        if p.poll() is None:
            p.kill()
        for pid in _ray_processes(ray_tmp):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(ray_tmp, ignore_errors=True)
