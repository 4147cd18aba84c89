"""A class set over time: timed (LRC) lyric lines bring their own classes into the walker's set.

The set always holds `num_classes` distinct ids. The first half (num_classes // 2 slots) is the song's
theme: the best classes of the whole lyrics, fixed for the whole song. The other slots rotate: each
timed line's own best classes (up to `per_line`, cosine >= `min_line_score`) replace the slot that was
refreshed longest ago, in place, so the other slots keep their pitch classes and the walker's image
changes only where the words changed. Before the first line the rotating slots hold the next-best
classes of the whole song. A plain-text song gives a constant schedule.

Times: LRC times are lyric time; `offset_s` is added to them to get song (audio) time, so a positive
offset makes the imagery change later (use it when the LRC runs ahead of the recording).
"""

from __future__ import annotations

import bisect
import os

import numpy as np

from core.errors import LiveError
from live.lyrics.score import SongScores, score_lyrics

# Cosine (all-MiniLM-L6-v2) above which a line clearly names a thing: 'coral reef' 0.76 for "Down beneath
# the coral reef"; lines with no concrete noun top out near 0.3-0.4 ("Forevermore" -> thimble 0.38).
MIN_LINE_SCORE = 0.45
PER_LINE = 2


class LyricsSchedule:
    """`classes_at(time_s)` -> the class set in force at song time `time_s` (a new list each call)."""

    def __init__(self, changes: list[tuple[float, list[int]]], offset_s: float = 0.0) -> None:
        if not changes:
            raise ValueError("a schedule needs at least its initial class set")
        self._times = [t for t, _ in changes]
        self._sets = [list(s) for _, s in changes]
        self.offset_s = float(offset_s)

    @property
    def initial(self) -> list[int]:
        return list(self._sets[0])

    @property
    def is_static(self) -> bool:
        return len(self._sets) == 1

    def changes(self) -> list[tuple[float, list[int]]]:
        """(song time, class set) for every change after the initial set, in time order."""
        return [(t + self.offset_s, list(s)) for t, s in zip(self._times[1:], self._sets[1:])]

    def classes_at(self, time_s: float) -> list[int]:
        i = bisect.bisect_right(self._times, time_s - self.offset_s) - 1
        return list(self._sets[max(i, 0)])


def lyrics_schedule(text_or_path: str | os.PathLike | SongScores, num_classes: int, scoring: str = "weighted",
                    text_model: str | None = None, offset_s: float = 0.0, per_line: int = PER_LINE,
                    min_line_score: float = MIN_LINE_SCORE) -> LyricsSchedule:
    """Schedule for plain or LRC lyrics (plain -> static). Pass a SongScores to reuse an encoding."""
    if num_classes < 1:
        raise LiveError(f"num_classes must be at least 1 (got {num_classes})")
    song = text_or_path if isinstance(text_or_path, SongScores) else score_lyrics(text_or_path, scoring, text_model)
    base = [int(i) for i in song.order[:num_classes]]
    events = song.lyrics.timed_lines() if song.lyrics.is_lrc else []
    return LyricsSchedule(_changes(base, song, events, per_line, min_line_score), offset_s)


def _changes(base: list[int], song: SongScores, events, per_line: int, min_score: float):
    n_theme = len(base) // 2
    current = list(base)
    # Age per rotating slot: the base's later (weaker) picks count as older, so they leave first.
    age = {slot: -1.0e9 - slot for slot in range(n_theme, len(base))}
    changes: list[tuple[float, list[int]]] = [(float("-inf"), list(current))]
    for step, (t, line) in enumerate(events):
        sims = song.line_sims[line.text]
        picks = [int(c) for c in np.argsort(-sims, kind="stable")[:per_line] if sims[c] >= min_score]
        for c in picks:
            if c in current:
                slot = current.index(c)
                if slot in age:
                    age[slot] = step  # named again: stays longer
                continue
            free = [s for s in age if age[s] < step]  # never evict a class this line just brought
            if not free:
                break
            slot = min(free, key=age.get)
            current[slot] = c
            age[slot] = step
        if current != changes[-1][1]:
            if changes[-1][0] == t:
                changes[-1] = (t, list(current))  # several lines at one instant: one change
            else:
                changes.append((t, list(current)))
    return changes
