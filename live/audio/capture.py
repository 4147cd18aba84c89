"""Audio capture: a sounddevice InputStream feeding a lock-free ring buffer.

The PortAudio callback only copies the block (mixed to mono; with stems, one more column per stem, each the mean
of its channels) into a preallocated ring and stamps its capture time; one reader (the analysis thread) pulls samples out. Single writer, single reader: the writer publishes
a block by bumping counters after the data is in place, so the reader never needs a lock. A watchdog thread
reopens the stream every `reopen_s` seconds after the device vanishes, so a set never stops on an unplug.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from core.errors import LiveError
from live.analysis.sources import check_stem_names

_STAMPS = 256  # block time stamps kept (power of two); far more than the reader ever lags


def _sd():
    """Import sounddevice, turning a missing PortAudio into a one-line user error."""
    try:
        import sounddevice
    except OSError as e:  # sounddevice raises OSError when libportaudio is absent
        raise LiveError(f"audio input needs PortAudio ({e}): install it, e.g. "
                        "`apt-get install libportaudio2` (Debian/Ubuntu) or `brew install portaudio`") from None
    return sounddevice


def list_devices() -> list[dict]:
    """Input-capable devices: dicts with index, name, channels, samplerate, default (bool)."""
    sd = _sd()
    try:
        default_in = sd.default.device[0]
        devices = sd.query_devices()
    except sd.PortAudioError as e:
        raise LiveError(f"cannot list audio devices: {e}") from None
    return [dict(index=d["index"], name=d["name"], channels=d["max_input_channels"],
                 samplerate=d["default_samplerate"], default=d["index"] == default_in)
            for d in devices if d["max_input_channels"] > 0]


def format_devices(devices: list[dict]) -> str:
    """The `live -l` table; '>' marks the default input."""
    if not devices:
        return "no audio input devices found"
    lines = [f"{'':1} {'idx':>3}  {'name':<40} {'ch':>3} {'rate':>7}"]
    for d in devices:
        mark = ">" if d["default"] else " "
        lines.append(f"{mark} {d['index']:>3}  {d['name'][:40]:<40} {d['channels']:>3} {d['samplerate']:>7.0f}")
    return "\n".join(lines)


def resolve_device(spec: str | int | None) -> dict:
    """Find the input device for an index, a name substring (sounddevice's matching) or None (default)."""
    sd = _sd()
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec)
    try:
        if not any(d["max_input_channels"] > 0 for d in sd.query_devices()):
            raise LiveError("no audio input device found: plug in a microphone or line-in (`live -l` lists devices)")
        info = sd.query_devices(spec, "input") if spec is not None else sd.query_devices(kind="input")
    except (ValueError, sd.PortAudioError) as e:
        what = f"input device {spec!r}" if spec is not None else "a default input device"
        raise LiveError(f"cannot use {what} ({str(e).splitlines()[0]}): run `live -l` to list devices") from None
    if info["max_input_channels"] < 1:
        raise LiveError(f"device {info['name']!r} has no input channels: run `live -l` to list input devices")
    return dict(info)


