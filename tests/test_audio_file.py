import numpy as np
import pytest
import soundfile as sf

from live.audio import decode as audio_file
from core.errors import LiveError
from tests.audio_fixtures import SR, music, write


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3", "m4a"])
def test_decodes_common_formats_with_right_duration(tmp_path, ext):
    path = write(tmp_path / f"a.{ext}", music(2.0), stereo=(ext == "m4a"))
    info = audio_file.probe(path)
    assert abs(info.duration_s - 2.0) < 0.1
    assert info.output_rate in audio_file.OUTPUT_RATES
    mono = np.concatenate([m for m, _ in audio_file.blocks(info)])
    assert abs(len(mono) / audio_file.ANALYSIS_SR - 2.0) < 0.1
    assert np.abs(mono).max() > 0.1  # real signal, not silence


def test_bad_inputs_raise_one_line_errors(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not audio at all\n" * 50)
    (tmp_path / "corrupt.mp3").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    cases = {"missing.wav": "does not exist", "": "directory", "empty.wav": "empty",
             "notes.txt": "cannot decode", "corrupt.mp3": "cannot decode"}
    for name, words in cases.items():
        with pytest.raises(LiveError) as e:
            audio_file.probe(str(tmp_path / name))
        msg = str(e.value)
        assert words in msg and "\n" not in msg


def test_blocks_cover_the_whole_file_at_both_rates(tmp_path):
    path = write(tmp_path / "a.wav", music(3.0, sr=44100), sr=44100)
    info = audio_file.probe(path)
    n_mono = n_out = 0
    for mono, planar in audio_file.blocks(info):
        assert mono.dtype == np.float32 and planar.shape[0] == 2
        n_mono, n_out = n_mono + len(mono), n_out + planar.shape[1]
    assert abs(n_mono - 3 * SR) < 64 and abs(n_out - 3 * 44100) < 64


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE", "PCM_16"])
def test_mono_wav_at_the_analysis_rate_decodes_in_any_sample_format(tmp_path, subtype):
    # float mono at 22050 Hz once made FFmpeg refuse the second resampler (its first only relabels the layout)
    path = tmp_path / "a.wav"
    sf.write(path, music(1.0), audio_file.ANALYSIS_SR, subtype=subtype)
    info = audio_file.probe(str(path))
    parts = list(audio_file.blocks(info))
    assert abs(sum(len(m) for m, _ in parts) - audio_file.ANALYSIS_SR) < 64
    assert abs(sum(p.shape[1] for _, p in parts) - info.output_rate) < 64
