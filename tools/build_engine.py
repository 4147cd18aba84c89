#!/usr/bin/env python3
"""Prebuild (and cache) inference engines so the first `live` start is fast.

TensorRT engines take minutes to build; OpenVINO compiles in seconds but also caches. The resolution comes
from the model. Engines land in the user cache (LIVE_CACHE_DIR overrides), exactly where `live` looks.
  python tools/build_engine.py --model biggan-deep-256 --max-batch 8 --precision fp16
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from engine.errors import EngineError  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="biggan-deep-128/256/512 or a model directory")
    ap.add_argument("--backend", default="tensorrt", choices=("tensorrt", "openvino"))
    ap.add_argument("--max-batch", type=int, action="append",
                    help="largest batch the engine serves (repeatable; default 1 for live and 8 for export)")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp16", "bf16", "fp32", "int8"))
    ap.add_argument("--device", default=None, help="OpenVINO device: CPU, GPU, NPU, AUTO (default: the first usable)")
    ap.add_argument("--force", action="store_true", help="rebuild even if a cached engine exists (tensorrt)")
    args = ap.parse_args(argv)
    batches = sorted(set(args.max_batch or [1, 8]))
    if batches[0] < 1:
        ap.error("--max-batch must be >= 1")

    from engine.backends import list_backends
    from engine.weights import resolve_model

    try:
        usable = {name: (ok, why) for name, ok, why in list_backends()}
        ok, why = usable[args.backend]
        if not ok:
            raise EngineError(f"backend {args.backend} is not usable here: {why}")
        model = resolve_model(args.model)
        for max_batch in batches:
            start = time.perf_counter()
            if args.backend == "tensorrt":
                from engine.backends import tensorrt_backend as trt_backend

                precision = trt_backend.resolve_precision(args.precision)
                _, path = trt_backend.load_or_build(model, precision, max_batch, force=args.force)
                where = str(path)
            else:
                from engine.backends import openvino_backend

                engine = openvino_backend.create(model, args.precision, max_batch, args.device)  # every size
                where, precision = "OpenVINO model cache", engine.name
                engine.close()
            print(f"{args.backend} {precision} batch 1..{max_batch}: ready in {time.perf_counter() - start:.1f} s "
                  f"({where})")
    except EngineError as exc:
        print(f"build_engine: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
