"""Live mode: audio input -> analysis thread (features + walker) -> render thread (engine) -> presenter
(display-rate blending, held beat cuts, flash guard) -> the window and every video sink.

Threads (live.run.stages): the PortAudio callback fills a ring (live.audio.capture); the analysis thread drains
it hop by hop into the features and the walker and publishes the newest state; the render thread renders the
newest state into a 2-slot frame queue; the main thread owns pygame, dispatches every action and runs the
presenter (live.show.present); each sink sends on its own thread (live.show.sinks). With --no-window the
main thread paces the presenter itself.
Latency is measured per new image shown: from the capture time of the audio that went into it (weighted, for a
blend) to the return of its display flip (without a window: to its hand-over to the sinks).
"""
from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np

from core.dims import BIGGAN
from core.errors import LiveError, warn
from core.files import check_output
from engine.hints import SETTLE_S, int8_hint
from live.audio.capture import AudioInput
from live.control import actions as A
from live.control.dispatch import Dispatcher
from live.control.look import Look
from live.options import EngineOptions, LiveOptions
from live.run.report import Report
from live.run.stages import Analysis, Renderer
from live.run.stats import rate, write_stats
from live.show.flashguard import FlashGuard
from live.show.present import CutMark, Presenter, refresh_rate
from live.show.sinks import Outputs
from live.walk.steering import StartLook

DEFAULT_RATE_HZ = 60.0  # the display rate where the monitor's is unknown (no window, dummy or virtual display)


def run_live(opts: LiveOptions, start: StartLook, engine_opts: EngineOptions = EngineOptions(),
             engine=None) -> int:
    """The live set: returns the exit code (0 on q/Esc/window close/--duration/Ctrl-C).

    Raises LiveError / EngineError for expected failures (no device, no PortAudio, model...).
    `engine` may be passed in (tests); otherwise it is created from engine_opts and closed at the end.
    """
    if opts.stats:
        check_output(opts.stats, "--stats")  # a new or regular file in an existing folder
    inp = opts.input
    audio = AudioInput(inp.device, inp.samplerate, inp.blocksize, inp.channels, stems=inp.stems)  # fail fast
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
        dims = model_dims(engine)
        z = np.zeros((1, dims.z_dim), np.float32)
        c = np.zeros((1, dims.n_classes), np.float32)
        c[0, start.classes[0] % dims.n_classes] = 1
        for _ in range(2):  # warm up (graph compile, caches) before the clock starts
            engine.render(z, c, np.array([start.params.truncation], np.float32))
        return _run(opts, start, engine_opts, audio, engine, vj, _directions(engine_opts))
    finally:
        vj.close()
        if own_engine:
            engine.close()


def _directions(engine_opts: EngineOptions):
    """The model's latent directions for the matrix's dir1..dir8 (any preset may switch them on later);
    computed once per model, then read from the cache. Without them those rows do nothing."""
    from engine.directions import latent_directions

    try:
        return latent_directions(engine_opts.model or "biggan-deep-128")
    except LiveError as e:
        warn(f"{e} — modulation rows on dir1..dir8 do nothing in this set")
        return None


def model_dims(engine):
    """The walk's latent sizes: those of the engine's StyleGAN model, else BigGAN's."""
    space = getattr(engine, "space", None)
    return space.dims if space is not None else BIGGAN


