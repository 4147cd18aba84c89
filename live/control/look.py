"""The look in force: walker parameters, classes, seed, preset, modulation matrix and freeze, as the main thread
knows them.

The dispatcher (live.control.dispatch) changes it; every change returns the walker actions that carry it to the
analysis thread (which owns the Walker), so the walker is only ever touched by one thread and every change is
an action a recording can store.
"""
from __future__ import annotations

import dataclasses
import random
import sys

from core.errors import LiveError
from live import classes as cls
from live.config import PARAM_SPECS, WalkerParams, make_params
from live.control.actions import (Action, Freeze, Reseed, SetClasses, SetMatrix, SetModAmount, SetParams, cut_turn,
                                  mod_row)
from live.control.presets import preset_order, read_preset
from live.walk.modulation import Matrix, amount_range
from live.walk.steering import StartLook

Result = tuple[list[Action], str]  # walker actions for the analysis thread, toast text ('' for none)
MAX_CLASSES = 12  # one per pitch class


def start_look(opts, quiet: bool = False) -> StartLook:
    """The look from preset + flags + lyrics (a live.options.LookOptions), shared by live mode and export."""
    preset = read_preset(opts.preset)
    params = make_params(preset, dict(opts.params))
    seed = opts.seed if opts.seed is not None else int(preset.get("seed", 0))
    matrix = preset.get("matrix", Matrix())
    if opts.lyrics is not None:
        from live.lyrics.schedule import lyrics_schedule

        if not quiet:
            print("live: choosing classes from the lyrics (loading the text model)...", file=sys.stderr)
        ly = opts.lyrics
        schedule = lyrics_schedule(ly.path, params.num_classes, ly.scoring, ly.text_model, ly.offset_s)
        # The walk starts at 0 s (also with --start), so it starts from the first set; lines switch later.
        return StartLook(params, schedule.initial, seed, opts.preset, True,
                         None if schedule.is_static else schedule, matrix)
    spec = opts.classes or preset.get("classes")
    if not spec:
        return StartLook(params, cls.random_classes(params.num_classes, seed), seed, opts.preset, matrix=matrix)
    chosen = cls.resolve_classes(spec)
    if len(chosen) > MAX_CLASSES:
        where = "--classes" if opts.classes else f"preset {opts.preset}: classes"
        raise LiveError(f"{where} lists {len(chosen)} classes; the 12 pitch classes drive at most {MAX_CLASSES}: "
                        f"list up to {MAX_CLASSES}")
    return StartLook(params, chosen, seed, opts.preset, True, matrix=matrix)


def step_size(name: str) -> float:
    spec = PARAM_SPECS[name]
    return 1 if spec.type is int else (spec.max - spec.min) / 50


def format_value(name: str, value) -> str:
    spec = PARAM_SPECS[name]
    unit = f" {spec.unit}" if spec.unit in ("s", "classes") else ""
    return f"{name.replace('_', ' ')} {value:g}{unit}"


def format_row(matrix: Matrix, row: int) -> str:
    r = matrix.rows[row - 1]
    curve = "" if r.curve == "linear" else f" ({r.curve})"
    return f"mod{row} {r.source} -> {r.target} {r.amount:+.2f}{curve}"


