"""The engine's one user-facing error type."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (some have none), for one-line errors."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:limit]


class EngineError(Exception):
    """An expected engine failure (no weights, offline, bad model dir, unusable backend...).

    The message is one line that says what went wrong and what to do; the CLI prints it without a traceback.
    """

    exit_code = 2
