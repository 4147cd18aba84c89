"""A flash counter for tests, written from the text of WCAG 2.2 (2.3.1 and its definitions of general flash and
red flash thresholds), deliberately not from the guard: every pixel is measured (no cells, no thumbnail), in
float64 with the sRGB formula, and every 10-degree field at every pixel offset.

- A pixel's relative luminance L = 0.2126 R + 0.7152 G + 0.0722 B of its linear RGB; its red value is
  (R - G - B) x 320 where the pixel is saturated red (R / (R + G + B) >= 0.8), else 0.
- A transition of a pixel is a change from its last peak or valley (the extreme since its previous transition)
  of 0.1 or more in L where the darker state is below 0.80, or of more than 20 in the red value, in the
  direction opposite to its previous transition (any direction for its first).
- A 10-degree field is a window of a third of the frame's width and height. It makes a transition up (down) in
  a frame when 25% or more of its pixels make a transition up (down) in that frame: flashes of that combined
  area occur concurrently. Up and down in the same frame are two transitions.
- A flash is a pair of opposing transitions: the count is the most transitions of one field and kind (general
  or red) in any one second [t, t + 1), divided by two. WCAG allows three.
"""
from __future__ import annotations

import numpy as np


def measures(frame: np.ndarray) -> np.ndarray:
    """(2, h, w): relative luminance and red value of every pixel of an 8-bit sRGB frame."""
    c = frame[..., :3].astype(np.float64) / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = lin[..., 0], lin[..., 1], lin[..., 2]
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    total = r + g + b
    saturated = (total > 0) & (r >= 0.8 * np.where(total > 0, total, 1))
    red = np.where(saturated, np.maximum(0.0, (r - g - b) * 320), 0.0)
    return np.stack([lum, red])


class _Pixels:
    """Each pixel's last peak / valley and the direction of its last transition, per kind."""

    def __init__(self, m: np.ndarray):
        self.low, self.high = m.copy(), m.copy()
        self.last = np.zeros(m.shape, np.int8)

    def step(self, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.low, self.high = np.minimum(self.low, m), np.maximum(self.high, m)
        rise, fall = m - self.low, self.high - m
        lum_up = (rise[0] >= 0.1) & (self.low[0] < 0.8)
        lum_down = (fall[0] >= 0.1) & (m[0] < 0.8)
        up = np.stack([lum_up, rise[1] > 20]) & (self.last <= 0)
        down = np.stack([lum_down, fall[1] > 20]) & (self.last >= 0)
        for mask, sign in ((up, 1), (down, -1)):
            self.last[mask] = sign
            self.low[mask] = self.high[mask] = m[mask]
        return up, down


def _fields_over_quarter(mask: np.ndarray) -> np.ndarray:
    """(2, fields): whether 25% or more of each third-by-third window (every offset) is set."""
    k, h, w = mask.shape
    fh, fw = max(1, round(h / 3)), max(1, round(w / 3))
    s = np.zeros((k, h + 1, w + 1), np.int64)
    s[:, 1:, 1:] = mask.cumsum(axis=1).cumsum(axis=2)
    area = s[:, fh:, fw:] - s[:, :-fh, fw:] - s[:, fh:, :-fw] + s[:, :-fh, :-fw]
    return (area >= 0.25 * fh * fw).reshape(k, -1)


def field_transitions(frames) -> np.ndarray:
    """(frames, 2, fields) transitions per frame, kind and field (0, 1 or 2)."""
    frames = iter(frames)
    pixels = _Pixels(measures(next(frames)))
    out = [None]
    for f in frames:
        up, down = pixels.step(measures(f))
        out.append(_fields_over_quarter(up).astype(np.int8) + _fields_over_quarter(down))
    out[0] = np.zeros_like(out[1]) if len(out) > 1 else np.zeros((2, 1), np.int8)
    return np.stack(out)


def flashes_per_second(times, frames) -> dict:
    """The most flashes in any one second, per kind: {"general": x, "red": y}."""
    counts = field_transitions(frames).astype(np.int64)
    t = np.asarray(times, np.float64)
    total = np.concatenate([np.zeros((1,) + counts.shape[1:], np.int64), counts.cumsum(axis=0)])
    end = np.searchsorted(t, t + 1.0, side="left")  # frames in [t_i, t_i + 1)
    in_window = total[end] - total[np.arange(len(t))]  # (frames, 2, fields)
    worst = in_window.max(axis=(0, 2)) / 2
    return {"general": float(worst[0]), "red": float(worst[1])}


def max_flashes_per_second(times, frames) -> float:
    return max(flashes_per_second(times, frames).values())
