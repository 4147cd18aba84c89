"""The engine's error: a LiveError (one line, exit 2) raised where the generator cannot be loaded or run."""

from core.errors import LiveError


class EngineError(LiveError):
    """No weights, offline, bad model folder, unusable backend, failed build..."""


class NoSuchPrecision(EngineError):
    """This hardware lacks the precision asked for (bf16 on an older GPU, fp16 on a CPU): not a broken build."""
