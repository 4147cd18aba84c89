"""Your own generator: NVIDIA's StyleGAN2-ADA / StyleGAN3 network pickles, loaded safely and run by our graphs."""

PICKLE_SUFFIX = ".pkl"


def is_pickle(spec) -> bool:
    """Whether --model names a network pickle (by its suffix; the loader checks the content). No torch import:
    the command line asks this before anything is loaded."""
    return spec is not None and str(spec).lower().endswith(PICKLE_SUFFIX)
