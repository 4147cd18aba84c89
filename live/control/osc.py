"""OSC remote control (python-osc): `--osc [HOST:]PORT` listens (`--osc-out`: live.control.osc_out).

In (UDP, on its own thread; every message becomes an action for the main thread, see live.control.dispatch):
  /live/<parameter> f   every walker parameter, e.g. /live/truncation 0.3 (out of range: clamped, reported)
  /live/preset s        a preset by name (an int: the n-th preset, as keys 1-9)
  /live/classes s       comma list of ImageNet names or ids
  /live/freeze i        1 freezes, 0 runs (no argument toggles)
  /live/link i          1 joins the Ableton Link session, 0 leaves it (no argument toggles)
  /live/cut             new random classes          /live/reseed   new seed     /live/tap   tap tempo
  /live/mod/<row>/amount f   the amount of the preset's modulation row <row> (1-based)
Bundles: a time tag in the past (or "immediately") applies at once, one up to HORIZON_S (2 s) ahead applies
at its time; one further ahead is refused with a line (a clock far off, or a sequencer sending a whole show
ahead: send nearer the time).
Malformed or unknown messages, unreadable datagrams and refused bundles are reported on the HUD and stderr,
the first at once, then at most one line every 5 s with their count (core.reports), and otherwise ignored.
"""
from __future__ import annotations

import heapq
import re
import select
import socket
import threading
import time

from pythonosc import osc_bundle, osc_message, osc_packet
from pythonosc.parsing import osc_types

from core.errors import LiveError, first_line
from core.reports import Throttled
from live.config import PARAM_SPECS
from live.control import actions as A

DEFAULT_HOST = "127.0.0.1"
HORIZON_S = 2.0  # a bundle's time tag at most this far ahead is applied at its time; further ahead: refused
MAX_PENDING = 1024  # messages waiting for their time tag
POLL_S = 0.1  # the receive loop looks at its stop flag at least this often
OSC_TYPES = "ihfdsbrmtTFN[]"  # the argument types python-osc reads


def parse_address(spec: str, flag: str, need_host: bool = False, lowest: int = 1) -> tuple[str, int]:
    """'[HOST:]PORT' -> (host, port); host defaults to 127.0.0.1 (listen on this machine only)."""
    host, sep, port = str(spec).rpartition(":")
    if not sep:
        host = ""
    if need_host and not host:
        raise LiveError(f"{flag} {spec}: give HOST:PORT, e.g. 127.0.0.1:9001")
    try:
        p = int(port)
    except ValueError:
        p = -1
    if not lowest <= p <= 65535:
        raise LiveError(f"{flag} {spec}: the port must be a number {lowest}–65535, e.g. {flag} 9000")
    return host.strip("[]") or DEFAULT_HOST, p


