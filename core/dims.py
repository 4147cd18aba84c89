"""The latent sizes the walk moves through: BigGAN's by default; a StyleGAN pickle describes its own
(engine.stylegan.space). Every module that builds, checks or stores z and c takes them from here or from the
model's LatentDims."""

from typing import NamedTuple

Z_DIM = 128  # noise vector z
NUM_CLASSES = 1000  # ImageNet class vector c


class LatentDims(NamedTuple):
    z_dim: int = Z_DIM  # the walker's noise vector
    n_classes: int = NUM_CLASSES  # the class-mix vector: BigGAN's classes, a StyleGAN's labels or anchors


BIGGAN = LatentDims()
