"""What the user asked for, as frozen dataclasses: the CLI turns argparse's namespace into these (every number
checked for NaN, infinity and range before anything slow starts), and nothing below the CLI sees the namespace.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import LiveError
from live.config import PARAM_SPECS, check_number, check_value

SEED_MAX = 2 ** 32 - 1


@dataclass(frozen=True)
class EngineOptions:
    model: str | None = None  # None: the mode's default (128 live, 512 export)
    backend: str = "auto"
    precision: str = "auto"
    device: str = "auto"  # --engine-device


@dataclass(frozen=True)
class LyricsOptions:
    path: Path
    scoring: str = "weighted"
    text_model: str | None = None
    offset_s: float = 0.0


@dataclass(frozen=True)
class LookOptions:
    """The look as given: preset, parameter flags, classes, seed, lyrics (resolved by control.look.start_look)."""
    preset: str = "default"
    params: tuple[tuple[str, float], ...] = ()  # (name, value) of the parameter flags given
    classes: str | None = None
    seed: int | None = None
    lyrics: LyricsOptions | None = None

    def flags_given(self) -> list[str]:
        """The look flags on the command line (a replay takes its look from the recording instead)."""
        given = [f"--{name.replace('_', '-')}" for name, _ in self.params]
        given += [flag for flag, v in (("--classes", self.classes), ("--seed", self.seed),
                                       ("--lyrics", self.lyrics)) if v is not None]
        return given + (["--preset"] if self.preset != "default" else [])


@dataclass(frozen=True)
class ClusterOptions:
    address: str = "auto"  # auto | local | a head node's address
    workers: int | None = None  # None: one per GPU, else one per cpus_per_worker CPUs
    cpus_per_worker: int = 1


@dataclass(frozen=True)
class ExportOptions:
    output: str
    audio: tuple[str, ...] = ()  # empty with replays
    replay: tuple[str, ...] = ()
    fps: float = 30.0
    start: float = 0.0
    duration: float | None = None
    batch: int = 8
    save_latents: str | None = None
    quiet: bool = False
    cluster: ClusterOptions | None = None  # --ray
    flash_guard: bool = False  # --flash-guard on
    stems: tuple[tuple[str, str], ...] = ()  # --stem NAME=FILE: (name, path)

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.replay or self.audio


@dataclass(frozen=True)
class InputOptions:
    device: str | None = None  # index or part of a name; None: the system default
    samplerate: int | None = None
    blocksize: int = 512
    channels: int | None = None
    stems: tuple[tuple[str, tuple[int, ...]], ...] = ()  # --stems: (name, 0-based channels)


@dataclass(frozen=True)
class WindowOptions:
    fullscreen: bool = False
    display: int = 0
    scale_filter: str = "smooth"
    show: bool = True  # False: --no-window


@dataclass(frozen=True)
class OutputOptions:
    """Video sinks beside the window (names: the source name peers see)."""
    ndi: str | None = None
    vcam: bool = False
    syphon: str | None = None
    spout: str | None = None
    size: tuple[int, int] | None = None  # --output-size (width, height)

    def wanted(self) -> list[tuple[str, str]]:
        return [(kind, name) for kind, name in (("ndi", self.ndi), ("vcam", "" if self.vcam else None),
                                                 ("syphon", self.syphon), ("spout", self.spout))
                if name is not None]


@dataclass(frozen=True)
class VJOptions:
    midi: str | None = None  # input port name substring
    midi_map: str | None = None  # TOML file
    osc: str | None = None  # [HOST:]PORT to listen on
    osc_out: str | None = None  # HOST:PORT to send features to
    cut_on_beat: int | None = None  # new classes every N beats
    record: str | None = None  # folder
    link: bool = False  # join the Ableton Link session
    link_quantum: float = 4.0
    web: str | None = None  # [HOST:]PORT of the control page


@dataclass(frozen=True)
class LiveOptions:
    input: InputOptions = field(default_factory=InputOptions)
    window: WindowOptions = field(default_factory=WindowOptions)
    vj: VJOptions = field(default_factory=VJOptions)
    outputs: OutputOptions = field(default_factory=OutputOptions)
    duration: float | None = None  # quit after this many seconds
    stats: str | None = None  # --stats FILE.json
    display_rate: float | None = None  # Hz; None: the monitor's, else 60
    interpolate: str = "auto"  # auto | on | off
    flash_guard: str | None = None  # on | off; None: on for fullscreen, headless and video outputs

    def flash_guard_on(self, outputs: bool) -> bool:
        if self.flash_guard is not None:
            return self.flash_guard == "on"
        return self.window.fullscreen or not self.window.show or outputs


@dataclass(frozen=True)
class ClassesQuery:
    lyrics: LyricsOptions | None = None
    search: str | None = None
    num_classes: int | None = None
    json: str | None = None  # "-": JSON to stdout; a path: JSON to that file


# ---- numbers ---------------------------------------------------------------------------------------------------
def number(value, flag: str, lo: float, hi: float, integer: bool = False, above: bool = False):
    """A command-line number (None when not given) in [lo, hi], or (lo, hi] with above=True."""
    return None if value is None else check_number(value, flag, lo, hi, integer, above)


# ---- namespace -> options ------------------------------------------------------------------------------------
def engine_options(ns) -> EngineOptions:
    return EngineOptions(model=ns.model, backend=ns.backend, precision=ns.precision, device=ns.engine_device)


def lyrics_options(ns) -> LyricsOptions | None:
    if ns.lyrics is None:
        return None
    return LyricsOptions(Path(ns.lyrics), ns.lyrics_scoring, ns.text_model,
                         number(ns.lyrics_offset, "--lyrics-offset", -86400, 86400))


def look_options(ns) -> LookOptions:
    params = tuple((name, check_value(name, getattr(ns, name), "--" + name.replace("_", "-")))
                   for name in PARAM_SPECS if getattr(ns, name) is not None)
    if ns.classes is not None and not ns.classes.strip(" ,"):
        raise LiveError("--classes is empty: list ImageNet class names or ids (or leave it out for random ones)")
    if ns.classes is not None and ns.lyrics is not None:
        raise LiveError("--classes and --lyrics both choose the classes: pass one")
    return LookOptions(preset=ns.preset, params=params, classes=ns.classes,
                       seed=number(ns.seed, "--seed", 0, SEED_MAX, integer=True), lyrics=lyrics_options(ns))


def export_options(ns) -> ExportOptions:
    if not ns.output:
        raise LiveError("--export needs -o FILE.mp4 (or -o OUTDIR/ for several inputs): where to write")
    audio = tuple(a for a in ns.export or () if a)
    if ns.replay is None and not audio:
        raise LiveError("--export needs an audio file: live --export song.mp3 -o song.mp4")
    if ns.replay is not None and audio:
        raise LiveError(f"--replay takes its audio from the recording: drop {' '.join(audio)} after --export")
    cluster = None
    if ns.ray is not None:
        cluster = ClusterOptions(ns.ray, number(ns.workers, "--workers", 1, 4096, integer=True),
                                 number(ns.worker_cpus, "--worker-cpus", 1, 1024, integer=True))
    elif ns.workers is not None:
        raise LiveError("--workers is for --ray: add --ray (or drop --workers)")
    stems = export_stems(ns.stem or ())
    if stems and (ns.replay is not None or len(audio) > 1):
        raise LiveError("--stem belongs to one song: export a song with its stems on its own (a replay has its "
                        "recorded stems)")
    return ExportOptions(output=ns.output, audio=audio, replay=tuple(ns.replay or ()), stems=stems,
                         fps=number(ns.fps, "--fps", 1, 240), start=number(ns.start, "--start", 0, math.inf),
                         duration=number(ns.duration, "--duration", 0, math.inf, above=True),
                         batch=number(ns.batch, "--batch", 1, 64, integer=True), save_latents=ns.save_latents,
                         quiet=ns.quiet, cluster=cluster, flash_guard=ns.flash_guard == "on")


def live_options(ns) -> LiveOptions:
    inp = InputOptions(device=ns.device, samplerate=number(ns.samplerate, "--samplerate", 8000, 384000, True),
                       blocksize=number(ns.blocksize, "--blocksize", 0, 16384, True),
                       channels=number(ns.channels, "--channels", 1, 64, True), stems=live_stems(ns.stems))
    if ns.no_window and ns.fullscreen:
        raise LiveError("--no-window and --fullscreen: pass one (headless runs have no window to fill)")
    window = WindowOptions(ns.fullscreen, number(ns.display, "--display", 0, 63, True), ns.scale_filter,
                           show=not ns.no_window)
    vj = VJOptions(midi=ns.midi, midi_map=ns.midi_map, osc=ns.osc, osc_out=ns.osc_out, record=ns.record,
                   cut_on_beat=number(ns.cut_on_beat, "--cut-on-beat", 1, 1024, True), link=ns.link,
                   link_quantum=number(ns.link_quantum, "--link-quantum", 1, 64, integer=True), web=ns.web)
    outputs = OutputOptions(ndi=_name(ns.ndi, "--ndi"), vcam=ns.vcam, syphon=_name(ns.syphon, "--syphon"),
                            spout=_name(ns.spout, "--spout"), size=output_size(ns.output_size))
    if outputs.size is not None and not outputs.wanted():
        raise LiveError("--output-size sizes the video outputs: add one (--ndi, --vcam, --syphon or --spout)")
    return LiveOptions(input=inp, window=window, vj=vj, outputs=outputs, stats=ns.stats,
                       duration=number(ns.duration, "--duration", 0, math.inf, above=True),
                       display_rate=number(ns.display_rate, "--display-rate", 1, 480),
                       interpolate=ns.interpolate, flash_guard=ns.flash_guard)


def export_stems(specs) -> tuple[tuple[str, str], ...]:
    """--stem NAME=FILE (repeatable) -> ((name, path), ...); whether a name clashes with a source is checked
    where the sources are known (live.analysis.sources.check_stem_names)."""
    pairs = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise LiveError(f"--stem {spec}: give NAME=FILE, e.g. --stem drums=drums.wav")
        pairs.append((_stem_name(name.strip(), "--stem"), path.strip()))
    return tuple(pairs)


def live_stems(spec: str | None) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """--stems "drums=1-2,keys=3" -> (("drums", (0, 1)), ("keys", (2,))): 0-based channels of the device."""
    if spec is None:
        return ()
    out = []
    for part in spec.split(","):
        name, sep, chans = part.strip().partition("=")
        lo, dash, hi = chans.strip().partition("-")
        if not sep or not lo.isdigit() or (dash and not hi.isdigit()) or int(lo) < 1 or int(hi or lo) < int(lo):
            raise LiveError(f"--stems {spec}: give NAME=CHANNEL or NAME=FIRST-LAST (channels from 1), comma "
                            'separated, e.g. "drums=1-2,bass=3"')
        out.append((_stem_name(name.strip(), "--stems"), tuple(range(int(lo) - 1, int(hi or lo)))))
    return tuple(out)


def _stem_name(name: str, flag: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise LiveError(f"{flag}: stem name {name!r}: use a word of lower-case letters, digits and _ (e.g. drums)")
    return name


def _name(value: str | None, flag: str) -> str | None:
    if value is not None and not value.strip():
        raise LiveError(f"{flag} needs a source name (or none for 'live'), not an empty one")
    return value.strip() if value is not None else None


def output_size(spec: str | None) -> tuple[int, int] | None:
    """'WxH' -> (W, H), each 16-7680 and even (video formats want even sizes)."""
    if spec is None:
        return None
    w, sep, h = spec.lower().partition("x")
    if not sep or not w.strip().isdigit() or not h.strip().isdigit():
        raise LiveError(f"--output-size {spec}: give WIDTHxHEIGHT, e.g. 1920x1080")
    size = (int(w), int(h))
    if not all(16 <= v <= 7680 and v % 2 == 0 for v in size):
        raise LiveError(f"--output-size {spec}: width and height must be even numbers 16–7680")
    return size


def classes_query(ns) -> ClassesQuery:
    return ClassesQuery(lyrics=lyrics_options(ns), search=ns.search, json=ns.json,
                        num_classes=check_value("num_classes", ns.num_classes, "--num-classes")
                        if ns.num_classes is not None else None)