class Ring:
    """Mono float32 ring with per-block capture stamps. One writer (the callback), one reader.

    The writer puts the samples and the stamp in place first and bumps `blocks` last, so a reader that
    sees block b also sees its samples; no lock is shared with the audio thread.
    `groups`: with stems, the input channels of each column ([mix channels, stem 1's, ...]); the ring then
    holds [cap, len(groups)] and read() returns [n, len(groups)].
    """

    def __init__(self, capacity: int, samplerate: int, margin: int = 4096, groups=None):
        self.cap = 1 << int(np.ceil(np.log2(max(capacity, 4 * margin))))
        self.sr, self.margin = samplerate, margin
        self.groups = [list(g) for g in groups] if groups else None
        self.buf = np.zeros(self.cap if not groups else (self.cap, len(groups)), np.float32)
        self.st_end = np.zeros(_STAMPS, np.int64)    # sample count after each block
        self.st_time = np.zeros(_STAMPS, np.float64)  # time.monotonic of each block's last sample
        self.written = 0  # samples written (writer only)
        self.blocks = 0   # blocks published (writer only); bumped last
        self.rpos = 0     # samples consumed (reader only)
        self.lagged = 0   # times the reader fell a ring behind and skipped ahead (reader only)

    def write(self, indata: np.ndarray, t_last: float):
        """Copy a [frames, channels] block in, mixed to mono; no allocation beyond numpy views."""
        frames = len(indata)
        w, buf = self.written, self.buf
        pos = w & (self.cap - 1)
        n1 = min(frames, self.cap - pos)
        if self.groups is not None:
            for col, chans in enumerate(self.groups):
                np.mean(indata[:n1, chans], axis=1, out=buf[pos:pos + n1, col])
                if n1 < frames:
                    np.mean(indata[n1:, chans], axis=1, out=buf[:frames - n1, col])
        elif indata.shape[1] == 1:
            np.copyto(buf[pos:pos + n1], indata[:n1, 0])
            if n1 < frames:
                np.copyto(buf[:frames - n1], indata[n1:, 0])
        else:
            np.mean(indata[:n1], axis=1, out=buf[pos:pos + n1])
            if n1 < frames:
                np.mean(indata[n1:], axis=1, out=buf[:frames - n1])
        k = self.blocks & (_STAMPS - 1)
        self.st_end[k] = w + frames
        self.st_time[k] = t_last
        self.written = w + frames
        self.blocks += 1  # publish

    def read(self, max_samples: int) -> tuple[np.ndarray, float | None]:
        """Up to `max_samples` new samples (oldest first) and the capture time of the last one, or
        (empty, None) when nothing new has arrived."""
        b = self.blocks
        if b == 0:
            return np.zeros(0, np.float32), None
        k = (b - 1) & (_STAMPS - 1)
        end_all, t_end = int(self.st_end[k]), float(self.st_time[k])
        start = self.rpos
        if end_all - start > self.cap - self.margin:
            start = end_all - self.cap // 2  # fell behind: keep the newest half, count it
            self.lagged += 1
        end = min(end_all, start + max_samples)
        if end <= start:
            return np.zeros(0, np.float32), None
        p0, p1 = start & (self.cap - 1), end & (self.cap - 1)
        out = self.buf[p0:p1].copy() if p0 < p1 else np.concatenate([self.buf[p0:], self.buf[:p1]])
        self.rpos = end
        return out, t_end - (end_all - end) / self.sr