class OscServer:
    """Listens for /live/... messages and puts actions into `inbox` (a live.control.dispatch.Inbox).

    Its own receive loop, not python-osc's server: python-osc's dispatcher sleeps until a bundle's time tag
    (one bundle tagged an hour ahead froze OSC control and shutdown), prints a traceback for some malformed
    datagrams and logs a line for others. Here python-osc only parses; the loop waits on the socket (never
    longer than POLL_S, or than the next scheduled message), and problems go through one Throttled reporter.
    """

    def __init__(self, spec: str, inbox):
        self.host, self.port = parse_address(spec, "--osc", lowest=0)  # 0: any free port (shown on the HUD)
        self.inbox = inbox
        self.problems = Throttled("OSC input", lambda line: inbox.put(A.Report(line)))
        self._pending: list = []  # heap of (time.monotonic due, n, message): bundles tagged a little ahead
        self._n = 0
        try:
            family, kind, proto, _, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
            self.sock = socket.socket(family, kind, proto)
        except OSError as e:  # socket.gaierror too: an unknown host name
            raise LiveError(f"--osc {spec}: cannot listen on {self.host}:{self.port} ({e.strerror}) — "
                            "give an address of this machine, e.g. 127.0.0.1:9000") from None
        try:
            self.sock.bind(address)
        except OSError as e:
            self.sock.close()
            raise LiveError(f"--osc {spec}: cannot listen on {self.host}:{self.port} ({e.strerror}) — "
                            "choose another port") from None
        self.port = self.sock.getsockname()[1]  # the real one when 0 was asked for
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="osc", daemon=True)

    def start(self) -> "OscServer":
        self._thread.start()
        return self

    def close(self) -> None:
        """Returns within about POLL_S: the loop never sleeps on a message."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2 * POLL_S + 1.0)
        self.sock.close()
        self.problems.flush(final=True)

    # ---- the receive thread ------------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            wait = POLL_S
            if self._pending:
                wait = min(wait, max(0.0, self._pending[0][0] - time.monotonic()))
            try:
                if select.select([self.sock], [], [], wait)[0]:
                    data, peer = self.sock.recvfrom(65536)
                    self._datagram(data, peer[0])
            except ConnectionResetError:
                pass  # Windows reports an earlier send's ICMP "port unreachable" here; nothing was lost
            except OSError as e:
                self.problems.report(f"OSC: receiving on port {self.port} failed ({e.strerror or e}) — "
                                     "OSC input stopped")
                return
            now = time.monotonic()
            while self._pending and self._pending[0][0] <= now:
                self._message(heapq.heappop(self._pending)[2])
            self.problems.flush()

    def _datagram(self, data: bytes, peer: str) -> None:
        wall, now = time.time(), time.monotonic()
        try:
            _check(data)
            messages = osc_packet.OscPacket(data).messages
        except (osc_packet.ParseError, osc_types.ParseError, ValueError) as e:  # ValueError: bad UTF-8
            self.problems.report(f"OSC: unreadable datagram from {peer} ({first_line(e, 120)}) — ignored")
            return
        except Exception as e:  # noqa: BLE001 - python-osc failing on a stranger's bytes must not end OSC input
            self.problems.report(f"OSC: python-osc could not parse a datagram from {peer} "
                                 f"({type(e).__name__}: {first_line(e, 120)}) — ignored")
            return
        refused = []
        for timed in messages:
            ahead = timed.time - wall
            if ahead > HORIZON_S or (ahead > 0.001 and len(self._pending) >= MAX_PENDING):
                refused.append((ahead, timed.message.address))
            elif ahead > 0.001:
                self._n += 1
                heapq.heappush(self._pending, (now + ahead, self._n, timed.message))
            else:
                self._message(timed.message)
        if refused:
            ahead = max(a for a, _ in refused)
            why = (f"time-tagged {ahead:,.1f} s ahead (live applies tags up to {HORIZON_S:g} s ahead)"
                   if ahead > HORIZON_S else f"more than {MAX_PENDING} messages are already scheduled")
            self.problems.report(f"OSC: a bundle from {peer} {why} was refused: "
                                 f"{', '.join(sorted({a for _, a in refused}))}")

    def _message(self, message) -> None:
        try:
            action = parse_message(message.address, message.params)
        except LiveError as e:
            self.problems.report(str(e))
            return
        if action is not None:
            self.inbox.put(action)


def _check(dgram: bytes, depth: int = 0) -> None:
    """Raise a ParseError for what python-osc would log and skip rather than refuse (an argument type it does
    not know, a bundle element that is neither a message nor a bundle), and for bundles nested too deep."""
    if depth > 8:
        raise osc_types.ParseError("bundles nested more than 8 deep")
    if osc_bundle.OscBundle.dgram_is_bundle(dgram):
        i = 16  # "#bundle\0" and the time tag
        while i < len(dgram):
            size, i = osc_types.get_int(dgram, i)
            if not 0 < size <= len(dgram) - i:
                raise osc_types.ParseError(f"a bundle element of {size} bytes in {len(dgram) - i}")
            _check(dgram[i:i + size], depth + 1)
            i += size
    elif osc_message.OscMessage.dgram_is_message(dgram):
        _, i = osc_types.get_string(dgram, 0)
        if i < len(dgram):
            tags = set(osc_types.get_string(dgram, i)[0][1:]) - set(OSC_TYPES)
            if tags:
                raise osc_types.ParseError(f"argument type {''.join(sorted(tags))!r} is not supported")
    else:
        raise osc_types.ParseError("neither an OSC message nor a bundle")


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _param(name: str):
    def parse(args, source):
        if len(args) != 1 or not _number(args[0]):
            raise _bad(source, args, "one number")
        return A.SetParam(name, args[0], source)
    return parse


def _preset(args, source):
    if len(args) != 1:
        raise _bad(source, args, "a preset name or number")
    if isinstance(args[0], int) and not isinstance(args[0], bool):
        return A.LoadPreset(number=args[0], source=source)
    return A.LoadPreset(name=str(args[0]), source=source)


def _classes(args, source):
    if not args or any(isinstance(a, (bytes, list, float)) for a in args):
        raise _bad(source, args, 'a comma list such as "jellyfish, volcano"')
    return A.ChooseClasses(",".join(str(a) for a in args), source)


def _switch(make):
    """On/off addresses: 1 on, 0 off, no argument toggles (make(None))."""
    def parse(args, source):
        if not args:
            return make(None)
        if len(args) == 1 and (_number(args[0]) or isinstance(args[0], bool)):
            return make(bool(args[0]))
        raise _bad(source, args, "0 or 1")
    return parse


def _word(word: str):
    def parse(args, source):
        if not args:
            return A.NAMED[word]
        if len(args) == 1 and (_number(args[0]) or isinstance(args[0], bool)):
            return A.NAMED[word] if float(args[0]) >= 0.5 else None  # a button's release (0) does nothing
        raise _bad(source, args, "no argument, or 1 (press)")
    return parse


def _bad(source: str, args, want: str) -> LiveError:
    shown = " ".join(f"{a:g}" if isinstance(a, float) else repr(a) for a in args) or "no arguments"  # f32
    return LiveError(f"{source}: expected {want}, got {shown} — ignored")


def _amount(args, source):
    if len(args) != 1 or not _number(args[0]):
        raise _bad(source, args, "one number")
    row = int(re.fullmatch(r"/live/mod/(\d+)/amount", source[len("OSC "):]).group(1))
    return A.SetAmount(row, args[0], source)


MOD_ADDRESS = "/live/mod/<row>/amount"  # <row>: a row's number, 1-based

# Address -> parser of its arguments; README's OSC list is checked against this table by a test.
ADDRESSES = {**{f"/live/{name}": _param(name) for name in PARAM_SPECS},
             **{f"/live/{word}": _word(word) for word in A.NAMED},
             # these replace the one-word forms: 1 on, 0 off, no argument toggles
             "/live/freeze": _switch(lambda on: A.ToggleFreeze() if on is None else A.Freeze(on)),
             "/live/link": _switch(A.LinkSync),
             "/live/preset": _preset, "/live/classes": _classes, MOD_ADDRESS: _amount}


def parse_message(address: str, args) -> A.Action | None:
    """One OSC message -> an action (None: a button's release); LiveError (one line, naming the address) when it is malformed."""
    parse = _amount if re.fullmatch(r"/live/mod/\d+/amount", address) else ADDRESSES.get(address)
    if parse is None or address == MOD_ADDRESS:
        raise LiveError(f"OSC: unknown address {address} — use {', '.join(ADDRESSES)}")
    return parse(list(args), f"OSC {address}")
