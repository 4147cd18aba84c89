"""OSC remote control (python-osc): `--osc [HOST:]PORT` listens, `--osc-out HOST:PORT` sends features.

In (UDP, on its own thread; every message becomes an action for the main thread, see live.control.dispatch):
  /live/<parameter> f   every walker parameter, e.g. /live/truncation 0.3 (out of range: clamped, reported)
  /live/preset s        a preset by name (an int: the n-th preset, as keys 1-9)
  /live/classes s       comma list of ImageNet names or ids
  /live/freeze i        1 freezes, 0 runs (no argument toggles)
  /live/link i          1 joins the Ableton Link session, 0 leaves it (no argument toggles)
  /live/cut             new random classes          /live/reseed   new seed     /live/tap   tap tempo
  /live/mod/<row>/amount f   the amount of the preset's modulation row <row> (1-based)
Out (per feature frame, ~43 a second):
  /live/features/flux f, /live/features/power f, /live/features/chroma f×12 (C..B),
  /live/source/<name> f for every modulation source, in one bundle,
  /live/features/beat i f on each beat (beat count, BPM; BPM 0 while unknown; on Link's beats while it leads),
  /live/status/render_fps, display_fps, images_fps, latency_ms f, /live/status/link f i (tempo, peers),
  /live/status/output/<kind> i i (sent, dropped) once a second
Malformed or unknown messages are reported on the HUD and stderr and otherwise ignored.
"""
from __future__ import annotations

import re
import struct
import threading
from typing import NamedTuple

from core.errors import LiveError
from live.config import PARAM_SPECS
from live.control import actions as A

DEFAULT_HOST = "127.0.0.1"


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
    """Listens for /live/... messages and puts actions into `inbox` (a live.control.dispatch.Inbox)."""

    def __init__(self, spec: str, inbox):
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import BlockingOSCUDPServer

        self.host, self.port = parse_address(spec, "--osc", lowest=0)  # 0: any free port (shown on the HUD)
        self.inbox = inbox
        d = Dispatcher()
        d.set_default_handler(self._message)  # every address goes through parse_message (unknown ones too)
        try:
            self.server = BlockingOSCUDPServer((self.host, self.port), d)
        except OSError as e:
            raise LiveError(f"--osc {spec}: cannot listen on {self.host}:{self.port} ({e.strerror}) — "
                            "choose another port") from None
        self.port = self.server.server_address[1]  # the real one when 0 was asked for
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="osc", daemon=True)

    def start(self) -> "OscServer":
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    # ---- handlers (server thread): the message becomes an action, or a report of what was wrong with it ----
    def _message(self, address: str, *args) -> None:
        try:
            action = parse_message(address, args)
        except LiveError as e:
            action = A.Report(str(e))
        if action is not None:
            self.inbox.put(action)


class _Datagram(NamedTuple):
    dgram: bytes


def _osc_string(s: str) -> bytes:
    """An OSC string: ASCII, NUL-terminated, padded to a multiple of 4 bytes."""
    b = s.encode("ascii") + b"\0"
    return b + b"\0" * (-len(b) % 4)


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


class OscOut:
    """Sends feature frames to another program (VJ software, lights). UDP: nobody listening is fine."""

    def __init__(self, spec: str):
        from pythonosc.udp_client import SimpleUDPClient

        self.host, self.port = parse_address(spec, "--osc-out", need_host=False)
        try:
            self.client = SimpleUDPClient(self.host, self.port)
        except OSError as e:
            raise LiveError(f"--osc-out {spec}: cannot send there ({e.strerror})") from None
        self.errors = 0
        self._packed = None

    def send(self, frame, beat: bool, beats: int, bpm: float | None) -> None:
        try:
            self.client.send_message("/live/features/flux", float(frame.flux))
            self.client.send_message("/live/features/power", float(frame.power))
            self.client.send_message("/live/features/chroma", [float(v) for v in frame.chroma])
            if beat:
                self.beat(beats, bpm)
        except OSError:
            self.errors += 1  # e.g. network down: drop the frame, never stall the analysis

    def sources(self, names, values) -> None:
        """/live/source/<name> f for every source, as one OSC bundle (one datagram) per frame. The bundle's
        fixed part is packed once per set of names; each frame packs only the floats (python-osc's builders
        cost ~0.5 ms a frame on the analysis thread)."""
        if self._packed is None or self._packed[0] != tuple(names):
            parts = [_osc_string(f"/live/source/{n}") + _osc_string(",f") for n in names]
            head = b"#bundle\0" + struct.pack(">Q", 1)  # time tag 1: immediately
            fmt = ">" + "".join(f"i{len(p)}sf" for p in parts)
            self._packed = (tuple(names), head, struct.Struct(fmt), parts)
        _, head, st, parts = self._packed
        args = []
        for part, value in zip(parts, values):
            args += [len(part) + 4, part, float(value)]
        try:
            self.client.send(_Datagram(head + st.pack(*args)))  # send() takes anything with .dgram
        except OSError:
            self.errors += 1

    def beat(self, beats: int, bpm: float | None) -> None:
        """/live/features/beat (beat count, BPM): from the tracker's frames, or on Link's beats."""
        self.message("/live/features/beat", [int(beats), float(bpm or 0.0)])

    def message(self, address: str, args) -> None:
        try:
            self.client.send_message(address, args)
        except OSError:
            self.errors += 1
