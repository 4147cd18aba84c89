"""The modulation part of a preset file: `[[modulation]]` rows, `[bands]` and `[lfo1]` .. `[lfo4]`, checked with
errors that name the file, the line and the field (as the parameters' are, live.control.presets).

    [[modulation]]
    source = "bass"          # a source (live.analysis.sources) or a stem's name
    target = "truncation"    # a walker parameter, noise_push, cut or dir1..dir8 (live.walk.modulation)
    amount = -0.6
    curve = "linear"         # optional: linear | exp | log | gate
"""
from __future__ import annotations

import difflib
import re
from typing import Any

from core.errors import LiveError
from live.analysis.lfo import N_LFOS, SHAPES, LfoSpec
from live.analysis.sources import BASE_NAMES, SourceSpec
from live.config import check_number
from live.walk.modulation import CURVES, Matrix, Row, amount_range, targets

KEYS = ("modulation", "bands") + tuple(f"lfo{i}" for i in range(1, N_LFOS + 1))
ROW_KEYS = ("source", "target", "amount", "curve")
LIMITS = {"attack_ms": (0.0, 1000.0), "release_ms": (0.0, 10000.0), "seconds": (0.05, 3600.0),
          "beats": (0.25, 1024.0)}


def _line(text: str, header: str, n: int, key: str | None) -> str:
    """':LINE' of `key =` inside the n-th (0-based) `header` table of a TOML text (the header's line if
    key is None or not found there), '' when the header is not found."""
    lines = text.splitlines()
    pat = re.compile(rf"^\s*{re.escape(header)}\s*(#.*)?$")
    starts = [i for i, line in enumerate(lines) if pat.match(line)]
    if n >= len(starts):
        return ""
    start = starts[n]
    if key is not None:
        for i in range(start + 1, len(lines)):
            if re.match(r"^\s*\[", lines[i]):
                break
            if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
                return f":{i + 1}"
    return f":{start + 1}"


def _hint(word: str, known) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"did you mean {close[0]}? " if close else ""


def _known(table: dict, allowed, at) -> None:
    for k in table:
        if k not in allowed:
            raise LiveError(f"{at(k)} unknown key {k!r} — {_hint(k, allowed)}keys: {', '.join(allowed)}")


def _number(value: Any, what: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LiveError(f"{what} {value!r} is not a number")
    return check_number(value, what, lo, hi)


def _source(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise LiveError(f"{what} {value!r} must be a source name in quotes, e.g. \"bass\"")
    name = value.replace("#", "s")  # chroma_C# is chroma_Cs
    if name in BASE_NAMES:
        return name
    # Not a source: a stem's name (a word of its own), unless it looks like a misspelt source.
    hint = _hint(name, BASE_NAMES)
    bare = name[len("onset_"):] if name.startswith("onset_") else name
    if hint or not re.fullmatch(r"[a-z][a-z0-9_]*", bare):
        raise LiveError(f"{what} unknown source {value!r} — {hint}sources: {', '.join(BASE_NAMES)}, "
                        "or a stem's name")
    return name


def _row(table: Any, n: int, text: str, where: str) -> Row:
    at = lambda key: f"{where}{_line(text, '[[modulation]]', n, key)}: modulation row {n + 1}"  # noqa: E731
    if not isinstance(table, dict):
        raise LiveError(f"{at(None)} must be a table: write [[modulation]] above its keys")
    _known(table, ROW_KEYS, lambda k: at(k) + ":")
    for key in ROW_KEYS[:3]:
        if key not in table:
            raise LiveError(f"{at(None)}: {key} is missing — a row needs source, target and amount")
    source = _source(table["source"], f"{at('source')}: source =")
    target = table["target"]
    if target not in targets():
        raise LiveError(f"{at('target')}: target = {target!r} is unknown — {_hint(str(target), targets())}"
                        f"targets: {', '.join(targets())}")
    amount = _number(table["amount"], f"{at('amount')}: amount =", *amount_range(target))
    crv = table.get("curve", "linear")
    if crv not in CURVES:
        raise LiveError(f"{at('curve')}: curve = {crv!r} is unknown — curves: {', '.join(CURVES)}")
    return Row(source, target, amount, crv)


def _table(raw: dict, key: str, allowed: tuple[str, ...], text: str, where: str) -> dict:
    table = raw.get(key, {})
    at = lambda k: f"{where}{_line(text, f'[{key}]', 0, k)}: [{key}]"  # noqa: E731
    if not isinstance(table, dict):
        raise LiveError(f"{where}: {key} must be a table: [{key}]")
    _known(table, allowed, at)
    out = {}
    for k, v in table.items():
        if k == "shape":
            if v not in SHAPES:
                raise LiveError(f"{at(k)} shape = {v!r} is unknown — shapes: {', '.join(SHAPES)}")
            out[k] = v
        else:
            out[k] = _number(v, f"{at(k)} {k} =", *LIMITS[k])
    if "seconds" in out and "beats" in out:
        raise LiveError(f"{at('beats')} takes seconds or beats, not both")
    return out


def read_matrix(raw: dict, text: str, where: str) -> Matrix | None:
    """The preset's modulation (None when it has none of KEYS); `where` names the file ('preset x.toml')."""
    if not any(k in raw for k in KEYS):
        return None
    rows = raw.get("modulation", [])
    if not isinstance(rows, list):
        raise LiveError(f"{where}: modulation must be rows: write each as [[modulation]]")
    bands = _table(raw, "bands", ("attack_ms", "release_ms"), text, where)
    lfos = tuple(LfoSpec(**_table(raw, f"lfo{i}", ("shape", "seconds", "beats"), text, where))
                 for i in range(1, N_LFOS + 1))
    spec = SourceSpec(**bands, lfos=lfos)
    return Matrix(tuple(_row(t, n, text, where) for n, t in enumerate(rows)), spec)