class Look:
    def __init__(self, params: WalkerParams, classes: list[int], seed: int, preset: str = "default",
                 classes_given: bool = False, matrix: Matrix = Matrix()):
        self.params, self.classes, self.seed = params, list(classes), int(seed)
        self.matrix = matrix
        self.preset = preset
        # User-chosen classes stay when the class count changes; random ones are re-drawn to the new count.
        self.classes_given = classes_given
        self.frozen = False
        self.selected = "truncation"  # the parameter Up/Down change
        self._rng = random.Random(seed)

    def class_names(self) -> list[str]:
        return [cls.LABELS[i] for i in self.classes[: self.params.num_classes]]

    def selectable(self) -> list[str]:
        """What Left/Right walk through and Up/Down change: the parameters, then each row's amount (modN)."""
        return list(PARAM_SPECS) + [f"mod{i}" for i in range(1, len(self.matrix.rows) + 1)]

    def value(self, name: str) -> float:
        row = mod_row(name)
        return self.matrix.rows[row - 1].amount if row is not None else getattr(self.params, name)

    def format(self, name: str) -> str:
        row = mod_row(name)
        return format_row(self.matrix, row) if row is not None else format_value(name, self.value(name))

    def set_matrix(self, matrix: Matrix) -> Result:
        self.matrix = matrix
        if mod_row(self.selected) is not None and mod_row(self.selected) > len(matrix.rows):
            self.selected = "truncation"
        return [SetMatrix(matrix)], f"modulation: {len(matrix.rows)} rows"

    def set_amount(self, row: int, value: float) -> Result:
        """Set one row's amount, clamped to its range (LiveError for a row the matrix does not have)."""
        if not 1 <= row <= len(self.matrix.rows):
            raise LiveError(f"no modulation row {row} (preset {self.preset} has {len(self.matrix.rows)})")
        lo, hi = amount_range(self.matrix.rows[row - 1].target)
        value = round(min(hi, max(lo, value)), 4)
        self.matrix = self.matrix.with_amount(row, value)
        return [SetModAmount(row, value)], format_row(self.matrix, row)

    def set_value(self, name: str, value: float) -> Result:
        """Set one parameter (or a row's amount, modN), clamped to its range."""
        row = mod_row(name)
        if row is not None:
            return self.set_amount(row, value)
        spec = PARAM_SPECS[name]
        value = min(spec.max, max(spec.min, value))
        value = int(round(value)) if spec.type is int else round(value, 4)
        return self.set_params(dataclasses.replace(self.params, **{name: value})), format_value(name, value)

    def nudge(self, name: str, steps: int) -> Result:
        row = mod_row(name)
        if row is not None:
            lo, hi = amount_range(self.matrix.rows[row - 1].target) if row <= len(self.matrix.rows) else (0, 0)
            return self.set_amount(row, self.value(name) + steps * (hi - lo) / 50)
        return self.set_value(name, getattr(self.params, name) + steps * step_size(name))

    def select(self, name: str | None, step: int = 0) -> Result:
        names = self.selectable()
        if name is not None and name not in names:
            raise LiveError(f"no modulation row {mod_row(name)} (preset {self.preset} has {len(self.matrix.rows)})")
        self.selected = name or names[(names.index(self.selected) + step) % len(names)]
        return [], self.format(self.selected)

    def set_params(self, params: WalkerParams) -> list[Action]:
        out: list[Action] = [SetParams(params)]
        if params.num_classes != len(self.classes) and not self.classes_given:  # random ones: redraw
            self.classes = cls.random_classes(params.num_classes, self.seed)
            out.insert(0, SetClasses(tuple(self.classes)))
        self.params = params
        return out

    def set_classes(self, ids, given: bool = True) -> Result:
        self.classes, self.classes_given = [int(k) for k in ids], given
        return [SetClasses(tuple(self.classes))], "classes: " + ", ".join(self.class_names())

    def new_classes(self) -> Result:
        """A cut: new random classes, and a new StyleGAN3 pose when the look asks for one (cut_turn, cut_shift)."""
        actions, toast = self.set_classes(cls.random_classes(self.params.num_classes, self._rng.randrange(1 << 31)),
                                          False)
        if self.params.cut_turn or self.params.cut_shift:  # only then: other looks draw their classes as before
            actions.append(cut_turn(self.params, self._rng.randrange(1 << 31)))
        return actions, toast

    def reseed(self, seed: int | None = None) -> Result:
        self.seed = self._rng.randrange(1 << 31) if seed is None else int(seed)
        return [Reseed(self.seed)], f"seed {self.seed}"

    def freeze(self, on: bool | None = None) -> Result:
        """Freeze (True), run (False) or toggle (None); no action when nothing changes."""
        on = not self.frozen if on is None else bool(on)
        if on == self.frozen:
            return [], ""
        self.frozen = on
        return [Freeze(on)], "frozen" if on else "running"

    def load_preset(self, name: str | None = None, number: int | None = None) -> Result:
        """A preset by name/path or by its number (1-9 keys, MIDI program change). Raises LiveError for a
        missing or broken preset; the look then stays as it is."""
        if name is None:
            names = preset_order()
            if not 1 <= (number or 0) <= len(names):
                raise LiveError(f"no preset {number} (there are {len(names)})")
            name = names[number - 1]
        preset = read_preset(name)
        params = make_params(preset)
        chosen = cls.resolve_classes(preset["classes"]) if "classes" in preset else None
        self.preset = name
        actions: list[Action] = []
        if chosen is not None:
            actions += self.set_classes(chosen)[0]
        matrix = preset.get("matrix", Matrix())
        if matrix != self.matrix:
            actions += self.set_matrix(matrix)[0]
        return actions + self.set_params(params), f"preset {self.preset}"

    def presets_help(self) -> str:
        return "  presets      " + "  ".join(f"{i} {n}" for i, n in enumerate(preset_order()[:9], 1))
