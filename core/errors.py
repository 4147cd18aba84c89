"""The one error root. A LiveError is an expected failure a user can act on: the CLI prints its message as
one line (what went wrong, what to do) and exits 2. Anything else is a bug and keeps its traceback."""


class LiveError(Exception):
    """An expected failure: bad input, missing file or device, no weights, unusable backend..."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (some have none), for one-line errors."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:limit]


def warn(text: str) -> str:
    """A warning a user should see but that stops nothing: one line on stderr. Returns the text (for a HUD)."""
    import sys

    print(f"live: {text}", file=sys.stderr, flush=True)
    return text
