"""Shared fixtures."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 128 px BigGAN-deep model dir (config.json + pytorch_model.bin) with narrow deterministic random weights.

    Same format and loader path as the real weights; a forward pass takes tens of milliseconds.
    """
    from engine.testmodel import make_random_model

    return make_random_model(tmp_path_factory.mktemp("tiny_model"), resolution=128, channel_width=8, seed=0)
