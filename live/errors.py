"""Errors a user can act on: the CLI prints the message as one line and exits non-zero."""


class UserError(Exception):
    """An expected failure (missing file, no device, no weights, offline...).

    The message is one line that says what went wrong and what to do.
    """

    exit_code = 2
