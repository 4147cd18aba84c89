"""The one control vocabulary: every change a key, MIDI, OSC, a preset, a beat cut, a lyric line or a recording
makes is one of these frozen dataclasses, and live.control.dispatch applies them.

Two layers of one family:
- walker actions (WALKER_ACTIONS) carry results: SetParams, SetClasses, Reseed, Freeze. They are what the
  analysis thread applies to the walk (live.walk.steering), what a recording stores as an event at a sample
  position and what a replay applies there. Anything random is drawn before it becomes one.
- requests (everything else) say what someone asked for: SetParam from a knob, Nudge from a key, NewClasses from
  a beat cut... The dispatcher turns them into walker actions (or window, MIDI and tempo changes).

Names are the words a user writes: in MIDI maps (`64 = "freeze"`), in events.jsonl (`"kind": "classes"`). A
word that is not in the vocabulary is an error where it is parsed, naming its source; nothing is dropped.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from core.dims import NUM_CLASSES
from core.errors import LiveError
from live.config import PARAM_SPECS, WalkerParams


class Action:
    """Base of every control action."""


# ---- walker actions: results, applied at a sample position, recorded and replayed ----------------------------
@dataclass(frozen=True)
class SetParams(Action):
    params: WalkerParams


@dataclass(frozen=True)
class SetClasses(Action):
    ids: tuple[int, ...]

    def __post_init__(self):
        ids = tuple(int(k) for k in self.ids)
        if not ids or not all(0 <= k < NUM_CLASSES for k in ids):
            raise LiveError(f"classes must be ImageNet ids 0–{NUM_CLASSES - 1}, got {list(self.ids)[:13]}")
        object.__setattr__(self, "ids", ids)


@dataclass(frozen=True)
class Reseed(Action):
    seed: int


@dataclass(frozen=True)
class Freeze(Action):
    on: bool


# ---- requests: resolved by the dispatcher ---------------------------------------------------------------------
@dataclass(frozen=True)
class SetParam(Action):
    """An absolute value (MIDI CC, OSC); out of range: clamped and reported, naming `source`."""
    name: str
    value: Any
    source: str = ""


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
    time.monotonic its image is due on screen."""
    show_at: float | None = None


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
class Quit(Action):
    pass


# ---- the words users write --------------------------------------------------------------------------------------
# One-word actions (MIDI map values, MIDI learn targets, OSC addresses /live/<word>).
NAMED = {"cut": NewClasses(), "freeze": ToggleFreeze(), "reseed": NewSeed(), "tap": Tap(), "link": LinkSync()}


def named(word: str, source: str) -> Action:
    """A parameter name (-> Select, for MIDI learn and maps) or a one-word action; LiveError naming `source`."""
    if word in PARAM_SPECS:
        return Select(word)
    if word in NAMED:
        return NAMED[word]
    raise LiveError(f"{source}: unknown action {word!r} — use a parameter ({', '.join(PARAM_SPECS)}) "
                    f"or an action ({', '.join(NAMED)})")


def word_of(action: Action) -> str | None:
    """The inverse of `named` (what MIDI learn writes into a map file), or None."""
    if isinstance(action, Select) and action.name:
        return action.name
    return next((w for w, a in NAMED.items() if a == action), None)


# ---- recordings: walker actions as events.jsonl lines ---------------------------------------------------------
KINDS = {"params": SetParams, "classes": SetClasses, "reseed": Reseed, "freeze": Freeze}
WALKER_ACTIONS = tuple(KINDS.values())


class Event(NamedTuple):
    pos: int  # samples analysed before the action took effect
    action: Action


def event_to_json(event: Event, sr: int | None = None) -> str:
    """One events.jsonl line; time_s is for people reading the file, replay uses pos."""
    a = event.action
    if isinstance(a, SetParams):
        kind, value = "params", dataclasses.asdict(a.params)
    elif isinstance(a, SetClasses):
        kind, value = "classes", list(a.ids)
    elif isinstance(a, Reseed):
        kind, value = "reseed", int(a.seed)
    elif isinstance(a, Freeze):
        kind, value = "freeze", bool(a.on)
    else:
        raise TypeError(f"{type(a).__name__} is not a walker action and is never recorded")
    row = {"pos": int(event.pos), "kind": kind, "value": value}
    if sr:
        row["time_s"] = round(event.pos / sr, 4)
    return json.dumps(row)


def event_from_json(line: str) -> Event:
    """Parse one events.jsonl line; LiveError with the reason (the caller adds file and line)."""
    try:
        row = json.loads(line)
        pos, kind, value = row["pos"], row["kind"], row["value"]
    except (ValueError, KeyError, TypeError) as e:
        raise LiveError(f"not an event ({type(e).__name__}: {e})") from None
    if isinstance(pos, bool) or not isinstance(pos, int) or pos < 0:
        raise LiveError(f"position {pos!r} is not a sample count >= 0")
    if kind not in KINDS:
        raise LiveError(f"unknown event kind {kind!r} — known: {', '.join(KINDS)}")
    if kind == "params":
        if not isinstance(value, dict):
            raise LiveError(f"params {value!r} is not a table of parameters")
        unknown = sorted(set(value) - set(PARAM_SPECS))
        if unknown:
            raise LiveError(f"unknown parameter {unknown[0]!r} — known: {', '.join(PARAM_SPECS)}")
        return Event(pos, SetParams(WalkerParams(**value)))
    if kind == "classes":
        if not isinstance(value, list) or not all(isinstance(k, int) and not isinstance(k, bool) for k in value):
            raise LiveError(f"classes {value!r} is not a list of class ids")
        return Event(pos, SetClasses(tuple(value)))
    if kind == "reseed":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LiveError(f"seed {value!r} is not an integer >= 0")
        return Event(pos, Reseed(value))
    if not isinstance(value, bool):
        raise LiveError(f"freeze {value!r} is not true or false")
    return Event(pos, Freeze(value))
