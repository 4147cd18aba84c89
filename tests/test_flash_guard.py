"""The flash guard against WCAG 2.3.1, checked by an independent per-pixel counter (tests/flashes.py): each
stimulus flashes more than three times a second without the guard (the control) and at most three times with
it; calm video passes bit-identical; pieces guarded apart (export segments) hold the budget across the cut."""
import cv2
import numpy as np
import pytest

from live.show.flashcells import CELLS, work_image
from live.show.flashguard import FlashGuard
from tests.flashes import flashes_per_second

FPS = 60.0


def guarded(frames, **kw):
    guard = FlashGuard(**kw)
    times = [i / FPS for i in range(len(frames))]
    return times, [guard.apply(f, t) for f, t in zip(frames, times)], guard


def alternate(a, b, seconds=2.5, hz=20.0):
    """a and b swapped hz times a second: hz transitions, hz / 2 flashes a second."""
    per = FPS / hz  # frames per swap
    return [b if int(i / per) % 2 else a for i in range(int(seconds * FPS))]


def solid(rgb, size=(96, 128)):
    return np.full(size + (3,), rgb, np.uint8)


def checkerboard(square, size=(96, 128), dark=0, light=255):
    h, w = size
    cells = (np.arange(h)[:, None] // square + np.arange(w)[None, :] // square) % 2
    return np.repeat(np.where(cells, light, dark).astype(np.uint8)[..., None], 3, axis=2)


def patch(level_in, level_out, background, frac_of_field, size=(96, 128)):
    """A square patch covering frac_of_field of a 10-degree field (a third of width and height)."""
    h, w = size
    side_h, side_w = int(round(h / 3 * frac_of_field ** 0.5)), int(round(w / 3 * frac_of_field ** 0.5))
    a, b = solid(background, size), solid(background, size)
    a[h // 3: h // 3 + side_h, w // 3: w // 3 + side_w] = level_in
    b[h // 3: h // 3 + side_h, w // 3: w // 3 + side_w] = level_out
    return a, b


STIMULI = {
    "full-frame strobe": lambda: (solid(0), solid(255)),
    "coarse checkerboard": lambda: (checkerboard(32), 255 - checkerboard(32)),
    "fine checkerboard": lambda: (checkerboard(4), 255 - checkerboard(4)),
    # L 0.30 <-> 0.50 (sRGB 149 <-> 188) over 40% of one field, on a grey of L 0.30
    "0.2 flash over 40% of a field": lambda: patch(149, 188, 149, 0.40),
    # pure red and a green of the same relative luminance (0.2126): no general flash, a red one
    "red/green at equal luminance": lambda: (solid((255, 0, 0)), solid((0, 148, 0))),
}


@pytest.mark.parametrize("name", list(STIMULI))
def test_each_stimulus_flashes_without_the_guard_and_at_most_three_times_a_second_with_it(name):
    a, b = STIMULI[name]()
    frames = alternate(a, b)
    times = [i / FPS for i in range(len(frames))]
    before = flashes_per_second(times, frames)
    assert max(before.values()) > 3, before  # the control: the counter sees the stimulus flash
    _, out, guard = guarded(frames)
    after = flashes_per_second(times, out)
    assert max(after.values()) <= 3, (before, after)
    assert guard.limited > 0
    change = [float(np.abs(x.astype(np.int16) - y).mean()) for x, y in zip(out, out[1:])]
    assert sum(c > 0 for c in change) > len(change) / 10  # it still moves, only with fewer flashes


def test_red_green_at_equal_luminance_is_a_red_flash_not_a_general_one():
    a, b = STIMULI["red/green at equal luminance"]()
    frames = alternate(a, b)
    before = flashes_per_second([i / FPS for i in range(len(frames))], frames)
    assert before["general"] == 0 and before["red"] >= 9, before


def test_a_flash_below_a_quarter_of_every_field_passes_untouched():
    a, b = patch(149, 188, 149, 0.12)  # 12% of a field: under WCAG's area, and under the guard's 20%
    frames = alternate(a, b)
    times, out, guard = guarded(frames)
    assert flashes_per_second(times, frames)["general"] == 0
    assert guard.limited == 0 and all(o is f for o, f in zip(out, frames))


def calm_videos():
    rng = np.random.default_rng(0)
    n = int(3 * FPS)
    fade = [solid(int(255 * i / (n - 1))) for i in range(n)]  # black to white in 3 s
    x, y = (rng.integers(0, 256, (96, 128, 3)).astype(np.float64) for _ in range(2))
    morph = [(x + (y - x) * i / (n - 1)).astype(np.uint8) for i in range(n)]  # one texture into another
    base = rng.integers(0, 256, (96, 128, 3)).astype(np.int16)
    swing = [np.clip(base + 60 * np.sin(2 * np.pi * i / 120) + (3 if i % 2 else -3), 0, 255).astype(np.uint8)
             for i in range(n)]  # a 0.5 Hz swing with a 60 Hz flicker of 3 levels
    return {"fade": fade, "morph": morph, "swing": swing}


@pytest.mark.parametrize("name", ["fade", "morph", "swing"])
def test_calm_video_passes_bit_identical(name):
    frames = calm_videos()[name]
    _, out, guard = guarded(frames)
    assert guard.limited == 0
    assert all(o is f for o, f in zip(out, frames))


def test_large_frames_are_area_averaged_not_sampled():
    """A 512 x 768 strobe that leaves black exactly the pixels a 72 x 72 point-sampled thumbnail reads (the
    guard before this one): the rest, 78% of the frame, flashes. Sampling sees nothing; area averages see it."""
    h, w = 512, 768
    rows, cols = (np.arange(72) * h + h // 2) // 72, (np.arange(72) * w + w // 2) // 72
    lit = np.full((h, w, 3), 255, np.uint8)
    lit[rows], lit[:, cols] = 0, 0
    _, _, guard = guarded(alternate(np.zeros_like(lit), lit, seconds=1.0))
    assert guard.limited > 0


def test_pieces_guarded_apart_hold_the_budget_across_their_boundary():
    """Two pieces of a strobe (as two export segments) with guards that know the cut: at most three flashes in
    any second of the joined video; two guards that do not know it (the control) let more through."""
    frames = alternate(solid(0), solid(255), seconds=3.0)
    cut = len(frames) // 2
    times = [i / FPS for i in range(len(frames))]
    b = times[cut]

    def pieces(aware: bool):
        first = FlashGuard(end=b if aware else None)
        second = FlashGuard(start=b if aware else None)
        return ([first.apply(f, t) for f, t in zip(frames[:cut], times[:cut])]
                + [second.apply(f, t) for f, t in zip(frames[cut:], times[cut:])])

    assert flashes_per_second(times, pieces(aware=False))["general"] > 3
    joined = pieces(aware=True)
    assert flashes_per_second(times, joined)["general"] <= 3
    again = pieces(aware=True)
    assert all(np.array_equal(x, y) for x, y in zip(joined, again))  # a function of the frames alone


@pytest.mark.parametrize("size", [(1080, 1920), (480, 854), (257, 259), (512, 768), (1082, 1922)])
def test_big_frames_cells_are_the_means_of_their_pixels_edges_included(size):
    """Each cell of a big frame is the mean of its k x k pixels (the last row and column: of the pixels there
    are), to about one level (rounded twice); the control, a point-sampled thumbnail of the same size, is far off."""
    h, w = size
    k = min(h, w) // CELLS
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), np.uint8)
    cells = work_image(frame)
    means = np.array([[frame[r:r + k, c:c + k].reshape(-1, 3).mean(axis=0) for c in range(0, w, k)]
                      for r in range(0, h, k)])
    assert cells.shape == means.shape and np.abs(cells - means).max() <= 1.5
    sampled = cv2.resize(frame, cells.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    assert np.abs(sampled - means).max() > 50
