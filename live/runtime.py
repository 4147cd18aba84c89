"""Live mode: audio input -> analysis thread (features + walker) -> render thread (engine) -> window.

Threads: the PortAudio callback fills a ring (live.audio.capture); the analysis thread drains it hop by hop into
FeatureExtractor + Walker and publishes the newest state; the render thread renders the newest state into a
2-slot frame queue (older frames are dropped, latency never queues up); the main thread owns pygame.
Latency is measured per displayed frame: from the capture time of the newest audio sample that went into
its walker state to the return of its display flip.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import queue
import sys
import threading
import time
from typing import NamedTuple

import numpy as np

from live.audio.capture import AudioInput
from live.classes import LABELS
from live.config import WalkerParams
from live.output.window import Display
from core.dims import NUM_CLASSES, Z_DIM
from core.errors import LiveError
from live.walk.steering import Steering, schedule_events
from live.control.look import Look
from live.stats import LatencyHist, rate, write_stats
from engine.hints import SETTLE_S, int8_hint


@dataclasses.dataclass(frozen=True)
class LiveOptions:
    params: WalkerParams
    classes: list
    seed: int = 0
    preset: str = "default"
    classes_given: bool = False  # classes came from --classes/preset (kept when the class count changes)
    device: object = None  # index, name substring or None (default input)
    samplerate: int | None = None
    blocksize: int = 512
    channels: int | None = None
    fullscreen: bool = False
    display: int = 0
    scale_filter: str = "smooth"
    duration: float | None = None
    stats: str | None = None
    model: str = "biggan-deep-128"
    backend: str = "auto"
    precision: str = "auto"
    engine_device: str = "auto"
    vj: object = None  # live.control.vj.VJOptions: OSC, MIDI, beat cuts, recording
    schedule: object = None  # LRC lyrics: classes_at(seconds since start) -> class ids


class Snapshot(NamedTuple):
    seq: int
    z: np.ndarray
    c: np.ndarray
    t: float
    t_capture: float  # time.monotonic of the newest audio sample in this state


class Analysis(threading.Thread):
    """Features + walker at the hop rate; the only thread that touches the Walker.

    Commands change it through Steering at the current sample position (so a recording replays exactly).
    """

    def __init__(self, audio: AudioInput, look: Look, stop: threading.Event, vj=None, schedule=None):
        super().__init__(name="analysis", daemon=True)
        self.audio, self.stop, self.vj = audio, stop, vj
        # LRC lyrics: class events at their samples (seconds since start), recorded like any control.
        self.scheduled = schedule_events(schedule, audio.samplerate)
        self.recorder = vj.recorder if vj is not None else None
        self.steer = Steering.create(audio.samplerate, look.params, look.classes, look.seed,
                                     self.recorder.event if self.recorder is not None else None)
        self.fx = self.steer.traj.features
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.new_state = threading.Event()
        self.latest: Snapshot | None = None
        self.level = 0.0  # input meter 0..1 (-60..0 dBFS), peak-hold with decay
        self.error: BaseException | None = None

    def run(self):
        try:
            self._loop()
        except BaseException as e:  # surfaced by the main thread
            self.error = e
            self.stop.set()

    def _loop(self):
        sr, hop, pushed, seq = self.audio.samplerate, self.fx.hop, 0, 0
        decay = 0.5 ** (hop / sr / 0.3)  # meter falls 6 dB per 0.3 s
        while not self.stop.is_set():
            while not self.commands.empty():
                self.steer.apply(*self.commands.get_nowait())
            x, t_last = self.audio.read(hop)  # <= one hop, so every frame gets its own capture time
            if t_last is None:
                self.level *= decay
                time.sleep(0.002)
                continue
            pushed += len(x)
            db = 10 * np.log10(float(np.mean(x * x)) + 1e-12)
            self.level = max(self.level * decay, min(1.0, max(0.0, (db + 60) / 60)))
            if self.recorder is not None:
                self.recorder.audio(x)
            capture = lambda time_s: t_last - (pushed - round(time_s * sr)) / sr  # frame i ends at (i+1)*hop
            if self.vj is not None:
                self.steer.traj.on_frame = lambda fr: self.vj.on_frame(fr, capture(fr.time_s))
            for time_s, st in self.steer.feed(x, self.scheduled):
                if self.recorder is not None:
                    self.recorder.step(time_s, st)
                seq += 1
                self.latest = Snapshot(seq, st.z, st.c, st.t, capture(time_s))
                self.new_state.set()


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
            img = self.engine.render(snap.z[None], snap.c[None], np.array([snap.t], np.float32))[0]
            self.rendered += 1
            self.render_times.append(time.monotonic())
            if prev is not None:
                # every 4th pixel: the stat costs little on the render thread, even at 512 px
                self.motion_sum += float(np.mean(np.abs(img[::4, ::4].astype(np.int16) - prev[::4, ::4])))
                self.motion_n += 1
            prev = img
            with self._lock:
                if len(self._slots) >= 2:
                    self._slots.popleft()
                    self.dropped += 1
                self._slots.append((img, snap.t_capture))
            self.new_frame.set()

    def take(self):
        """The newest finished frame (img, t_capture) or None; older unshown frames count as dropped."""
        with self._lock:
            if not self._slots:
                return None
            item = self._slots.pop()
            self.dropped += len(self._slots)
            self._slots.clear()
            return item


def _create_engine(opts: LiveOptions):
    from engine.backends import create_engine
    return create_engine(opts.model, backend=opts.backend, precision=opts.precision, max_batch=1,
                         device=opts.engine_device)


def run_live(opts: LiveOptions, engine=None) -> int:
    """The live set: returns the exit code (0 on q/Esc/window close/--duration/Ctrl-C).

    Raises LiveError / EngineError for expected failures (no device, no PortAudio, model...).
    `engine` may be passed in (tests); otherwise it is created from opts and closed at the end.
    """
    if opts.stats and not os.path.isdir(os.path.dirname(os.path.abspath(opts.stats))):
        raise LiveError(f"--stats {opts.stats}: its folder does not exist; create it or choose another path")
    audio = AudioInput(opts.device, opts.samplerate, opts.blocksize, opts.channels)  # bad device: fail fast
    from live.control.vj import VJ, VJOptions
    vj = VJ(opts.vj or VJOptions(), audio.samplerate, opts.preset)  # bad --osc/--record/--midi-map: fail fast
    own_engine = engine is None
    try:
        engine = engine or _create_engine(opts)
    except BaseException:
        vj.close()
        raise
    try:
        z = np.zeros((1, Z_DIM), np.float32)
        c = np.zeros((1, NUM_CLASSES), np.float32)
        c[0, opts.classes[0]] = 1
        for _ in range(2):  # warm up (graph compile, caches) before the clock starts
            engine.render(z, c, np.array([opts.params.truncation], np.float32))
        return _run(opts, audio, engine, vj)
    finally:
        vj.close()
        if own_engine:
            engine.close()


def _run(opts: LiveOptions, audio: AudioInput, engine, vj) -> int:
    look = Look(opts.params, opts.classes, opts.seed, opts.preset, opts.classes_given)
    res = int(engine.resolution)
    title = f"live — {audio.device_name}"
    display = Display(title, (res, res), opts.fullscreen, opts.display, opts.scale_filter)
    try:  # the recording starts once the window is up, so a failed start leaves no recording behind
        vj.start(dict(seed=opts.seed, preset=opts.preset, model=opts.model, backend=engine.name, resolution=res,
                      params=dataclasses.asdict(opts.params), classes=list(opts.classes),
                      device=audio.device_name))
    except BaseException:
        display.close()
        raise
    stop = threading.Event()
    analysis = Analysis(audio, look, stop, vj, opts.schedule)
    renderer = Renderer(engine, analysis, stop)
    hist, flips = LatencyHist(), collections.deque(maxlen=120)
    displayed, t0 = 0, time.monotonic()
    try:
        audio.start()
        analysis.start()
        renderer.start()
        t0 = last_draw = time.monotonic()
        shown_status, hinted = None, False
        while not stop.is_set():
            actions = display.poll() + vj.actions()  # keys, OSC, MIDI, beat cuts
            if any(a[0] == "quit" for a in actions):
                stop.set()
            for cmds, toast in [vj.apply(look, a) for a in actions] + vj.tick(look):  # + preset hot reload
                for cmd in cmds:
                    analysis.commands.put(cmd)
                if toast:
                    display.toast(toast, max(1.5, len(toast) / 25))  # long enough to read an error
            if opts.duration is not None and time.monotonic() - t0 >= opts.duration:
                break
            if audio.status != shown_status:
                shown_status = audio.status
                display.set_title(title + (" (no input)" if shown_status == "no input" else ""))
            renderer.new_frame.wait(0.01)
            renderer.new_frame.clear()
            item = renderer.take()
            now = time.monotonic()
            if not hinted and now - t0 > SETTLE_S:  # once the render rate has settled: say it once
                hinted, hint = True, int8_hint(engine, rate(renderer.render_times))
                if hint:
                    print(f"live: {hint}", file=sys.stderr)
            if item is None and now - last_draw < 0.1:
                continue  # nothing new: redraw only to keep HUD/toasts fresh
            hud = _hud(look, audio, analysis, renderer, flips, hist, engine, display, vj) if display.show_hud else None
            presets = look.presets_help() if display.show_help else ""  # globs the preset folders
            t_flip = display.show(item[0] if item else None, hud, analysis.level, presets)
            last_draw = t_flip
            if item is not None:
                displayed += 1
                flips.append(t_flip)
                hist.add((t_flip - item[1]) * 1000)
    except KeyboardInterrupt:
        pass  # Ctrl-C in the terminal ends the set like q
    finally:
        duration = time.monotonic() - t0
        stop.set()
        for th in (analysis, renderer):
            if th.is_alive():
                th.join(timeout=10)
        audio.close()
        vj.close()  # after the analysis thread: the recording is complete
        display.close()
    for th in (analysis, renderer):
        if th.error is not None:
            raise th.error
    stats = dict(frames_rendered=renderer.rendered, frames_displayed=displayed, duration_s=round(duration, 3),
                 fps_rendered=round(renderer.rendered / duration, 2) if duration > 0 else 0.0,
                 fps_displayed=round(displayed / duration, 2) if duration > 0 else 0.0,
                 latency_ms_p50=hist.percentile(50), latency_ms_p95=hist.percentile(95),
                 xruns=audio.xruns, dropped_frames=renderer.dropped, backend=engine.name, resolution=res,
                 device=audio.device_name, samplerate=audio.samplerate, input_reopens=audio.reopens,
                 motion=round(renderer.motion_sum / max(1, renderer.motion_n), 3))
    if opts.stats:
        try:
            write_stats(opts.stats, stats)
        except OSError as e:
            raise LiveError(f"cannot write --stats {opts.stats} ({e.strerror}): choose another path") from None
    return 0


def _hud(look, audio, analysis, renderer, flips, hist, engine, display, vj) -> list[str]:
    lat = sorted(hist.recent)
    lat_s = f"{lat[len(lat) // 2]:.0f} ms" if lat else "-"
    state = {"ok": "", "starting": "  (waiting for audio)", "no input": "  NO INPUT - reconnecting"}
    steer = analysis.steer  # the classes in force (lyrics lines change them on the analysis thread)
    names = ", ".join(LABELS[i] for i in steer.classes[: steer.params.num_classes])
    sel = display.selected
    return [f"render {rate(renderer.render_times):.1f} fps   display {rate(flips):.1f} fps   latency {lat_s}",
            f"{engine.name}  {engine.resolution}px   preset {look.preset}" + ("   FROZEN" if look.frozen else ""),
            f"in: {audio.device_name[:32]}{state.get(audio.status, '')}   xruns {audio.xruns}",
            f"classes: {names[:70]}" + ("..." if len(names) > 70 else ""),
            f"[{sel.replace('_', ' ')}] {getattr(look.params, sel):g}   (? for keys)",
            vj.hud(), int8_hint(engine, rate(renderer.render_times))]
