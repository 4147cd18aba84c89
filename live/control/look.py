"""The live look: walker parameters, classes and seed, changed from keys while the set runs.

The main thread turns window actions into new values here and sends them to the analysis thread (which
owns the Walker) as commands, so the walker is only ever touched by one thread.
"""
from __future__ import annotations

import dataclasses
import random

from live import classes as cls
from live.config import PARAM_SPECS, WalkerParams, list_presets, load_preset, make_params
from core.errors import LiveError


def preset_order() -> list[str]:
    """Presets for keys 1-9: 'default' first, then the others by name."""
    names = list_presets()
    return (["default"] if "default" in names else []) + [n for n in names if n != "default"]


def step_size(name: str) -> float:
    spec = PARAM_SPECS[name]
    return 1 if spec.type is int else (spec.max - spec.min) / 50


def format_value(name: str, value) -> str:
    spec = PARAM_SPECS[name]
    unit = f" {spec.unit}" if spec.unit in ("s", "classes") else ""
    return f"{name.replace('_', ' ')} {value:g}{unit}"


class Look:
    """Current params/classes/seed; each change returns commands for the analysis thread.

    Commands: ('params', WalkerParams), ('classes', [ids]), ('reseed', seed).
    """

    def __init__(self, params: WalkerParams, classes: list[int], seed: int, preset: str = "default",
                 classes_given: bool = False):
        self.params, self.classes, self.seed = params, list(classes), int(seed)
        self.preset = preset
        # User-chosen classes stay when the class count changes; random ones are re-drawn to the new count.
        self.classes_given = classes_given
        self.frozen = False
        self._rng = random.Random(seed)

    def class_names(self) -> list[str]:
        return [cls.LABELS[i] for i in self.classes[: self.params.num_classes]]

    def adjust(self, name: str, steps: int) -> tuple[list[tuple], str]:
        """Move one parameter by `steps` steps, clamped to its range. Returns (commands, toast text)."""
        return self.set_value(name, getattr(self.params, name) + steps * step_size(name))

    def set_value(self, name: str, value: float) -> tuple[list[tuple], str]:
        """Set one parameter (MIDI, OSC), clamped to its range. Returns (commands, toast text)."""
        spec = PARAM_SPECS[name]
        value = min(spec.max, max(spec.min, value))
        value = int(round(value)) if spec.type is int else round(value, 4)
        params = dataclasses.replace(self.params, **{name: value})
        return self._set_params(params), format_value(name, value)

    def _set_params(self, params: WalkerParams) -> list[tuple]:
        cmds: list[tuple] = [("params", params)]
        if params.num_classes != len(self.classes) and not self.classes_given:  # random ones: redraw
            self.classes = cls.random_classes(params.num_classes, self.seed)
            cmds.insert(0, ("classes", list(self.classes)))
        self.params = params
        return cmds

    def new_classes(self) -> tuple[list[tuple], str]:
        self.classes = cls.random_classes(self.params.num_classes, self._rng.randrange(1 << 31))
        self.classes_given = False
        return [("classes", list(self.classes))], "classes: " + ", ".join(self.class_names())

    def reseed(self) -> tuple[list[tuple], str]:
        self.seed = self._rng.randrange(1 << 31)
        return [("reseed", self.seed)], f"seed {self.seed}"

    def load_preset_key(self, n: int) -> tuple[list[tuple], str]:
        """Key n (1-9) -> the n-th preset of preset_order(); a bad preset file is a toast, not a crash."""
        names = preset_order()
        if not 1 <= n <= len(names):
            return [], f"no preset {n} (there are {len(names)})"
        return self.load_preset_name(names[n - 1])

    def load_preset_name(self, name: str) -> tuple[list[tuple], str]:
        """A preset by name or path (MIDI program change, OSC, hot reload). On a bad file: no commands,
        the error as the toast, and the look stays as it is."""
        try:
            preset = load_preset(name)
            params = make_params(preset)
            chosen = cls.resolve_classes(preset["classes"]) if "classes" in preset else None
        except LiveError as e:
            return [], str(e)
        self.preset = name
        cmds = []
        if chosen is not None:
            self.classes, self.classes_given = chosen, True
            cmds.append(("classes", list(chosen)))
        return cmds + self._set_params(params), f"preset {self.preset}"

    def apply(self, action: tuple) -> tuple[list[tuple], str]:
        """A display action -> (commands for the analysis thread, toast text or '')."""
        kind = action[0]
        if kind == "adjust":
            return self.adjust(action[1], action[2])
        if kind == "select":
            return [], format_value(action[1], getattr(self.params, action[1]))
        if kind == "freeze":
            self.frozen = not self.frozen
            return [("freeze", self.frozen)], "frozen" if self.frozen else "running"
        if kind == "reseed":
            return self.reseed()
        if kind == "classes":
            return self.new_classes()
        if kind == "preset":
            return self.load_preset_key(action[1])
        return [], ""

    def presets_help(self) -> str:
        return "  presets      " + "  ".join(f"{i} {n}" for i, n in enumerate(preset_order()[:9], 1))
