"""Audio samples -> feature frames -> walker states: the one vector code path of live mode and export."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from live.config import WalkerParams
from live.analysis.features import FeatureExtractor
from live.walk.walker import State, Walker


class Trajectory:
    """Feeds audio blocks through features and the walker (control changes come through live.walk.steering)."""

    def __init__(self, sr: int, params: WalkerParams, classes: Sequence[int], seed: int):
        self.features = FeatureExtractor(sr)
        self.walker = Walker(params, list(classes), seed, self.features.hop_s)
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
            out.append((frame.time_s, self.walker.step(frame)))
        return out
