"""OSC cannot hang or flood the show: real UDP to a real live.control.osc server. A bundle time-tagged far ahead
is refused and holds nothing up (python-osc's own server, the control, sleeps until the tag); one a little
ahead applies at its time, not before (the control: python-osc ignoring time tags applies it early); a flood
of junk costs a few stderr lines with the count (the control: without the throttle it is a line per
datagram); python-osc's log lines and tracebacks never reach stderr (the control: python-osc alone logs and
raises on that junk)."""
import logging
import re
import socket
import threading
import time

import pytest
from pythonosc.dispatcher import Dispatcher as OscDispatcher
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_server import BlockingOSCUDPServer

import core.reports
from core.reports import Throttled
from live.config import make_params
from live.control import actions as A
from live.control.dispatch import Dispatcher, Inbox
from live.control.look import Look
from live.control.osc import HORIZON_S, OscServer


def message(address, *args):
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build()


def bundle(at: float, *messages) -> bytes:
    b = OscBundleBuilder(at)
    for m in messages:
        b.add_content(m)
    return b.build().dgram


def send(port: int, *dgrams: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for dgram in dgrams:
            tx.sendto(dgram, ("127.0.0.1", port))


def wait_for(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class TimedInbox(Inbox):
    """An inbox that notes when (time.time) each action arrived."""

    def __init__(self):
        super().__init__()
        self.log, self._lock = [], threading.Lock()

    def put(self, action):
        with self._lock:
            self.log.append((time.time(), action))
        super().put(action)

    def actions(self):
        with self._lock:
            return [a for _, a in self.log]


def check_far_future_bundle_holds_nothing_up(port: int, applied, close, ahead: float):
    """A bundle `ahead` seconds ahead, then a plain message: the message applies at once and the server
    closes at once (AssertionError otherwise)."""
    send(port, bundle(time.time() + ahead, message("/live/truncation", 0.9)), message("/live/jitter", 0.25).dgram)
    assert wait_for(applied, 1.5), "the message after the bundle did not apply"
    t0 = time.monotonic()
    close()
    assert time.monotonic() - t0 < 0.5, f"closing took {time.monotonic() - t0:.1f} s"


def test_a_bundle_an_hour_ahead_is_refused_and_later_messages_apply_and_close_is_prompt():
    inbox = TimedInbox()
    srv = OscServer("127.0.0.1:0", inbox).start()
    jitter = A.SetParam("jitter", 0.25, "OSC /live/jitter")
    try:
        check_far_future_bundle_holds_nothing_up(srv.port, lambda: jitter in inbox.actions(), srv.close, 3600)
    finally:
        srv.close()
    got = inbox.actions()
    assert not any(isinstance(a, A.SetParam) and a.name == "truncation" for a in got), got
    refusals = [a.text for a in got if isinstance(a, A.Report)]
    assert len(refusals) == 1 and re.fullmatch(
        r"OSC: a bundle from 127\.0\.0\.1 time-tagged 3,\d\d\d\.\d s ahead \(live applies tags up to 2 s ahead\) "
        r"was refused: /live/truncation", refusals[0]), refusals


def test_control_python_oscs_own_server_sleeps_until_the_time_tag():
    got = []
    d = OscDispatcher()
    d.set_default_handler(lambda address, *args: got.append((address, args)))
    srv = BlockingOSCUDPServer(("127.0.0.1", 0), d)
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    try:
        with pytest.raises(AssertionError, match="did not apply"):  # 2.5 s ahead, so it wakes by itself
            check_far_future_bundle_holds_nothing_up(srv.server_address[1],
                                                     lambda: ("/live/jitter", (0.25,)) in got, srv.shutdown, 2.5)
    finally:
        srv.shutdown()  # waits for the sleeping handler
        srv.server_close()
        th.join(5)


def applied_at_its_time(at: float, tag: float) -> bool:
    """Not before its time tag, and soon after it (a loaded machine's thread wake-up)."""
    return -0.002 <= at - tag <= 0.2


@pytest.mark.parametrize("ahead", [0.6, -30.0])
def test_a_bundle_a_little_ahead_applies_at_its_time_and_one_in_the_past_at_once(ahead):
    assert ahead < HORIZON_S
    inbox = TimedInbox()
    srv = OscServer("127.0.0.1:0", inbox).start()
    try:
        tag = time.time() + ahead
        send(srv.port, bundle(tag, message("/live/jitter", 0.25)))
        sent = time.time()
        assert wait_for(lambda: inbox.log, 5)
    finally:
        srv.close()
    (at, action), = inbox.log
    assert action == A.SetParam("jitter", 0.25, "OSC /live/jitter")
    assert applied_at_its_time(at, max(tag, sent)), f"applied {1000 * (at - tag):.1f} ms after its time tag"


def test_control_a_server_that_ignores_time_tags_applies_early():
    got = []
    d = OscDispatcher(strict_timing=False)
    d.set_default_handler(lambda address, *args: got.append(time.time()))
    srv = BlockingOSCUDPServer(("127.0.0.1", 0), d)
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    try:
        tag = time.time() + 0.6
        send(srv.server_address[1], bundle(tag, message("/live/jitter", 0.25)))
        assert wait_for(lambda: got, 5)
    finally:
        srv.shutdown()
        srv.server_close()
    assert not applied_at_its_time(got[0], tag)


JUNK = [b"\x00\x01garbage", b"#bundle\x00" + b"\x00" * 7,  # neither message nor bundle; a short bundle
        message("/live/truncation", 0.1).dgram[:-1].replace(b",f", b",X"),  # a type python-osc only logs
        b"#bundle\x00" + b"\x00" * 7 + b"\x01\x00\x00\x00\x10/live\xf8trunc\x00\x00\x00,\x00\x00\x00",  # bad UTF-8
        message("/live/nothing", 1.0).dgram,  # an unknown address
        bundle(time.time() + 3600, message("/live/cut")),  # far ahead
        message("/live/jitter", 5.0).dgram]  # out of range: told by the dispatcher


def test_control_python_osc_alone_logs_and_raises_on_this_junk(caplog):
    """What the server keeps off stderr: python-osc's own parse logs a line for one datagram of the junk and
    raises a non-ParseError (a traceback in its server) for another."""
    from pythonosc.osc_packet import OscPacket, ParseError

    caplog.set_level(logging.DEBUG)
    escaped = []
    for dgram in JUNK:
        try:
            OscPacket(dgram)
        except ParseError:
            pass
        except Exception as e:  # noqa: BLE001 - what escapes python-osc, collected to assert on
            escaped.append(type(e).__name__)
    assert [r for r in caplog.records if "pythonosc" in r.pathname] and escaped == ["UnicodeDecodeError"]


@pytest.mark.parametrize("throttled", [True, False], ids=["throttled", "control-unthrottled"])
def test_a_flood_of_junk_costs_a_few_lines_with_the_count(throttled, capfd, caplog, monkeypatch):
    if not throttled:
        monkeypatch.setattr(core.reports, "EVERY_S", 0.0)
    caplog.set_level(logging.DEBUG)
    inbox = Inbox()
    srv = OscServer("127.0.0.1:0", inbox).start()
    look = Look(make_params(), list(range(12)), seed=0)
    d = Dispatcher(look)
    stop, sent = threading.Event(), [0]

    def flood():
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        while not stop.is_set() and sent[0] < 20000:
            for dgram in JUNK:
                tx.sendto(dgram, ("127.0.0.1", srv.port))
                sent[0] += 1
            time.sleep(0.0005)  # loopback drops what a slower receiver cannot take; keep most of it
        tx.close()

    th = threading.Thread(target=flood, daemon=True)
    th.start()
    capfd.readouterr()
    t_end = time.monotonic() + 1.5
    try:
        while time.monotonic() < t_end:  # the main thread: drain, dispatch, flush, about every frame
            for action in inbox.drain():
                d.dispatch(action)
            d.flush()
            time.sleep(0.01)
    finally:
        stop.set()
        th.join(5)
        srv.close()
    for action in inbox.drain():
        d.dispatch(action)
    d.flush(final=True)
    lines = capfd.readouterr().err.splitlines()
    problems = srv.problems.total + d._reports["OSC"].total
    assert sent[0] > 2000 and problems >= 1000, (sent[0], problems)  # loopback drops what the receiver misses
    assert "Traceback" not in "\n".join(lines)
    assert [r for r in caplog.records if "pythonosc" in r.pathname] == []  # python-osc's log lines: none
    if not throttled:
        assert len(lines) == problems  # what the throttle saves: a line per problem
        return
    assert len(lines) <= 6, lines  # per thrower (the receive thread, the dispatcher): the first, then counts
    counted = sum(int(m.group(1).replace(",", "")) if (m := re.search(r": ([\d,]+) more problems in", ln)) else 1
                  for ln in lines)
    assert counted == problems, lines


def test_throttled_tells_the_first_at_once_then_a_count_per_window():
    told, now = [], [0.0]
    t = Throttled("MIDI input", told.append, every=5.0, clock=lambda: now[0])
    t.report("a")
    t.report("b")
    t.report("c")
    assert told == ["a"]
    now[0] = 4.9
    t.flush()
    t.report("d")
    assert told == ["a"]
    now[0] = 5.0
    t.flush()
    assert told == ["a", "MIDI input: 3 more problems in the last 5 s, the first: b"]
    now[0] = 20.0
    t.report("e")  # a quiet window since: told at once
    t.report("f")
    t.flush(final=True)
    assert told[2:] == ["e", "f"] and t.total == 6  # one held back: told as itself
