"""The one latents file format: save and checked load, per-frame (export) and per-step (replay, record)."""
import os
import stat

import numpy as np
import pytest

from core.errors import LiveError
from live.recordings import latents
from live.walk.walker import State


def states(n):
    rng = np.random.default_rng(0)
    return [State(rng.standard_normal(128).astype(np.float32), rng.random(1000).astype(np.float32), 0.5 + i / 10)
            for i in range(n)]


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def test_log_save_load_round_trip_with_and_without_time(tmp_path):
    for timed in (False, True):
        log = latents.LatentLog(timed=timed)
        for i, s in enumerate(states(3)):
            log.add(s, time_s=0.1 * i)
        path = latents.save(tmp_path / f"l{timed}.npz", log.latents())
        got = latents.load(path)
        assert got.z.shape == (3, 128) and got.c.shape == (3, 1000) and got.t.dtype == np.float32
        np.testing.assert_array_equal(got.z, np.stack([s.z for s in states(3)]))
        np.testing.assert_array_equal(got.t, np.float32([0.5, 0.6, 0.7]))
        assert (got.time_s is not None) == timed
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~_umask()
    assert sorted(os.listdir(tmp_path)) == ["lFalse.npz", "lTrue.npz"]


def test_spool_rows_are_the_recorders_latents(tmp_path):
    spool = tmp_path / "latents.spool"
    with open(spool, "wb") as f:
        for i, s in enumerate(states(4)):
            f.write(latents.step_row(0.25 * i, s).tobytes())
        f.write(b"\0" * 100)  # a torn last row
    lat = latents.from_spool(spool)
    assert len(lat.z) == 4 and list(lat.time_s) == [0.0, 0.25, 0.5, 0.75]
    np.testing.assert_array_equal(lat.c[2], states(4)[2].c)


@pytest.mark.parametrize("case, words", [
    ("not-npz", "not a readable latents file"),
    ("missing", "no c array"),
    ("shape", "z is float32 [3, 64], expected float [3, 128]"),
])
def test_a_bad_latents_file_is_one_line_naming_it(tmp_path, case, words):
    path = tmp_path / "bad.npz"
    if case == "not-npz":
        path.write_text("hello")
    elif case == "missing":
        np.savez(path, z=np.zeros((3, 128), np.float32), t=np.zeros(3, np.float32))
    else:
        np.savez(path, z=np.zeros((3, 64), np.float32), c=np.zeros((3, 1000), np.float32), t=np.zeros(3))
    with pytest.raises(LiveError) as err:
        latents.load(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and words in msg and "\n" not in msg
