"""Walker parameters: units, ranges, defaults (PARAM_SPECS), TOML presets and CLI overrides.

Units are ours, not the seed's CLI units: times are seconds and sensitivities are fractions, so a preset
looks the same whatever the hop or frame rate. The seed's values are converted with its frame
dt_ref = 512/22050 s (see presets/default.toml).
"""
from __future__ import annotations

import dataclasses
import difflib
import tomllib
from importlib import resources
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
}

# Keys a preset may hold besides the parameters.
EXTRA_KEYS = {"classes": "comma list of ImageNet class names or ids", "seed": "random seed (integer >= 0)"}


@dataclasses.dataclass(frozen=True)
class WalkerParams:
    pitch_sensitivity: float = PARAM_SPECS["pitch_sensitivity"].default
    tempo_sensitivity: float = PARAM_SPECS["tempo_sensitivity"].default
    jitter: float = PARAM_SPECS["jitter"].default
    truncation: float = PARAM_SPECS["truncation"].default
    smooth_factor: float = PARAM_SPECS["smooth_factor"].default
    num_classes: int = PARAM_SPECS["num_classes"].default

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check(f.name, getattr(self, f.name), f"{f.name} =")


def _fmt(x: float) -> str:
    return f"{x:g}"


def _check(name: str, value: Any, what: str) -> float | int:
    """Validated value of one parameter; `what` prefixes the message ('preset x.toml: truncation =')."""
    spec = PARAM_SPECS[name]
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise LiveError(f"{what} {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LiveError(f"{what} {value!r} is not a number")
    if spec.type is int:
        if value != int(value):
            raise LiveError(f"{what} {_fmt(value)} must be a whole number {_fmt(spec.min)}–{_fmt(spec.max)}")
        value = int(value)
    else:
        value = float(value)
    if not spec.min <= value <= spec.max:  # also rejects nan
        raise LiveError(f"{what} {_fmt(value)} is out of range {_fmt(spec.min)}–{_fmt(spec.max)}")
    return value


# ---- presets ---------------------------------------------------------------------------------------


def packaged_preset_dir() -> Path:
    return Path(str(resources.files("live.presets")))


def user_preset_dir() -> Path:
    """Where a user's own presets live (they shadow packaged ones of the same name)."""
    import platformdirs

    return Path(platformdirs.user_config_dir("live-biggan")) / "presets"


def list_presets() -> list[str]:
    names = set()
    for d in (user_preset_dir(), packaged_preset_dir()):
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


def _find_preset(name_or_path: str) -> Path:
    p = Path(name_or_path).expanduser()
    if p.suffix == ".toml" or len(p.parts) > 1:
        if not p.is_file():
            raise LiveError(f"preset file {name_or_path} not found — check the path")
        return p
    for d in (user_preset_dir(), packaged_preset_dir()):
        if (d / f"{name_or_path}.toml").is_file():
            return d / f"{name_or_path}.toml"
    raise LiveError(f"preset '{name_or_path}' not found — available: {', '.join(list_presets())} "
                    f"(or give a path to a .toml file)")


def load_preset(name_or_path: str) -> dict:
    """Read and validate a preset. Returns {param: value, ...} plus optional 'classes' (str) and 'seed'.

    Only the keys present in the file are returned; make_params fills in the defaults.
    """
    path = _find_preset(name_or_path)
    where = f"preset {path.name}"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise LiveError(f"{where}: invalid TOML ({e}) — fix the file") from None
    except OSError as e:
        raise LiveError(f"{where}: cannot read ({e.strerror})") from None
    out: dict[str, Any] = {}
    known = list(PARAM_SPECS) + list(EXTRA_KEYS)
    for key, value in raw.items():
        if key in PARAM_SPECS:
            out[key] = _check(key, value, f"{where}: {key} =")
        elif key == "seed":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LiveError(f"{where}: seed = {value!r} must be an integer >= 0")
            out[key] = value
        elif key == "classes":
            out[key] = _check_classes(value, where)
        else:
            hint = difflib.get_close_matches(key, known, n=1)
            hint_s = f"did you mean {hint[0]}? " if hint else ""
            raise LiveError(f"{where}: unknown key '{key}' — {hint_s}known keys: {', '.join(known)}")
    return out


def _check_classes(value: Any, where: str) -> str:
    from live.classes import resolve_classes

    if isinstance(value, list):  # ["jellyfish", 980] is fine too
        value = ", ".join(str(v) for v in value)
    if not isinstance(value, str):
        raise LiveError(f"{where}: classes = {value!r} must be a string like \"jellyfish, volcano\"")
    try:
        resolve_classes(value)
    except LiveError as e:
        raise LiveError(f"{where}: classes: {e}") from None
    return value


def make_params(preset: dict | None = None, overrides: dict | None = None) -> WalkerParams:
    """Defaults <- preset <- overrides (CLI flags; None values mean 'not given').

    Keys that are not walker parameters (classes, seed, other CLI options) are ignored here.
    """
    values = {name: spec.default for name, spec in PARAM_SPECS.items()}
    for key, value in (preset or {}).items():
        if key in PARAM_SPECS:
            values[key] = _check(key, value, f"preset: {key} =")
    for key, value in (overrides or {}).items():
        if key in PARAM_SPECS and value is not None:
            values[key] = _check(key, value, f"--{key.replace('_', '-')}")
    return WalkerParams(**values)
