"""A class set over time: timed (LRC) lyric lines bring their own classes into the walker's set.

The set always holds `num_classes` ids; the walker ties each slot to a pitch class and weighs it by that
pitch class's chroma, adding up the weights of an id that fills several slots. The rule for LRC:

- Theme slots (every fourth: the 4th, 8th and 12th; with 2 or 3 classes the last one) hold the song's theme,
  the best classes of the whole lyrics, for the whole song.
- While a timed line is sung, every other slot holds that line's own classes (its best `per_line` classes
  with cosine >= `min_line_score`, repeated over the slots), so the sung line carries most of the class
  weight (at least 3/4 of the slots with 4 or more classes, 2/3 with 3, half with 2) and the theme keeps a
  minority share. With 12 classes the theme's pitch classes are D#, G and B, spread evenly over the octave
  (any major or minor scale holds at most two of them), so no key hands the theme the weight. A line that
  names nothing keeps the picture of the line before.
- Before the first line the other slots hold the next-best classes of the whole song.

A plain-text song gives a constant schedule: the best classes in order, as `--lyrics-scoring` ranks them.

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
    if not song.lyrics.is_lrc:
        return LyricsSchedule([(float("-inf"), base)], offset_s)
    return LyricsSchedule(_changes(base, song, song.lyrics.timed_lines(), per_line, min_line_score), offset_s)


def theme_slots(n: int) -> list[int]:
    """The slots that keep the song's theme in a set of n: every fourth, else the last; none when n is 1."""
    return [] if n < 2 else list(range(3, n, 4)) or [n - 1]


def _changes(base: list[int], song: SongScores, events, per_line: int, min_score: float):
    theme = theme_slots(len(base))
    sung = [slot for slot in range(len(base)) if slot not in theme]
    current = [0] * len(base)
    for slot, c in zip(theme + sung, base):  # the best classes hold the theme, the next best the rest
        current[slot] = c
    changes: list[tuple[float, list[int]]] = [(float("-inf"), list(current))]
    for t, line in events:
        sims = song.line_sims[line.text]
        picks = [int(c) for c in np.argsort(-sims, kind="stable")[:per_line] if sims[c] >= min_score]
        if not picks:
            continue  # a line that names nothing keeps the picture
        for k, slot in enumerate(sung):
            current[slot] = picks[k % len(picks)]
        if current != changes[-1][1]:
            if changes[-1][0] == t:
                changes[-1] = (t, list(current))  # several lines at one instant: one change
            else:
                changes.append((t, list(current)))
    return changes
