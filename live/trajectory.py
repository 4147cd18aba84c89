"""Audio samples -> feature frames -> walker states: the one vector code path of live mode and export."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from live.config import WalkerParams
from live.features import FeatureExtractor
from live.walker import State, Walker


class Trajectory:
    """Feeds audio blocks through features and the walker; a lyrics schedule may switch classes by time."""

    def __init__(self, sr: int, params: WalkerParams, classes: Sequence[int], seed: int, schedule=None):
        self.features = FeatureExtractor(sr)
        self.walker = Walker(params, list(classes), seed, self.features.hop_s)
        self.schedule = schedule  # object with classes_at(time_s) -> list[int], or None
        self.classes = list(classes)
        self.frozen = False  # frames still run through the features, the walker holds (live 'freeze')
        self.on_frame = None  # callable(Frame) seeing every feature frame (beat tracking, OSC out)

    @property
    def hop_s(self) -> float:
        return self.features.hop_s

    def push(self, samples: np.ndarray) -> list[tuple[float, State]]:
        """Returns (time_s, state) for every walker step completed by these samples."""
        out = []
        for frame in self.features.push(samples):
            if self.on_frame is not None:
                self.on_frame(frame)
            if self.frozen:
                continue
            if self.schedule is not None:
                wanted = list(self.schedule.classes_at(frame.time_s))
                if wanted != self.classes:
                    self.classes = wanted
                    self.walker.set_classes(wanted)
            out.append((frame.time_s, self.walker.step(frame)))
        return out
