"""The int8 calibration set the engine ships (28 KB of walker states) is exactly what tools/walker_states.py
makes with the app's own features and walker: reproducible data, not a blob."""
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_calibration_states_are_the_walkers(tmp_path):
    out = tmp_path / "states.npz"
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "walker_states.py"), str(out)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    made, shipped = np.load(out), np.load(ROOT / "engine" / "data" / "calibration_states.npz")
    assert sorted(made.files) == sorted(shipped.files) == ["c", "t", "z"]
    for k in shipped.files:  # tight tolerance: numpy's SIMD math may differ in the last bits between CPUs
        np.testing.assert_allclose(made[k], shipped[k], rtol=1e-5, atol=1e-6)
