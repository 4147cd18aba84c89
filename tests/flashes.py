"""An independent WCAG 2.3.1 general-flash counter for tests (deliberately not the guard's code): per region
(whole frame, 3x3 tiles), a transition is a change of relative luminance of 0.1 or more from the last
turning point, opposite to the previous one, with the darker side below 0.8; a flash is two of them."""
from __future__ import annotations

import numpy as np


def luminance(frame: np.ndarray) -> float:
    c = frame.astype(np.float64) / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float((lin @ [0.2126, 0.7152, 0.0722]).mean())


def regions(frame: np.ndarray) -> list[float]:
    h, w = frame.shape[:2]
    out = [luminance(frame)]
    for i in range(3):
        for j in range(3):
            out.append(luminance(frame[i * h // 3:(i + 1) * h // 3, j * w // 3:(j + 1) * w // 3]))
    return out


def transition_times(times: list[float], values: list[float]) -> list[float]:
    found, last_dir = [], 0
    lo = hi = values[0]
    for t, v in zip(times, values):
        lo, hi = min(lo, v), max(hi, v)
        if last_dir >= 0 and hi - v >= 0.1 and v < 0.8:  # fell from the high turning point
            found.append(t)
            last_dir, lo, hi = -1, v, v
        elif last_dir <= 0 and v - lo >= 0.1 and lo < 0.8:  # rose from the low turning point
            found.append(t)
            last_dir, lo, hi = 1, v, v
    return found


def max_flashes_per_second(times: list[float], frames: list[np.ndarray]) -> float:
    """The most flashes (opposing transition pairs) in any 1 s window, over every region."""
    lums = np.array([regions(f) for f in frames])
    worst = 0
    for r in range(lums.shape[1]):
        ts = np.array(transition_times(times, list(lums[:, r])))
        for t in ts:
            worst = max(worst, int(((ts >= t) & (ts < t + 1.0)).sum()))
    return worst / 2
