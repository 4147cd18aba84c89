"""Every command-line mistake is one line and exit 2, found before any model loads."""
import pytest

from live.cli import main

EXPORT = ["--export", "song.wav", "-o", "out.mp4", "--model", "/nonexistent/model"]


@pytest.mark.parametrize("extra, message", [
    (["--seed", "-1"], "--seed -1 is out of range 0–4294967295"),
    (["--start", "nan"], "--start nan is not a finite number: give one >= 0"),
    (["--duration", "nan"], "--duration nan is not a finite number: give one above 0"),
    (["--duration", "0"], "--duration 0 is out of range above 0"),
    (["--fps", "inf"], "--fps inf is not a finite number: give one 1–240"),
    (["--batch", "0"], "--batch 0 is out of range 1–64"),
    (["--truncation", "nan"], "--truncation nan is not a finite number: give one 0.02–1"),
    (["--num-classes", "13"], "--num-classes 13 is out of range 1–12"),
    (["--lyrics", "x.txt", "--lyrics-offset", "inf"], "--lyrics-offset inf is not a finite number"),
    (["--classes", ""], "--classes is empty: list ImageNet class names or ids"),
    (["--classes", " , "], "--classes is empty"),
    (["--classes", "jellyfish", "--lyrics", "x.txt"], "--classes and --lyrics both choose the classes"),
])
def test_bad_numbers_and_values_are_one_line_before_the_model(capsys, extra, message):
    assert main(EXPORT + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"live: {message}") and err.count("\n") == 1, err


def test_more_classes_than_pitch_classes_is_an_error(capsys, tmp_path):
    song = tmp_path / "song.wav"
    import numpy as np
    import soundfile as sf
    sf.write(str(song), np.zeros(22050, np.float32), 22050)
    assert main(["--export", str(song), "-o", str(tmp_path / "o.mp4"), "--model", "/nonexistent/model",
                 "--classes", ",".join(str(i) for i in range(13))]) == 2
    err = capsys.readouterr().err
    assert err == ("live: --classes lists 13 classes; the 12 pitch classes drive at most 12: list up to 12\n")


@pytest.mark.parametrize("args, message", [
    (["--samplerate", "100"], "--samplerate 100 is out of range 8000–384000"),
    (["--blocksize", "-1"], "--blocksize -1 is out of range 0–16384"),
    (["--channels", "0"], "--channels 0 is out of range 1–64"),
    (["--cut-on-beat", "0"], "--cut-on-beat 0 is out of range 1–1024"),
    (["--duration", "-3"], "--duration -3 is out of range above 0"),
    (["--display-rate", "0"], "--display-rate 0 is out of range 1–480"),
    (["--link-quantum", "2.5"], "--link-quantum 2.5 must be a whole number 1–64"),
    (["--output-size", "1920"], "--output-size 1920: give WIDTHxHEIGHT, e.g. 1920x1080"),
    (["--output-size", "1920x1080"], "--output-size sizes the video outputs: add one (--ndi, --vcam, --syphon or "
                                     "--spout)"),
    (["--ndi", "--output-size", "1921x1080"], "--output-size 1921x1080: width and height must be even numbers 16–7680"),
    (["--ndi", " "], "--ndi needs a source name (or none for 'live'), not an empty one"),
    (["--no-window", "--fullscreen"], "--no-window and --fullscreen: pass one (headless runs have no window to "
                                      "fill)"),
])
def test_live_mode_numbers(capsys, args, message):
    assert main(args + ["--model", "/nonexistent/model"]) == 2
    assert capsys.readouterr().err == f"live: {message}\n"


@pytest.mark.parametrize("args, message", [
    (["--export", "a.wav", "b.wav", "-o", "x.mp4"], "-o x.mp4: 2 inputs need a folder: -o OUTDIR/ (one mp4 each)"),
    (["--export", "a/song.wav", "b/song.flac", "-o", "out/"],
     "two inputs are both named 'song': their mp4s would collide in out/; export them in separate runs"),
    (["--export", "a.wav", "b.wav", "-o", "out/", "--save-latents", "l.npz"],
     "--save-latents l.npz: 2 inputs need a folder: --save-latents DIR/"),
    (["--export", "a.wav", "-o", "o.mp4", "--workers", "2"], "--workers is for --ray: add --ray (or drop --workers)"),
])
def test_several_inputs_need_folders(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args + ["--model", "/nonexistent/model"]) == 2
    assert capsys.readouterr().err == f"live: {message}\n"
    assert list(tmp_path.iterdir()) == []  # no folder made for a refused command


@pytest.mark.parametrize("how", ["after --", "--export="])
def test_an_audio_file_whose_name_starts_with_a_dash(tmp_path, monkeypatch, tiny_model_dir, how):
    import numpy as np
    import soundfile as sf

    monkeypatch.chdir(tmp_path)
    sf.write("-x.wav", np.zeros(11025, np.float32), 22050)
    rest = ["-o", "out.mp4", "--model", str(tiny_model_dir), "--backend", "torch", "--fps", "4", "--quiet"]
    args = ["--export", *rest, "--", "-x.wav"] if how == "after --" else ["--export=-x.wav", *rest]
    assert main(args) == 0 and (tmp_path / "out.mp4").stat().st_size > 0
    with pytest.raises(SystemExit):  # the control: without either, the name is taken for an option
        main(["--export", "-x.wav", *rest])


def test_an_audio_file_without_export_is_one_line(capsys):
    assert main(["song.wav"]) == 2
    assert capsys.readouterr().err == ("live: song.wav: an audio file without --export — live --export FILE -o "
                                       "out.mp4 (a name that starts with a dash: after --)\n")
