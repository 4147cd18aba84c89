"""Shared fixtures."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Tests (and the `live` subprocesses they start) cache ONNX files, compiled engines and class embeddings in
# a folder of their own, never in the user's cache.
if "LIVE_CACHE_DIR" not in os.environ:
    os.environ["LIVE_CACHE_DIR"] = tempfile.mkdtemp(prefix="live-test-cache-")
    atexit.register(shutil.rmtree, os.environ["LIVE_CACHE_DIR"], True)


@pytest.fixture(scope="module")
def mic(tmp_path_factory):
    """A virtual microphone (tests/vmic.py) playing two minutes of music, for `live` subprocesses (its env)."""
    from tests import vmic

    with vmic.VirtualMic(tmp_path_factory.mktemp("vmic")) as vm:
        root = str(Path(__file__).resolve().parents[1])
        vm.env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        vm.play(vmic.write_music(tmp_path_factory.mktemp("audio") / "music.wav", 120))
        yield vm


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 128 px BigGAN-deep model dir (config.json + pytorch_model.bin) with narrow deterministic random weights.

    Same format and loader path as the real weights; a forward pass takes tens of milliseconds.
    """
    from engine.testmodel import make_random_model

    return make_random_model(tmp_path_factory.mktemp("tiny_model"), resolution=128, channel_width=8, seed=0)
