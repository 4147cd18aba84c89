"""OSC in (every parameter, preset, classes, freeze, cut; bad messages reported, never fatal) and OSC out."""
import socket
import threading
import time

import numpy as np
import pytest
from pythonosc.dispatcher import Dispatcher as OscDispatcher
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from core.errors import LiveError
from live.analysis.features import Frame
from live.config import PARAM_SPECS, make_params
from live.control import actions as A
from live.control.dispatch import Dispatcher, Inbox
from live.control.look import Look
from live.control.osc import OscServer, parse_address, parse_message
from live.control.osc_out import OscOut


def _wait_actions(inbox, n, timeout=5.0):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += inbox.drain()
        time.sleep(0.01)
    return got


@pytest.fixture
def server():
    inbox = Inbox()
    srv = OscServer("127.0.0.1:0", inbox).start()
    yield srv, inbox, SimpleUDPClient("127.0.0.1", srv.port)
    srv.close()


def test_parse_address_defaults_to_localhost_and_checks_the_port():
    assert parse_address("9000", "--osc") == ("127.0.0.1", 9000)
    assert parse_address("0.0.0.0:9001", "--osc") == ("0.0.0.0", 9001)
    for bad in ("abc", "70000", "host:", "-1"):
        with pytest.raises(LiveError, match="port must be a number"):
            parse_address(bad, "--osc")


def test_port_in_use_is_one_line():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(LiveError, match="cannot listen.*choose another port"):
            OscServer(str(s.getsockname()[1]), Inbox())
    finally:
        s.close()


def test_every_parameter_and_command_address_becomes_an_action(server):
    srv, inbox, client = server
    for name in PARAM_SPECS:
        client.send_message(f"/live/{name}", 0.5)
    client.send_message("/live/preset", "chill")
    client.send_message("/live/preset", 2)
    client.send_message("/live/classes", "jellyfish, volcano")
    client.send_message("/live/freeze", 1)
    client.send_message("/live/freeze", 0)
    client.send_message("/live/freeze", [])
    client.send_message("/live/cut", [])
    client.send_message("/live/reseed", 1.0)  # a button's press fires...
    client.send_message("/live/tap", 0.0)  # ...its release does nothing
    client.send_message("/live/tap", [])
    got = _wait_actions(inbox, len(PARAM_SPECS) + 9)
    assert got[:len(PARAM_SPECS)] == [A.SetParam(n, 0.5, f"OSC /live/{n}") for n in PARAM_SPECS]
    assert got[len(PARAM_SPECS):] == [A.LoadPreset(name="chill", source="OSC /live/preset"),
                                      A.LoadPreset(number=2, source="OSC /live/preset"),
                                      A.ChooseClasses("jellyfish, volcano", "OSC /live/classes"),
                                      A.Freeze(True), A.Freeze(False), A.ToggleFreeze(), A.NewClasses(),
                                      A.NewSeed(), A.Tap()]


def test_malformed_and_unknown_messages_are_one_line_each():
    for address, args, text in (
            ("/live/truncation", [0.1, 0.2], "OSC /live/truncation: expected one number, got 0.1 0.2 — ignored"),
            ("/live/freeze", ["yes"], "OSC /live/freeze: expected 0 or 1, got 'yes' — ignored"),
            ("/live/cut", ["now"], "OSC /live/cut: expected no argument, or 1 (press), got 'now' — ignored")):
        with pytest.raises(LiveError) as e:
            parse_message(address, args)
        assert str(e.value) == text
    with pytest.raises(LiveError, match="^OSC: unknown address /live/nothing — use /live/pitch_sensitivity, "):
        parse_message("/live/nothing", [1.0])


