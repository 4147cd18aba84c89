"""Pinned trajectories: for a given input, seed and options the latents match tests/data/*_pin.json, which
tools/make_pins.py makes (and re-making reproduces: the trajectory pin equals the one made from the code before
the re-layout, byte for byte).

Rows are always compared within a tight tolerance. The sha256 of every z, c, t byte is compared as well only
on the kind of machine that made the references (same numpy, scipy, and numpy SIMD dispatch targets; see
`cpu_fingerprint`), or when LIVE_PIN_EXACT=1 forces it: numpy's SIMD math may differ in the last bits
between AVX2 and AVX-512 CPUs, so elsewhere an exact hash would fail on correct code.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from tools import make_pins

DATA = Path(__file__).parent / "data"
RTOL, ATOL = 1e-5, 1e-6


def exact(ref: dict) -> bool:
    return os.environ.get("LIVE_PIN_EXACT") == "1" or ref.get("cpu") == make_pins.cpu_fingerprint()


def check_rows(ref_rows: list, z, c, t, index_key: str) -> None:
    for row in ref_rows:
        i = row[index_key]
        np.testing.assert_allclose(z[i], row["z"], rtol=RTOL, atol=ATOL, err_msg=f"z at {index_key} {i}")
        assert list(np.flatnonzero(c[i])) == row["c_ids"], f"classes at {index_key} {i}"
        np.testing.assert_allclose(c[i][row["c_ids"]], row["c"], rtol=RTOL, atol=ATOL, err_msg=f"c at {i}")
        assert t[i] == pytest.approx(row["t"], rel=RTOL, abs=ATOL)


def check_trajectory(states: dict, ref: dict) -> None:
    assert len(states["t"]) == ref["steps"]
    for row in ref["rows"]:
        assert states["time_s"][row["step"]] == pytest.approx(row["time_s"], abs=1e-9)
    check_rows(ref["rows"], states["z"], states["c"], states["t"], "step")
    if exact(ref):
        assert make_pins.trajectory_sha256(states) == ref["sha256"]


def test_pins_are_made_by_the_committed_tool_and_cover_truncation_and_class_changes():
    trajectory = json.loads((DATA / "trajectory_pin.json").read_text())
    export = json.loads((DATA / "export_latents_pin.json").read_text())
    for pin in (trajectory, export):
        assert pin["made_by"].startswith("tools/make_pins.py")
    for path in DATA.glob("*.json"):  # no paths of the machine that made them
        assert not re.search(r'"(/|[A-Za-z]:\\\\)', path.read_text()), path
    assert min(r["t"] for r in trajectory["rows"]) < 1 and min(r["t"] for r in export["rows"]) < 1
    assert len({tuple(r["c_ids"]) for r in trajectory["rows"]}) > 1  # the class set changes mid-song
    if exact(trajectory):  # re-making reproduces the committed file
        assert json.dumps(make_pins.trajectory_pin()) + "\n" == (DATA / "trajectory_pin.json").read_text()


def test_steering_trajectory_is_pinned():
    ref = json.loads((DATA / "trajectory_pin.json").read_text())
    check_trajectory(make_pins.trajectory(), ref)
    # controls: a lost control event (the truncation change, the new classes) is caught
    for lost in ({"truncation_event": False}, {"classes_event": False}):
        with pytest.raises(AssertionError):
            check_trajectory(make_pins.trajectory(**lost), ref)


def test_export_latents_are_pinned(tiny_model_dir, tmp_path):
    ref = json.loads((DATA / "export_latents_pin.json").read_text())
    states = make_pins.export_latents(tiny_model_dir, tmp_path)
    z, c, t = states["z"], states["c"], states["t"]
    assert len(z) == ref["frames"]
    check_rows(ref["rows"], z, c, t, "frame")
    if exact(ref):
        assert hashlib.sha256(z.tobytes() + c.tobytes() + t.tobytes()).hexdigest() == ref["sha256"]
    with pytest.raises(AssertionError):  # control: another truncation is caught
        check_rows(ref["rows"], z, c, np.full_like(t, 0.7), "frame")
