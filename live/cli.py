"""The `live` command: real-time window (default) or offline export to mp4 (--export).

main() parses the flags (live.flags), turns them into typed options (live.options) and runs one mode. A
LiveError (an expected failure: bad input, missing device, no weights...) becomes one line and exit 2;
anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import sys
import time

from core import signals
from core.errors import LiveError
from engine.stylegan import is_pickle
from live import options as O
from live.flags import build_parser


def main(argv=None) -> int:
    ns = build_parser().parse_args(argv)
    restore_signals = signals.install()  # SIGTERM/SIGHUP clean up like Ctrl-C
    try:
        if ns.audio:  # positional: after --export's own list, or after --
            if ns.export is None:
                raise LiveError(f"{ns.audio[0]}: an audio file without --export — live --export FILE -o out.mp4 "
                                "(a name that starts with a dash: after --)")
            ns.export += ns.audio
        if ns.list_backends:
            return _list_backends()
        if ns.model_info:
            return _model_info(ns.model_info, ns.json)
        if ns.selftest:
            return _selftest(O.engine_options(ns), ns.json)
        if ns.list_classes:
            return _list_classes(O.classes_query(ns))
        if ns.list_midi:
            return _list_midi()
        if ns.replay is not None and ns.export is None:
            raise LiveError("--replay needs --export and -o: live --export --replay DIR -o out.mp4")
        if ns.lyrics and ns.model and is_pickle(ns.model):
            raise LiveError("--lyrics picks ImageNet classes: BigGAN models only, not a StyleGAN pickle")
        if ns.export is not None:
            return _export(O.export_options(ns), O.look_options(ns), O.engine_options(ns))
        if ns.list_devices:
            return _list_devices()
        return _live(O.live_options(ns), O.look_options(ns), O.engine_options(ns))
    except LiveError as e:
        print(f"live: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"live: interrupted ({signals.describe(e)}); no output written", file=sys.stderr)
        return 128 + signals.signal_number(e)
    finally:
        restore_signals()


def _list_backends() -> int:
    from engine.backends import list_backends

    for name, usable, why in list_backends():
        print(f"{name:10s} {'usable' if usable else 'not usable'}{'' if usable else ': ' + why}")
    return 0


def _model_info(path: str, json_to: str | None) -> int:
    import json

    from engine.stylegan.model import info

    facts = info(path)
    if json_to:
        _write_json(json_to, json.dumps(facts))
    else:
        print("\n".join(f"{k:15s} {v}" for k, v in facts.items()))
    return 0


def _selftest(engine_opts: O.EngineOptions, json_to: str | None) -> int:
    from engine import selftest

    precision = engine_opts.precision
    report = selftest.run(engine_opts.model or "biggan-deep-128", backend=engine_opts.backend,
                          device=engine_opts.device, precisions=None if precision == "auto" else [precision])
    print(selftest.format_table(report), file=sys.stderr if json_to == "-" else sys.stdout)
    _write_json(json_to, selftest.to_json(report))
    return 0 if report["ok"] else 1


def _write_json(json_to: str | None, text: str) -> None:
    """--json: to stdout ("-") or to a file, written atomically."""
    if json_to == "-":
        print(text)
    elif json_to:
        from core.files import check_output, write_text_atomic, writing

        check_output(json_to, "--json")
        with writing(json_to, "--json"):
            write_text_atomic(json_to, text + "\n")


def _list_classes(q: O.ClassesQuery) -> int:
    from live.lyrics.score import format_classes, list_classes

    if q.lyrics is not None:
        print("live: loading the text model...", file=sys.stderr)
        rows = list_classes(q.lyrics.path, q.search, q.num_classes, q.lyrics.scoring, q.lyrics.text_model)
    else:
        rows = list_classes(None, q.search, q.num_classes)
    if not rows:
        raise LiveError(f"no ImageNet class matches '{q.search}': try a shorter word")
    text = format_classes(rows, as_json=q.json is not None)
    if q.json is None:
        print(text)
    _write_json(q.json, text)
    return 0


def _list_midi() -> int:
    from live.control.midi import input_names

    names = input_names()
    print("\n".join(names) if names else "no MIDI input ports")
    return 0


def _list_devices() -> int:
    from live.audio.capture import format_devices, list_devices

    print(format_devices(list_devices()))
    return 0


def _export(opts: O.ExportOptions, look_opts: O.LookOptions, engine_opts: O.EngineOptions) -> int:
    from live.export.executors import make_executor
    from live.export.job import export
    from live.export.songs import OutputFolders, export_jobs

    folders = OutputFolders()
    try:
        jobs, preps = zip(*export_jobs(opts, look_opts, engine_opts, folders))  # every input and output checked
        t0 = time.perf_counter()
        executor = make_executor(opts, engine_opts)
        try:
            figures = export(jobs, preps, executor, progress=not opts.quiet)
        finally:
            executor.close()
    except BaseException:  # refused, failed or interrupted: no empty output folder left behind
        folders.undo()
        raise
    frames, wall = sum(f["frames"] for f in figures), time.perf_counter() - t0
    speed = f"{1000 * wall / frames:.0f} ms/frame end to end ({executor.name})"
    for f in figures:
        print(f"wrote {f['output']}: {f['frames']} frames, {f['duration_s']:.1f} s"
              + (f", {speed}" if len(figures) == 1 else ""), file=sys.stderr)
    if len(figures) > 1:
        print(f"{len(figures)} videos, {frames} frames in {wall:.1f} s: {speed}", file=sys.stderr)
    return 0


def _live(opts: O.LiveOptions, look_opts: O.LookOptions, engine_opts: O.EngineOptions) -> int:
    from live.control.look import start_look
    from live.run.loop import run_live

    return run_live(opts, start_look(look_opts), engine_opts)