def test_bad_messages_are_reported_first_then_counted_and_the_server_runs_on(server):
    srv, inbox, client = server
    client.send_message("/live/truncation", [0.1, 0.2])
    client.send_message("/live/nothing", 1.0)
    client.send_message("/live/freeze", "yes")
    client.send_message("/live/jitter", 0.25)  # the server still runs
    got = _wait_actions(inbox, 2)
    assert got == [A.Report("OSC /live/truncation: expected one number, got 0.1 0.2 — ignored"),
                   A.SetParam("jitter", 0.25, "OSC /live/jitter")]
    srv.close()  # what was held back is told as the server closes
    summary = inbox.drain()
    assert len(summary) == 1 and summary[0].text.startswith(
        "OSC input: 2 more problems in the last 0 s, the first: OSC: unknown address /live/nothing"), summary


def test_out_of_range_is_clamped_and_reported(capsys):
    look = Look(make_params(), list(range(12)), seed=0)
    d = Dispatcher(look)
    cmds, toast = d.dispatch(A.SetParam("truncation", 3.0, "OSC /live/truncation"))
    assert look.params.truncation == 1.0 and cmds == [A.SetParams(look.params)]
    assert toast == "OSC /live/truncation: truncation 3 is out of range 0.02–1, clamped to 1"
    assert capsys.readouterr().err.strip() == f"live: {toast}"
    cmds, toast = d.dispatch(A.SetParam("truncation", 0.3, "OSC"))
    assert look.params.truncation == 0.3 and toast == "truncation 0.3"
    for bad, why in (("abc", "'abc' is not a number"), (float("nan"), "nan is not a finite number")):
        cmds, toast = d.dispatch(A.SetParam("truncation", bad, "OSC"))
        assert cmds == [] and toast == f"OSC: truncation {why} — ignored" and look.params.truncation == 0.3
    cmds, _ = d.dispatch(A.SetParam("num_classes", 3.4, "OSC"))
    assert look.params.num_classes == 3


def test_classes_preset_freeze_and_cut_change_the_look(capsys):
    look = Look(make_params(), list(range(12)), seed=0)
    d = Dispatcher(look)
    cmds, _ = d.dispatch(A.ChooseClasses("jellyfish, volcano", "OSC"))
    assert cmds == [A.SetClasses((107, 980))] and look.classes_given
    cmds, toast = d.dispatch(A.ChooseClasses("no such thing", "OSC"))
    assert cmds == [] and look.classes == [107, 980] and toast.startswith("OSC: unknown class 'no such thing'")
    cmds, toast = d.dispatch(A.LoadPreset(name="chill", source="OSC"))
    assert A.SetParams(look.params) in cmds and look.preset == "chill" and look.params.truncation == 0.6
    cmds, toast = d.dispatch(A.LoadPreset(name="nope", source="OSC"))
    assert cmds == [] and toast.startswith("OSC: preset 'nope' not found") and look.preset == "chill"
    assert d.dispatch(A.Freeze(True))[0] == [A.Freeze(True)]
    assert d.dispatch(A.Freeze(True))[0] == []  # already frozen
    cmds, _ = d.dispatch(A.NewClasses())
    assert isinstance(cmds[0], A.SetClasses) and cmds[0].ids != (107, 980)


def test_osc_out_sends_features_and_beats():
    got, lock = [], threading.Lock()

    def collect(address, *args):
        with lock:
            got.append((address, args))

    d = OscDispatcher()
    d.set_default_handler(collect)
    srv = BlockingOSCUDPServer(("127.0.0.1", 0), d)
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    try:
        out = OscOut(f"127.0.0.1:{srv.server_address[1]}")
        chroma = np.linspace(0, 1, 12).astype(np.float32)
        out.send(Frame(0, 0.02, chroma, 0.5, 0.25), beat=True, beats=7, bpm=120.0)
        deadline = time.monotonic() + 5
        while len(got) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        srv.shutdown()
        srv.server_close()
    by = dict(got)
    assert by["/live/features/flux"] == (0.5,) and by["/live/features/power"] == (0.25,)
    assert np.allclose(by["/live/features/chroma"], chroma)
    assert by["/live/features/beat"] == (7, 120.0)
