"""`live --export` end to end on a tiny random model: real mp4s read back with PyAV, bad inputs, Ctrl-C."""
import os
import signal
import subprocess
import sys
import tempfile

import av
import numpy as np
import pytest

from tests.audio_fixtures import music, write


def run_live(*args, timeout=300, **kw):
    """`live ARGS` in a subprocess, with a cache of its own unless `env` is given: an export's work folder
    (kept after a failure, for a resume) never carries over from one test to the next."""
    kw.setdefault("env", dict(os.environ, LIVE_CACHE_DIR=tempfile.mkdtemp(dir=os.environ["LIVE_CACHE_DIR"])))
    return subprocess.run([sys.executable, "-m", "live", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


def export_args(model, audio, out, *extra):
    return ["--export", audio, "-o", out, "--model", model, "--backend", "torch", "--quiet", *extra]


def streams(path):
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        n = sum(1 for _ in c.decode(video=0))
        return dict(vcodec=v.codec_context.name, acodec=a.codec_context.name, frames=n,
                    vdur=float(v.duration * v.time_base), adur=float(a.duration * a.time_base),
                    size=(v.codec_context.width, v.codec_context.height), pix=v.codec_context.pix_fmt)


def test_export_writes_h264_aac_with_right_length_and_latents(tiny_model_dir, tmp_path):
    audio = write(tmp_path / "song.wav", music(4.0))
    out, lat = tmp_path / "song.mp4", tmp_path / "lat.npz"
    r = run_live(*export_args(tiny_model_dir, audio, out, "--fps", 12, "--save-latents", lat, "--seed", 3))
    assert r.returncode == 0, r.stderr
    s = streams(out)
    assert (s["vcodec"], s["acodec"], s["pix"]) == ("h264", "aac", "yuv420p")
    assert s["frames"] == 48 and abs(s["vdur"] - 4.0) < 0.01 and abs(s["adur"] - 4.0) < 0.05
    z = np.load(lat)
    assert z["z"].shape == (48, 128) and z["c"].shape == (48, 1000) and z["t"].shape == (48,)
    assert [p for p in os.listdir(tmp_path) if ".part" in p] == []


def test_start_duration_cut_and_classes_by_name(tiny_model_dir, tmp_path):
    audio = write(tmp_path / "song.mp3", music(6.0), stereo=True)
    out, lat = tmp_path / "clip.mp4", tmp_path / "clip.npz"
    r = run_live(*export_args(tiny_model_dir, audio, out, "--start", 2, "--duration", 2.5, "--fps", 10,
                              "--classes", "jellyfish,volcano,coral reef", "--save-latents", lat))
    assert r.returncode == 0, r.stderr
    s = streams(out)
    assert s["frames"] == 25 and abs(s["adur"] - 2.5) < 0.1
    c = np.load(lat)["c"]
    assert set(np.flatnonzero(c.sum(0))) <= {107, 980, 973}


def test_music_moves_the_frames_more_than_silence(tiny_model_dir, tmp_path):
    def frame_motion(y, name):
        out = tmp_path / f"{name}.mp4"
        r = run_live(*export_args(tiny_model_dir, write(tmp_path / f"{name}.wav", y), out, "--fps", 10))
        assert r.returncode == 0, r.stderr
        with av.open(str(out)) as c:
            frames = np.stack([f.to_ndarray(format="rgb24").astype(np.float32) for f in c.decode(video=0)])
        return np.abs(np.diff(frames, axis=0)).mean()

    silent = frame_motion(np.zeros(22050 * 3, np.float32), "silence")  # silence is not an error: calm video
    assert frame_motion(music(3.0), "music") > 2 * silent


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "text", "corrupt", "unwritable"])
def test_bad_inputs_give_one_line_and_leave_no_file(tiny_model_dir, tmp_path, case):
    audio, out = tmp_path / "in.wav", tmp_path / "out.mp4"
    if case == "directory":
        audio = tmp_path
    elif case == "empty":
        audio.write_bytes(b"")
    elif case == "text":
        audio = tmp_path / "in.txt"
        audio.write_text("hello\n" * 100)
    elif case == "corrupt":
        audio = tmp_path / "in.mp3"
        audio.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 20000, np.uint8)))
    elif case == "unwritable":
        write(audio, music(1.0))
        out = tmp_path / "no" / "such" / "dir" / "out.mp4"
    r = run_live(*export_args(tiny_model_dir, audio, out))
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("live: ") and "Traceback" not in r.stderr
    assert not out.exists()


