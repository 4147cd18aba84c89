"""Presets: TOML files of walker parameters (plus classes, seed and the modulation matrix, live.control.modpreset),
found by name or path, validated with
errors that name the file, the line and the field; and their hot reload while a set runs (PresetWatcher polls
the files' mtimes about once a second: a few stat calls, on every OS and filesystem, no extra thread;
PresetReloader decides what a change means for the running look).

Packaged presets live in the top-level presets/ folder (installed as live.presets); a user's own folder
(~/.config/live-biggan/presets on Linux) shadows them by name. Keys 1-9 load them in preset_order().
"""
from __future__ import annotations

import difflib
import time
from importlib import resources
from pathlib import Path
from typing import Any

from core.errors import LiveError, warn
from live.config import PARAM_SPECS, check_value, line_of, read_toml
from live.control.actions import Action, ChooseClasses, Reseed, SetMatrix, SetParam
from live.control.modpreset import KEYS as MATRIX_KEYS, read_matrix
from live.walk.modulation import Matrix

# Keys a preset may hold besides the parameters.
EXTRA_KEYS = {"classes": "comma list of ImageNet class names or ids", "seed": "random seed (integer >= 0)"}


def packaged_preset_dir() -> Path:
    return Path(str(resources.files("live.presets")))


def user_preset_dir() -> Path:
    """Where a user's own presets live (they shadow packaged ones of the same name)."""
    import platformdirs

    return Path(platformdirs.user_config_dir("live-biggan")) / "presets"


def preset_dirs() -> list[Path]:
    return [user_preset_dir(), packaged_preset_dir()]


def list_presets() -> list[str]:
    names = set()
    for d in preset_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


def preset_order() -> list[str]:
    """Presets for keys 1-9: 'default' first, then the others by name."""
    names = list_presets()
    return (["default"] if "default" in names else []) + [n for n in names if n != "default"]


def find_preset(name_or_path: str) -> Path:
    p = Path(name_or_path).expanduser()
    if p.suffix == ".toml" or len(p.parts) > 1:
        if not p.is_file():
            raise LiveError(f"preset file {name_or_path} not found — check the path")
        return p
    for d in preset_dirs():
        if (d / f"{name_or_path}.toml").is_file():
            return d / f"{name_or_path}.toml"
    raise LiveError(f"preset '{name_or_path}' not found — available: {', '.join(list_presets())} "
                    f"(or give a path to a .toml file)")


def preset_path(name: str) -> Path | None:
    try:
        return find_preset(name).expanduser().resolve()
    except LiveError:
        return None


def read_preset(name_or_path: str) -> dict:
    """Read and validate a preset: {param: value, ...} plus optional 'classes' (str), 'seed' (int) and 'matrix'
    (a live.walk.modulation.Matrix, when the file has rows, [bands] or [lfoN]).

    Only the keys present in the file are returned; make_params fills in the defaults.
    """
    path = find_preset(name_or_path)
    raw, text = read_toml(path, f"preset {path.name}")
    out: dict[str, Any] = {}
    known = list(PARAM_SPECS) + list(EXTRA_KEYS) + list(MATRIX_KEYS)
    matrix = read_matrix(raw, text, f"preset {path.name}")
    if matrix is not None:
        out["matrix"] = matrix
    for key, value in raw.items():
        where = f"preset {path.name}{line_of(text, key)}:"
        if key in PARAM_SPECS:
            out[key] = check_value(key, value, f"{where} {key} =")
        elif key == "seed":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 32:
                raise LiveError(f"{where} seed = {value!r} must be an integer 0–{2 ** 32 - 1}")
            out[key] = value
        elif key == "classes":
            out[key] = _check_classes(value, where)
        elif key in MATRIX_KEYS:
            pass  # read above
        else:
            hint = difflib.get_close_matches(key, known, n=1)
            hint_s = f"did you mean {hint[0]}? " if hint else ""
            raise LiveError(f"{where} unknown key '{key}' — {hint_s}known keys: {', '.join(known)}")
    return out


