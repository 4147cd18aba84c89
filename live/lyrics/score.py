"""Lyrics choose the imagery: rank the 1000 ImageNet classes by what a song's words are about.

Text and class names are embedded with a sentence model (live.lyrics.embed, default all-MiniLM-L6-v2);
class vectors are cached. Two scorings:

- ``seed`` (the original): embed the whole lyrics as one text, cosine similarity to every class,
  take the top ``num_classes``. The model reads at most 256 word pieces, so long songs are truncated,
  and one vivid line ("dough", "chicken chili") can pull the whole video to food.
- ``weighted`` (default): score every class at three grains, whole text T, each stanza s, each line l,
  and weight by how much of the song supports it::

      relevance(c) = ( cos(T, c) + mean_s cos(s, c) + mean_l cos(l, c) ) / 3
      support(c)   = fraction of lines l that have c among their K = 20 most similar classes
      score(c)     = relevance(c) * support(c)        (ties, e.g. support 0, ordered by relevance)

  A class named by a single line has support 1/(number of lines), so even a perfect match in one line
  scores a fraction of a theme that recurs across verses and choruses (a repeated chorus counts each
  time it is sung). Relevance mixes the grains so the overall meaning, the verses and the single images
  all count; support is taken over lines because they are the song's unit of imagery.

With LRC lyrics, ``lyrics_schedule`` also lets each timed line bring its own classes from its time on
(see live.lyrics.schedule).
"""

from __future__ import annotations

import json
import os
from typing import NamedTuple

import numpy as np

from live import classes
from core.errors import LiveError
from live.lyrics.embed import label_embeddings, load_text_model
from live.lyrics.text import Lyrics, read_lyrics

SCORINGS = ("weighted", "seed")
SUPPORT_TOP_K = 20


class Choice(NamedTuple):
    id: int
    name: str
    score: float | None  # None when listing classes without lyrics


class SongScores(NamedTuple):
    """Everything scoring needs, encoded once: per-class scores and each line's own similarities."""
    lyrics: Lyrics
    scores: np.ndarray  # [n_classes] final score of the chosen scoring
    order: np.ndarray  # class ids, best first
    line_sims: dict[str, np.ndarray]  # line text -> [n_classes] cosine


def score_lyrics(lyrics: Lyrics | str | os.PathLike, scoring: str = "weighted",
                 text_model: str | None = None) -> SongScores:
    """Encode the lyrics (one batch of unique texts) and score every class."""
    if scoring not in SCORINGS:
        raise LiveError(f"unknown lyrics scoring '{scoring}': use one of {', '.join(SCORINGS)}")
    if not isinstance(lyrics, Lyrics):
        lyrics = read_lyrics(lyrics)
    model = load_text_model(text_model)
    labels = label_embeddings(model)
    whole = lyrics.text
    stanzas = ["\n".join(line.text for line in st) for st in lyrics.stanzas]
    lines = [line.text for line in lyrics.lines]
    unique = list(dict.fromkeys([whole, *stanzas, *lines]))  # a chorus is encoded once
    sims = model.encode(unique) @ labels.T
    row = {text: i for i, text in enumerate(unique)}
    text_sim = sims[row[whole]]
    line_mat = sims[[row[t] for t in lines]]
    if scoring == "seed":
        scores = text_sim
        order = np.argsort(-scores, kind="stable")
    else:
        stanza_mat = sims[[row[t] for t in stanzas]]
        relevance = (text_sim + stanza_mat.mean(axis=0) + line_mat.mean(axis=0)) / 3.0
        support = _top_k_fraction(line_mat, SUPPORT_TOP_K)
        scores = relevance * support
        order = np.lexsort((-relevance, -scores))  # last key is primary
    return SongScores(lyrics, scores, order, {t: sims[row[t]] for t in lines})


def _top_k_fraction(mat: np.ndarray, k: int) -> np.ndarray:
    """Per class, the fraction of rows that rank it among their k highest."""
    k = min(k, mat.shape[1])
    top = np.argpartition(-mat, k - 1, axis=1)[:, :k]
    counts = np.bincount(top.ravel(), minlength=mat.shape[1])
    return counts.astype(np.float32) / mat.shape[0]


def choose_classes(text_or_path: str | os.PathLike | Lyrics, num_classes: int, scoring: str = "weighted",
                   text_model: str | None = None) -> list[Choice]:
    """The num_classes best classes for the lyrics (text, or a path to a .txt/.lrc file), best first."""
    if num_classes < 1:
        raise LiveError(f"num_classes must be at least 1 (got {num_classes})")
    return top_choices(score_lyrics(text_or_path, scoring, text_model), num_classes)


def top_choices(song: SongScores, n: int | None = None) -> list[Choice]:
    names = class_names()
    ids = song.order if n is None else song.order[:n]
    return [Choice(int(i), names[int(i)], float(song.scores[int(i)])) for i in ids]


def class_names() -> list[str]:
    return list(classes.LABELS)


def search_classes(word: str) -> list[tuple[int, str]]:
    """Classes whose name or a synonym contains `word`, exact matches first (live.classes.search)."""
    return classes.search(word)


def list_classes(lyrics: str | os.PathLike | None = None, search: str | None = None,
                 num_classes: int | None = None, scoring: str = "weighted",
                 text_model: str | None = None) -> list[Choice]:
    """Rows for `live --list-classes`.

    Without lyrics: every class (or the `search` matches) by id, score None. With lyrics: classes ranked
    by the lyrics score, restricted to the `search` matches if given. `num_classes` keeps the first N rows.
    """
    names = class_names()
    wanted = None if not search else {i for i, _ in search_classes(search)}
    if lyrics is None:
        rows = [Choice(i, n, None) for i, n in enumerate(names) if wanted is None or i in wanted]
    else:
        rows = [c for c in top_choices(score_lyrics(lyrics, scoring, text_model))
                if wanted is None or c.id in wanted]
    return rows if num_classes is None else rows[:num_classes]


def format_classes(rows: list[Choice], as_json: bool = False) -> str:
    """A table (id, name[, score]) or JSON: [{"id": 107, "name": "jellyfish", "score": 0.61}, ...]."""
    scored = any(r.score is not None for r in rows)
    if as_json:
        items = [{"id": r.id, "name": r.name, **({"score": _round(r.score)} if scored else {})} for r in rows]
        return json.dumps(items, ensure_ascii=False)
    width = max([4, *(len(r.name) for r in rows)])
    head = f"{'id':>4}  {'name':<{width}}" + ("  score" if scored else "")
    body = [f"{r.id:>4}  {r.name:<{width}}" + (f"  {r.score:.3f}" if scored and r.score is not None else "")
            for r in rows]
    return "\n".join([head.rstrip(), *(b.rstrip() for b in body)])


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)
