"""The VJ rig of live mode in one object: OSC in/out, MIDI, the web page, beat tracking and beat cuts, tap tempo,
preset hot reload, recording. The runtime calls it from two threads:

  analysis thread: on_frame(frame, t_capture, sources) for every feature frame (beat, tap, OSC out);
                   recorder hooks
  main thread:     actions() (queued OSC/MIDI actions and planned beat cuts, for the dispatcher), tap() for
                   Tap actions, set_link() for Link on/off, tick(preset) about every frame (hot reload,
                   recorder errors), hud(), cut_time() for the presenter (a held Link cut's beat, re-timed)
  link thread:     beat-synced OSC out while the Link session has peers

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
from live.control.cuts import CutPlanner, Forecast
from live.control.dispatch import Inbox
from live.control.presets import PresetReloader, PresetWatcher, preset_path

LINK_SETTLE_S = 1.0  # Link leads the cuts once its session has had peers this long


class VJ:
    def __init__(self, opts, samplerate: int, preset: str = "default"):
        """`opts`: live.options.VJOptions."""
        """Checks everything that can be wrong with the options (fails fast, before the model loads)."""
        from live.control.osc import OscServer
        from live.control.osc_out import OscOut

        self.opts = opts
        self.inbox = Inbox()
        self.beat = BeatTracker(hop_samples(samplerate) / samplerate)
        self.counter = BeatCounter(opts.cut_on_beat) if opts.cut_on_beat else None
        self.planner = CutPlanner(opts.cut_on_beat) if opts.cut_on_beat else None
        self.cut_beats = 0  # cut beats the tracker has fired
        self._forecast: Forecast | None = None  # the tracker's next cut beat (analysis -> main thread)
        self.link = None
        self._link_since: float | None = None  # since when the Link session has had peers
        self._taps: collections.deque = collections.deque()  # time.monotonic of taps (main -> analysis)
        self.midi_ctl = self._midi_control(opts)
        self.midi_port = None
        self.osc = OscServer(opts.osc, self.inbox) if opts.osc else None
        self.osc_out = OscOut(opts.osc_out) if opts.osc_out else None
        self.web = None
        if opts.web:
            from live.control.web.server import WebControl
            self.web = WebControl(opts.web, self.inbox)
        self.watcher = PresetWatcher()
        self.reloader = PresetReloader()
        path = preset_path(preset)
        if path is not None:
            self.watcher.watch(path)
        self.samplerate = samplerate
        self.recorder = None
        if opts.record:
            from live.recordings.record import check_folder
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
            from live.recordings.record import Recorder
            self.recorder = Recorder(self.opts.record, self.samplerate, session)
        if self.osc is not None:
            self.osc.start()
        if self.web is not None:
            self.web.start()
        if self.opts.midi:
            from live.control.midi import open_input
            try:
                self.midi_port, self.midi_ctl.port_name = open_input(
                    self.opts.midi, lambda m: self.inbox.put(A.MidiMessage(m)))
            except LiveError as e:
                warn(f"{e} — continuing without MIDI")
        if self.opts.link:
            self.set_link(True)
        return self

    def close(self) -> None:
        """After the analysis thread has stopped (the recorder finishes its files here). Idempotent."""
        if self._closed:
            return
        self._closed = True
        for part in (self.link, self.osc, self.web):
            if part is not None:
                part.close()
        if self.midi_port is not None:
            try:
                self.midi_port.close()
            except (OSError, RuntimeError) as e:  # rtmidi's errors (a port that went away)
                warn(f"MIDI: closing {self.midi_ctl.port_name!r} failed ({e})")
        for action in self.inbox.drain():  # what came in after the main thread's last look
            if isinstance(action, A.Report):
                warn(action.text)  # e.g. the OSC input's last held-back problems, told as it closed
        if self.recorder is not None:
            self.recorder.close()

    # ---- analysis thread --------------------------------------------------------------------------------
    def on_frame(self, frame, t_capture: float, sources=None) -> None:
        """Every feature frame; t_capture is the time.monotonic at which its last sample was captured;
        sources: the frame's modulation sources (live.analysis.sources.Sources), sent to OSC out."""
        while self._taps:  # monotonic -> audio time through this frame's capture time
            self.beat.tap(frame.time_s + (self._taps.popleft() - t_capture))
        beat = self.beat
        is_beat = beat.push(frame.time_s, frame.flux)
        if beat.tapped and beat.tap_bpm and self.link is not None:
            self.link.propose_tempo(beat.tap_bpm)  # tap tempo sets the session's tempo
        if self.counter is not None:
            if beat.tapped:
                self.counter.restart()  # the tapped beat is beat 1 of the next N
            elif is_beat and self.counter.beat():
                self.cut_beats += 1
            cut_next = self.counter.count + 1 >= self.counter.every and beat.next_beat is not None
            self._forecast = Forecast(t_capture + beat.next_beat - frame.time_s if cut_next else None,
                                      beat.period or 0.5, self.cut_beats)
        if self.osc_out is not None:  # beats from Link go out on the Link thread, on the beat
            self.osc_out.send(frame, is_beat and not self.link_leads(), beat.beats, beat.bpm)
            if sources is not None:
                self.osc_out.sources(sources.names, sources.values)

    # ---- Link ----------------------------------------------------------------------------------------------
    def link_leads(self) -> bool:
        """Link drives beat cuts and beat messages while its session has other peers."""
        return self.link is not None and self.link.state().peers > 0

    def beat_clock(self, t: float) -> tuple[float, float] | None:
        """(Link's beat at time.monotonic t, its tempo) while Link leads, else None (the tracker leads)."""
        if not self.link_leads():
            return None
        st = self.link.state()
        return st.beat_at(t), st.tempo

    def _link_beat(self, beat: int, bpm: float) -> None:
        if self.osc_out is not None and self.link_leads():
            self.osc_out.beat(beat, bpm)

    def set_link(self, on: bool | None = None) -> str:
        """Join (True), leave (False) or toggle (None) the Link session; the toast text."""
        on = self.link is None if on is None else on
        if on and self.link is None:
            from live.control.link import LinkSession
            try:
                self.link = LinkSession(self.opts.link_quantum, self.beat.bpm or 120.0,
                                        self._link_beat if self.osc_out is not None else None)
            except LiveError as e:
                return warn(f"{e} — continuing with the beat tracker")
        elif not on and self.link is not None:
            self.link.close()
            self.link = None
        return "Link on" if on else "Link off: beat tracker"

    def forecast(self, now: float) -> Forecast | None:
        """The next cut beat, from Link when it has peers, else from the beat tracker."""
        if self.link is not None:
            st = self.link.state()
            if not (st.peers > 0 and st.enabled):
                self._link_since = None
            elif self._link_since is None:
                self._link_since = now  # a joining peer's timeline takes a moment to settle
            elif now - self._link_since >= LINK_SETTLE_S:
                every = self.planner.every
                self.planner.fired = self.cut_beats  # tracked beats do not cut while Link leads
                beat = st.next_beat(every, after=now)
                return Forecast(st.time_of(beat), 60.0 / st.tempo, beat=beat)
        return self._forecast

    def cut_time(self, show_at: float, beat: float | None) -> float:
        """When a held cut is due now: on Link, the time of its beat at the session's present tempo."""
        if beat is not None and self.link is not None:
            st = self.link.state()
            if st.peers > 0 and st.enabled:
                return st.time_of(beat)
        return show_at

    # ---- main thread ------------------------------------------------------------------------------------
    def actions(self, now: float | None = None) -> list[A.Action]:
        out = self.inbox.drain()
        if self.planner is not None:
            now = time.monotonic() if now is None else now
            cut = self.planner.poll(now, self.forecast(now))
            if cut is not None:
                out.append(cut)
        return out

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

    def link_stats(self) -> dict | None:
        if self.link is None:
            return None
        st = self.link.state()
        return dict(enabled=st.enabled, tempo=round(st.tempo, 2), peers=st.peers, quantum=st.quantum,
                    leads=st.peers > 0 and st.enabled)

    def hud(self) -> str:
        st = self.link.state() if self.link is not None else None
        if st is not None and st.peers > 0:
            phase = int(st.beat_at(time.monotonic()) % st.quantum)
            parts = [f"LINK {st.tempo:.1f} BPM {st.peers} peer{'s' if st.peers > 1 else ''} "
                     + "".join("*" if i == phase else "." for i in range(int(st.quantum)))]
        else:
            bpm = self.beat.bpm
            parts = [f"BPM {bpm:.0f} " + "".join("*" if i == (self.beat.beats - 1) % 4 else "." for i in range(4))
                     if bpm else "BPM -"]
            if st is not None:
                parts.append("LINK no peers" if st.enabled else "LINK off")
        if self.counter is not None:
            parts.append(f"cut {self.counter}")
        name = self.midi_ctl.port_name
        if name:
            parts.append(f"MIDI {name[:20]}" + (" LEARN" if self.midi_ctl.learning is not None else ""))
        if self.osc is not None:
            parts.append(f"OSC :{self.osc.port}")
        if self.web is not None:
            parts.append(self.web.hud())
        if self.recorder is not None:
            s = int(self.recorder.seconds)
            parts.append("REC " + ("stopped" if self.recorder.error else f"{s // 60:02d}:{s % 60:02d}"))
        return "   ".join(parts)
