"""The one dispatcher: every action (live.control.actions), whatever its source, is applied here on the main
thread. Sources on other threads (OSC, MIDI, beat cuts) put actions into an Inbox; the main thread drains it
next to the window's keys and dispatches each.

dispatch(action) -> (walker actions for the analysis thread, toast text). Errors a user caused (an unknown
class, a broken preset, a value out of range) become a one-line report on stderr and the HUD, never a crash;
an action type without a handler is a bug (TypeError). Those from a remote input (OSC, MIDI: an action's
source) go to stderr through one core.reports.Throttled per input, so a controller repeating a bad value
costs a line every few seconds; the HUD shows each. Report actions were throttled where they were found (the
OSC receive thread) and are told as they come.
"""
from __future__ import annotations

import math
import queue
from typing import Callable

from core.errors import LiveError, warn
from core.reports import Throttled
from live import classes as cls
from live.config import PARAM_SPECS
from live.control import actions as A
from live.control.look import Look, Result
from live.walk.modulation import amount_range


class Inbox:
    """Thread-safe queue of actions for the main thread."""

    def __init__(self):
        self._q: queue.SimpleQueue = queue.SimpleQueue()

    def put(self, action: A.Action) -> None:
        self._q.put(action)

    def drain(self) -> list[A.Action]:
        out = []
        while True:
            try:
                out.append(self._q.get_nowait())
            except queue.Empty:
                return out


