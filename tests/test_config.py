import dataclasses
from pathlib import Path

import pytest

from core.errors import LiveError
from live.config import PARAM_SPECS, WalkerParams, make_params
from live.control.presets import list_presets, read_preset as load_preset


def test_defaults_are_the_seed_in_our_units():
    p = WalkerParams()
    assert p == make_params(load_preset("default"))
    assert abs(p.pitch_sensitivity - 220 / 300) < 1e-3
    assert abs(p.smooth_factor - 20 * 512 / 22050) < 0.01
    assert (p.tempo_sensitivity, p.jitter, p.truncation, p.num_classes) == (0.25, 0.5, 1.0, 12)
    for f in dataclasses.fields(p):
        spec = PARAM_SPECS[f.name]
        assert spec.min <= spec.default <= spec.max and spec.help


def test_packaged_presets_load():
    names = list_presets()
    assert {"default", "chill", "rave", "dream"} <= set(names)
    for name in names:
        make_params(load_preset(name))
    dream = load_preset("dream")
    assert dream["num_classes"] == 4 and "jellyfish" in dream["classes"]


def _write(tmp_path, text, name="rave.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_preset_range_error_names_file_and_field(tmp_path):
    p = _write(tmp_path, "truncation = 1.5\n")
    with pytest.raises(LiveError, match=r"^preset rave.toml:1: truncation = 1.5 is out of range 0.02–1$"):
        load_preset(str(p))


@pytest.mark.parametrize("text, pattern", [
    ("truncaton = 0.5\n", r"^preset rave.toml:1: unknown key 'truncaton' — did you mean truncation\?"),
    ("jitter = 0.1\nnum_classes = 2.5\n", r"^preset rave.toml:2: num_classes = 2.5 must be a whole number"),
    ("jitter = 'lots'\n", r"^preset rave.toml:1: jitter = 'lots' is not a number"),
    ("\n\nclasses = 'jelyfish'\n", r"^preset rave.toml:3: classes: unknown class 'jelyfish'"),
    ("seed = -1\n", r"^preset rave.toml:1: seed = -1"),
    ("num_classes = inf\n", r"^preset rave.toml:1: num_classes = inf is not a finite number: give one 1–12$"),
    ("jitter = 0.1\ntruncation = \n", r"^preset rave.toml:2: invalid TOML"),
])
def test_preset_errors(tmp_path, text, pattern):
    with pytest.raises(LiveError, match=pattern):
        load_preset(str(_write(tmp_path, text)))


def test_preset_extras_and_partial(tmp_path):
    p = _write(tmp_path, 'tempo_sensitivity = 1\nclasses = "jellyfish, 980"\nseed = 7\n', "mine.toml")
    preset = load_preset(str(p))
    assert preset == {"tempo_sensitivity": 1.0, "classes": "jellyfish, 980", "seed": 7}
    params = make_params(preset, {"jitter": 0.1, "truncation": None, "classes": "x", "fps": 30})
    assert params.tempo_sensitivity == 1.0 and params.jitter == 0.1 and params.truncation == 1.0


def test_missing_preset():
    with pytest.raises(LiveError, match=r"preset 'nope' not found — available: .*default"):
        load_preset("nope")
    with pytest.raises(LiveError, match="not found"):
        load_preset("/nonexistent/x.toml")


def test_override_range_error_names_flag():
    with pytest.raises(LiveError, match=r"^--truncation 1.5 is out of range 0.02–1$"):
        make_params({}, {"truncation": 1.5})
    with pytest.raises(LiveError, match=r"^--num-classes 13 is out of range 1–12$"):
        make_params(None, {"num_classes": 13})
    with pytest.raises(LiveError, match=r"smooth_factor"):
        WalkerParams(smooth_factor=-1)