def _run(opts: LiveOptions, start: StartLook, engine_opts: EngineOptions, audio: AudioInput, engine, vj,
         directions=None) -> int:
    look = Look(start.params, start.classes, start.seed, start.preset, start.classes_given, start.matrix)
    res = int(engine.resolution)
    title = f"live — {audio.device_name}"
    win = opts.window
    display = None
    if win.show:
        from live.show.window import Display
        display = Display(title, (res, res), win.fullscreen, win.display, win.scale_filter)
    rate_hz = opts.display_rate or (refresh_rate(win.display) if display else None) or DEFAULT_RATE_HZ
    try:
        outputs = Outputs.open(opts.outputs.wanted(), (res, res), rate_hz, opts.outputs.size,
                               win.scale_filter == "smooth")
    except BaseException:
        if display is not None:
            display.close()
        raise
    guard = FlashGuard() if opts.flash_guard_on(bool(outputs)) else None
    dispatcher = Dispatcher(look, window=display, midi=vj.midi_ctl, tap=vj.tap, link=vj.set_link)
    try:  # the recording starts once the window is up, so a failed start leaves no recording behind
        vj.start(dict(seed=start.seed, preset=start.preset, model=engine_opts.model or "biggan-deep-128",
                      backend=engine.name, resolution=res, params=dataclasses.asdict(start.params),
                      classes=list(start.classes), device=audio.device_name, matrix=start.matrix.to_json(),
                      stems=list(audio.stems)))
    except BaseException:
        outputs.close()
        if display is not None:
            display.close()
        raise
    planner = vj.planner
    presenter = Presenter(rate_hz, opts.interpolate, guard, on_cut_ready=planner.measured if planner else None,
                          vsync=display is not None and display.vsync, cut_time=vj.cut_time)
    stop = threading.Event()
    analysis = Analysis(audio, look, stop, vj, start.schedule, directions, model_dims(engine))
    renderer = Renderer(engine, analysis, stop)
    report = Report(audio, analysis, renderer, engine, presenter, outputs, vj, guard, log=display is None)
    if planner is not None:
        planner.display_period = presenter.period
    t0 = time.monotonic()
    try:
        audio.start()
        analysis.start()
        renderer.start()
        t0 = last_draw = time.monotonic()
        shown_status, cuts, hinted = None, 0, False
        while not stop.is_set():
            cuts = _control(dispatcher, display, vj, look, analysis, cuts)
            if dispatcher.quit or (opts.duration is not None and time.monotonic() - t0 >= opts.duration):
                break
            if display is not None and audio.status != shown_status:
                shown_status = audio.status
                display.set_title(title + (" (no input)" if shown_status == "no input" else ""))
            if planner is not None and not planner.latencies and renderer.durations:
                planner.prior = 2 * max(renderer.durations) + 2 * analysis.fx.hop_s  # until a cut is measured
            now = time.monotonic()
            due = presenter.due(now)
            wait = 0.01 if due is None else min(0.01, due - now)
            if wait > 0 and renderer.new_frame.wait(wait):
                renderer.new_frame.clear()
            item = renderer.take()
            now = time.monotonic()
            if not hinted and now - t0 > SETTLE_S:  # once the render rate has settled: say it once
                hinted, hint = True, int8_hint(engine, rate(renderer.render_times))
                if hint:
                    warn(hint)
            if item is not None:
                presenter.push(item, now)
            due = presenter.due(now)
            if due is not None and due <= now + 0.0005:
                shown = presenter.tick(now)
                if shown is not None:
                    outputs.offer(shown.img)
                    if vj.web is not None:
                        vj.web.offer(shown.img)
                    t_flip = display.show(shown.img, *_overlays(display, report, look, analysis)) \
                        if display is not None else time.monotonic()
                    last_draw = t_flip
                    report.shown(shown, t_flip)
            elif display is not None and now - last_draw >= 0.1:  # nothing new: keep HUD and toasts fresh
                last_draw = display.show(None, *_overlays(display, report, look, analysis))
            report.periodic(now, look)
    except KeyboardInterrupt:
        pass  # Ctrl-C in the terminal ends the set like q
    finally:
        duration = time.monotonic() - t0
        stop.set()
        for th in (analysis, renderer):
            if th.is_alive():
                th.join(timeout=10)
        audio.close()
        report.link = vj.link_stats()  # as the set ended, before leaving the session
        vj.close()  # after the analysis thread: the recording is complete
        dispatcher.flush(final=True)  # input problems held back by the throttles
        outputs.close()
        if display is not None:
            display.close()
    for th in (analysis, renderer):
        if th.error is not None:
            raise th.error
    if opts.stats:
        write_stats(opts.stats, report.stats(duration))
    return 0


def _control(dispatcher, display, vj, look, analysis, cuts: int) -> int:
    """Dispatch the keys, OSC, MIDI, planned beat cuts and preset reloads; walker actions go to the analysis
    thread (a planned cut's in one CutMark). Returns the number of planned cuts so far."""
    results = []
    for action in (display.poll() if display is not None else []) + vj.actions():
        walker, toast = dispatcher.dispatch(action)
        if isinstance(action, A.NewClasses) and action.show_at is not None and walker:
            cuts += 1
            analysis.commands.put(CutMark(cuts, action.show_at, time.monotonic(), tuple(walker), action.beat))
            walker = []
        results.append((walker, toast))
    for requests, toast in vj.tick(look.preset):  # preset hot reload: its own toast
        results += [(dispatcher.dispatch(a)[0], "") for a in requests] + [([], toast)]
    for walker, toast in results:
        for action in walker:
            analysis.commands.put(action)
        if toast and display is not None:
            display.toast(toast, max(1.5, len(toast) / 25))  # long enough to read an error
    dispatcher.flush()
    return cuts


def _overlays(display, report, look, analysis):
    hud = report.hud(look) if display.show_hud else None
    presets = look.presets_help() if display.show_help else ""  # globs the preset folders
    return hud, analysis.level, presets, analysis.sources
