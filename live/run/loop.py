"""Live mode: audio input -> analysis thread (features + walker) -> render thread (engine) -> window.

Threads (live.run.threads): the PortAudio callback fills a ring (live.audio.capture); the analysis thread drains
it hop by hop into the features and the walker and publishes the newest state; the render thread renders the
newest state into a 2-slot frame queue; the main thread owns pygame and dispatches every action.
Latency is measured per displayed frame: from the capture time of the newest audio sample that went into
its walker state to the return of its display flip.
"""
from __future__ import annotations

import collections
import dataclasses
import threading
import time

import numpy as np

from core.dims import NUM_CLASSES, Z_DIM
from core.errors import warn
from core.files import check_output
from engine.hints import SETTLE_S, int8_hint
from live.audio.capture import AudioInput
from live.classes import LABELS
from live.control.dispatch import Dispatcher
from live.control.look import Look, StartLook
from live.options import EngineOptions, LiveOptions
from live.output.window import Display
from live.run.stats import LatencyHist, rate, write_stats
from live.run.threads import Analysis, Renderer


def run_live(opts: LiveOptions, start: StartLook, engine_opts: EngineOptions = EngineOptions(),
             engine=None) -> int:
    """The live set: returns the exit code (0 on q/Esc/window close/--duration/Ctrl-C).

    Raises LiveError / EngineError for expected failures (no device, no PortAudio, model...).
    `engine` may be passed in (tests); otherwise it is created from engine_opts and closed at the end.
    """
    if opts.stats:
        check_output(opts.stats, "--stats")  # a new or regular file in an existing folder
    inp = opts.input
    audio = AudioInput(inp.device, inp.samplerate, inp.blocksize, inp.channels)  # bad device: fail fast
    from live.control.vj import VJ
    vj = VJ(opts.vj, audio.samplerate, start.preset)  # bad --osc/--record/--midi-map: fail fast
    own_engine = engine is None
    try:
        if own_engine:
            from engine.backends import create_engine
            engine = create_engine(engine_opts.model or "biggan-deep-128", backend=engine_opts.backend,
                                   precision=engine_opts.precision, max_batch=1, device=engine_opts.device)
    except BaseException:
        vj.close()
        raise
    try:
        z = np.zeros((1, Z_DIM), np.float32)
        c = np.zeros((1, NUM_CLASSES), np.float32)
        c[0, start.classes[0]] = 1
        for _ in range(2):  # warm up (graph compile, caches) before the clock starts
            engine.render(z, c, np.array([start.params.truncation], np.float32))
        return _run(opts, start, engine_opts, audio, engine, vj)
    finally:
        vj.close()
        if own_engine:
            engine.close()


def _run(opts: LiveOptions, start: StartLook, engine_opts: EngineOptions, audio: AudioInput, engine, vj) -> int:
    look = Look(start.params, start.classes, start.seed, start.preset, start.classes_given)
    res = int(engine.resolution)
    title = f"live — {audio.device_name}"
    win = opts.window
    display = Display(title, (res, res), win.fullscreen, win.display, win.scale_filter)
    dispatcher = Dispatcher(look, window=display, midi=vj.midi_ctl, tap=vj.tap)
    try:  # the recording starts once the window is up, so a failed start leaves no recording behind
        vj.start(dict(seed=start.seed, preset=start.preset, model=engine_opts.model or "biggan-deep-128",
                      backend=engine.name, resolution=res, params=dataclasses.asdict(start.params),
                      classes=list(start.classes), device=audio.device_name))
    except BaseException:
        display.close()
        raise
    stop = threading.Event()
    analysis = Analysis(audio, look, stop, vj, start.schedule)
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
            results = [dispatcher.dispatch(a) for a in display.poll() + vj.actions()]  # keys, OSC, MIDI, beat
            for requests, toast in vj.tick(look.preset):  # preset hot reload: its own toast
                results += [(dispatcher.dispatch(a)[0], "") for a in requests] + [([], toast)]
            if dispatcher.quit:
                stop.set()
            for walker_actions, toast in results:
                for action in walker_actions:
                    analysis.commands.put(action)
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
                    warn(hint)
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
        write_stats(opts.stats, stats)
    return 0


def _hud(look, audio, analysis, renderer, flips, hist, engine, display, vj) -> list[str]:
    lat = sorted(hist.recent)
    lat_s = f"{lat[len(lat) // 2]:.0f} ms" if lat else "-"
    state = {"ok": "", "starting": "  (waiting for audio)", "no input": "  NO INPUT - reconnecting"}
    steer = analysis.steer  # the classes in force (lyrics lines change them on the analysis thread)
    names = ", ".join(LABELS[i] for i in dict.fromkeys(steer.classes[: steer.params.num_classes]))  # LRC repeats
    sel = look.selected
    return [f"render {rate(renderer.render_times):.1f} fps   display {rate(flips):.1f} fps   latency {lat_s}",
            f"{engine.name}  {engine.resolution}px   preset {look.preset}" + ("   FROZEN" if look.frozen else ""),
            f"in: {audio.device_name[:32]}{state.get(audio.status, '')}   xruns {audio.xruns}",
            f"classes: {names[:70]}" + ("..." if len(names) > 70 else ""),
            f"[{sel.replace('_', ' ')}] {getattr(look.params, sel):g}   (? for keys)",
            vj.hud(), int8_hint(engine, rate(renderer.render_times))]
