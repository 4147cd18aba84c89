"""The latent sizes of BigGAN: every module that builds, checks or stores z and c takes them from here."""

Z_DIM = 128  # noise vector z
NUM_CLASSES = 1000  # ImageNet class vector c
