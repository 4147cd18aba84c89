import numpy as np
import pytest

from live.analysis.features import FeatureExtractor

PC = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def _midi_hz(m):
    return 440.0 * 2 ** ((m - 69) / 12)


def triad(sr, seconds=2.0):
    """C4 E4 G4 as harmonic tones (3 partials each)."""
    t = np.arange(int(seconds * sr)) / sr
    x = sum(0.1 / h * np.sin(2 * np.pi * h * _midi_hz(m) * t) for m in (60, 64, 67) for h in (1, 2, 3))
    return x.astype(np.float32)


def clicks(sr, seconds=4.0, period=0.5, first=0.25):
    x = np.random.default_rng(0).normal(0, 1e-4, int(seconds * sr))
    n = int(0.005 * sr)
    onsets = np.arange(first, seconds - 0.1, period)
    for t0 in onsets:
        s = int(t0 * sr)
        x[s:s + n] += 0.5 * np.exp(-np.arange(n) / (0.001 * sr))
    return x.astype(np.float32), onsets


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
def test_grid_is_seed_frame_at_any_rate(sr):
    fe = FeatureExtractor(sr)
    assert fe.hop == round(sr * 512 / 22050)
    assert abs(fe.hop_s - 512 / 22050) < 1e-4
    frames = fe.push(np.zeros(10 * fe.hop + 5, np.float32))
    assert [f.index for f in frames] == list(range(10))
    assert frames[0].time_s == pytest.approx(fe.hop / sr)  # end of the first window
    assert frames[-1].time_s == pytest.approx(10 * fe.hop / sr)


@pytest.mark.parametrize("sr", [22050, 48000])
def test_triad_chroma_peaks_at_c_e_g(sr):
    frames = FeatureExtractor(sr).push(triad(sr))
    mean = np.mean([f.chroma for f in frames[8:]], axis=0)  # once the window is full
    assert {PC[i] for i in np.argsort(mean)[-3:]} == {"C", "E", "G"}
    assert all(f.chroma.dtype == np.float32 and f.chroma.shape == (12,) for f in frames)
    assert max(f.chroma.max() for f in frames) == pytest.approx(1.0)


@pytest.mark.parametrize("sr", [22050, 44100])
def test_flux_peaks_at_clicks(sr):
    x, onsets = clicks(sr)
    fe = FeatureExtractor(sr)
    frames = fe.push(x)
    t = np.array([f.time_s for f in frames])
    flux = np.array([f.flux for f in frames])
    near = np.zeros(len(frames), bool)
    for t0 in onsets:
        # the frame whose window first holds the click ends just after it; allow 2 hops of latency
        win = (t >= t0) & (t <= t0 + 2.5 * fe.hop_s)
        assert flux[win].max() > 0.5, f"no flux peak after click at {t0}"
        near |= (t >= t0) & (t <= t0 + 5 * fe.hop_s)  # the click stays in the 4-hop window
    assert flux[~near].max() < 0.1
    assert np.all((flux >= 0) & (flux <= 1))


def test_block_split_invariance():
    sr = 44100
    rng = np.random.default_rng(1)
    x = np.concatenate([triad(sr, 1.0), clicks(sr, 1.0)[0], np.zeros(sr // 3, np.float32)])
    whole = FeatureExtractor(sr).push(x)
    fe = FeatureExtractor(sr)
    parts, pos = [], 0
    sizes = [1, 2, 3, 1023, 1024, 1025, 7, 5000, 1]
    while pos < len(x):
        n = sizes[len(parts) % len(sizes)] if rng.random() < 0.8 else int(rng.integers(1, 3000))
        parts.extend(fe.push(x[pos:pos + n]))
        pos += n
    assert len(parts) == len(whole) == len(x) // fe.hop
    for a, b in zip(whole, parts):
        assert a.index == b.index and a.time_s == b.time_s
        assert a.flux == b.flux and a.power == b.power
        assert np.array_equal(a.chroma, b.chroma)


def test_silence_is_zero_and_not_amplified():
    sr = 22050
    fe = FeatureExtractor(sr)
    frames = fe.push(np.zeros(3 * sr, np.float32))
    assert all(not f.chroma.any() and f.flux == 0 and f.power == 0 for f in frames)
    # very quiet hiss (-80 dBFS) after silence: still no chroma and ~no drive
    hiss = np.random.default_rng(2).normal(0, 1e-4, 3 * sr).astype(np.float32)
    frames = fe.push(hiss)
    assert all(not f.chroma.any() for f in frames)
    assert max(f.flux + f.power for f in frames) < 0.02


def test_normalisation_is_causal_and_bounded():
    sr = 22050
    fe = FeatureExtractor(sr)
    quiet = fe.push(0.05 * triad(sr, 1.0))
    loud = fe.push(triad(sr, 1.0))
    for f in quiet + loud:
        assert 0 <= f.flux <= 1 and 0 <= f.power <= 1
    # a quiet start is not judged by the loud part that comes later
    assert np.mean([f.power for f in quiet[8:]]) > 0.9


def test_bad_samples_and_shapes():
    sr = 22050
    fe = FeatureExtractor(sr)
    bad = np.full(sr // 4, np.nan, np.float32)
    frames = fe.push(bad) + fe.push(triad(sr, 1.0)[:, None])  # (n, 1) is mono too
    assert all(np.isfinite(f.flux) and np.isfinite(f.power) and np.isfinite(f.chroma).all() for f in frames)
    assert max(f.power for f in frames) > 0.5
    with pytest.raises(ValueError, match="mono"):
        fe.push(np.zeros((100, 2), np.float32))
