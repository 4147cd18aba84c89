"""Control actions from OSC, MIDI, beat cuts and preset hot reload, applied to the look on the main thread.

Those sources run on their own threads (or timers); they put actions into an Inbox and the main thread
applies them with apply(), next to the window's key actions, so Look stays single-threaded and every
walker change still goes to the analysis thread as a command (and so into a recording as an event).

Actions, besides the window's (see live.control.look.Look.apply):
  ("set", name, value, source)        absolute parameter value; out of range: clamped and reported
  ("preset_name", name, source)       a preset by name
  ("classes_spec", "a, b, 12", source)
  ("freeze_to", bool)
  ("cut",)                            a new random class set (beat cut, /live/cut)
  ("report", text)                    a message for the HUD and stderr
"""
from __future__ import annotations

import math
import queue
import sys
from pathlib import Path

from live import classes as cls
from live.config import PARAM_SPECS
from core.errors import LiveError


class Inbox:
    """Thread-safe queue of actions for the main thread."""

    def __init__(self):
        self._q: queue.SimpleQueue = queue.SimpleQueue()

    def put(self, action: tuple) -> None:
        self._q.put(action)

    def drain(self) -> list[tuple]:
        out = []
        while True:
            try:
                out.append(self._q.get_nowait())
            except queue.Empty:
                return out


def report(text: str) -> str:
    """A warning: one line on stderr; returned for the HUD."""
    print(f"live: {text}", file=sys.stderr, flush=True)
    return text


def _fmt(x: float) -> str:
    return f"{x:g}"


def set_param(look, name: str, value, source: str) -> tuple[list, str]:
    spec = PARAM_SPECS.get(name)
    if spec is None:
        return [], report(f"{source}: unknown parameter '{name}' — known: {', '.join(PARAM_SPECS)}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return [], report(f"{source}: {name} {value!r} is not a number — ignored")
    if math.isnan(value):
        return [], report(f"{source}: {name} nan is not a number — ignored")
    clamped = min(spec.max, max(spec.min, value))
    cmds, toast = look.set_value(name, clamped)
    if clamped != value:
        toast = report(f"{source}: {name} {_fmt(value)} is out of range {_fmt(spec.min)}–{_fmt(spec.max)}, "
                       f"clamped to {_fmt(clamped)}")
    return cmds, toast


def set_classes(look, spec: str, source: str) -> tuple[list, str]:
    try:
        chosen = cls.resolve_classes(str(spec))
    except LiveError as e:
        return [], report(f"{source}: {e}")
    look.classes, look.classes_given = chosen, True
    return [("classes", list(chosen))], "classes: " + ", ".join(look.class_names())


def load_preset(look, name: str, source: str) -> tuple[list, str]:
    cmds, toast = look.load_preset_name(str(name))
    if not cmds:  # a failed load changes nothing and says why
        return [], report(f"{source}: {toast}")
    return cmds, toast


def apply(look, action: tuple) -> tuple[list, str]:
    """Any action -> (commands for the analysis thread, toast text or '')."""
    kind = action[0]
    if kind == "set":
        return set_param(look, action[1], action[2], action[3])
    if kind == "preset_name":
        return load_preset(look, action[1], action[2])
    if kind == "classes_spec":
        return set_classes(look, action[1], action[2])
    if kind == "freeze_to":
        if bool(action[1]) == look.frozen:
            return [], ""
        return look.apply(("freeze",))
    if kind == "cut":
        return look.new_classes()
    if kind == "report":
        return [], report(action[1])
    return look.apply(action)


# ---- preset hot reload --------------------------------------------------------------------------------


def preset_path(name: str) -> Path | None:
    from live.config import _find_preset

    try:
        return _find_preset(name).expanduser().resolve()
    except LiveError:
        return None


class PresetReloader:
    """Changed preset files -> [(commands, toast)].

    An edit of the current preset applies the keys whose values changed in the file (a removed key goes back
    to its default), so knob and OSC tweaks of the other parameters survive; a broken file keeps the look
    and reports the error; other presets are checked so a mistake shows now, not when the VJ switches."""

    def __init__(self):
        self.preset: str | None = None
        self.content: dict | None = None  # the current preset file as last read

    def _read(self, name: str) -> dict | None:
        from live.config import load_preset as read_preset
        try:
            return read_preset(name)
        except LiveError:
            return None

    def changed(self, look, paths: list[Path]) -> list[tuple[list, str]]:
        from live.config import load_preset as read_preset

        if look.preset != self.preset:  # switched (key, MIDI, OSC): remember the file as it is now
            self.preset, self.content = look.preset, self._read(look.preset)
        current = preset_path(look.preset)
        out = []
        for p in paths:
            if p == current:
                out.append(self._reload(look, p))
            elif p.exists():
                try:
                    read_preset(str(p))
                except LiveError as e:
                    out.append(([], report(str(e))))
        return out

    def _reload(self, look, p: Path) -> tuple[list, str]:
        from live.config import load_preset as read_preset

        if not p.exists():
            return [], report(f"preset {p.name} was deleted — keeping the current look")
        try:
            new = read_preset(look.preset)
        except LiveError as e:
            return [], report(f"{e} — keeping the current look")
        old, self.content = self.content or {}, new
        cmds: list = []
        for name, spec in PARAM_SPECS.items():
            if new.get(name) != old.get(name):
                cmds += look.set_value(name, new.get(name, spec.default))[0]
        if new.get("classes") != old.get("classes") and "classes" in new:
            cmds += set_classes(look, new["classes"], f"preset {p.name}")[0]
        if new.get("seed") != old.get("seed") and "seed" in new:
            look.seed = new["seed"]
            cmds.append(("reseed", look.seed))
        params = [c for c in cmds if c[0] == "params"]  # each carries all parameters: the last is enough
        cmds = [c for c in cmds if c[0] != "params"] + params[-1:]
        return cmds, f"preset {p.stem} reloaded"