def test_ctrl_c_mid_render_leaves_no_file(tiny_model_dir, tmp_path):
    from tests.test_files import start_long_export

    out = tmp_path / "out.mp4"
    p = start_long_export(tiny_model_dir, tmp_path, out)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("live: interrupted")
    assert sorted(os.listdir(tmp_path)) == ["cache", "long.wav"]  # nothing in the output's folder
    assert not list((tmp_path / "cache").glob("export/*/*.part"))  # finished segments stay, for a rerun


def test_lrc_lyrics_switch_classes_at_the_timed_line(tiny_model_dir, tmp_path):
    from live.classes import class_id

    lrc = tmp_path / "song.lrc"
    lrc.write_text("[00:00.00]the ocean waves roll onto the sandy beach\n"
                   "[00:01.00]jellyfish and coral reef under the sea\n"
                   "[00:03.00]hot pizza and cheeseburger on the table\n"
                   "[00:04.00]a plate of spaghetti and ice cream for dessert\n")
    audio, out, lat = write(tmp_path / "song.wav", music(6.0)), tmp_path / "v.mp4", tmp_path / "v.npz"
    r = run_live(*export_args(tiny_model_dir, audio, out, "--fps", 10, "--lyrics", lrc, "--num-classes", 4,
                              "--save-latents", lat))
    assert r.returncode == 0, r.stderr
    c = np.load(lat)["c"]
    ice_cream = class_id("ice cream")
    assert c[:40, ice_cream].max() == 0  # not before its line at 4 s
    assert c[45:, ice_cream].min() > 0  # in the mix from then on


def test_export_needs_neither_portaudio_nor_a_display_nor_ray(tiny_model_dir, tmp_path):
    audio, out = write(tmp_path / "a.wav", music(1.0)), tmp_path / "a.mp4"
    code = ("import sys; from live.cli import main; rc = main(sys.argv[1:]); "
            "bad = [m for m in ('sounddevice', 'pygame', 'ray') if m in sys.modules]; "
            "print('imported:', bad); sys.exit(rc or bool(bad))")
    r = subprocess.run([sys.executable, "-c", code, *map(str, export_args(tiny_model_dir, audio, out))],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "imported: []" in r.stdout, r.stdout + r.stderr


def test_a_refused_album_leaves_no_output_folder(tiny_model_dir, tmp_path):
    """-o out/ is created once the inputs check out; a later refusal (here --start past the end of the
    songs) removes it again, since nothing was written into it."""
    songs = [write(tmp_path / "a.wav", music(1.0)), write(tmp_path / "b.wav", music(1.0))]
    r = run_live("--export", *songs, "-o", f"{tmp_path / 'out' / 'deeper'}/", "--model", tiny_model_dir, "--start", 5)
    assert r.returncode == 2 and r.stderr.startswith("live: --start 5 s is past the end of the audio"), r.stderr
    assert sorted(os.listdir(tmp_path)) == ["a.wav", "b.wav"]


def test_two_exports_of_one_song_at_once_both_finish(tiny_model_dir, tmp_path):
    """Two exports of a song started together with one cache: one holds the work folder, the other says so
    and renders in a folder of its own; neither removes the other's segments, both videos are whole and
    equal. (Sharing one folder, the first to finish removed it under the other, which failed blaming -o.)"""
    audio = write(tmp_path / "song.wav", music(20.0))
    env = dict(os.environ, LIVE_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.Popen([sys.executable, "-m", "live", *map(str, export_args(tiny_model_dir, audio,
                                                                                   tmp_path / name, "--fps", 4))],
                             stderr=subprocess.PIPE, text=True, env=env) for name in ("a.mp4", "b.mp4")]
    try:
        errs = [p.communicate(timeout=300)[1] for p in runs]
    finally:
        for p in runs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in runs] == [0, 0], errs
    said = f"live: {audio}: another export of this song is running: rendering it on its own"
    assert sorted(said in err.splitlines() for err in errs) == [False, True], errs
    a, b = streams(tmp_path / "a.mp4"), streams(tmp_path / "b.mp4")
    assert a == b and a["frames"] == 80
    assert list((tmp_path / "cache" / "export").iterdir()) == []  # both work folders went with their mp4s
