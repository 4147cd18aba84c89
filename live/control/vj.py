"""VJ controls of live mode in one object: OSC in/out, MIDI, beat tracking and beat cuts, tap tempo, preset
hot reload, recording. The runtime calls it from two threads:

  analysis thread: on_frame(frame, t_capture) for every feature frame (beat, tap, OSC out); recorder hooks
  main thread:     actions() (queued OSC/MIDI/beat actions), apply(look, action) for every action
                   (keys included), tick(look) about every frame (hot reload, recorder errors), hud()

Nothing here touches the walker: changes become commands for the analysis thread (live.walk.steering).
"""
from __future__ import annotations

import collections
import dataclasses
import time
from pathlib import Path

from live.control import dispatch as control
from live.analysis.beat import BeatCounter, BeatTracker
from core.errors import LiveError
from live.analysis.features import hop_samples


@dataclasses.dataclass(frozen=True)
class VJOptions:
    midi: str | None = None  # input port name substring
    midi_map: str | None = None  # TOML file
    osc: str | None = None  # [HOST:]PORT to listen on
    osc_out: str | None = None  # HOST:PORT to send features to
    cut_on_beat: int | None = None  # new classes every N beats
    record: str | None = None  # folder


class VJ:
    def __init__(self, opts: VJOptions, samplerate: int, preset: str = "default"):
        """Checks everything that can be wrong with the options (fails fast, before the model loads)."""
        from live.control.osc import OscOut, OscServer
        from live.control.preset_watch import PresetWatcher

        self.opts = opts
        self.inbox = control.Inbox()
        self.beat = BeatTracker(hop_samples(samplerate) / samplerate)
        self.counter = BeatCounter(opts.cut_on_beat) if opts.cut_on_beat else None
        self._taps: collections.deque = collections.deque()  # time.monotonic of taps (main -> analysis)
        self.midi_ctl = self._midi_control(opts)
        self.midi_port = self.midi_name = None
        self.osc = OscServer(opts.osc, self.inbox) if opts.osc else None
        self.osc_out = OscOut(opts.osc_out) if opts.osc_out else None
        self.watcher = PresetWatcher()
        self.reloader = control.PresetReloader()
        path = control.preset_path(preset)
        if path is not None:
            self.watcher.watch(path)
        self.samplerate = samplerate
        self.recorder = None
        if opts.record:
            from live.output.record import check_folder
            check_folder(opts.record)
        self._recorder_error_shown = self._closed = False

    @staticmethod
    def _midi_control(opts: VJOptions):
        from live.control.midi import MidiControl, MidiMap, user_map_path

        if opts.midi_map:
            return MidiControl(MidiMap.load(opts.midi_map), Path(opts.midi_map).expanduser())
        user = user_map_path()
        if opts.midi and user.is_file():
            return MidiControl(MidiMap.load(user), user)
        return MidiControl(MidiMap(), user)

    def start(self, session: dict) -> "VJ":
        """Listen, open MIDI, start recording (`session`: seed, preset, model, params, classes...)."""
        if self.opts.record:
            from live.output.record import Recorder
            self.recorder = Recorder(self.opts.record, self.samplerate, session)
        if self.osc is not None:
            self.osc.start()
        if self.opts.midi:
            from live.control.midi import open_input
            try:
                self.midi_port, self.midi_name = open_input(self.opts.midi, lambda m: self.inbox.put(("midi", m)))
            except LiveError as e:
                control.report(f"{e} — continuing without MIDI")
        return self

    def close(self) -> None:
        """After the analysis thread has stopped (the recorder finishes its files here). Idempotent."""
        if self._closed:
            return
        self._closed = True
        for part in (self.osc, self.midi_port):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    pass
        if self.recorder is not None:
            self.recorder.close()

    # ---- analysis thread --------------------------------------------------------------------------------
    def on_frame(self, frame, t_capture: float) -> None:
        """Every feature frame; t_capture is the time.monotonic at which its last sample was captured."""
        while self._taps:  # monotonic -> audio time through this frame's capture time
            self.beat.tap(frame.time_s + (self._taps.popleft() - t_capture))
        is_beat = self.beat.push(frame.time_s, frame.flux)
        if self.counter is not None:
            if self.beat.tapped:
                self.counter.restart()  # the tapped beat is beat 1 of the next N
            elif is_beat and self.counter.beat():
                self.inbox.put(("cut",))
        if self.osc_out is not None:
            self.osc_out.send(frame, is_beat, self.beat.beats, self.beat.bpm)

    # ---- main thread ------------------------------------------------------------------------------------
    def actions(self) -> list[tuple]:
        return self.inbox.drain()

    def apply(self, look, action: tuple) -> tuple[list, str]:
        """Any action (keys, OSC, MIDI, beat) -> (commands for the analysis thread, toast text)."""
        consumed, toast = self.midi_ctl.intercept(action)
        if consumed:
            if action[0] == "midi_learn" and self.midi_port is None and self.midi_ctl.learning:
                toast += " — but no MIDI input is open (start with --midi NAME)"
            return [], toast
        kind = action[0]
        if kind == "midi":
            mapped, toast = self.midi_ctl.handle(action[1])
            return self.apply(look, mapped) if mapped else ([], toast)
        if kind == "tap":
            self._taps.append(time.monotonic())
            bpm = self.beat.bpm
            return [], "tap" + (f" — {bpm:.0f} BPM" if bpm else "")
        return control.apply(look, action)

    def tick(self, look) -> list[tuple[list, str]]:
        out = self.reloader.changed(look, self.watcher.poll())
        rec = self.recorder
        if rec is not None and rec.error and not self._recorder_error_shown:
            self._recorder_error_shown = True
            out.append(([], rec.error))
        return out

    def hud(self) -> str:
        bpm = self.beat.bpm
        parts = [f"BPM {bpm:.0f} " + "".join("*" if i == (self.beat.beats - 1) % 4 else "." for i in range(4))
                 if bpm else "BPM -"]
        if self.counter is not None:
            parts.append(f"cut {self.counter}")
        if self.midi_name:
            parts.append(f"MIDI {self.midi_name[:20]}" + (" LEARN" if self.midi_ctl.learning is not None else ""))
        if self.osc is not None:
            parts.append(f"OSC :{self.osc.port}")
        if self.recorder is not None:
            s = int(self.recorder.seconds)
            parts.append("REC " + ("stopped" if self.recorder.error else f"{s // 60:02d}:{s % 60:02d}"))
        return "   ".join(parts)


