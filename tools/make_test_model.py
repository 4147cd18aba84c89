#!/usr/bin/env python3
"""Write a deterministic random BigGAN-deep model directory (config.json + pytorch_model.bin).

Full width (--channel-width 128, the default) has the real model's size and cost, for benchmarks without
downloading weights; tests use a narrow one (e.g. 16).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from engine.testmodel import CHANNEL_MULTS, make_random_model  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path, help="directory to write (created)")
    ap.add_argument("--resolution", type=int, default=128, choices=sorted(CHANNEL_MULTS))
    ap.add_argument("--channel-width", type=int, default=128, help="BigGAN 'ch' (real models: 128)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.channel_width < 8 or args.channel_width % 8:
        ap.error("--channel-width must be a positive multiple of 8")
    out = make_random_model(args.out_dir, args.resolution, args.channel_width, args.seed)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
