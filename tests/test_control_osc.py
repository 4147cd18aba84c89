"""OSC in (every parameter, preset, classes, freeze, cut; bad messages reported, never fatal) and OSC out."""
import socket
import threading
import time

import numpy as np
import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from live.control import dispatch as control
from live.config import PARAM_SPECS, make_params
from core.errors import LiveError
from live.analysis.features import Frame
from live.control.look import Look
from live.control.osc import OscOut, OscServer, parse_address


def _wait_actions(inbox, n, timeout=5.0):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += inbox.drain()
        time.sleep(0.01)
    return got


@pytest.fixture
def server():
    inbox = control.Inbox()
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
            OscServer(str(s.getsockname()[1]), control.Inbox())
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
    client.send_message("/live/cut", [])
    got = _wait_actions(inbox, len(PARAM_SPECS) + 6)
    assert [a[:3] for a in got[:len(PARAM_SPECS)]] == [("set", n, 0.5) for n in PARAM_SPECS]
    assert got[len(PARAM_SPECS):] == [("preset_name", "chill", "OSC /live/preset"), ("preset", 2),
                                      ("classes_spec", "jellyfish, volcano", "OSC /live/classes"),
                                      ("freeze_to", True), ("freeze_to", False), ("cut",)]


def test_malformed_and_unknown_messages_are_reported_not_fatal(server):
    srv, inbox, client = server
    client.send_message("/live/truncation", [0.1, 0.2])
    client.send_message("/live/nothing", 1.0)
    client.send_message("/live/freeze", "yes")
    got = _wait_actions(inbox, 3)
    assert [a[0] for a in got] == ["report"] * 3
    assert "expected one number" in got[0][1] and "unknown address /live/nothing" in got[1][1]
    client.send_message("/live/jitter", 0.25)  # the server still runs
    assert _wait_actions(inbox, 1)[0][:3] == ("set", "jitter", 0.25)


def test_out_of_range_is_clamped_and_reported(capsys):
    look = Look(make_params(), list(range(12)), seed=0)
    cmds, toast = control.apply(look, ("set", "truncation", 3.0, "OSC /live/truncation"))
    assert look.params.truncation == 1.0 and cmds == [("params", look.params)]
    assert "out of range 0.02–1, clamped to 1" in toast
    assert capsys.readouterr().err.strip() == f"live: {toast}"
    cmds, toast = control.apply(look, ("set", "truncation", 0.3, "OSC"))
    assert look.params.truncation == 0.3 and toast == "truncation 0.3"
    for bad in ("abc", float("nan")):
        cmds, toast = control.apply(look, ("set", "truncation", bad, "OSC"))
        assert cmds == [] and "not a number" in toast and look.params.truncation == 0.3
    cmds, _ = control.apply(look, ("set", "num_classes", 3.4, "OSC"))
    assert look.params.num_classes == 3


def test_classes_preset_freeze_and_cut_change_the_look(capsys):
    look = Look(make_params(), list(range(12)), seed=0)
    cmds, _ = control.apply(look, ("classes_spec", "jellyfish, volcano", "OSC"))
    assert cmds == [("classes", [107, 980])] and look.classes_given
    cmds, toast = control.apply(look, ("classes_spec", "no such thing", "OSC"))
    assert cmds == [] and look.classes == [107, 980] and "OSC:" in toast
    cmds, toast = control.apply(look, ("preset_name", "chill", "OSC"))
    assert ("params", look.params) in cmds and look.preset == "chill" and look.params.truncation == 0.6
    cmds, toast = control.apply(look, ("preset_name", "nope", "OSC"))
    assert cmds == [] and "not found" in toast and look.preset == "chill"
    assert control.apply(look, ("freeze_to", True))[0] == [("freeze", True)]
    assert control.apply(look, ("freeze_to", True))[0] == []  # already frozen
    cmds, _ = control.apply(look, ("cut",))
    assert cmds[0][0] == "classes" and cmds[0][1] != [107, 980]


def test_osc_out_sends_features_and_beats():
    got, lock = [], threading.Lock()

    def collect(address, *args):
        with lock:
            got.append((address, args))

    d = Dispatcher()
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
