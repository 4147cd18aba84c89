"""MIDI: default map, map files, CC -> parameter through the look, program change -> preset, learn, ports."""
import re
import sys
import time
from pathlib import Path

import mido
import pytest

from core.errors import LiveError
from live.config import PARAM_SPECS, make_params
from live.control import actions as A
from live.control.dispatch import Dispatcher
from live.control.look import Look
from live.control.midi import DEFAULT_CC, MidiControl, MidiMap, open_input
from live.control.vj import VJ
from live.options import VJOptions


def cc(control_, value, channel=0):
    return mido.Message("control_change", control=control_, value=value, channel=channel)


def test_default_map_covers_the_look_on_faders_and_knobs():
    look = list(PARAM_SPECS)[:6]  # pitch .. num_classes
    assert [DEFAULT_CC[i] for i in range(8)] == look + ["rotate", "spin"]  # nanoKONTROL2 faders CC 0-7
    assert [DEFAULT_CC[16 + i] for i in range(8)] == look + ["shift_x", "shift_y"]  # knobs CC 16-23
    assert [DEFAULT_CC[32 + i] for i in range(4)] == ["cut", "freeze", "reseed", "tap"]


def test_cc_sweeps_the_parameter_range_through_the_look():
    midi, look = MidiControl(MidiMap()), Look(make_params(), list(range(12)), seed=0)
    d = Dispatcher(look, midi=midi)
    spec = PARAM_SPECS["truncation"]
    for value, want in ((0, spec.min), (127, spec.max), (64, spec.min + 64 / 127 * (spec.max - spec.min))):
        cmds, _ = d.dispatch(A.MidiMessage(cc(3, value)))
        assert look.params.truncation == pytest.approx(want, abs=1e-4) and cmds[-1] == A.SetParams(look.params)
    d.dispatch(A.MidiMessage(cc(21, 127)))  # knob 6
    assert look.params.num_classes == 12
    assert midi.handle(cc(32, 127))[0] == A.NewClasses() and midi.handle(cc(32, 0))[0] is None  # press, release
    assert midi.handle(cc(99, 10))[0] is None  # unmapped
    assert midi.handle(mido.Message("note_on", note=60))[0] is None


def test_program_change_loads_presets_by_order_or_by_map(tmp_path):
    midi = MidiControl(MidiMap())
    assert midi.handle(mido.Message("program_change", program=1))[0] == A.LoadPreset(number=2,
                                                                                       source="MIDI program 1")
    path = tmp_path / "map.toml"
    path.write_text('channel = 2\n[cc]\n7 = "jitter"\n64 = "freeze"\n[program]\n5 = "rave"\n')
    midi = MidiControl(MidiMap.load(path))
    assert midi.handle(mido.Message("program_change", program=5, channel=1))[0] == A.LoadPreset(
        name="rave", source="MIDI program 5")
    assert midi.handle(cc(7, 127, channel=1))[0] == A.SetParam("jitter", 1.0, "MIDI CC 7")
    assert midi.handle(cc(7, 127, channel=0))[0] is None  # other channel
    assert midi.handle(cc(64, 100, channel=1))[0] == A.ToggleFreeze()
    assert midi.handle(cc(0, 100, channel=1))[0] is None  # a map file replaces the default map


@pytest.mark.parametrize("text, line, match", [
    ("[cc]\n7 = \"truncaton\"\n", 2, "[cc] 7: unknown action 'truncaton' — use a parameter"),
    ("[cc]\n200 = \"jitter\"\n", 2, "[cc] 200 = 'jitter': want a CC number 0-127"),
    ("\nchannel = 17\n", 2, "channel = 17 must be 1-16"),
    ("knobs = 1\n", 1, "unknown key 'knobs'"),
    ("[cc\n", 1, "invalid TOML"),
])
def test_bad_map_files_are_one_line_naming_file_and_line(tmp_path, text, line, match):
    path = tmp_path / "map.toml"
    path.write_text(text)
    with pytest.raises(LiveError) as e:
        MidiMap.load(path)
    assert str(e.value).startswith(f"MIDI map {path}:{line}: ") and match in str(e.value)
    assert "\n" not in str(e.value)