class AudioInput:
    """Capture from one input device into a mono float32 ring; `read()` drains it from one consumer thread."""

    def __init__(self, device=None, samplerate: int | None = None, blocksize: int = 512,
                 channels: int | None = None, capacity_s: float = 4.0, reopen_s: float = 1.0,
                 stall_s: float = 2.0, stems=()):
        """`stems`: ((name, 0-based channels), ...) from --stems; read() then returns [n, 1 + stems]."""
        self.device_spec = device
        info = resolve_device(device)
        self.device_name = info["name"]
        self.samplerate = int(samplerate or info["default_samplerate"])
        if self.samplerate < 8000:  # the analysis needs it (live.analysis.features)
            raise LiveError(f"device {self.device_name!r} runs at {self.samplerate} Hz, too low for the analysis: "
                            "pass -r/--samplerate 44100 (or another rate >= 8000)")
        self.channels = int(channels or min(2, info["max_input_channels"]))
        if not 1 <= self.channels <= info["max_input_channels"]:
            raise LiveError(f"device {self.device_name!r} has {info['max_input_channels']} input channels, "
                            f"not {self.channels}: pass --channels 1..{info['max_input_channels']}")
        self.stems = check_stem_names([name for name, _ in stems])
        groups = None
        if stems:
            top = max(max(chans) for _, chans in stems) + 1
            if top > info["max_input_channels"]:
                raise LiveError(f"--stems: device {self.device_name!r} has {info['max_input_channels']} input "
                                f"channels, a stem asks for channel {top}: choose channels 1–"
                                f"{info['max_input_channels']} (`live -l` lists them)")
            groups = [list(range(self.channels))] + [list(chans) for _, chans in stems]
            self.stream_channels = max(self.channels, top)
        else:
            self.stream_channels = self.channels
        self.blocksize = int(blocksize)
        # A stream is stalled when no block came for stall_s (or 4 blocks, for huge blocks at low rates).
        self.reopen_s, self.stall_s = reopen_s, max(stall_s, 4 * self.blocksize / self.samplerate)
        self.ring = Ring(int(capacity_s * self.samplerate), self.samplerate, 4 * max(self.blocksize, 1024), groups)
        self.overflows = 0  # PortAudio input overflows (writer only)
        self.reopens = 0
        self._last_cb = 0.0
        self._stream = None
        self._state = "starting"
        self._stop = threading.Event()
        self._watch = None

    # -- PortAudio callback: copy + stamp, nothing else ------------------------------------------------------
    def _callback(self, indata, frames, time_info, status):
        now = time.monotonic()
        if status.input_overflow:
            self.overflows += 1
        # PortAudio clocks are not time.monotonic: carry over the ADC-to-now distance it reports instead.
        lag = time_info.currentTime - time_info.inputBufferAdcTime
        if not (time_info.inputBufferAdcTime > 0 and 0.0 <= lag < 1.0):  # host API gives no ADC time
            lag = frames / self.samplerate
        first = now - lag
        self.ring.write(indata, first + (frames - 1) / self.samplerate)
        self._last_cb = now

    # -- reader side -----------------------------------------------------------------------------------------
    def read(self, max_samples: int) -> tuple[np.ndarray, float | None]:
        """Up to `max_samples` new samples and the capture time (time.monotonic) of the last one."""
        return self.ring.read(max_samples)

    @property
    def xruns(self) -> int:
        return self.overflows + self.ring.lagged

    @property
    def status(self) -> str:
        """'ok', 'starting' (opened, no data yet) or 'no input' (device gone; reopening)."""
        return self._state

    # -- stream lifecycle ------------------------------------------------------------------------------------
    def _open(self):
        sd = _sd()
        stream = sd.InputStream(samplerate=self.samplerate, blocksize=self.blocksize,
                                device=resolve_device(self.device_spec)["index"], channels=self.stream_channels,
                                dtype="float32", latency="low", callback=self._callback)
        try:
            stream.start()
        except Exception:
            stream.close()
            raise
        return stream

    def start(self):
        """Open the stream (errors here are fatal, as one line) and start the watchdog."""
        sd = _sd()
        try:
            self._stream = self._open()
        except sd.PortAudioError as e:
            raise LiveError(f"cannot open input {self.device_name!r} at {self.samplerate} Hz, "
                            f"{self.channels} ch ({str(e).splitlines()[0]}): try -r/--samplerate, "
                            "--channels or another -d/--device") from None
        self._opened_at = time.monotonic()
        self._watch = threading.Thread(target=self._watchdog, name="audio-watchdog", daemon=True)
        self._watch.start()
        return self

    def _healthy(self) -> bool:
        s = self._stream
        if s is None or not s.active:
            return False
        quiet_since = max(self._last_cb, self._opened_at)
        # Allow a grace after (re)open: some servers (PulseAudio idle sinks) take ~1.5 s to deliver.
        return time.monotonic() - quiet_since < self.stall_s + (2.0 if self._last_cb < self._opened_at else 0.0)

    def _watchdog(self):
        next_try = 0.0
        while not self._stop.wait(0.1):
            if self._healthy():
                self._state = "ok" if self._last_cb >= self._opened_at else "starting"
                continue
            self._state = "no input"
            self._close_stream()
            now = time.monotonic()
            if now < next_try:
                continue
            next_try = now + self.reopen_s
            sd = _sd()  # loaded: the stream opened once
            try:
                sd._terminate()   # rescan: PortAudio only sees a re-plugged device after re-initialising
                sd._initialize()
                self._stream = self._open()
                self._opened_at = time.monotonic()
                self.reopens += 1
            except (LiveError, sd.PortAudioError):  # no such device (yet), or it will not open
                self._stream = None  # still gone: try again in reopen_s

    def _close_stream(self):
        s, self._stream = self._stream, None
        if s is not None:
            try:
                s.abort()
                s.close()
            except _sd().PortAudioError:
                pass  # a dead device can fail to close; it is dropped either way

    def close(self):
        """Stop the watchdog and the stream; safe to call twice."""
        self._stop.set()
        if self._watch is not None and self._watch is not threading.current_thread():
            self._watch.join(timeout=3)
        self._close_stream()