# ---- command line ----------------------------------------------------------------------------------------


def add_flags(p) -> None:
    """The VJ flags of live mode (argparse parser)."""
    g = p.add_argument_group("VJ control (live mode; see also --replay under export)")
    g.add_argument("--midi", metavar="NAME", help="MIDI input: part of its port name (missing: live goes on "
                   "without MIDI). Default map: nanoKONTROL2 faders CC 0-5 / knobs CC 16-21 = p e j u s n "
                   "parameters, CC 32-35 = cut, freeze, reseed, tap; program change n = preset n+1")
    g.add_argument("--list-midi", action="store_true", help="list MIDI input ports and exit")
    g.add_argument("--midi-map", metavar="FILE.toml",
                   help="CC -> parameter/action map ([cc] 7 = \"truncation\"); `m` (learn) saves into it")
    g.add_argument("--osc", metavar="[HOST:]PORT", help="listen for OSC: /live/<parameter> f, /live/preset s, "
                   "/live/classes s, /live/freeze i, /live/cut, /live/tap (host 127.0.0.1 unless given)")
    g.add_argument("--osc-out", metavar="HOST:PORT",
                   help="send /live/features/flux, /power, /chroma (12) every frame and /beat on beats")
    g.add_argument("--cut-on-beat", type=int, metavar="N", help="new random classes every N beats (t taps)")
    g.add_argument("--record", metavar="DIR", help="record the set: audio.wav, events.jsonl, session.json, "
                   "latents.npz; re-render it with --export --replay DIR")


def options_from(args) -> VJOptions:
    if args.cut_on_beat is not None and not 1 <= args.cut_on_beat <= 1024:
        raise LiveError(f"--cut-on-beat {args.cut_on_beat} is out of range 1–1024")
    return VJOptions(midi=args.midi, midi_map=args.midi_map, osc=args.osc, osc_out=args.osc_out,
                     cut_on_beat=args.cut_on_beat, record=args.record)


def list_midi() -> int:
    from live.control.midi import input_names

    names = input_names()
    print("\n".join(names) if names else "no MIDI input ports")
    return 0