def test_learn_binds_a_control_to_a_parameter_key_and_saves_the_map(tmp_path):
    path = tmp_path / "learned.toml"
    midi = MidiControl(MidiMap(), save_to=path)
    midi.port_name = "nanoKONTROL2"
    look = Look(make_params(), list(range(12)), seed=0)
    d = Dispatcher(look, midi=midi)
    assert d.dispatch(A.MidiLearn()) == ([], "MIDI learn: move a knob or press a button (m cancels)")
    cmds, toast = d.dispatch(A.MidiMessage(cc(50, 12)))
    assert cmds == [] and toast.startswith("MIDI learn: CC 50")  # the knob is caught, not applied
    assert d.dispatch(A.Nudge(None, 1))[0] == [A.SetParams(look.params)]  # other keys still work meanwhile
    cmds, toast = d.dispatch(A.Select("smooth_factor"))
    assert cmds == [] and toast.startswith("MIDI CC 50 -> smooth factor (saved to")
    assert midi.handle(cc(50, 127))[0] == A.SetParam("smooth_factor", 10.0, "MIDI CC 50")
    assert MidiMap.load(path).cc[50] == "smooth_factor"
    # an action key binds an action; Left/Right bind the parameter they select; a second `m` cancels
    d.dispatch(A.MidiLearn())
    d.dispatch(A.MidiMessage(cc(51, 127)))
    assert d.dispatch(A.Tap()) == ([], "MIDI CC 51 -> tap (saved to " + str(path) + ")")
    assert midi.handle(cc(51, 127))[0] == A.Tap()
    d.dispatch(A.MidiLearn())
    d.dispatch(A.MidiMessage(cc(52, 127)))
    assert d.dispatch(A.Select(step=-1))[1].startswith("MIDI CC 52 -> jitter")  # left of truncation
    d.dispatch(A.MidiLearn())
    assert d.dispatch(A.MidiLearn()) == ([], "MIDI learn cancelled") and midi.learning is None
    assert d.dispatch(A.Select("jitter")) == ([], "jitter 0.5")


def test_vj_routes_queued_midi_messages_to_the_look():
    vj = VJ(VJOptions(), 44100)
    look = Look(make_params(), list(range(12)), seed=0)
    d = Dispatcher(look, midi=vj.midi_ctl, tap=vj.tap)
    vj.inbox.put(A.MidiMessage(cc(2, 0)))  # fader 3: jitter to 0
    vj.inbox.put(A.MidiMessage(mido.Message("program_change", program=0)))  # preset 1: default
    results = [d.dispatch(a) for a in vj.actions()]
    assert results[0][0] == [A.SetParams(make_params({"jitter": 0.0}))]
    assert look.preset == "default" and look.params.jitter == 0.5
    vj.close()


@pytest.mark.parametrize("throttled", [True, False], ids=["throttled", "control-unthrottled"])
def test_a_controller_repeating_a_bad_program_change_costs_a_line_every_few_seconds(throttled, capfd, monkeypatch):
    import core.reports

    if not throttled:
        monkeypatch.setattr(core.reports, "EVERY_S", 0.0)
    vj = VJ(VJOptions(), 44100)
    d = Dispatcher(Look(make_params(), list(range(12)), seed=0), midi=vj.midi_ctl)
    for _ in range(500):  # program 100: no such preset
        vj.inbox.put(A.MidiMessage(mido.Message("program_change", program=100)))
    for action in vj.actions():
        d.dispatch(action)
    d.flush(final=True)
    vj.close()
    lines = capfd.readouterr().err.splitlines()
    if not throttled:
        assert len(lines) == 500  # what the throttle saves: a line per message
        return
    assert len(lines) == 2 and lines[0].startswith("live: MIDI program 100: no preset 101 ")
    assert lines[1].startswith("live: MIDI input: 499 more problems in the last 0 s, the first: MIDI program 100: ")


# rtmidi's Linux backend needs ALSA's sequencer device; containers (like this project's CI) usually lack it.
HAVE_SEQUENCER = not sys.platform.startswith("linux") or Path("/dev/snd/seq").exists()


def test_missing_port_is_one_line():
    with pytest.raises(LiveError) as e:
        open_input("surely no such controller", lambda m: None)
    if HAVE_SEQUENCER:
        assert re.fullmatch(r"no MIDI input matching 'surely no such controller' \(inputs: .+\)", str(e.value))
    else:
        assert re.fullmatch(r"MIDI is not available here \(.+\): is ALSA's sequencer \(snd-seq\) loaded\?",
                            str(e.value)), str(e.value)


@pytest.mark.skipif(not HAVE_SEQUENCER, reason="no ALSA sequencer here (/dev/snd/seq): virtual MIDI ports need snd-seq")
def test_virtual_port_end_to_end():
    out = mido.open_output("live-test-controller", virtual=True)
    got = []
    port, name = open_input("live-test-controller", got.append)
    try:
        out.send(cc(3, 127))
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        port.close()
        out.close()
    assert "live-test-controller" in name and got and got[0].control == 3
