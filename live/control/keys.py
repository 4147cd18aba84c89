"""Keys of the live window -> control actions, and the ? overlay that lists them.

The window (live.show.window) only reports key names; this table is the one place that gives them a meaning.
"""
from __future__ import annotations

from live.control import actions as A

# Walker parameter keys: a letter selects one, Up/Down change the selected one.
PARAM_KEYS = {"p": "pitch_sensitivity", "e": "tempo_sensitivity", "j": "jitter", "u": "truncation",
              "s": "smooth_factor", "n": "num_classes",
              "o": "rotate", "w": "spin", "x": "shift_x", "y": "shift_y", "a": "cut_turn", "d": "cut_shift"}

# Key (pygame's key name; "?" by the character typed) -> action. Shift multiplies a Nudge by 5.
KEYS: dict[str, A.Action] = {
    "q": A.Quit(), "escape": A.Quit(), "f": A.ToggleFullscreen(), "h": A.ToggleHud(), "?": A.ToggleHelp(),
    "space": A.ToggleFreeze(), "r": A.NewSeed(), "c": A.NewClasses(), "t": A.Tap(), "m": A.MidiLearn(),
    "l": A.LinkSync(), "b": A.ToggleMeters(),
    **{str(n): A.LoadPreset(number=n) for n in range(1, 10)},
    **{letter: A.Select(name) for letter, name in PARAM_KEYS.items()},
    "left": A.Select(step=-1), "right": A.Select(step=1), "up": A.Nudge(None, 1), "down": A.Nudge(None, -1),
}

# The ? overlay: (label, the KEYS it describes, what they do). A test checks these rows cover KEYS exactly.
HELP_ROWS = [
    ("q, Esc", ["q", "escape"], "quit"),
    ("f", ["f"], "fullscreen on/off"),
    ("h", ["h"], "HUD: fps, latency, input level, classes"),
    ("?", ["?"], "this key list"),
    ("b", ["b"], "meters of the modulation sources (bands, onsets, beat, LFOs, stems...)"),
    ("space", ["space"], "freeze / unfreeze the image"),
    ("r", ["r"], "reseed the walk"),
    ("c", ["c"], "pick new random classes"),
    ("1 - 9", [str(n) for n in range(1, 10)], "load preset N (1 = default, then the others by name)"),
    ("t", ["t"], "tap the tempo (2+ taps set it; a tap marks beat 1 for --cut-on-beat)"),
    ("m", ["m"], "MIDI learn: move a control, then press a parameter or action key"),
    ("l", ["l"], "Ableton Link on/off (its tempo and beats drive the cuts while it has peers)"),
    (" ".join(PARAM_KEYS), list(PARAM_KEYS), "select a look parameter: pitch sensitivity, tempo (e) "
     "sensitivity,\n               jitter, truncation (u), smooth factor, number of classes; StyleGAN3: rotate (o),\n"
     "               spin (w), shift x, shift y, cut turn (a), cut shift (d)"),
    ("Left/Right", ["left", "right"], "select the previous / next parameter or modulation row's amount"),
    ("Up/Down", ["up", "down"], "raise / lower the selected one (Shift: 5x step)"),
]
KEY_HELP = "keys (live window):\n" + "\n".join(f"  {label:<12} {what}" for label, _, what in HELP_ROWS)


def key_action(name: str, shift: bool = False) -> A.Action | None:
    action = KEYS.get(name)
    if shift and isinstance(action, A.Nudge):
        return A.Nudge(None, action.steps * 5)
    return action
