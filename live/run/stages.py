"""The live set's worker threads: Analysis (features + walker at the hop rate, the only thread that touches
the walker) and Renderer (the engine on the newest state, into a 2-slot frame queue: older frames are dropped,
latency never queues up).

A beat cut travels with the frames: the main thread hands its walker actions over in a CutMark (with its
number, the time its image is due on screen and the time it was dispatched); every state and frame from then
on carries the mark, so the presenter can hold the first such frame until its beat and measure how long it took."""
from __future__ import annotations

import collections
import queue
import threading
import time
from typing import NamedTuple

import numpy as np

from core.dims import BIGGAN
from live.show.present import CutMark, Rendered
from live.walk.actions import SetBeatClock
from live.walk.steering import Steering, schedule_events

CLOCK_EVERY_S = 1.0  # while Link leads, the beat sources are re-anchored to its clock this often


class Snapshot(NamedTuple):
    seq: int
    z: np.ndarray
    c: np.ndarray
    t: float
    t_capture: float  # time.monotonic of the newest audio sample in this state
    cut: CutMark | None  # the latest beat cut applied to this state
    xform: np.ndarray  # StyleGAN3's pose [3] (live.walk.walker.State)


class Analysis(threading.Thread):
    """Features + walker at the hop rate; the only thread that touches the Walker.

    Commands change it through Steering at the current sample position (so a recording replays exactly).
    """

    def __init__(self, audio, look, stop: threading.Event, vj=None, schedule=None, directions=None,
                 dims=BIGGAN):
        super().__init__(name="analysis", daemon=True)
        self.audio, self.stop, self.vj = audio, stop, vj
        # LRC lyrics: class events at their samples (seconds since start), recorded like any control.
        self.scheduled = schedule_events(schedule, audio.samplerate)
        self.recorder = vj.recorder if vj is not None else None
        self.steer = Steering(audio.samplerate, look.params, look.classes, look.seed,
                              self.recorder.event if self.recorder is not None else None, look.matrix,
                              audio.stems, directions, dims)
        self.fx = self.steer.features
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.new_state = threading.Event()
        self.latest: Snapshot | None = None
        self.level = 0.0  # input meter 0..1 (-60..0 dBFS), peak-hold with decay
        self.error: BaseException | None = None
        self.clock = (0, 0.0)  # (samples read so far, capture time of the last one), published as one tuple
        self.cut: CutMark | None = None
        self.sources = (self.steer.sources.names, self.steer.sources.values.copy())  # newest, for the meters
        self._next_clock, self._link_clock = 0.0, False

    def run(self):
        try:
            self._loop()
        except BaseException as e:  # surfaced by the main thread
            self.error = e
            self.stop.set()

    def capture_time(self, time_s: float) -> float:
        """time.monotonic at which the sample at analysis time `time_s` was captured (from the last read)."""
        pushed, t_last = self.clock
        return t_last - (pushed - round(time_s * self.audio.samplerate)) / self.audio.samplerate

    def _loop(self):
        sr, hop, seq = self.audio.samplerate, self.fx.hop, 0
        decay = 0.5 ** (hop / sr / 0.3)  # meter falls 6 dB per 0.3 s
        if self.vj is not None:
            self.steer.on_frame = lambda fr: self.vj.on_frame(fr, self.capture_time(fr.time_s), self.steer.sources)
        while not self.stop.is_set():
            while not self.commands.empty():
                cmd = self.commands.get_nowait()
                if isinstance(cmd, CutMark):
                    for action in cmd.actions:
                        self.steer.apply(action)
                    self.cut = cmd
                else:
                    self.steer.apply(cmd)
            x, t_last = self.audio.read(hop)  # <= one hop, so every frame gets its own capture time
            if t_last is None:
                self.level *= decay
                time.sleep(0.002)
                continue
            self.clock = (self.clock[0] + len(x), t_last)
            mix = x if x.ndim == 1 else x[:, 0]  # with stems: [n, 1 + stems]
            db = 10 * np.log10(float(np.mean(mix * mix)) + 1e-12)
            self.level = max(self.level * decay, min(1.0, max(0.0, (db + 60) / 60)))
            if self.recorder is not None:
                self.recorder.audio(x)
            if self.vj is not None and t_last >= self._next_clock:
                self._beat_clock(t_last)
            steps = self.steer.feed(x, self.scheduled)
            self.sources = (self.steer.sources.names, self.steer.sources.values.copy())
            for time_s, st in steps:
                if self.recorder is not None:
                    self.recorder.step(time_s, st)
                seq += 1
                self.latest = Snapshot(seq, st.z, st.c, st.t, self.capture_time(time_s), self.cut, st.xform)
                self.new_state.set()

    def _beat_clock(self, t_last: float) -> None:
        """While Link leads: its beat at the analysis position, as an action (recorded, so a replay has it)."""
        self._next_clock = t_last + CLOCK_EVERY_S
        clock = self.vj.beat_clock(self.capture_time(self.steer.pos / self.audio.samplerate))
        if clock is not None or self._link_clock:
            self.steer.apply(SetBeatClock(*clock) if clock is not None else SetBeatClock(None))
            self._link_clock = clock is not None


class Renderer(threading.Thread):
    """Renders the newest walker state; keeps at most 2 finished frames (oldest dropped)."""

    def __init__(self, engine, analysis: Analysis, stop: threading.Event):
        super().__init__(name="render", daemon=True)
        self.engine, self.analysis, self.stop = engine, analysis, stop
        self._slots: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self.new_frame = threading.Event()
        self.rendered = self.dropped = 0
        self.render_times: collections.deque = collections.deque(maxlen=120)
        self.durations: collections.deque = collections.deque(maxlen=120)  # seconds per engine call
        self.motion_sum, self.motion_n = 0.0, 0  # mean |frame - previous frame|, 0..255
        self.error: BaseException | None = None

    def run(self):
        try:
            self._loop()
        except BaseException as e:
            self.error = e
            self.stop.set()

    def _loop(self):
        last_seq, prev = 0, None
        while not self.stop.is_set():
            if not self.analysis.new_state.wait(0.05):
                continue
            self.analysis.new_state.clear()
            snap = self.analysis.latest
            if snap is None or snap.seq == last_seq:
                continue
            last_seq = snap.seq
            t0 = time.monotonic()
            img = self.engine.render(snap.z[None], snap.c[None], np.array([snap.t], np.float32),
                                     xform=snap.xform[None])[0]
            t_ready = time.monotonic()
            self.rendered += 1
            self.render_times.append(t_ready)
            self.durations.append(t_ready - t0)
            if prev is not None:
                # every 4th pixel: the stat costs little on the render thread, even at 512 px
                self.motion_sum += float(np.mean(np.abs(img[::4, ::4].astype(np.int16) - prev[::4, ::4])))
                self.motion_n += 1
            prev = img
            with self._lock:
                if len(self._slots) >= 2:
                    self._slots.popleft()
                    self.dropped += 1
                self._slots.append(Rendered(img, snap.t_capture, snap.cut, t_ready))
            self.new_frame.set()

    def take(self):
        """The newest finished frame (a Rendered) or None; older unshown frames count as dropped."""
        with self._lock:
            if not self._slots:
                return None
            item = self._slots.pop()
            self.dropped += len(self._slots)
            self._slots.clear()
            return item
