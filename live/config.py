"""Walker parameters: units, ranges, defaults (PARAM_SPECS), TOML presets and CLI overrides.

Units are ours, not the seed's CLI units: times are seconds and sensitivities are fractions, so a preset
looks the same whatever the hop or frame rate. The seed's values are converted with its frame
dt_ref = 512/22050 s (see presets/default.toml).
"""
from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from core.errors import LiveError

DT_REF = 512 / 22050  # the seed's frame, seconds


class ParamSpec(NamedTuple):
    unit: str
    min: float
    max: float
    default: float
    help: str
    type: type = float


PARAM_SPECS: dict[str, ParamSpec] = {
    "pitch_sensitivity": ParamSpec(
        "fraction", 0.0, 1.0, round(220 / 300, 4),
        "how fast the class mix follows the notes: 0 = slow drift (~7 s), 1 = instant "
        "(seed 220 -> 0.733, ~1.9 s)"),
    "tempo_sensitivity": ParamSpec(
        "z units/frame", 0.0, 2.0, 0.25,
        "noise step per 23.2 ms at full loudness + onset: how fast the image morphs with the beat"),
    "jitter": ParamSpec(
        "fraction", 0.0, 1.0, 0.5,
        "slows a random half of the noise units by this fraction (re-rolled every ~4.6 s), so the image "
        "does not morph uniformly"),
    "truncation": ParamSpec(
        "scale", 0.02, 1.0, 1.0,
        "BigGAN truncation: lower = cleaner, more typical images, less variety; z stays within ±2×this"),
    "smooth_factor": ParamSpec(
        "s", 0.0, 10.0, round(20 * DT_REF, 2),
        "extra smoothing of the class mix (seed: 20 frames = 0.46 s); 0 = off"),
    "num_classes": ParamSpec(
        "classes", 1, 12, 12,
        "how many ImageNet classes the notes drive: 12 ties one class to each pitch class C..B; fewer "
        "follow the most prominent pitch classes", int),
    # StyleGAN3's input transform (NVIDIA's gen_images.py --rotate/--translate); other models ignore these.
    "rotate": ParamSpec(
        "degrees", -180.0, 180.0, 0.0, "StyleGAN3 only: turns the picture by this angle (NVIDIA's --rotate)"),
    "spin": ParamSpec(
        "degrees/s", -360.0, 360.0, 0.0,
        "StyleGAN3 only: turns the picture continuously at this speed (a modulation row can drive it)"),
    "shift_x": ParamSpec(
        "image widths", -1.0, 1.0, 0.0, "StyleGAN3 only: moves the picture sideways (NVIDIA's --translate x)"),
    "shift_y": ParamSpec(
        "image widths", -1.0, 1.0, 0.0, "StyleGAN3 only: moves the picture up or down (NVIDIA's --translate y)"),
    "cut_turn": ParamSpec(
        "degrees", 0.0, 180.0, 0.0,
        "StyleGAN3 only: every cut (new classes: key, beat, OSC, MIDI, matrix) also turns the picture to a "
        "random angle within ±this of rotate"),
    "cut_shift": ParamSpec(
        "image widths", 0.0, 1.0, 0.0,
        "StyleGAN3 only: every cut also moves the picture to a random offset within ±this of shift_x/y"),
}


@dataclasses.dataclass(frozen=True)
class WalkerParams:
    pitch_sensitivity: float = PARAM_SPECS["pitch_sensitivity"].default
    tempo_sensitivity: float = PARAM_SPECS["tempo_sensitivity"].default
    jitter: float = PARAM_SPECS["jitter"].default
    truncation: float = PARAM_SPECS["truncation"].default
    smooth_factor: float = PARAM_SPECS["smooth_factor"].default
    num_classes: int = PARAM_SPECS["num_classes"].default
    rotate: float = PARAM_SPECS["rotate"].default
    spin: float = PARAM_SPECS["spin"].default
    shift_x: float = PARAM_SPECS["shift_x"].default
    shift_y: float = PARAM_SPECS["shift_y"].default
    cut_turn: float = PARAM_SPECS["cut_turn"].default
    cut_shift: float = PARAM_SPECS["cut_shift"].default

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check_value(f.name, getattr(self, f.name), f"{f.name} =")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def check_number(value: float, what: str, lo: float, hi: float, integer: bool = False, above: bool = False):
    """`value` in [lo, hi] (or (lo, hi] with above=True), a whole number if `integer`; one-line LiveError
    starting with `what` otherwise (a parameter from a preset, a command-line number)."""
    rng = f"{'above ' if above else ''}{_fmt(lo)}–{_fmt(hi)}" if hi != math.inf else \
        f"{'above' if above else '>='} {_fmt(lo)}"
    if not math.isfinite(value):
        raise LiveError(f"{what} {value} is not a finite number: give one {rng}")
    if integer and value != int(value):
        raise LiveError(f"{what} {_fmt(value)} must be a whole number {rng}")
    if value < lo or value > hi or (above and value == lo):
        raise LiveError(f"{what} {_fmt(value)} is out of range {rng}")
    return int(value) if integer else float(value)


def check_value(name: str, value: Any, what: str) -> float | int:
    """Validated value of one parameter; `what` prefixes the message ('preset x.toml: truncation =')."""
    spec = PARAM_SPECS[name]
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise LiveError(f"{what} {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LiveError(f"{what} {value!r} is not a number")
    return check_number(value, what, spec.min, spec.max, integer=spec.type is int)


# ---- TOML files (presets, MIDI maps): errors name the file and the line -------------------------------------


def read_toml(path: Path, where: str) -> tuple[dict, str]:
    """(table, text) of a TOML file; LiveError '<where>:LINE: ...' when it cannot be read or parsed
    (`where` names the file as messages show it, e.g. 'preset mine.toml')."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LiveError(f"{where}: not UTF-8 text — save it as UTF-8") from None
    except OSError as e:
        raise LiveError(f"{where}: cannot read it ({e.strerror})") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column \d+\)", str(e))
        line = f":{m.group(1)}" if m else ""
        raise LiveError(f"{where}{line}: invalid TOML ({str(e).split(' (at line')[0]}) — fix the file") from None


def line_of(text: str, key: str) -> str:
    """':N' for the line where `key = ...` (or `[key]`) stands in a TOML text, '' when not found."""
    pat = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|\[{re.escape(key)}\])\s*(?:=|$)")
    for i, line in enumerate(text.splitlines(), 1):
        if pat.match(line):
            return f":{i}"
    return ""


def make_params(preset: dict | None = None, overrides: dict | None = None) -> WalkerParams:
    """Defaults <- preset <- overrides (CLI flags; None values mean 'not given').

    Keys that are not walker parameters (classes, seed, other CLI options) are ignored here.
    """
    values = {name: spec.default for name, spec in PARAM_SPECS.items()}
    for key, value in (preset or {}).items():
        if key in PARAM_SPECS:
            values[key] = check_value(key, value, f"preset: {key} =")
    for key, value in (overrides or {}).items():
        if key in PARAM_SPECS and value is not None:
            values[key] = check_value(key, value, f"--{key.replace('_', '-')}")
    return WalkerParams(**values)
