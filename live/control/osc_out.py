"""OSC out (python-osc): `--osc-out HOST:PORT` sends live's analysis to another program (VJ software, lights).

Out (per feature frame, ~43 a second):
  /live/features/flux f, /live/features/power f, /live/features/chroma f×12 (C..B),
  /live/source/<name> f for every modulation source, in one bundle,
  /live/features/beat i f on each beat (beat count, BPM; BPM 0 while unknown; on Link's beats while it leads),
  /live/status/render_fps, display_fps, images_fps, latency_ms f, /live/status/link f i (tempo, peers),
  /live/status/output/<kind> i i (sent, dropped) once a second
UDP: nobody listening is fine; a send that fails is counted and dropped, never stalls the analysis.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

from core.errors import LiveError
from live.control.osc import parse_address


class _Datagram(NamedTuple):
    dgram: bytes


def _osc_string(s: str) -> bytes:
    """An OSC string: ASCII, NUL-terminated, padded to a multiple of 4 bytes."""
    b = s.encode("ascii") + b"\0"
    return b + b"\0" * (-len(b) % 4)


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
