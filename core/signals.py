"""SIGTERM and SIGHUP end a run like Ctrl-C: they raise Terminated (a KeyboardInterrupt) in the main thread,
so every `finally` and `except KeyboardInterrupt` that cleans up after Ctrl-C (temp files, a live set's
--stats and recording) runs for them too. The exit status is 128 + the signal's number."""
from __future__ import annotations

import signal
import threading
from typing import Callable

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """Raised by SIGTERM or SIGHUP; args[0] is the signal's number."""


_received: list[int] = []  # the signals _raise saw: a library that turns Terminated into a bare
# KeyboardInterrupt (Ray's ray.wait/ray.get do) must not turn SIGTERM into SIGINT


def _raise(signum, frame):
    _received.append(signum)
    raise Terminated(signum)


def install() -> Callable[[], None]:
    """Make SIGTERM and SIGHUP raise Terminated; returns a function that puts the old handlers back.
    A signal the caller ignores stays ignored (`nohup live --export ...` must survive its terminal closing);
    outside the main thread (where Python cannot set handlers) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _received.clear()
    old = {sig: signal.signal(sig, _raise) for sig in SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN}

    def restore() -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return restore


def signal_number(e: KeyboardInterrupt) -> int:
    """The signal behind an interrupt: Terminated's, else the first one _raise saw, else SIGINT (Ctrl-C)."""
    if isinstance(e, Terminated):
        return int(e.args[0])
    return int(_received[0]) if _received else int(signal.SIGINT)


def describe(e: KeyboardInterrupt) -> str:
    return signal.Signals(signal_number(e)).name
