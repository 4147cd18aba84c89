"""Read lyrics: plain text (blank lines split stanzas) or LRC (timed lines).

Plain text: `[Chorus]`-style section tags are dropped and start a new stanza. LRC: each line carries
one or more `[mm:ss.xx]` stamps (a repeated chorus line lists all its times); `[ar:...]`-style
metadata is ignored except `[offset:ms]`, which shifts every stamp as the LRC convention says
(positive = lyrics earlier). Enhanced-LRC word stamps `<mm:ss.xx>` are stripped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import LiveError

# Metadata keys of the LRC convention; other bracket tags (`[Chorus]`, `[Verse 2]`) are section tags.
_META_KEYS = {"ar", "ti", "al", "au", "by", "re", "ve", "length", "offset", "la", "lang", "id", "tool", "#"}
_TAG = re.compile(r"\[([^\]\[]*)\]")
_STAMP = re.compile(r"(\d+):(\d{1,2})(?:[.:](\d{1,3}))?")
# Looks like it wants to be a timestamp: digits then ':' or '.', or only digits/colons/dots.
_STAMPISH = re.compile(r"\s*\d+\s*[:.]|[\d:.\s]*[:.][\d:.\s]*$")
_WORD_STAMP = re.compile(r"<\d+:\d+(?:[.:]\d+)?>")
_WORD = re.compile(r"\w", re.UNICODE)
_TEXT_SUFFIXES = (".txt", ".lrc", ".lyrics", ".text")


@dataclass(frozen=True)
class Line:
    text: str
    lineno: int  # 1-based line number in the source
    times: tuple[float, ...] = ()  # LRC times in seconds (several for a repeated line); empty if untimed


@dataclass(frozen=True)
class Lyrics:
    source: str  # file path, or "<text>"
    stanzas: tuple[tuple[Line, ...], ...]
    is_lrc: bool

    @property
    def lines(self) -> list[Line]:
        return [line for stanza in self.stanzas for line in stanza]

    @property
    def text(self) -> str:
        return "\n\n".join("\n".join(line.text for line in st) for st in self.stanzas)

    def timed_lines(self) -> list[tuple[float, Line]]:
        """(time_s, line) for every stamp, sorted by time (stable for equal times)."""
        events = [(t, line) for line in self.lines for t in line.times]
        return sorted(events, key=lambda e: (e[0], e[1].lineno))


def read_lyrics(text_or_path: str | os.PathLike) -> Lyrics:
    """Lyrics from a file path (Path, or a str naming a file) or from the text itself.

    A str is a path when it has no newline and names an existing file or ends in .txt/.lrc;
    otherwise it is the lyrics text. Pass a Path to be explicit.
    """
    if isinstance(text_or_path, os.PathLike) or _looks_like_path(text_or_path):
        path = Path(text_or_path)
        return parse_lyrics(_read_text_file(path), source=str(path))
    return parse_lyrics(str(text_or_path))


def _looks_like_path(s: str) -> bool:
    if "\n" in s or not s.strip():
        return False
    return os.path.isfile(s) or s.strip().lower().endswith(_TEXT_SUFFIXES)


def _read_text_file(path: Path) -> str:
    if path.is_dir():
        raise LiveError(f"lyrics path {path} is a directory; pass a .txt or .lrc file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LiveError(f"lyrics file not found: {path}") from None
    except OSError as e:
        raise LiveError(f"cannot read lyrics file {path}: {e.strerror or e}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with BOM, as some Windows LRC tools write
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif b"\x00" not in data:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")  # old lyric files are often Latin-1; accept if it reads as text
            controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
            if controls <= len(text) // 100:
                return text
    raise LiveError(f"lyrics file {path} is not text (binary data); pass a UTF-8 .txt or .lrc file")


def parse_lyrics(text: str, source: str = "<text>") -> Lyrics:
    """Split into stanzas of Lines; raises LiveError on a broken LRC timestamp or when no words remain."""
    stanzas: list[tuple[Line, ...]] = []
    current: list[Line] = []
    offset_s = 0.0
    any_stamp = False

    def flush() -> None:
        if current:
            stanzas.append(tuple(current))
            current.clear()

    for lineno, raw in enumerate(text.splitlines(), start=1):
        rest = raw.strip().lstrip("\ufeff")
        times: list[float] = []
        section = False
        while rest.startswith("["):
            m = _TAG.match(rest)
            if m is None:  # unclosed bracket: only an error when it was meant to be a timestamp
                if _STAMPISH.match(rest[1:]):
                    raise _broken(source, lineno, rest)
                break
            content = m.group(1).strip()
            rest = rest[m.end():].lstrip()
            stamp = _STAMP.fullmatch(content)
            if stamp:
                times.append(_seconds(stamp, source, lineno, m.group(0)))
            elif _STAMPISH.match(content):
                raise _broken(source, lineno, m.group(0))
            elif ":" in content and content.split(":", 1)[0].strip().lower() in _META_KEYS:
                key, value = (s.strip() for s in content.split(":", 1))
                if key.lower() == "offset":
                    offset_s = _offset(value, source, lineno) / 1000.0
            else:
                section = True
        words = _clean(rest)
        any_stamp = any_stamp or bool(times)
        if section or not words:
            flush()  # section tags, blank lines and empty timed lines (instrumental gaps) end a stanza
        if words:
            current.append(Line(words, lineno, tuple(times)))
    flush()
    if not stanzas:
        where = "lyrics text" if source == "<text>" else f"lyrics file {source}"
        raise LiveError(f"{where} has no words; pass lyrics as plain text or LRC")
    if offset_s:
        stanzas = [
            tuple(Line(ln.text, ln.lineno, tuple(max(0.0, t - offset_s) for t in ln.times)) for ln in st)
            for st in stanzas
        ]
    return Lyrics(source=source, stanzas=tuple(stanzas), is_lrc=any_stamp)


def _clean(rest: str) -> str:
    """Drop word stamps and inline bracket notes ('[x2]'); keep '' if no letters or digits remain."""
    text = _TAG.sub(" ", _WORD_STAMP.sub("", rest))
    text = " ".join(text.split())
    return text if _WORD.search(text) else ""


def _seconds(m: re.Match, source: str, lineno: int, tag: str) -> float:
    minutes, secs, frac = m.group(1), m.group(2), m.group(3)
    if int(secs) >= 60:
        raise _broken(source, lineno, tag)
    return int(minutes) * 60 + int(secs) + (int(frac) / 10 ** len(frac) if frac else 0.0)


def _offset(value: str, source: str, lineno: int) -> int:
    try:
        return int(value)
    except ValueError:
        raise LiveError(f"{source}:{lineno}: bad LRC [offset:{value}] tag (expected milliseconds, e.g. [offset:-250])") from None


def _broken(source: str, lineno: int, tag: str) -> LiveError:
    return LiveError(f"{source}:{lineno}: broken LRC timestamp {tag.strip()[:20]!r} (expected [mm:ss.xx])")
