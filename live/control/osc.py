"""OSC remote control (python-osc): `--osc [HOST:]PORT` listens, `--osc-out HOST:PORT` sends features.

In (UDP, on its own thread; every message becomes an action for the main thread, see live.control.dispatch):
  /live/<parameter> f   every walker parameter, e.g. /live/truncation 0.3 (out of range: clamped, reported)
  /live/preset s        a preset by name (an int: the n-th preset, as keys 1-9)
  /live/classes s       comma list of ImageNet names or ids
  /live/freeze i        1 freezes, 0 runs (no argument toggles)
  /live/cut             new random classes          /live/reseed   new seed     /live/tap   tap tempo
Out (one datagram per feature frame, ~43 a second):
  /live/features/flux f, /live/features/power f, /live/features/chroma f×12 (C..B),
  /live/features/beat i f on each beat (beat count, BPM; BPM 0 while unknown)
Malformed or unknown messages are reported on the HUD and stderr and otherwise ignored.
"""
from __future__ import annotations

import threading

from live.config import PARAM_SPECS
from core.errors import LiveError

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
        for name in PARAM_SPECS:
            d.map(f"/live/{name}", self._param, name)
        d.map("/live/preset", self._preset)
        d.map("/live/classes", self._classes)
        d.map("/live/freeze", self._freeze)
        for name, action in (("cut", ("cut",)), ("reseed", ("reseed",)), ("tap", ("tap",))):
            d.map(f"/live/{name}", self._simple, action)
        d.set_default_handler(self._unknown)
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

    # ---- handlers (server thread): check the shape, leave the meaning to the main thread -------------
    def _bad(self, address: str, args, want: str) -> None:
        shown = " ".join(repr(a) for a in args) or "no arguments"
        self.inbox.put(("report", f"OSC {address}: expected {want}, got {shown} — ignored"))

    def _param(self, address: str, fixed: list, *args) -> None:
        name = fixed[0]
        if len(args) != 1 or isinstance(args[0], (bytes, list)):
            return self._bad(address, args, "one number")
        self.inbox.put(("set", name, args[0], f"OSC {address}"))

    def _preset(self, address: str, *args) -> None:
        if len(args) != 1:
            return self._bad(address, args, "a preset name")
        if isinstance(args[0], int) and not isinstance(args[0], bool):
            self.inbox.put(("preset", args[0]))
        else:
            self.inbox.put(("preset_name", str(args[0]), f"OSC {address}"))

    def _classes(self, address: str, *args) -> None:
        if not args or any(isinstance(a, (bytes, list, float)) for a in args):
            return self._bad(address, args, 'a comma list such as "jellyfish, volcano"')
        self.inbox.put(("classes_spec", ",".join(str(a) for a in args), f"OSC {address}"))

    def _freeze(self, address: str, *args) -> None:
        if not args:
            self.inbox.put(("freeze",))
        elif len(args) == 1 and isinstance(args[0], (int, float, bool)):
            self.inbox.put(("freeze_to", bool(args[0])))
        else:
            self._bad(address, args, "0 or 1")

    def _simple(self, address: str, fixed: list, *args) -> None:
        self.inbox.put(fixed[0])

    def _unknown(self, address: str, *args) -> None:
        self.inbox.put(("report", f"OSC: unknown address {address} — use /live/<parameter>, /live/preset, "
                                  "/live/classes, /live/freeze, /live/cut"))


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

    def send(self, frame, beat: bool, beats: int, bpm: float | None) -> None:
        try:
            self.client.send_message("/live/features/flux", float(frame.flux))
            self.client.send_message("/live/features/power", float(frame.power))
            self.client.send_message("/live/features/chroma", [float(v) for v in frame.chroma])
            if beat:
                self.client.send_message("/live/features/beat", [int(beats), float(bpm or 0.0)])
        except OSError:
            self.errors += 1  # e.g. network down: drop the frame, never stall the analysis
