"""ImageNet class labels for BigGAN: names <-> ids, user class specs, random choice.

live/data/imagenet_classes.tsv has one row per class: id, WordNet id, comma-separated lemmas (the first
lemma is the display name).
"""
from __future__ import annotations

import difflib
from importlib import resources

import numpy as np

from core.dims import NUM_CLASSES
from core.errors import LiveError



def _load() -> tuple[list[str], list[list[str]]]:
    text = resources.files("live").joinpath("data/imagenet_classes.tsv").read_text(encoding="utf-8")
    labels: list[str] = []
    synonyms: list[list[str]] = []
    for i, line in enumerate(text.splitlines()):
        cid, _wnid, lemmas = line.split("\t")
        assert int(cid) == i, f"imagenet_classes.tsv: row {i} has id {cid}"
        names = [s.strip() for s in lemmas.split(",") if s.strip()]
        labels.append(names[0])
        synonyms.append(names)
    assert len(labels) == NUM_CLASSES
    return labels, synonyms


LABELS, SYNONYMS = _load()


def _norm(name: str) -> str:
    """Case, underscores and spacing don't matter: 'Coral_Reef ' == 'coral reef'."""
    return " ".join(name.replace("_", " ").lower().split())


def _build_index() -> dict[str, int]:
    # A display name wins over another class's secondary lemma ("missile" is 657, not 744's synonym);
    # between equal names the lower id wins ("crane" -> 134, the bird).
    index: dict[str, int] = {}
    for cid, name in enumerate(LABELS):
        index.setdefault(_norm(name), cid)
    for cid, names in enumerate(SYNONYMS):
        for name in names[1:]:
            index.setdefault(_norm(name), cid)
    return index


_INDEX = _build_index()
_NORMED = [[_norm(n) for n in names] for names in SYNONYMS]  # for search: a web page searches as one types


def exact_id(token: str) -> int | None:
    """The class an id, a name or a synonym names exactly (as --classes takes it), else None."""
    tok = token.strip()
    if tok.lstrip("-").isdigit():
        return int(tok) if 0 <= int(tok) < NUM_CLASSES else None
    return _INDEX.get(_norm(tok))


def class_id(token: str) -> int:
    """One id or name -> class id; LiveError with close matches when unknown."""
    tok = token.strip()
    cid = exact_id(tok)
    if cid is not None:
        return cid
    if tok.lstrip("-").isdigit():
        raise LiveError(f"class id {int(tok)} is out of range 0–{NUM_CLASSES - 1}")
    key = _norm(tok)
    close = difflib.get_close_matches(key, _INDEX.keys(), n=5, cutoff=0.6)
    if not close:  # fall back to substring hits ("shark" -> "great white shark", ...)
        close = [n for n in _INDEX if key and key in n][:5]
    if close:
        raise LiveError(f"unknown class '{tok}' — did you mean: {', '.join(close)}?")
    raise LiveError(f"unknown class '{tok}' — give ImageNet class names or ids 0–{NUM_CLASSES - 1}")


def resolve_classes(spec: str) -> list[int]:
    """'jellyfish, 980, Coral reef' -> [107, 980, 973]. Order kept, duplicates dropped."""
    tokens = [t for t in spec.split(",") if t.strip()]
    if not tokens:
        raise LiveError("no classes given — list ImageNet class names or ids, e.g. 'jellyfish, volcano'")
    ids: list[int] = []
    for tok in tokens:
        cid = class_id(tok)
        if cid not in ids:
            ids.append(cid)
    return ids


def random_classes(n: int, seed: int) -> list[int]:
    """n distinct class ids, the same for the same (n, seed)."""
    if not 1 <= n <= NUM_CLASSES:
        raise LiveError(f"number of classes {n} is out of range 1–{NUM_CLASSES}")
    rng = np.random.default_rng(seed)
    return [int(i) for i in rng.choice(NUM_CLASSES, size=n, replace=False)]


def search(word: str) -> list[tuple[int, str]]:
    """Classes with a lemma containing `word` (case-insensitive): [(id, display name)], exact hits first."""
    key = _norm(word)
    if not key:
        return []
    exact, partial = [], []
    for cid, normed in enumerate(_NORMED):
        if key in normed:
            exact.append((cid, LABELS[cid]))
        elif any(key in n for n in normed):
            partial.append((cid, LABELS[cid]))
    return exact + partial