def _check_classes(value: Any, where: str) -> str:
    from live.classes import resolve_classes

    if isinstance(value, list):  # ["jellyfish", 980] is fine too
        value = ", ".join(str(v) for v in value)
    if not isinstance(value, str):
        raise LiveError(f"{where} classes = {value!r} must be a string like \"jellyfish, volcano\"")
    try:
        resolve_classes(value)
    except LiveError as e:
        raise LiveError(f"{where} classes: {e}") from None
    return value


class PresetWatcher:
    """poll() -> paths whose (mtime, size) changed since the last poll, including new and deleted files."""

    def __init__(self, dirs: list[Path] | None = None, files: list[Path] = (), interval: float = 1.0):
        self.dirs = [Path(d) for d in (preset_dirs() if dirs is None else dirs)]
        self.files = {Path(f).expanduser().resolve() for f in files}
        self.interval = interval
        self._next = 0.0
        self._seen = self._scan()

    def watch(self, path: Path) -> None:
        """Also watch one file outside the preset folders (a --preset given as a path)."""
        p = Path(path).expanduser().resolve()
        if p not in self.files:
            self.files.add(p)
            self._seen.update({k: v for k, v in self._stat([p]).items()})

    @staticmethod
    def _stat(paths) -> dict:
        out = {}
        for p in paths:
            try:
                st = p.stat()
            except OSError:
                continue
            out[p] = (st.st_mtime_ns, st.st_size)
        return out

    def _scan(self) -> dict:
        paths = set(self.files)
        for d in self.dirs:
            try:
                paths.update(p.resolve() for p in d.glob("*.toml"))
            except OSError:
                pass
        return self._stat(paths)

    def poll(self, now: float | None = None) -> list[Path]:
        now = time.monotonic() if now is None else now
        if now < self._next:
            return []
        self._next = now + self.interval
        seen = self._scan()
        changed = [p for p in seen if self._seen.get(p) != seen[p]]
        changed += [p for p in self._seen if p not in seen]
        self._seen = seen
        return sorted(changed)


class PresetReloader:
    """Changed preset files -> [(actions to dispatch, toast)].

    An edit of the current preset re-applies the keys whose values changed in the file (a removed key goes back
    to its default), so knob and OSC tweaks of the other parameters survive; a broken file keeps the look and
    reports the error; other presets are checked so a mistake shows now, not when the VJ switches."""

    def __init__(self):
        self.preset: str | None = None
        self.content: dict | None = None  # the current preset file as last read

    @staticmethod
    def _read(name: str) -> dict | None:
        try:
            return read_preset(name)
        except LiveError:
            return None

    def changed(self, preset: str, paths: list[Path]) -> list[tuple[list[Action], str]]:
        """`preset`: the name or path of the preset in force."""
        if preset != self.preset:  # switched (key, MIDI, OSC): remember the file as it is now
            self.preset, self.content = preset, self._read(preset)
        current = preset_path(preset)
        out = []
        for p in paths:
            if p == current:
                out.append(self._reload(p))
            elif p.exists():
                try:
                    read_preset(str(p))
                except LiveError as e:
                    out.append(([], warn(str(e))))
        return out

    def _reload(self, p: Path) -> tuple[list[Action], str]:
        if not p.exists():
            return [], warn(f"preset {p.name} was deleted — keeping the current look")
        try:
            new = read_preset(self.preset)
        except LiveError as e:
            return [], warn(f"{e} — keeping the current look")
        old, self.content = self.content or {}, new
        source = f"preset {p.name}"
        actions: list[Action] = [SetParam(name, new.get(name, spec.default), source)
                                 for name, spec in PARAM_SPECS.items() if new.get(name) != old.get(name)]
        if new.get("classes") != old.get("classes") and "classes" in new:
            actions.append(ChooseClasses(new["classes"], source))
        if new.get("seed") != old.get("seed") and "seed" in new:
            actions.append(Reseed(new["seed"]))
        if new.get("matrix", Matrix()) != old.get("matrix", Matrix()):
            actions.append(SetMatrix(new.get("matrix", Matrix())))
        return actions, f"preset {p.stem} reloaded"
