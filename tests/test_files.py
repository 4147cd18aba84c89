"""Files we write and the files a user gives us: `live --export` end to end on a tiny random model.

-o and --save-latents never replace an input or a non-file; outputs appear complete with the user's umask;
signals, a full disk (a real small tmpfs) and a killed run leave nothing behind; NaN samples and truncated
files are handled where the audio is decoded.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from core import files
from core.errors import LiveError
from tests.audio_fixtures import music, write
from tests.test_export import export_args, run_live, streams

REPO = Path(__file__).resolve().parents[1]


def one_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("live: ") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def parts(folder) -> list[str]:
    return sorted(p for p in os.listdir(folder) if p.endswith(".part"))


def audio_mp4(path) -> Path:
    """An audio-only MP4 (decodable input whose name is a valid -o)."""
    m4a = write(Path(path).with_suffix(".m4a"), music(1.0))
    os.rename(m4a, path)
    return Path(path)


# ---- what -o and --save-latents may name ----------------------------------------------------------------


@pytest.mark.parametrize("case", ["same-file-other-spelling", "hard-link-to-audio", "symlink-to-model-file",
                                  "hard-link-into-recording", "latents-is-output", "latents-is-audio",
                                  "latents-in-model"])
def test_outputs_never_replace_an_input(tiny_model_dir, tmp_path, case):
    song = audio_mp4(tmp_path / "song.mp4")
    out, extra, flag = tmp_path / "out.mp4", [], "-o"
    named = None  # the path the error names: out, or the latents file
    env = dict(os.environ, PYTHONPATH=str(REPO))  # runs in tmp_path: import this checkout
    audio: object = song
    if case == "same-file-other-spelling":
        out = "./song.mp4"  # run in tmp_path: ./song.mp4 is song.mp4
        audio = "song.mp4"
    elif case == "hard-link-to-audio":
        os.link(song, out)
    elif case == "symlink-to-model-file":
        out.symlink_to(tiny_model_dir / "config.json")
    elif case == "hard-link-into-recording":
        from tests.test_control_replay import record_set

        record_set(tmp_path / "rec", music(1.0, 22050), 22050, {}, chunk=512)
        os.link(tmp_path / "rec" / "audio.wav", out)
        audio, extra = "", ["--replay", tmp_path / "rec"]
    else:
        flag, lat = "--save-latents", tmp_path / "lat.npz"
        target = {"latents-is-output": out, "latents-is-audio": song,
                  "latents-in-model": tiny_model_dir / "pytorch_model.bin"}[case]
        if case == "latents-is-output":
            out.write_bytes(b"an older video")
        lat.symlink_to(target)
        extra, named = ["--save-latents", lat], lat
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    model_before = (tiny_model_dir / "config.json").read_bytes()
    r = run_live(*export_args(tiny_model_dir, audio, out, *extra), cwd=tmp_path, env=env)
    assert r.returncode == 2
    line = one_line(r)
    assert line.startswith(f"live: {flag} {named or out} is ") and line.endswith(f": choose another {flag} path"), line
    assert " -o " not in line or flag == "-o"  # --save-latents errors talk about --save-latents
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert (tiny_model_dir / "config.json").read_bytes() == model_before


@pytest.mark.parametrize("case, words", [
    ("directory", "-o {out} is a directory"),
    ("fifo", "-o {out} is a FIFO"),
    ("device", "-o {out} is a device"),
    ("avi", "live writes MP4 (H.264 + AAC): name the output .mp4"),
    ("no-extension", "live writes MP4 (H.264 + AAC): name the output .mp4"),
    ("latents-suffix", "--save-latents {lat}: latents are NumPy files: name it .npz"),
])
def test_non_files_and_wrong_suffixes_are_refused_before_any_work(tiny_model_dir, tmp_path, case, words):
    audio, out, lat = write(tmp_path / "a.wav", music(1.0)), tmp_path / "out.mp4", tmp_path / "lat.txt"
    extra = []
    if case == "directory":
        out.mkdir()
    elif case == "fifo":
        os.mkfifo(out)
    elif case == "device":  # a null-device node of our own (never the real /dev/null)
        try:
            os.mknod(out, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError as e:
            pytest.skip(f"cannot create a device node here ({e.strerror}): needs root (CAP_MKNOD)")
    elif case == "avi":
        out = tmp_path / "out.avi"
    elif case == "no-extension":
        out = tmp_path / "out"
    else:
        extra = ["--save-latents", lat]
    kind = os.lstat(out).st_mode if os.path.lexists(out) else None
    r = run_live(*export_args(tiny_model_dir, audio, out, *extra))
    assert r.returncode == 2
    assert words.format(out=out, lat=lat) in one_line(r)
    if kind is not None:  # the node is untouched
        st = os.lstat(out)
        assert st.st_mode == kind and (case != "device" or st.st_rdev == os.makedev(1, 3))
    assert not lat.exists() and parts(tmp_path) == []


def test_a_symlink_is_followed_and_outputs_get_the_umask(tiny_model_dir, tmp_path):
    """-o LINK.M4V (either case of .mp4/.m4v is MP4): the file the link names is replaced, the link stays;
    the video and the latents get mode 0666 & ~umask like any file the user makes."""
    audio = write(tmp_path / "a.wav", music(1.0))
    target, link, lat = tmp_path / "target.m4v", tmp_path / "LINK.M4V", tmp_path / "lat.NPZ"
    target.write_bytes(b"an older video")
    link.symlink_to(target.name)
    r = run_live(*export_args(tiny_model_dir, audio, link, "--fps", 10, "--save-latents", lat),
                 preexec_fn=lambda: os.umask(0o027))
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == target.name
    assert streams(target)["frames"] == 10
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and stat.S_IMODE(lat.stat().st_mode) == 0o640
    assert parts(tmp_path) == []


# ---- signals and killed runs ----------------------------------------------------------------------------


def long_export_args(model, tmp_path, out):
    """Half a minute at 4 fps: 3 segments of 40 frames (the tests need segments, not many pixels)."""
    return [sys.executable, "-m", "live", *map(str, export_args(model, tmp_path / "long.wav", out, "--fps", 4))]


def start_long_export(model, tmp_path, out, finished: int = 0):
    """An export of half a minute of music (into its own cache), returned while it encodes a segment after
    `finished` others are done."""
    if not (tmp_path / "long.wav").exists():
        write(tmp_path / "long.wav", music(30.0))
    env = dict(os.environ, LIVE_CACHE_DIR=str(tmp_path / "cache"))
    p = subprocess.Popen(long_export_args(model, tmp_path, out), stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None and not (
            segment_files(tmp_path, ".seg-*.part") and len(segment_files(tmp_path, "seg-*.mp4")) >= finished):
        time.sleep(0.02)
    assert segment_files(tmp_path, ".seg-*.part"), p.communicate()[1]
    return p


def segment_files(tmp_path, pattern: str) -> list:
    return list((tmp_path / "cache").glob(f"export/*/{pattern}"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_clean_up_like_ctrl_c(tiny_model_dir, tmp_path, sig):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the user's older video")
    p = start_long_export(tiny_model_dir, tmp_path, out)
    p.send_signal(sig)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 128 + sig and "Traceback" not in err, err
    assert err.strip().splitlines() == [f"live: interrupted ({sig.name}); no output written"]
    assert out.read_bytes() == b"the user's older video"  # replaced only by a finished render
    assert parts(tmp_path) == []


def test_an_ignored_sighup_stays_ignored(tiny_model_dir, tmp_path):
    """`nohup live --export ...`: closing the terminal (SIGHUP) must not stop the render."""
    audio, out = write(tmp_path / "a.wav", music(3.0)), tmp_path / "out.mp4"
    p = subprocess.Popen([sys.executable, "-m", "live", *map(str, export_args(tiny_model_dir, audio, out))],
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    deadline = time.time() + 120
    while time.time() < deadline and not parts(tmp_path) and p.poll() is None:
        time.sleep(0.02)
    assert parts(tmp_path) and p.poll() is None  # mid-render
    p.send_signal(signal.SIGHUP)
    err = p.communicate(timeout=120)[1]
    assert p.returncode == 0, err
    assert streams(out)["frames"] == 90 and parts(tmp_path) == []


def test_a_killed_run_resumes_and_its_temp_is_removed_by_the_next_run(tiny_model_dir, tmp_path):
    out = tmp_path / "out.mp4"
    p = start_long_export(tiny_model_dir, tmp_path, out, finished=2)
    p.kill()  # SIGKILL: no cleanup possible
    p.wait()
    assert parts(tmp_path) == [] and not out.exists()  # the output's folder never saw a byte of it
    [stale] = segment_files(tmp_path, ".seg-*.part")
    assert len(segment_files(tmp_path, "seg-*.mp4")) >= 2
    env = dict(os.environ, LIVE_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run(long_export_args(tiny_model_dir, tmp_path, out), capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0].startswith(f"live: {tmp_path / 'long.wav'}: reusing ") and \
        r.stderr.splitlines()[0].endswith(" of 3 segments rendered by an earlier run"), r.stderr
    assert not stale.exists() and streams(out)["frames"] == 120
    assert list((tmp_path / "cache" / "export").iterdir()) == []  # the work folder goes with a finished mp4
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    host = files.HOST_TAG
    keep = [f".x.mp4.{os.getpid()}-{host}.0123abcd.part",  # its writer is alive
            f".x.mp4.{dead}-{'0' * 6 if host != '0' * 6 else '1' * 6}.0123abcd.part",  # another machine's
            "notes.part", f"x.mp4.{dead}-{host}.0123abcd.part", f".x.mp4.{dead}.0123abcd.part"]  # not ours
    for name in keep:
        (tmp_path / name).write_text("keep")
    r = run_live(*export_args(tiny_model_dir, write(tmp_path / "a.wav", music(1.0)), tmp_path / "b.mp4"))
    assert r.returncode == 0, r.stderr
    assert sorted(p for p in os.listdir(tmp_path) if "part" in p) == sorted(keep)


# ---- a full disk (a real small tmpfs) -----------------------------------------------------------------


@contextlib.contextmanager
def small_disk(path: Path, size: int):
    if shutil.which("mount") is None:
        pytest.skip("no mount command: the disk-full tests mount a small tmpfs")
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()[:80]}): the disk-full tests need root")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


@pytest.fixture(scope="module")
def clip_sizes(tiny_model_dir, tmp_path_factory):
    """A 1 s clip at 10 fps: (its audio, the size of its mp4, the size of its latents)."""
    d = tmp_path_factory.mktemp("clip")
    audio, out, lat = write(d / "a.wav", music(1.0)), d / "a.mp4", d / "a.npz"
    r = run_live(*export_args(tiny_model_dir, audio, out, "--fps", 10, "--save-latents", lat))
    assert r.returncode == 0, r.stderr
    return audio, out.stat().st_size, lat.stat().st_size


PAGE, AVIO_BUFFER = 4096, 32768  # tmpfs counts pages; FFmpeg writes the mp4 in 32 KiB buffers


@pytest.mark.parametrize("point", ["first-write", "mid-stream", "final-write", "latents"])
def test_a_full_disk_at_any_point_is_one_line_and_leaves_nothing(tiny_model_dir, tmp_path, clip_sizes, point):
    audio, video_size, latents_size = clip_sizes
    # final-write: the first 32 KiB buffer fits, what is left at close (rest + index) does not.
    # latents: the video fits, the latents do not.
    assert AVIO_BUFFER + PAGE < video_size and latents_size > 2 * PAGE
    size = {"first-write": PAGE, "mid-stream": 16 * PAGE, "final-write": AVIO_BUFFER + PAGE,
            "latents": -(-video_size // PAGE) * PAGE + PAGE}[point]
    with small_disk(tmp_path / "disk", size) as disk:
        if point == "first-write":
            (disk / "filler").write_bytes(b"\0" * 100)
            with pytest.raises(OSError):  # fill it up
                with open(disk / "filler", "ab") as f:
                    f.write(b"\0" * size)
        if point == "mid-stream":
            audio = write(tmp_path / "long.wav", music(4.0))  # ~230 KB of mp4: it fails at 64 KiB
        out, lat = disk / "out.mp4", disk / "out.npz"
        r = run_live(*export_args(tiny_model_dir, audio, out, "--fps", 10, "--save-latents", lat))
        assert r.returncode == 2
        bad, flag = (lat, "--save-latents") if point == "latents" else (out, "-o")
        assert one_line(r) == f"live: no space left on device writing {bad}: free space or choose another {flag}"
        assert sorted(os.listdir(disk)) == (["filler"] if point == "first-write" else [])


def test_a_full_disk_writing_stats_is_one_line(tmp_path):
    from live.run.stats import write_stats

    with small_disk(tmp_path / "disk", PAGE) as disk:
        path = disk / "stats.json"
        with pytest.raises(LiveError, match=r"^no space left on device writing .*stats\.json: free space or "
                                            r"choose another --stats$"):
            write_stats(str(path), {"frames": list(range(2000))})
        assert os.listdir(disk) == []


# ---- what the audio decodes to --------------------------------------------------------------------------


def test_nan_and_inf_samples_are_zeroed_with_one_warning(tiny_model_dir, tmp_path):
    y = music(2.0)
    y[1000:1100], y[30000:30050], y[40000] = np.nan, np.inf, -np.inf
    audio, out, lat = tmp_path / "nan.wav", tmp_path / "nan.mp4", tmp_path / "nan.npz"
    sf.write(audio, y, 22050, subtype="FLOAT")
    r = run_live(*export_args(tiny_model_dir, audio, out, "--fps", 10, "--save-latents", lat))
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0] == f"live: '{audio}' has 151 NaN/inf samples: replaced with silence", r.stderr
    assert len(lines) == 2 and lines[1].startswith("wrote ") and "space" not in r.stderr
    with av.open(str(out)) as c:
        track = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    assert np.isfinite(track).all() and np.abs(track).max() > 0.1
    with np.load(lat) as f:
        assert all(np.isfinite(f[k]).all() for k in ("z", "c", "t"))


def vbr_mp3(path, seconds: float, sr: int = 44100) -> Path:
    """A VBR mp3 (LAME, with its Xing header stating the frame count) of `music`."""
    y = music(seconds, sr)
    with av.open(str(path), "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=sr)
        stream.layout = "mono"
        stream.codec_context.qscale = True  # quality-based (VBR) instead of a fixed bit rate
        for i in range(0, len(y), 4096):
            frame = av.AudioFrame.from_ndarray(y[None, i:i + 4096].copy(), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = sr, i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return Path(path)


def test_a_truncated_mp3_renders_what_decodes_not_what_its_header_says(tiny_model_dir, tmp_path):
    full = vbr_mp3(tmp_path / "full.mp3", 20.0)
    data = full.read_bytes()
    assert b"Xing" in data[:4096]  # VBR: its header holds the frame count of the whole song
    audio, out = tmp_path / "cut.mp3", tmp_path / "cut.mp4"
    audio.write_bytes(data[: len(data) * 6 // 100])
    with av.open(str(audio)) as c:
        assert c.duration / av.time_base > 19  # the header still claims the whole song
    r = run_live(*export_args(tiny_model_dir, audio, out, "--fps", 10))
    assert r.returncode == 0, r.stderr
    warning = r.stderr.strip().splitlines()[0]
    assert warning.startswith(f"live: '{audio}': its header says 20.0 s but ") and "truncated" in warning
    s = streams(out)
    assert 0.5 < s["vdur"] < 2.5 and abs(s["adur"] - s["vdur"]) < 0.1, s
    assert s["frames"] == round(s["vdur"] * 10)


# ---- a cache live cannot write ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["empty", "filled", "writable"])
def test_a_read_only_cache_is_one_line_naming_live_cache_dir(tiny_model_dir, tmp_path, state):
    """LIVE_CACHE_DIR on a read-only tmpfs (root ignores permission bits, not a read-only mount), empty or
    holding the folders an earlier export made: one line, exit 2. The control: the same mount writable."""
    audio, out = write(tmp_path / "a.wav", music(1.0)), tmp_path / "a.mp4"
    with small_disk(tmp_path / "cache", 16 << 20) as cache:
        if state == "filled":
            for sub in ("export", "hashes"):
                (cache / sub).mkdir()
        if state != "writable":
            subprocess.run(["mount", "-o", "remount,ro", str(cache)], check=True)
        r = run_live(*export_args(tiny_model_dir, audio, out, "--fps", 10),
                     env=dict(os.environ, LIVE_CACHE_DIR=str(cache)))
        if state == "writable":
            assert r.returncode == 0, r.stderr
            return
        line = one_line(r)
        assert r.returncode == 2 and line.startswith(f"live: cannot use the cache folder {cache}/") and \
            line.endswith("(Read-only file system): make it writable, or set LIVE_CACHE_DIR to a folder you can "
                          "write"), line
        assert not out.exists()
