"""The flash guard on synthetic input: a 10 Hz black/white strobe at 60 frames a second comes out with at most
three flashes in any second (counted by an independent WCAG counter); slow changes pass untouched."""
import numpy as np

from live.show.flashguard import FlashGuard
from tests.flashes import max_flashes_per_second


def run(frames, fps=60.0):
    guard = FlashGuard()
    times = [i / fps for i in range(len(frames))]
    return times, [guard.apply(f, t) for f, t in zip(frames, times)], guard


def strobe(seconds=4, fps=60, hz=10, size=64):
    black, white = np.zeros((size, size, 3), np.uint8), np.full((size, size, 3), 255, np.uint8)
    half = fps / hz / 2  # frames per half period
    return [white if int(i / half) % 2 else black for i in range(int(seconds * fps))]


def test_a_10_hz_strobe_comes_out_with_at_most_three_flashes_a_second():
    frames = strobe()
    times = [i / 60 for i in range(len(frames))]
    assert max_flashes_per_second(times, frames) >= 9  # the input: ten a second
    times, out, guard = run(frames)
    assert max_flashes_per_second(times, out) <= 3
    assert guard.limited > 0
    lum = [float(f.mean()) for f in out]
    assert max(lum) - min(lum) > 100  # it still shows changes, only fewer of them


def test_a_strobe_on_part_of_the_frame_is_limited_too():
    frames = strobe()
    framed = []
    for f in frames:
        g = np.full((96, 96, 3), 40, np.uint8)
        g[:48, :48] = f[:48, :48]  # a quarter of the frame strobes
        framed.append(g)
    times, out, _ = run(framed)
    assert max_flashes_per_second(times, framed) >= 9
    assert max_flashes_per_second(times, out) <= 3


def test_slow_changes_and_small_flicker_pass_unchanged():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (64, 64, 3)).astype(np.int16)
    frames = []
    for i in range(240):
        level = 60 * np.sin(2 * np.pi * i / 120) + (3 if i % 2 else -3)  # 0.5 Hz swing + 60 Hz flicker
        frames.append(np.clip(base + level, 0, 255).astype(np.uint8))
    _, out, guard = run(frames)
    assert guard.limited == 0
    assert all(o is f for o, f in zip(out, frames))
