import dataclasses

import numpy as np
import pytest

from live.config import WalkerParams
from live.analysis.features import FeatureExtractor, Frame
from live.walk.walker import Walker

HOP = 512 / 22050
CLASSES = list(range(100, 112))


def frames_from(fn, seconds, hop_s=HOP):
    """Frames from fn(t) -> (chroma[12], flux, power) on a hop grid."""
    out = []
    for i in range(int(seconds / hop_s)):
        t = (i + 1) * hop_s
        chroma, flux, power = fn(t)
        out.append(Frame(i, t, np.asarray(chroma, np.float32), float(flux), float(power)))
    return out


def music_like(t):
    """Drive and harmony that vary smoothly in time (pitch class moves every 2 s)."""
    chroma = np.full(12, 0.1)
    chroma[int(t // 2) * 5 % 12] = 1.0
    drive = 0.5 + 0.4 * np.sin(2 * np.pi * t / 3.0)
    return chroma, 0.5 * drive, drive


def silence(t):
    return np.zeros(12), 0.0, 0.0


def run(frames, params=WalkerParams(), classes=CLASSES, seed=0, hop_s=HOP):
    w = Walker(params, classes, seed, hop_s)
    states = [w.step(f) for f in frames]
    return np.array([s.z for s in states]), np.array([s.c for s in states]), np.array([s.t for s in states])


def path(a):
    return float(np.abs(np.diff(a, axis=0)).sum())


def test_output_types():
    w = Walker(WalkerParams(), [1, 2], 0, HOP)
    s = w.step(frames_from(music_like, HOP)[0])
    assert s.z.dtype == np.float32 and s.z.shape == (128,)
    assert s.c.dtype == np.float32 and s.c.shape == (1000,)
    assert isinstance(s.t, float) and s.t == 1.0
    assert set(np.nonzero(s.c)[0]) == {1, 2}


@pytest.mark.parametrize("trunc, tempo", [(1.0, 0.25), (0.3, 2.0), (0.02, 1.0)])
def test_z_bounded_over_long_loud_input(trunc, tempo):
    rng = np.random.default_rng(0)
    loud = frames_from(lambda t: (rng.random(12), 1.0, 1.0), 60)
    params = WalkerParams(truncation=trunc, tempo_sensitivity=tempo, jitter=0.0)
    z, _, t = run(loud, params)
    assert np.all(np.abs(z) <= 2 * t[:, None] + 1e-6)
    assert np.all(t == trunc)
    assert path(z) > 0  # it does move (it bounces instead of sticking)
    assert np.ptp(z, axis=0).min() > trunc  # every unit travels across a good part of its range


def test_deterministic_per_seed():
    frames = frames_from(music_like, 10)
    a, b, other = run(frames, seed=5), run(frames, seed=5), run(frames, seed=6)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert not np.array_equal(a[0], other[0])


def test_music_moves_more_than_silence():
    zm, cm, _ = run(frames_from(music_like, 10))
    zs, cs, _ = run(frames_from(silence, 10))
    assert path(zs) < 1e-3 * path(zm)
    assert path(cs) < 1e-3 * path(cm)
    assert path(zm) > 100 and path(cm) > 1


@pytest.mark.parametrize("classes, dominant", [(CLASSES, 4), (CLASSES, 9), ([7, 8, 9], 9)])
def test_class_follows_dominant_pitch_class(classes, dominant):
    def tone(t):
        chroma = np.full(12, 0.1)
        chroma[dominant] = 1.0
        return chroma, 0.2, 0.5
    _, c, _ = run(frames_from(tone, 15), WalkerParams(num_classes=len(classes)), classes)
    weights = c[-1, classes]
    assert weights.max() > 0.9 and np.sort(weights)[-2] < 0.2
    if len(classes) == 12:
        assert classes[int(np.argmax(weights))] == classes[dominant]


def test_few_classes_follow_a_new_dominant_pitch_class():
    classes = [7, 8, 9]
    first = frames_from(lambda t: (np.eye(12)[0] * 0.9 + 0.1, 0.2, 0.5), 10)
    w = Walker(WalkerParams(num_classes=3), classes, 0, HOP)
    for f in first:
        s = w.step(f)
    before = int(np.argmax(s.c))
    # now F# dominates for a long time: it takes over one class, whose weight ends up the largest
    later = frames_from(lambda t: (np.eye(12)[6] * 0.9 + 0.1, 0.2, 0.5), 40)
    for f in later:
        s = w.step(f)
    weights = s.c[classes]
    assert weights.max() > 0.9 and np.sort(weights)[-2] < 0.2
    assert int(np.argmax(s.c)) in classes and s.c[before] < 0.2


def test_rate_independent():
    """Half the hop, same motion in seconds. Bounce times are quantised to the hop, so units drift apart
    a little in phase; the speed (path length per second) and the class mix match closely."""
    def mild(t):  # drive like real music (mean ~0.4)
        chroma, flux, power = music_like(t)
        return chroma, 0.4 * flux, 0.4 * power
    coarse, fine = HOP, HOP / 2
    zc, cc, _ = run(frames_from(mild, 12, coarse), hop_s=coarse)
    zf, cf, _ = run(frames_from(mild, 12, fine), hop_s=fine)
    zf, cf = zf[1::2], cf[1::2]  # fine frame 2k+1 ends when coarse frame k does
    n = min(len(zc), len(zf))
    assert np.mean(np.abs(zc[:n] - zf[:n])) < 0.15 * np.mean(np.abs(zc[:n]))
    assert np.mean(np.abs(zc[:50] - zf[:50])) < 0.05 * np.mean(np.abs(zc[:50]))
    assert path(zc[:n]) == pytest.approx(path(zf[:n]), rel=0.05)
    assert np.mean(np.abs(cc[:n] - cf[:n])) < 0.02 * np.mean(np.abs(cc[:n]))


def test_features_at_two_rates_give_similar_walks():
    sr_a, sr_b = 22050, 44100
    t = np.arange(6 * sr_b) / sr_b
    x = (0.3 * np.sin(2 * np.pi * 261.6 * t) * (1 + np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)
    runs = []
    for sr in (sr_a, sr_b):
        fe = FeatureExtractor(sr)
        runs.append(run(fe.push(x[:: sr_b // sr]), hop_s=fe.hop_s))
    (za, ca, _), (zb, cb, _) = runs
    assert np.mean(np.abs(za - zb)) < 0.1 * np.mean(np.abs(za))
    assert np.mean(np.abs(ca - cb)) < 0.05 * np.mean(np.abs(ca))


def test_truncation_change_glides_without_jump():
    w = Walker(WalkerParams(truncation=1.0), CLASSES, 0, HOP)
    loud = frames_from(music_like, 20)
    states = [w.step(f) for f in loud[:200]]
    w.set_params(WalkerParams(truncation=0.2))
    states += [w.step(f) for f in loud[200:]]
    z = np.array([s.z for s in states])
    t = np.array([s.t for s in states])
    assert np.all(np.abs(z) <= 2 * t[:, None] + 1e-6)
    assert t[-1] == pytest.approx(0.2) and np.all(np.diff(t[200:]) <= 0)
    assert np.abs(np.diff(t)).max() < 0.1  # glides over several frames
    jump = np.abs(np.diff(z[195:215], axis=0)).max()
    assert jump < 0.6  # rescaling, not a cut to the new bound (which would move z by up to 1.6)


def test_set_classes_and_num_classes_live():
    frames = frames_from(music_like, 6)
    w = Walker(WalkerParams(), CLASSES, 0, HOP)
    for f in frames[:100]:
        w.step(f)
    w.set_classes([500, 501, 502])
    w.set_params(dataclasses.replace(WalkerParams(), num_classes=2, smooth_factor=0.2))
    for f in frames[100:]:
        s = w.step(f)
    assert set(np.nonzero(s.c > 1e-3)[0]) == {500, 501}
