"""Live-mode figures: latency percentiles in flat memory, frame rates, the --stats JSON file."""
from __future__ import annotations

import collections

import numpy as np

from core.files import write_json_atomic, writing

STATS_KEYS = ("frames_rendered", "frames_displayed", "duration_s", "fps_rendered", "fps_displayed",
              "latency_ms_p50", "latency_ms_p95", "xruns", "dropped_frames", "backend", "resolution", "device",
              "images_displayed", "images_per_s", "added_latency_ms", "interpolating", "display_rate_hz",
              "window", "outputs", "link", "flash_guard", "beat_cuts")


class LatencyHist:
    """Percentiles in flat memory: 0.5 ms bins up to 5 s (a 10-minute set would otherwise grow a list)."""

    BIN_MS, N = 0.5, 10000

    def __init__(self):
        self.counts = np.zeros(self.N, np.int64)
        self.recent: collections.deque = collections.deque(maxlen=60)

    def add(self, ms: float):
        self.counts[min(self.N - 1, max(0, int(ms / self.BIN_MS)))] += 1
        self.recent.append(ms)

    def percentile(self, p: float) -> float | None:
        total = int(self.counts.sum())
        if total == 0:
            return None
        i = int(np.searchsorted(np.cumsum(self.counts), p / 100 * total))
        return round((i + 0.5) * self.BIN_MS, 1)


def rate(times) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


def write_stats(path: str, stats: dict):
    """JSON, written under a temp name and renamed, so a reader never sees half a file; a failed write is a
    one-line LiveError."""
    with writing(path, "--stats"):
        write_json_atomic(path, stats)
