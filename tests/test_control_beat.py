"""Beat tracking on flux frames (tempo, phase, tempo changes), tap tempo, beat-counted cuts."""
import numpy as np
import pytest

from live.analysis.beat import BeatCounter, BeatTracker
from live.analysis.features import FeatureExtractor, Frame
from live.control.actions import NewClasses
from live.control.vj import VJ
from live.options import VJOptions
from tests import vmic

HOP = 512 / 22050


def pulses(times, seconds, noise=0.1, seed=0):
    """Flux frames: noise plus an onset on the frame nearest each time."""
    n = int(seconds / HOP)
    flux = noise * np.random.default_rng(seed).random(n)
    for t in times:
        k = int(round(t / HOP)) - 1
        if 0 <= k < n:
            flux[k] += 1.0
    return (np.arange(n) + 1) * HOP, flux


def run(tracker, t, flux):
    return np.array([ti for ti, fi in zip(t, flux) if tracker.push(ti, fi)])


@pytest.mark.parametrize("bpm", [90, 120, 128, 150])
def test_tempo_and_beats_lock_onto_a_steady_pulse(bpm):
    truth = np.arange(0.1, 20, 60 / bpm)
    tracker = BeatTracker(HOP)
    beats = run(tracker, *pulses(truth, 20))
    assert tracker.bpm == pytest.approx(bpm, rel=0.02)
    late = beats[beats > 8]  # after the first estimates: every beat on a pulse, none missed or doubled
    assert len(late) == np.sum(truth > 8 + HOP) or len(late) == np.sum(truth > 8)
    assert max(np.min(np.abs(truth - b)) for b in late) < 1.5 * HOP


def test_tempo_change_is_followed_without_flapping():
    truth = list(np.arange(0.1, 15, 0.5)) + list(np.arange(15.1, 35, 60 / 140))
    tracker = BeatTracker(HOP)
    t, flux = pulses(truth, 35)
    bpms = []
    for ti, fi in zip(t, flux):
        tracker.push(ti, fi)
        bpms.append(tracker.bpm or 0)
    bpms = np.array(bpms)
    assert np.allclose(bpms[(t > 6) & (t < 15)], 120, rtol=0.02)
    assert np.allclose(bpms[t > 25], 140, rtol=0.02)


def test_no_tempo_and_no_beats_in_noise_or_silence():
    for noise in (0.0, 0.2):
        tracker = BeatTracker(HOP)
        t, flux = pulses([], 10, noise=noise, seed=3)
        assert len(run(tracker, t, flux)) == 0 and tracker.bpm is None


def test_tap_tempo_sets_tempo_and_phase_at_once():
    tracker = BeatTracker(HOP)
    t, flux = pulses([], 8, noise=0.0)
    taps = [2.0, 2.6, 3.2, 3.8]
    beats = []
    for ti, fi in zip(t, flux):
        while taps and taps[0] <= ti:
            tracker.tap(taps.pop(0))
        if tracker.push(ti, fi):
            beats.append(ti)
    assert tracker.bpm == pytest.approx(100, rel=0.03)
    after = np.array([b for b in beats if b > 3.9])
    assert len(after) >= 5 and np.allclose(np.diff(after), 0.6, atol=1.5 * HOP)
    assert np.min(np.abs(after[0] - 4.4)) < 1.5 * HOP  # on the tapped grid


def test_real_features_of_music_find_its_120_bpm():
    import soundfile as sf

    import tempfile
    with tempfile.TemporaryDirectory() as d:
        y, sr = sf.read(str(vmic.write_music(f"{d}/m.wav", 10)), dtype="float32")
    fx = FeatureExtractor(sr)
    tracker = BeatTracker(fx.hop_s)
    beats = np.array([f.time_s for f in fx.push(y) if tracker.push(f.time_s, f.flux)])
    assert tracker.bpm == pytest.approx(120, rel=0.02)
    assert np.allclose(np.diff(beats[beats > 5]), 0.5, atol=1.5 * fx.hop_s)


def test_counter_fires_every_n_beats_and_restarts_on_a_tap():
    c = BeatCounter(4)
    assert [c.beat() for _ in range(8)] == [False, False, False, True] * 2
    c.beat()
    c.restart()
    assert [c.beat() for _ in range(4)] == [False, False, False, True]


def test_vj_plans_a_cut_every_n_beats_ahead_of_its_beat():
    """Frames stamped with their capture time as the clock: each cut is asked for `lead` before its beat and
    carries the beat's time, on the pulses' 0.5 s grid."""
    vj = VJ(VJOptions(cut_on_beat=4), 22050)
    t, flux = pulses(np.arange(0.1, 20, 0.5), 20)
    cuts = []
    for i, (ti, fi) in enumerate(zip(t, flux)):
        vj.on_frame(Frame(i, ti, np.zeros(12, np.float32), fi, 0.0), t_capture=ti)
        cuts += [(ti, a) for a in vj.actions(now=ti)]
    assert cuts and all(isinstance(a, NewClasses) for _, a in cuts)
    assert abs(len(cuts) - vj.beat.beats // 4) <= 1
    planned = [(now, a.show_at) for now, a in cuts[2:] if a.show_at is not None]  # once the tempo settled
    assert len(planned) >= len(cuts) - 3
    lead = vj.planner.lead()
    for now, show_at in planned:
        assert 0 < show_at - now <= lead + 0.03  # asked for ahead of its beat, by about the lead
        assert abs((show_at - 0.1 + 0.25) % 0.5 - 0.25) < 0.03  # on a beat of the music
    assert np.allclose(np.diff([s for _, s in planned]), 2.0, atol=0.05)  # every 4 beats of 120 BPM
    assert vj.hud().startswith("BPM 120") and "cut " in vj.hud()
    vj.close()
