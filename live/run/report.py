"""What a live set measures and tells: per shown tick (latency, displayed and distinct images, cuts), the HUD
lines, a status every second to OSC out (and every few seconds to the log without a window), and the --stats
figures at the end."""
from __future__ import annotations

import collections
import sys
import time

from engine.hints import int8_hint
from live.classes import LABELS
from live.control.look import format_row
from live.control.web.protocol import look_state
from live.run.stats import LatencyHist, rate

LOG_EVERY_S = 10.0  # --no-window: the HUD figures as one log line this often
WEB_FIGURES_EVERY_S = 0.5  # the web pages' HUD figures (a change of the look goes out at once)


class Report:
    def __init__(self, audio, analysis, renderer, engine, presenter, outputs, vj, guard, log: bool):
        self.audio, self.analysis, self.renderer, self.engine = audio, analysis, renderer, engine
        self.presenter, self.outputs, self.vj, self.guard, self.log = presenter, outputs, vj, guard, log
        self.hist = LatencyHist()
        self.flips: collections.deque = collections.deque(maxlen=240)  # every tick shown
        self.changes: collections.deque = collections.deque(maxlen=240)  # ticks with a new image
        self.displayed = self.distinct = 0
        self.cuts: collections.deque = collections.deque(maxlen=2000)
        self._next_status = self._next_log = self._next_figures = 0.0
        self._web_figures: dict = {}
        self._web_look: tuple = ()  # the look the web pages were last sent
        self.link: dict | None = None  # Link's figures as the set ended

    def shown(self, shown, t_flip: float) -> None:
        self.displayed += 1
        self.flips.append(t_flip)
        if shown.distinct:
            self.distinct += 1
            self.changes.append(t_flip)
            self.hist.add((t_flip - shown.t_capture) * 1000)
        if shown.cut:
            target = self.presenter.target
            mark = target.cut
            self.cuts.append(dict(seq=shown.cut, show_at=round(mark.show_at, 4), shown=round(t_flip, 4),
                                  error_ms=round((t_flip - mark.show_at) * 1000, 2),
                                  ready=round(target.t_ready, 4),  # its frame: after show_at, a late render
                                  asked=round(mark.t_dispatch, 4)))

    # ---- live figures ----------------------------------------------------------------------------------------
    def figures(self) -> dict:
        lat = sorted(self.hist.recent)
        return dict(render_fps=rate(self.renderer.render_times), display_fps=rate(self.flips),
                    images_fps=rate(self.changes), latency_ms=lat[len(lat) // 2] if lat else None)

    def hud(self, look) -> list[str]:
        f = self.figures()
        lat_s = f"{f['latency_ms']:.0f} ms" if f["latency_ms"] is not None else "-"
        state = {"ok": "", "starting": "  (waiting for audio)", "no input": "  NO INPUT - reconnecting"}
        steer = self.analysis.steer  # the classes in force (lyrics lines change them on the analysis thread)
        names = ", ".join(LABELS[i] for i in dict.fromkeys(steer.classes[: steer.params.num_classes]))  # LRC
        sel = look.selected
        smooth = "   smooth" if self.presenter.interpolating else ""
        guard = f"   flash guard {self.guard.limited}" if self.guard is not None else ""
        lines = [f"render {f['render_fps']:.1f} fps   display {f['display_fps']:.1f} fps   images "
                 f"{f['images_fps']:.1f}/s   latency {lat_s}{smooth}",
                 f"{self.engine.name}  {self.engine.resolution}px   preset {look.preset}"
                 + ("   FROZEN" if look.frozen else "") + guard,
                 f"in: {self.audio.device_name[:32]}{state.get(self.audio.status, '')}   xruns {self.audio.xruns}",
                 f"classes: {names[:70]}" + ("..." if len(names) > 70 else ""),
                 f"[{look.format(sel)}]   (? for keys, b for the source meters)",
                 self.vj.hud(), int8_hint(self.engine, f["render_fps"])]
        rows = [format_row(look.matrix, i) for i in range(1, len(look.matrix.rows) + 1)]
        for i in range(0, len(rows), 3):  # the matrix, three rows to a line
            lines.append("   ".join(rows[i:i + 3]))
        return lines + ([self.outputs.hud()] if self.outputs else [])

    def web_figures(self) -> dict:
        """The HUD's figures for the web pages."""
        return dict(self.figures(), level=round(self.analysis.level, 3), backend=self.engine.name,
                    resolution=int(self.engine.resolution), bpm=self.vj.beat.bpm, link=self.vj.link_stats(),
                    outputs=self.outputs.stats(), input=self.audio.device_name, status=self.audio.status)

    def periodic(self, now: float, look) -> None:
        """OSC out /live/status/* every second; without a window, the HUD as a log line every LOG_EVERY_S;
        the web pages' state when the look changed, and every WEB_FIGURES_EVERY_S for the figures."""
        web = self.vj.web
        if web is not None:
            steer = self.analysis.steer  # the classes in force, as the HUD shows them
            classes = tuple(steer.classes[: steer.params.num_classes])
            key = (look.params, look.preset, look.frozen, look.seed, look.matrix, classes)  # cheap, every tick
            if key != self._web_look or now >= self._next_figures:
                if now >= self._next_figures:
                    self._next_figures, self._web_figures = now + WEB_FIGURES_EVERY_S, self.web_figures()
                self._web_look = key
                web.publish(dict(look_state(look, list(classes)), hud=self._web_figures))
        osc = self.vj.osc_out
        if osc is not None and now >= self._next_status:
            self._next_status = now + 1.0
            f = self.figures()
            for key, value in f.items():
                osc.message(f"/live/status/{key}", float(value or 0.0))
            link = self.vj.link_stats()
            if link is not None:
                osc.message("/live/status/link", [float(link["tempo"]), int(link["peers"])])
            for s in self.outputs.stats():
                osc.message(f"/live/status/output/{s['kind']}", [int(s["sent"]), int(s["dropped"])])
        if self.log and now >= self._next_log:
            if self._next_log:
                lines = self.hud(look)
                print("live: " + " | ".join(line.strip() for line in lines[:3] + lines[5:] if line.strip()),
                      file=sys.stderr, flush=True)
            self._next_log = now + LOG_EVERY_S

    # ---- the --stats file ------------------------------------------------------------------------------------
    def stats(self, duration: float) -> dict:
        r, a = self.renderer, self.audio
        per_s = (lambda n: round(n / duration, 2) if duration > 0 else 0.0)
        cut_errors = sorted(abs(c["error_ms"]) for c in self.cuts)
        return dict(frames_rendered=r.rendered, frames_displayed=self.displayed, images_displayed=self.distinct,
                    duration_s=round(duration, 3), fps_rendered=per_s(r.rendered),
                    fps_displayed=per_s(self.displayed), images_per_s=per_s(self.distinct),
                    latency_ms_p50=self.hist.percentile(50), latency_ms_p95=self.hist.percentile(95),
                    xruns=a.xruns, dropped_frames=r.dropped, backend=self.engine.name,
                    resolution=int(self.engine.resolution), device=a.device_name, samplerate=a.samplerate,
                    input_reopens=a.reopens, motion=round(r.motion_sum / max(1, r.motion_n), 3),
                    **self.presenter.stats(), window=not self.log,
                    outputs=self.outputs.stats(), link=self.link,
                    flash_guard=self.guard.stats() if self.guard is not None else None,
                    beat_cuts=dict(shown=len(self.cuts), late=self.vj.planner.late if self.vj.planner else 0,
                                   skipped=self.vj.planner.skipped if self.vj.planner else 0,
                                   lead_ms=round(self.vj.planner.lead() * 1000, 1) if self.vj.planner else None,
                                   error_ms_p50=cut_errors[len(cut_errors) // 2] if cut_errors else None,
                                   error_ms_max=cut_errors[-1] if cut_errors else None,
                                   cuts=list(self.cuts)),
                    time_monotonic_end=round(time.monotonic(), 4))
