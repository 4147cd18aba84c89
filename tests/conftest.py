"""Shared fixtures."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Tests (and the `live` subprocesses they start) cache ONNX files, compiled engines and class embeddings in
# a folder of their own, never in the user's cache; a user's presets and MIDI map (XDG config) are not read.
_TEMP = tempfile.mkdtemp(prefix="live-test-")
atexit.register(shutil.rmtree, _TEMP, True)
os.environ.setdefault("LIVE_CACHE_DIR", os.path.join(_TEMP, "cache"))
os.makedirs(os.environ["LIVE_CACHE_DIR"], exist_ok=True)  # tests make per-run caches inside it
os.environ["XDG_CONFIG_HOME"] = os.path.join(_TEMP, "config")


def torch_flags() -> dict:
    """The process-wide float32 precision flags that torch code may change (tf32 on CUDA, bf16 on CPU)."""
    import torch

    b = torch.backends
    flags = {"generic": b.fp32_precision, "cudnn.conv": b.cudnn.conv.fp32_precision,
             "cudnn.rnn": b.cudnn.rnn.fp32_precision, "cuda.matmul": b.cuda.matmul.fp32_precision,
             "mkldnn.conv": b.mkldnn.conv.fp32_precision, "mkldnn.matmul": b.mkldnn.matmul.fp32_precision,
             "cublas.allow_tf32": torch._C._get_cublas_allow_tf32(),
             "matmul_precision": torch.get_float32_matmul_precision()}
    try:  # the legacy getter refuses mixed cuDNN flags: exactly what breaks a later torch.export
        flags["cudnn.allow_tf32"] = torch._C._get_cudnn_allow_tf32()
    except RuntimeError:
        flags["cudnn.allow_tf32"] = "mixed"
    return flags


def _set_torch_flags(flags: dict) -> None:
    import torch

    b = torch.backends
    torch._C._set_cudnn_allow_tf32(flags["cudnn.allow_tf32"] is True)  # the legacy flag first: it sets conv and rnn
    torch._C._set_cublas_allow_tf32(flags["cublas.allow_tf32"])
    torch.set_float32_matmul_precision(flags["matmul_precision"])
    b.fp32_precision = flags["generic"]
    b.cudnn.conv.fp32_precision, b.cudnn.rnn.fp32_precision = flags["cudnn.conv"], flags["cudnn.rnn"]
    b.cuda.matmul.fp32_precision = flags["cuda.matmul"]
    b.mkldnn.conv.fp32_precision, b.mkldnn.matmul.fp32_precision = flags["mkldnn.conv"], flags["mkldnn.matmul"]


@pytest.fixture(autouse=True)
def global_state_kept():
    """Every test leaves the environment, the working folder and torch's precision flags as it found them.

    The environment is put back quietly (the app sets a few variables for libraries it loads, e.g.
    HF_HUB_OFFLINE); a test that changes the working folder or torch's flags fails, and they are put back so
    the tests after it are not affected (mixed TF32 flags made every later ONNX export fail).
    """
    env, cwd = dict(os.environ), os.getcwd()
    flags = torch_flags()
    yield
    leaks = []
    if os.getcwd() != cwd:
        leaks.append(f"working folder {cwd} -> {os.getcwd()}")
        os.chdir(cwd)
    if torch_flags() != flags:
        after = torch_flags()
        leaks.append("torch flags " + ", ".join(f"{k} {flags[k]} -> {after[k]}" for k in flags if after[k] != flags[k]))
        _set_torch_flags(flags)
    if os.environ != env:
        os.environ.clear()
        os.environ.update(env)
    assert not leaks, "the test left global state changed: " + "; ".join(leaks)


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
