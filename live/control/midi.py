"""MIDI control (mido + python-rtmidi): `--midi NAME`, `--list-midi`, `--midi-map FILE`, MIDI learn.

The default map fits a Korg nanoKONTROL2 in its factory scene (CC numbers on any channel):
  faders 1-6 (CC 0-5) and knobs 1-6 (CC 16-21): pitch sensitivity, tempo sensitivity, jitter, truncation,
  smooth factor, number of classes; faders 7-8 (CC 6-7): rotate, spin and knobs 7-8 (CC 22-23): shift x, shift y
  (StyleGAN3's pose); S buttons 1-4 (CC 32-35): cut (new classes), freeze, reseed, tap. cut_turn and cut_shift
  have no control of their own there (learn or map them).
Program change n loads the (n+1)-th preset, as key n+1 does. Other controllers: learn (`m`, move a control,
press a parameter key or an action key) or write a map file:
  channel = 1               # optional, 1-16 (default: any channel)
  [cc]
  7 = "truncation"          # a parameter: 0-127 sweeps its whole range
  64 = "freeze"             # an action, fired on press (value >= 64): cut, freeze, reseed, tap
  8 = "mod1"                # a modulation row's amount (row 1 of the preset in force): 0-127 sweeps its range
  [program]
  0 = "chill"               # optional: program -> preset name (default: by order)
Learned controls are saved to --midi-map FILE, else to the user map (midi.toml in the user config folder),
which is also read at start when it exists.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from core.errors import LiveError
from core.files import write_text_atomic
from live.config import PARAM_SPECS, line_of, read_toml
from live.control import actions as A

LOOK = ("pitch_sensitivity", "tempo_sensitivity", "jitter", "truncation", "smooth_factor", "num_classes")
DEFAULT_CC = {**{i: p for i, p in enumerate(LOOK)}, **{16 + i: p for i, p in enumerate(LOOK)},
              6: "rotate", 7: "spin", 22: "shift_x", 23: "shift_y",
              32: "cut", 33: "freeze", 34: "reseed", 35: "tap"}


def user_map_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("live-biggan")) / "midi.toml"


class MidiMap:
    """CC number -> a word of the action vocabulary (a parameter, or cut/freeze/reseed/tap); program -> preset."""

    def __init__(self, cc: dict | None = None, program: dict | None = None, channel: int | None = None):
        self.cc = dict(DEFAULT_CC if cc is None else cc)
        self.program = dict(program or {})
        self.channel = channel  # 1-16 or None

    @classmethod
    def load(cls, path: str | Path) -> "MidiMap":
        p = Path(path).expanduser()
        raw, text = read_toml(p, f"MIDI map {p}")
        at = lambda key: f"MIDI map {p}{line_of(text, key)}:"  # noqa: E731
        unknown = set(raw) - {"channel", "cc", "program"}
        if unknown:
            key = sorted(unknown)[0]
            raise LiveError(f"{at(key)} unknown key {key!r} — use channel, [cc], [program]")
        ch = raw.get("channel")
        if ch is not None and (isinstance(ch, bool) or not isinstance(ch, int) or not 1 <= ch <= 16):
            raise LiveError(f"{at('channel')} channel = {ch!r} must be 1-16 (or leave it out for any)")
        cc = {}
        for k, v in _table(raw, "cc", at).items():
            if not k.isdigit() or int(k) > 127:
                raise LiveError(f"{at(k)} [cc] {k} = {v!r}: want a CC number 0-127")
            A.named(v if isinstance(v, str) else repr(v), f"{at(k)} [cc] {k}")  # an unknown word: file:line
            cc[int(k)] = v
        program = {}
        for k, v in _table(raw, "program", at).items():
            if not k.isdigit() or int(k) > 127 or not isinstance(v, str):
                raise LiveError(f"{at(k)} [program] {k} = {v!r}: want a program 0-127 = \"preset name\"")
            program[int(k)] = v
        return cls(cc, program, ch)

    def save(self, path: str | Path) -> None:
        p = Path(path).expanduser()
        lines = ["# live MIDI map (see `live --help`): CC number = parameter or action"]
        if self.channel is not None:
            lines.append(f"channel = {self.channel}")
        lines += ["", "[cc]"] + [f'{k} = "{v}"' for k, v in sorted(self.cc.items())]
        if self.program:
            lines += ["", "[program]"] + [f'{k} = "{v}"' for k, v in sorted(self.program.items())]
        write_text_atomic(p, "\n".join(lines) + "\n")


def _table(raw: dict, key: str, at) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise LiveError(f"{at(key)} {key} must be a table: [{key}]")
    return value


class MidiControl:
    """MIDI messages -> actions, and the learn state machine. Main thread only."""

    def __init__(self, midi_map: MidiMap, save_to: Path | None = None):
        self.map, self.save_to = midi_map, save_to
        self.learning: int | str | None = None  # None, "wait" (for a control), or the CC number caught
        self.port_name: str | None = None  # the open input port, if any

    def handle(self, msg) -> tuple[A.Action | None, str]:
        """One mido message -> (action or None, toast text)."""
        if self.map.channel is not None and getattr(msg, "channel", None) not in (None, self.map.channel - 1):
            return None, ""
        if msg.type == "control_change":
            if self.learning is not None:
                self.learning = msg.control
                return None, (f"MIDI learn: CC {msg.control} — press a parameter key (p e j u s n), "
                              "c, space, r, t, or Left/Right onto a modulation row")
            word = self.map.cc.get(msg.control)
            row = A.mod_row(word) if isinstance(word, str) else None
            if row is not None:
                return A.SetAmount(row, msg.value / 127, f"MIDI CC {msg.control}", of_range=True), ""
            if word in PARAM_SPECS:
                spec = PARAM_SPECS[word]
                value = spec.min + msg.value / 127 * (spec.max - spec.min)
                return A.SetParam(word, value, f"MIDI CC {msg.control}"), ""
            if word in A.NAMED and msg.value >= 64:  # buttons fire on press, not on release
                return A.NAMED[word], ""
            return None, ""
        if msg.type == "program_change":
            name = self.map.program.get(msg.program)
            if name:
                return A.LoadPreset(name=name, source=f"MIDI program {msg.program}"), ""
            return A.LoadPreset(number=msg.program + 1, source=f"MIDI program {msg.program}"), ""
        return None, ""

    def toggle_learn(self) -> str:
        if self.learning is not None:
            self.learning = None
            return "MIDI learn cancelled"
        self.learning = "wait"
        toast = "MIDI learn: move a knob or press a button (m cancels)"
        return toast + ("" if self.port_name else " — but no MIDI input is open (start with --midi NAME)")

    def catching(self) -> bool:
        """A control was caught and waits for the key that names its target."""
        return isinstance(self.learning, int)

    def bind(self, word: str) -> str:
        """Bind the caught control to `word` (a parameter or a one-word action); save the map."""
        cc, self.learning = self.learning, None
        self.map.cc[cc] = word
        where = ""
        if self.save_to is not None:
            try:
                self.map.save(self.save_to)
                where = f" (saved to {self.save_to})"
            except OSError as e:
                where = f" (not saved: {e.strerror})"
        return f"MIDI CC {cc} -> {word.replace('_', ' ')}{where}"


# ---- ports ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_alsa():
    """libasound prints its own lines to fd 2 when the sequencer is missing; we say it in one line."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def input_names() -> list[str]:
    """MIDI input port names; LiveError (one line) when MIDI itself is unavailable."""
    import mido

    try:
        with _quiet_alsa():
            return list(mido.get_input_names())
    except Exception as e:  # rtmidi raises SystemError/RuntimeError variants without a sequencer
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise LiveError(f"MIDI is not available here ({why}): is ALSA's sequencer (snd-seq) loaded?") from None


def open_input(name: str, callback):
    """Open the first input port whose name contains `name` (case-insensitive); callback(msg) runs on
    rtmidi's thread. Returns (port, port name); LiveError (one line) if there is no such port."""
    import mido

    names = input_names()
    match = [n for n in names if name.lower() in n.lower()]
    if not match:
        have = ", ".join(names) if names else "none"
        raise LiveError(f"no MIDI input matching {name!r} (inputs: {have})")
    try:
        with _quiet_alsa():
            port = mido.open_input(match[0], callback=callback)
    except Exception as e:
        raise LiveError(f"cannot open MIDI input {match[0]!r} ({e})") from None
    return port, match[0]
