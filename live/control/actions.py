"""The one control vocabulary: every change a key, MIDI, OSC, a preset, a beat cut, a lyric line or a recording
makes is one of these frozen dataclasses, and live.control.dispatch applies them.

Two layers of one family:
- walker actions (WALKER_ACTIONS, defined in live.walk.actions) carry results: SetParams, SetClasses, Turn,
  Reseed, Freeze. They are what the analysis thread applies to the walk (live.walk.steering), what a recording
  stores as an event at a sample position and what a replay applies there. Anything random is drawn before it
  becomes one.
- requests (everything else) say what someone asked for: SetParam from a knob, Nudge from a key, NewClasses from
  a beat cut... The dispatcher turns them into walker actions (or window, MIDI and tempo changes).

Names are the words a user writes: in MIDI maps (`64 = "freeze"`), in events.jsonl (`"kind": "classes"`). A
word that is not in the vocabulary is an error where it is parsed, naming its source; nothing is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import LiveError
from live.config import PARAM_SPECS
# The walker's actions are the vocabulary's lowest layer; re-exported so every control speaks one vocabulary.
from live.walk.actions import (KINDS, WALKER_ACTIONS, Action, Event, Freeze, Reseed, SetBeatClock,  # noqa: F401
                               SetClasses, SetMatrix, SetModAmount, SetParams, Turn, cut_turn, event_from_json,
                               event_to_json)


# ---- requests: resolved by the dispatcher ---------------------------------------------------------------------
@dataclass(frozen=True)
class SetParam(Action):
    """An absolute value (MIDI CC, OSC); out of range: clamped and reported, naming `source`."""
    name: str
    value: Any
    source: str = ""


@dataclass(frozen=True)
class SetAmount(Action):
    """A modulation row's amount (1-based row; OSC /live/mod/<row>/amount, a MIDI knob); out of its range:
    clamped and reported, naming `source`."""
    row: int
    value: Any
    source: str = ""
    of_range: bool = False  # value 0..1 sweeps the row's amount range (a MIDI knob)


@dataclass(frozen=True)
class Nudge(Action):
    """Up/Down: `steps` fiftieths of the range (whole steps for counts) of `name`, None = the selected one."""
    name: str | None
    steps: int


@dataclass(frozen=True)
class Select(Action):
    """Select a parameter for Up/Down (and MIDI learn); `step` +1/-1 selects the next/previous one instead."""
    name: str | None = None
    step: int = 0


@dataclass(frozen=True)
class LoadPreset(Action):
    """A preset by name or path, or by its number in the 1-9 key order."""
    name: str | None = None
    number: int | None = None
    source: str = ""


@dataclass(frozen=True)
class ChooseClasses(Action):
    """ImageNet names or ids, comma separated (OSC /live/classes)."""
    spec: str
    source: str = ""


@dataclass(frozen=True)
class NewClasses(Action):
    """A new random class set (key c, beat cut, /live/cut, MIDI 'cut'); a planned beat cut carries the
    time.monotonic its image is due on screen, and on Link the session beat that is (re-timed to that beat if
    the session's tempo changes while the cut waits)."""
    show_at: float | None = None
    beat: float | None = None


@dataclass(frozen=True)
class NewSeed(Action):
    """Reseed the walk with a new random seed."""


@dataclass(frozen=True)
class ToggleFreeze(Action):
    pass


@dataclass(frozen=True)
class Tap(Action):
    """A tap of the tempo (at the time it is dispatched)."""


@dataclass(frozen=True)
class LinkSync(Action):
    """Join (True) or leave (False) the Ableton Link session; None toggles."""
    on: bool | None = None


@dataclass(frozen=True)
class MidiLearn(Action):
    pass


@dataclass(frozen=True)
class MidiMessage(Action):
    """A raw MIDI message from the port's thread; the MIDI map turns it into an action on the main thread."""
    message: Any


@dataclass(frozen=True)
class Report(Action):
    """A message for the HUD and stderr (a malformed OSC message, a broken preset...)."""
    text: str


@dataclass(frozen=True)
class ToggleFullscreen(Action):
    pass


@dataclass(frozen=True)
class ToggleHud(Action):
    pass


@dataclass(frozen=True)
class ToggleHelp(Action):
    pass


@dataclass(frozen=True)
class ToggleMeters(Action):
    """The HUD's meters of the modulation sources (key b)."""


@dataclass(frozen=True)
class Quit(Action):
    pass


# ---- the words users write --------------------------------------------------------------------------------------
# One-word actions (MIDI map values, MIDI learn targets, OSC addresses /live/<word>).
NAMED = {"cut": NewClasses(), "freeze": ToggleFreeze(), "reseed": NewSeed(), "tap": Tap(), "link": LinkSync()}


MOD_ROWS = 64  # mod1 .. mod64: the words of the modulation rows' amounts


def mod_row(word: str) -> int | None:
    """'mod3' -> 3 (a modulation row's amount, selectable and MIDI-learnable like a parameter), else None."""
    if word.startswith("mod") and word[3:].isdigit() and 1 <= int(word[3:]) <= MOD_ROWS:
        return int(word[3:])
    return None


def named(word: str, source: str) -> Action:
    """A parameter name or a row's word modN (-> Select, for MIDI learn and maps) or a one-word action;
    LiveError naming `source`."""
    if word in PARAM_SPECS or mod_row(word) is not None:
        return Select(word)
    if word in NAMED:
        return NAMED[word]
    raise LiveError(f"{source}: unknown action {word!r} — use a parameter ({', '.join(PARAM_SPECS)}), "
                    f"a modulation row's amount (mod1, mod2, ...) or an action ({', '.join(NAMED)})")


def word_of(action: Action) -> str | None:
    """The inverse of `named` (what MIDI learn writes into a map file), or None."""
    if isinstance(action, Select) and action.name:
        return action.name
    return next((w for w, a in NAMED.items() if a == action), None)


# ---- recordings: walker actions as events.jsonl lines ---------------------------------------------------------
