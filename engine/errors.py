"""The engine's one user-facing error type."""


class EngineError(Exception):
    """An expected engine failure (no weights, offline, bad model dir, unusable backend...).

    The message is one line that says what went wrong and what to do; the CLI prints it without a traceback.
    """

    exit_code = 2
