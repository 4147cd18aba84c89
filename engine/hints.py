"""Advice the engine can give from what it measured: a slow CPU engine is told about int8."""

from __future__ import annotations

SLOW_FPS = 20.0  # below this live mode stutters visibly
SETTLE_S = 5.0  # live mode judges the render rate after this long


def int8_hint(engine, fps: float) -> str:
    """One line suggesting --precision int8 when `engine` renders below SLOW_FPS on a CPU ("" otherwise)."""
    if not 0 < fps < SLOW_FPS or str(getattr(engine, "device", "")).lower() != "cpu" or engine.name.endswith("int8"):
        return ""
    return f"{fps:.0f} fps on the CPU: try --precision int8 (OpenVINO, ~1.6x fp32 speed)"
