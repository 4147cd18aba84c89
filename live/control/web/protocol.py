"""What the page and the server say to each other, without the network: the page's description (built from the
control vocabulary, so a new parameter or action needs no page code), its messages -> actions for the one
dispatcher, the state every page shows, and the count of messages dropped.

Page -> server, one JSON object a WebSocket text message:
  {"type": "param", "name": "truncation", "value": 0.3}   a slider (any name in the description's params)
  {"type": "param", "name": "mod2", "value": -0.4}         the amount of the preset's modulation row 2
  {"type": "action", "name": "cut"}                        a button: cut, freeze, reseed, tap, link
  {"type": "preset", "name": "rave"}                       a preset of the list (names only, never a path)
  {"type": "classes", "spec": "jellyfish, 980"}            ImageNet names, synonyms or ids (as --classes)
  {"type": "search", "q": "shark"}                         answered to that page only: {"type": "found", ...}
  {"type": "lyrics", "text": "..."}                        pasted lyrics choose the classes (as --lyrics)
  {"type": "preview", "on": false}                         this page's preview on/off
Server -> page: {"type": "state", ...} (the look and the HUD's figures), {"type": "found", ...},
{"type": "note", "text": ...}, and the preview as binary JPEG messages.
"""
from __future__ import annotations

import json
import time
from typing import Any

from live import classes as cls
from live.config import PARAM_SPECS
from live.control import actions as A
from live.control.look import MAX_CLASSES
from live.control.presets import list_presets, preset_order
from live.walk.modulation import amount_range

SOURCE = "web"
MAX_SEARCH_HITS = 30


class Malformed(ValueError):
    """A message the page never sends (a bug or someone probing): dropped and counted, not reported one by one."""


def describe(extra_params: list[dict] | None = None) -> dict:
    """The controls the page builds itself from: one slider per parameter (extra_params: rows others add, e.g.
    modulation amounts, in the same shape), the one-word actions, the presets."""
    params = [dict(name=name, label=name.replace("_", " "), min=spec.min, max=spec.max, integer=spec.type is int,
                   unit=spec.unit, help=spec.help, default=spec.default) for name, spec in PARAM_SPECS.items()]
    return dict(params=params + list(extra_params or ()), actions=list(A.NAMED), presets=preset_order(),
                max_classes=MAX_CLASSES, lyrics=True)


def look_state(look, classes: list[int]) -> dict:
    """What every page shows of the look (`classes`: the ids in force, as the HUD shows them). The preset's
    modulation rows come as sliders of their own (`mods`), named modN as MIDI maps name them: a preset
    change may bring other rows."""
    mods = [dict(name=f"mod{i}", label=f"mod{i} {row.source} → {row.target}", min=lo, max=hi, integer=False,
                 value=row.amount) for i, row in enumerate(look.matrix.rows, 1)
            for lo, hi in [amount_range(row.target)]]
    return dict(params={name: getattr(look.params, name) for name in PARAM_SPECS}, preset=look.preset,
                frozen=look.frozen, seed=look.seed, selected=look.selected, mods=mods,
                classes=[dict(id=int(i), name=cls.LABELS[i]) for i in classes])


def parse(text: str, param_names) -> tuple[str, Any]:
    """One message -> (kind, payload): ("action", an Action), ("search", words), ("lyrics", text),
    ("preview", bool). Raises Malformed."""
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        raise Malformed("not JSON") from None
    if not isinstance(msg, dict):
        raise Malformed("not an object")
    kind = msg.get("type")
    if kind == "param":
        name, value = msg.get("name"), msg.get("value")
        if not isinstance(name, str) or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Malformed("param")
        row = A.mod_row(name)  # a modulation row's slider: named as MIDI maps name it
        if name not in param_names and row is None:
            raise Malformed("param")
        return "action", A.SetAmount(row, value, SOURCE) if row else A.SetParam(name, value, SOURCE)
    if kind == "action":
        if msg.get("name") not in A.NAMED:
            raise Malformed("action")
        return "action", A.NAMED[msg["name"]]
    if kind == "preset":
        if msg.get("name") not in list_presets():  # a listed name only: the page never names a file
            raise Malformed("preset")
        return "action", A.LoadPreset(name=msg["name"], source=SOURCE)
    if kind == "classes":
        return "action", A.ChooseClasses(_text(msg, "spec"), SOURCE)
    if kind in ("search", "lyrics"):
        return kind, _text(msg, "q" if kind == "search" else "text")
    if kind == "preview" and isinstance(msg.get("on"), bool):
        return "preview", msg["on"]
    raise Malformed("type")


def _text(msg: dict, key: str) -> str:
    value = msg.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Malformed(key)
    return value


def search(words: str) -> list[dict]:
    """Classes for a search box: the class `--classes` would take for these words first (name or synonym),
    then every class with a name or synonym containing them."""
    exact = cls.exact_id(words)
    hits = [(exact, cls.LABELS[exact])] if exact is not None else []
    hits += [h for h in cls.search(words) if h[0] != exact]
    return [dict(id=i, name=name, synonyms=cls.SYNONYMS[i][1:4]) for i, name in hits[:MAX_SEARCH_HITS]]


def lyrics_classes(text: str, num_classes: int) -> list[int]:
    """The classes `--lyrics` would choose for this text (plain or LRC: the set it starts with); the text is
    parsed as lyrics, never taken for a file name. Loads the text model on first use (seconds)."""
    from live.lyrics.schedule import lyrics_schedule
    from live.lyrics.score import score_lyrics
    from live.lyrics.text import parse_lyrics

    return lyrics_schedule(score_lyrics(parse_lyrics(text, "pasted lyrics")), num_classes).initial


class Drops:
    """Messages dropped (malformed, oversized, flooding...) by reason; report() gives one line at most every
    `every_s` seconds while there are new ones, so a flood is one line every few seconds, not a line each."""

    def __init__(self, every_s: float = 5.0, clock=time.monotonic):
        self.every_s, self.clock = every_s, clock
        self.total = 0
        self.reasons: dict[str, int] = {}  # since the start
        self._new: dict[str, int] = {}  # since the last report
        self._last = -float("inf")

    def count(self, reason: str, n: int = 1) -> None:
        self.total += n
        self.reasons[reason] = self.reasons.get(reason, 0) + n
        self._new[reason] = self._new.get(reason, 0) + n

    def report(self, last: bool = False) -> str | None:
        """The line to show now, or None; `last`: as the set ends, whenever the one before was."""
        now = self.clock()
        if not self._new or (now - self._last < self.every_s and not last):
            return None
        self._last = now
        n = sum(self._new.values())
        why = ", ".join(f"{k} {v}" for k, v in sorted(self._new.items()))
        self._new = {}
        return f"web: dropped {n} message{'s' if n > 1 else ''} ({why}); the show goes on"


class Bucket:
    """Flood limit of one page: `rate` messages a second on average, bursts up to `burst` (a slider drag sends
    about 25 a second)."""

    def __init__(self, rate: float = 50.0, burst: float = 100.0, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.level, self.t = burst, clock()

    def take(self) -> bool:
        now = self.clock()
        self.level = min(self.burst, self.level + (now - self.t) * self.rate)
        self.t = now
        if self.level < 1:
            return False
        self.level -= 1
        return True
