"""int8's CI gate is README's: OpenVINO int8 against OpenVINO fp32, median PSNR >= 32 dB over 32 held-out
walker states, with tools/int8_quality.py's gate and code, here on a random model of an eighth of the full
width (channel width 16: 36.6 dB on this machine; the tests' width-8 model gives 32.3 dB, too close to gate on).
The full-width figures in README come from the tool itself."""

import numpy as np
import pytest

from engine.backends import create_engine, list_backends
from tools import int8_quality
from tools.walker_states import walker_states

pytest.importorskip("openvino")
pytest.importorskip("nncf")  # in the [int8] extra, which the [test] extra pulls in


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    from engine.testmodel import make_random_model

    assert dict((n, ok) for n, ok, _ in list_backends())["openvino"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIVE_CACHE_DIR", str(tmp_path_factory.mktemp("int8-cache")))
        model = make_random_model(tmp_path_factory.mktemp("w16"), resolution=128, channel_width=16, seed=0)
        held_out = walker_states(32, seed=1)  # other songs, classes and seeds than the calibration set
        out = {}
        for precision in ("fp32", "int8"):  # a failing build is a failure here, never a skip
            engine = create_engine(model, backend="openvino", precision=precision, max_batch=1)
            try:
                out[precision] = int8_quality.render_states(engine, held_out)
            finally:
                engine.close()
    return out, held_out["t"]


def test_int8_passes_the_readme_gate(frames):
    out, t = frames
    score = int8_quality.quality(out["int8"], out["fp32"], t)
    assert int8_quality.GATE_DB == 32.0
    assert score["psnr_median_db"] >= int8_quality.GATE_DB, score
    # control: the same gate on frames that do not match (each int8 frame against another state's) fails
    shifted = int8_quality.quality(np.roll(out["int8"], 1, axis=0), out["fp32"], t)
    assert shifted["psnr_median_db"] < int8_quality.GATE_DB
