"""The VJ rig of live mode in one object: OSC in/out, MIDI, beat tracking and beat cuts, tap tempo, preset
hot reload, recording. The runtime calls it from two threads:

  analysis thread: on_frame(frame, t_capture) for every feature frame (beat, tap, OSC out); recorder hooks
  main thread:     actions() (queued OSC/MIDI/beat actions, for the dispatcher), tap() for Tap actions,
                   tick(preset) about every frame (hot reload, recorder errors), hud()

Nothing here touches the walker or the look: inputs become actions (live.control.actions) for the dispatcher.
"""
from __future__ import annotations

import collections
import time
from pathlib import Path

from core.errors import LiveError, warn
from live.analysis.beat import BeatCounter, BeatTracker
from live.analysis.features import hop_samples
from live.control import actions as A
from live.control.dispatch import Inbox
from live.control.presets import PresetReloader, PresetWatcher, preset_path


class VJ:
    def __init__(self, opts, samplerate: int, preset: str = "default"):
        """`opts`: live.options.VJOptions."""
        """Checks everything that can be wrong with the options (fails fast, before the model loads)."""
        from live.control.osc import OscOut, OscServer

        self.opts = opts
        self.inbox = Inbox()
        self.beat = BeatTracker(hop_samples(samplerate) / samplerate)
        self.counter = BeatCounter(opts.cut_on_beat) if opts.cut_on_beat else None
        self._taps: collections.deque = collections.deque()  # time.monotonic of taps (main -> analysis)
        self.midi_ctl = self._midi_control(opts)
        self.midi_port = None
        self.osc = OscServer(opts.osc, self.inbox) if opts.osc else None
        self.osc_out = OscOut(opts.osc_out) if opts.osc_out else None
        self.watcher = PresetWatcher()
        self.reloader = PresetReloader()
        path = preset_path(preset)
        if path is not None:
            self.watcher.watch(path)
        self.samplerate = samplerate
        self.recorder = None
        if opts.record:
            from live.output.record import check_folder
            check_folder(opts.record)
        self._recorder_error_shown = self._closed = False

    @staticmethod
    def _midi_control(opts):
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
                self.midi_port, self.midi_ctl.port_name = open_input(
                    self.opts.midi, lambda m: self.inbox.put(A.MidiMessage(m)))
            except LiveError as e:
                warn(f"{e} — continuing without MIDI")
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
                self.inbox.put(A.NewClasses())
        if self.osc_out is not None:
            self.osc_out.send(frame, is_beat, self.beat.beats, self.beat.bpm)

    # ---- main thread ------------------------------------------------------------------------------------
    def actions(self) -> list[A.Action]:
        return self.inbox.drain()

    def tap(self) -> str:
        """A Tap action: taken on the analysis thread's next frame at the time it was dispatched."""
        self._taps.append(time.monotonic())
        bpm = self.beat.bpm
        return "tap" + (f" — {bpm:.0f} BPM" if bpm else "")

    def tick(self, preset: str) -> list[tuple[list[A.Action], str]]:
        """(actions, toast) from edited preset files and recorder errors; `preset`: the one in force."""
        out = self.reloader.changed(preset, self.watcher.poll())
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
        name = self.midi_ctl.port_name
        if name:
            parts.append(f"MIDI {name[:20]}" + (" LEARN" if self.midi_ctl.learning is not None else ""))
        if self.osc is not None:
            parts.append(f"OSC :{self.osc.port}")
        if self.recorder is not None:
            s = int(self.recorder.seconds)
            parts.append("REC " + ("stopped" if self.recorder.error else f"{s // 60:02d}:{s % 60:02d}"))
        return "   ".join(parts)