class Dispatcher:
    """Applies actions to the look, the window, MIDI learn and the tempo.

    window: has toggle_fullscreen(), toggle_hud(), toggle_help() (None when headless).
    midi: a live.control.midi.MidiControl (maps messages, learns) or None.
    tap: called with no argument for every Tap.
    link: called with True / False / None (toggle) for every LinkSync; returns the toast.
    """

    def __init__(self, look: Look, window=None, midi=None, tap: Callable[[], str] | None = None,
                 link: Callable[[bool | None], str] | None = None):
        self.look, self.window, self.midi, self._tap, self._link = look, window, midi, tap, link
        self.quit = False
        self._reports: dict[str, Throttled] = {}  # per input: "OSC", "MIDI"
        self._table: dict[type, Callable[[A.Action], Result]] = {
            A.SetParam: self._set_param, A.Nudge: lambda a: self.look.nudge(a.name or self.look.selected, a.steps),
            A.Select: lambda a: self._reported(self.look.select, a.name, a.step),
            A.SetAmount: self._set_amount, A.SetMatrix: lambda a: self.look.set_matrix(a.matrix),
            A.SetModAmount: lambda a: self._reported(self.look.set_amount, a.row, a.amount),
            A.LoadPreset: self._load_preset, A.ChooseClasses: self._choose_classes,
            A.NewClasses: lambda a: self.look.new_classes(), A.NewSeed: lambda a: self.look.reseed(),
            A.ToggleFreeze: lambda a: self.look.freeze(), A.Freeze: lambda a: self.look.freeze(a.on),
            A.SetParams: lambda a: (self.look.set_params(a.params), ""),
            A.SetClasses: lambda a: self.look.set_classes(a.ids),
            A.Reseed: lambda a: self.look.reseed(a.seed),
            A.Tap: lambda a: ([], self._tap() if self._tap else "tap"),
            A.LinkSync: lambda a: ([], self._link(a.on) if self._link else "Link is not available here"),
            A.MidiLearn: self._midi_learn, A.MidiMessage: self._midi_message,
            A.Report: lambda a: ([], warn(a.text)),
            A.ToggleFullscreen: lambda a: self._window("toggle_fullscreen"),
            A.ToggleHud: lambda a: self._window("toggle_hud"), A.ToggleHelp: lambda a: self._window("toggle_help"),
            A.ToggleMeters: lambda a: self._window("toggle_meters"),
            A.Quit: self._quit,
        }

    def dispatch(self, action: A.Action) -> Result:
        handler = self._table.get(type(action))
        if handler is None:
            raise TypeError(f"no handler for {action!r}")
        if self.midi is not None and self.midi.catching():  # MIDI learn: this key names the caught control
            target = self._learn_target(action)
            if target is not None:
                return [], self.midi.bind(target)
        return handler(action)

    def _warn(self, source: str, text: str) -> str:
        """`source: text` on stderr, throttled per input (the source's first word), and for the HUD."""
        line = f"{source}: {text}"
        family = source.split()[0] if source else ""
        if family not in self._reports:
            self._reports[family] = Throttled(f"{family} input")
        self._reports[family].report(line)
        return line

    def flush(self, final: bool = False) -> None:
        """Tell what the throttles held back once its time has come (about every frame; final: at the end)."""
        for reports in self._reports.values():
            reports.flush(final)

    def _learn_target(self, action: A.Action) -> str | None:
        if isinstance(action, A.Select) and action.name is None:  # Left/Right: the parameter it selects
            names = self.look.selectable()
            return names[(names.index(self.look.selected) + action.step) % len(names)]
        return A.word_of(action)

    # ---- handlers ------------------------------------------------------------------------------------------
    def _set_param(self, a: A.SetParam) -> Result:
        spec = PARAM_SPECS.get(a.name)
        if spec is None:
            return [], self._warn(a.source, f"unknown parameter '{a.name}' — known: {', '.join(PARAM_SPECS)}")
        value, bad = self._number(a.source, a.name, a.value)
        if bad:
            return [], bad
        clamped = min(spec.max, max(spec.min, value))
        actions, toast = self.look.set_value(a.name, clamped)
        if clamped != value:
            toast = self._warn(a.source, f"{a.name} {value:g} is out of range {spec.min:g}–{spec.max:g}, "
                                         f"clamped to {clamped:g}")
        return actions, toast

    def _number(self, source: str, what: str, value) -> tuple[float, str]:
        """(value as a float, '') or (nan, the reported toast) for what a knob or a message sent."""
        try:
            x = float(value)
        except (TypeError, ValueError):
            return math.nan, self._warn(source, f"{what} {value!r} is not a number — ignored")
        if not math.isfinite(x):
            return math.nan, self._warn(source, f"{what} {x} is not a finite number — ignored")
        return x, ""

    @staticmethod
    def _reported(method, *args) -> Result:
        try:
            return method(*args)
        except LiveError as e:
            return [], warn(str(e))

    def _set_amount(self, a: A.SetAmount) -> Result:
        rows = self.look.matrix.rows
        if not 1 <= a.row <= len(rows):
            return [], self._warn(a.source, f"no modulation row {a.row} (preset {self.look.preset} has {len(rows)})")
        value, bad = self._number(a.source, "amount", a.value)
        if bad:
            return [], bad
        lo, hi = amount_range(rows[a.row - 1].target)
        if a.of_range:
            value = lo + value * (hi - lo)
        actions, toast = self.look.set_amount(a.row, value)
        if not lo <= value <= hi:
            toast = self._warn(a.source, f"mod{a.row} amount {value:g} is out of range {lo:g}–{hi:g}, clamped")
        return actions, toast

    def _choose_classes(self, a: A.ChooseClasses) -> Result:
        try:
            return self.look.set_classes(cls.resolve_classes(str(a.spec)))
        except LiveError as e:
            return [], self._warn(a.source, str(e))

    def _load_preset(self, a: A.LoadPreset) -> Result:
        try:
            return self.look.load_preset(a.name, a.number)
        except LiveError as e:  # a missing or broken preset keeps the look
            return [], self._warn(a.source, str(e)) if a.source else str(e)

    def _midi_learn(self, a: A.MidiLearn) -> Result:
        if self.midi is None:
            return [], "MIDI learn needs a MIDI input: start with --midi NAME"
        return [], self.midi.toggle_learn()

    def _midi_message(self, a: A.MidiMessage) -> Result:
        if self.midi is None:
            return [], ""
        mapped, toast = self.midi.handle(a.message)
        return self.dispatch(mapped) if mapped is not None else ([], toast)

    def _window(self, method: str) -> Result:
        if self.window is not None:
            getattr(self.window, method)()
        return [], ""

    def _quit(self, a: A.Quit) -> Result:
        self.quit = True
        return [], ""
