"""The presenter on a simulated clock: display-rate blending when the engine is slower than the display,
none when it is faster, a beat cut held to its beat and shown unfaded, and the added latency measured."""
import numpy as np
import pytest

from live.control.cuts import CutPlanner, Forecast
from live.show.present import Presenter
from live.show.present import CutMark, Rendered


def img(v):
    return np.full((8, 8, 3), v, np.uint8)


def run(presenter, renders, until, step=0.001):
    """renders: (time ready, Rendered); ticks whenever the presenter says so. Returns (time, Shown) pairs."""
    shown, renders, t = [], list(renders), 0.0
    while t < until:
        while renders and renders[0][0] <= t:
            presenter.push(renders.pop(0)[1], t)
        due = presenter.due(t)
        if due is not None and due <= t + 1e-9:
            s = presenter.tick(t)
            if s is not None:
                shown.append((t, s))
        t = round(t + step, 6)
    return shown


def frames(n, every, cut_at=None, cut=None):
    out = []
    for i in range(n):
        t = 0.01 + i * every
        out.append((t, Rendered(img(i * 20 % 250), t - 0.03, cut if cut_at is not None and i >= cut_at else None, t)))
    return out


def test_slow_engine_is_blended_at_display_rate_with_its_latency_measured():
    p = Presenter(60, "auto")
    shown = run(p, frames(10, 0.1), 1.0)  # 10 fps into a 60 Hz display
    assert p.interpolating
    late = [s for t, s in shown if t > 0.35]
    assert 50 <= len(shown) <= 62  # a tick every 1/60 s
    assert sum(s.distinct for s in late) >= 0.8 * len(late)  # nearly every tick a new image
    values = [int(s.img[0, 0, 0]) for s in late]
    assert len(set(values)) > 3 * len({int(r.img[0, 0, 0]) for _, r in frames(10, 0.1)[4:]}) // 2
    assert 0 < p.stats()["added_latency_ms"] < 100


def test_fast_engine_is_shown_as_rendered():
    p = Presenter(60, "auto")
    renders = frames(60, 0.01)
    shown = run(p, renders, 0.6)  # 100 fps into 60 Hz: no blending, the newest frame as it comes
    assert not p.interpolating and p.stats()["added_latency_ms"] == 0
    rendered = {id(r.img) for _, r in renders}
    assert all(id(s.img) in rendered for _, s in shown)


def test_interpolate_off_shows_each_rendered_frame_once():
    p = Presenter(60, "off")
    shown = run(p, frames(10, 0.1), 1.0)
    assert len(shown) == 10 and not p.interpolating


@pytest.mark.parametrize("vsync", [False, True])
def test_a_cut_frame_is_held_until_its_beat_and_shown_unfaded(vsync):
    mark = CutMark(1, show_at=0.6, t_dispatch=0.45)
    ready = []
    p = Presenter(60, "on", on_cut_ready=ready.append, vsync=vsync)
    shown = run(p, frames(10, 0.1, cut_at=5, cut=mark), 1.0)  # the cut's first frame is ready at 0.51
    first = next((t, s) for t, s in shown if s.cut == 1)
    # on the beat; a vsync'd flip waits for the next refresh: released half a display period early
    assert abs(first[0] - (0.6 - (1 / 120 if vsync else 0))) <= 0.0011
    assert first[1].img[0, 0, 0] == 100  # the cut frame itself, not a fade towards it
    assert all(s.cut == 0 for t, s in shown if t < first[0])
    assert len(ready) == 1 and abs(ready[0] - 0.06) < 1e-6  # dispatch to first frame, for the planner


def test_a_held_link_cut_follows_a_tempo_change_to_its_beat():
    """The cut was planned for beat 8 at 120 BPM (t = 4.0 s); the session slows to 96 BPM while it waits."""
    tempo = [120.0]
    mark = CutMark(1, show_at=4.0, t_dispatch=3.8, beat=8.0)
    changed = 3.9  # beat 7.8 at 120 BPM; from here on 96 BPM

    def cut_time(show_at, beat):
        return changed + (beat - 7.8) * 60 / tempo[0]

    p = Presenter(60, "off", cut_time=cut_time)
    p.push(Rendered(img(0), 3.7, None, 3.7), 3.7)
    p.tick(3.7)
    p.push(Rendered(img(100), 3.85, mark, 3.85), 3.85)
    tempo[0] = 96.0
    assert p.due(3.95) == changed + 0.2 * 60 / 96  # 4.025, not 4.0
    assert p.tick(4.0).cut == 0 and p.tick(4.025).cut == 1
    assert p.target.cut.show_at == 4.025  # the stats see the time it was due


def test_planner_asks_for_a_cut_lead_ahead_and_cuts_late_when_a_beat_comes_early():
    plan = CutPlanner(4, display_period=1 / 60, prior_lead=0.05)
    assert plan.poll(1.0, Forecast(1.2, 0.5, 0)) is None  # too early
    cut = plan.poll(1.2 - plan.lead(), Forecast(1.2, 0.5, 0))
    assert cut is not None and cut.show_at == 1.2
    assert plan.poll(1.19, Forecast(1.2, 0.5, 0)) is None  # planned once
    plan.measured(0.08)
    assert plan.lead() > 0.08
    # the tracker fired a cut beat that was never planned (it came early): cut at once
    late = plan.poll(5.0, Forecast(None, 0.5, 2))
    assert late is not None and late.show_at is None and plan.late == 1


def test_a_link_cut_beat_first_seen_less_than_a_lead_ahead_is_skipped_not_late():
    plan = CutPlanner(2, display_period=1 / 60, prior_lead=0.1)
    lead = plan.lead()
    assert plan.poll(10.0, Forecast(10.0 + lead / 2, 0.5, beat=8.0)) is None  # Link starts leading: too near
    assert plan.skipped == 1
    assert plan.poll(10.2, Forecast(11.0, 0.5, beat=10.0)) is None  # the next one is seen in time...
    cut = plan.poll(11.0 - lead, Forecast(11.0, 0.5, beat=10.0))
    assert cut is not None and (cut.show_at, cut.beat) == (11.0, 10.0) and plan.skipped == 1  # ...and cut
