"""MIDI control (mido + python-rtmidi): `--midi NAME`, `--list-midi`, `--midi-map FILE`, MIDI learn.

The default map fits a Korg nanoKONTROL2 in its factory scene (CC numbers on any channel):
  faders 1-6 (CC 0-5) and knobs 1-6 (CC 16-21): pitch sensitivity, tempo sensitivity, jitter, truncation,
  smooth factor, number of classes; S buttons 1-4 (CC 32-35): cut (new classes), freeze, reseed, tap.
Program change n loads the (n+1)-th preset, as key n+1 does. Other controllers: learn (`m`, move a control,
press a parameter key or an action key) or write a map file:
  channel = 1               # optional, 1-16 (default: any channel)
  [cc]
  7 = "truncation"          # a parameter: 0-127 sweeps its whole range
  64 = "freeze"             # an action, fired on press (value >= 64): cut, freeze, reseed, tap
  [program]
  0 = "chill"               # optional: program -> preset name (default: by order)
Learned controls are saved to --midi-map FILE, else to the user map (midi.toml in the user config folder),
which is also read at start when it exists.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import tomllib

from core.files import write_text_atomic
from live.config import PARAM_SPECS
from core.errors import LiveError

PARAMS = list(PARAM_SPECS)  # pitch, tempo, jitter, truncation, smooth, num_classes
ACTIONS = {"cut": ("cut",), "freeze": ("freeze",), "reseed": ("reseed",), "tap": ("tap",)}
KEY_ACTIONS = {"classes": "cut", "freeze": "freeze", "reseed": "reseed", "tap": "tap"}  # display -> map name
DEFAULT_CC = {**{i: p for i, p in enumerate(PARAMS)}, **{16 + i: p for i, p in enumerate(PARAMS)},
              32: "cut", 33: "freeze", 34: "reseed", 35: "tap"}


def user_map_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("live-biggan")) / "midi.toml"


class MidiMap:
    def __init__(self, cc: dict | None = None, program: dict | None = None, channel: int | None = None):
        self.cc = dict(DEFAULT_CC if cc is None else cc)
        self.program = dict(program or {})
        self.channel = channel  # 1-16 or None

    @classmethod
    def load(cls, path: str | Path) -> "MidiMap":
        p = Path(path).expanduser()
        where = f"MIDI map {p}"
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as e:
            raise LiveError(f"{where}: cannot read it ({e.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise LiveError(f"{where}: invalid TOML ({e}) — fix the file") from None
        unknown = set(raw) - {"channel", "cc", "program"}
        if unknown:
            raise LiveError(f"{where}: unknown key {sorted(unknown)[0]!r} — use channel, [cc], [program]")
        ch = raw.get("channel")
        if ch is not None and (isinstance(ch, bool) or not isinstance(ch, int) or not 1 <= ch <= 16):
            raise LiveError(f"{where}: channel = {ch!r} must be 1-16 (or leave it out for any)")
        cc = {}
        for k, v in raw.get("cc", {}).items():
            known = isinstance(v, str) and (v in PARAM_SPECS or v in ACTIONS)
            if not k.isdigit() or int(k) > 127 or not known:
                raise LiveError(f"{where}: [cc] {k} = {v!r}: want a CC 0-127 = a parameter "
                                f"({', '.join(PARAMS)}) or an action ({', '.join(ACTIONS)})")
            cc[int(k)] = v
        program = {}
        for k, v in raw.get("program", {}).items():
            if not k.isdigit() or int(k) > 127 or not isinstance(v, str):
                raise LiveError(f"{where}: [program] {k} = {v!r}: want a program 0-127 = \"preset name\"")
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


class MidiControl:
    """MIDI messages -> actions, and the learn state machine. Main thread only."""

    def __init__(self, midi_map: MidiMap, save_to: Path | None = None):
        self.map, self.save_to = midi_map, save_to
        self.learning: int | str | None = None  # None, "wait" (for a control), or the CC number caught

    def handle(self, msg) -> tuple[tuple | None, str]:
        """One mido message -> (action or None, toast text)."""
        if self.map.channel is not None and getattr(msg, "channel", None) not in (None, self.map.channel - 1):
            return None, ""
        if msg.type == "control_change":
            if self.learning is not None:
                self.learning = msg.control
                return None, (f"MIDI learn: CC {msg.control} — press a parameter key (p e j u s n) "
                              "or c, space, r, t")
            target = self.map.cc.get(msg.control)
            if target in PARAM_SPECS:
                spec = PARAM_SPECS[target]
                value = spec.min + msg.value / 127 * (spec.max - spec.min)
                return ("set", target, value, f"MIDI CC {msg.control}"), ""
            if target in ACTIONS and msg.value >= 64:
                return ACTIONS[target], ""
            return None, ""
        if msg.type == "program_change":
            name = self.map.program.get(msg.program)
            if name:
                return ("preset_name", name, f"MIDI program {msg.program}"), ""
            return ("preset", msg.program + 1), ""
        return None, ""

    def intercept(self, action: tuple) -> tuple[bool, str]:
        """Key actions while learning: ('midi_learn',) toggles learning; a parameter or action key binds
        the caught control. Returns (consumed, toast)."""
        if action[0] == "midi_learn":
            if self.learning is not None:
                self.learning = None
                return True, "MIDI learn cancelled"
            self.learning = "wait"
            return True, "MIDI learn: move a knob or press a button (m cancels)"
        if not isinstance(self.learning, int):
            return False, ""
        if action[0] == "select":
            target = action[1]
        elif action[0] in KEY_ACTIONS:
            target = KEY_ACTIONS[action[0]]
        else:
            return False, ""
        cc, self.learning = self.learning, None
        self.map.cc[cc] = target
        where = ""
        if self.save_to is not None:
            try:
                self.map.save(self.save_to)
                where = f" (saved to {self.save_to})"
            except OSError as e:
                where = f" (not saved: {e.strerror})"
        return True, f"MIDI CC {cc} -> {target.replace('_', ' ')}{where}"


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
