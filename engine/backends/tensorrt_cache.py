"""TensorRT facts that need no GPU: the engine cache key and paths, the wheel flavour, driver and GPU checks.

Pure Python (tested everywhere). The flavour (which CUDA major the installed bindings were built for: the
tensorrt-cu12 or tensorrt-cu13 wheels, which report the same __version__) is part of every key, so the two
never share an engine or a timing cache.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import sys
from pathlib import Path

from core.cache import cache_dir

BUILD_VERSION = "2"  # bump when build settings change what an engine contains
MIN_CAPABILITY = (7, 5)  # TensorRT 10 supports Turing and newer
CUDA13_DRIVER = 13000  # cuDriverGetVersion of the first driver (r580) that runs the CUDA 13 wheels
CUDA12_DRIVER = 12000  # r525+; the cu12 wheels of TensorRT 10.x want r535+ in practice


def engine_key(fields: dict) -> str:
    """Stable hash of every field that changes a built engine."""
    canonical = json.dumps({**fields, "build": BUILD_VERSION}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def key_fields(fingerprint: str, resolution: int, max_batch: int, precision: str, trt_version: str,
               gpu_name: str, capability: tuple[int, int], exporter: str, flavour: str = "") -> dict:
    return {"weights": fingerprint, "resolution": int(resolution), "profile": [1, int(max_batch), int(max_batch)],
            "precision": precision, "tensorrt": trt_version, "flavour": flavour, "gpu": gpu_name,
            "capability": f"{capability[0]}.{capability[1]}", "exporter": exporter}


def engine_path(fields: dict, root: Path | None = None) -> Path:
    root = root or cache_dir("tensorrt")
    return root / (f"biggan-{fields['resolution']}-{fields['precision']}-b{fields['profile'][2]}-"
                   f"{engine_key(fields)}.engine")


def timing_cache_path(fields: dict, root: Path | None = None) -> Path:
    """One timing cache per GPU model, TensorRT version and wheel flavour (shared by models and profiles)."""
    root = root or cache_dir("tensorrt")
    tag = engine_key({k: fields.get(k, "") for k in ("gpu", "capability", "tensorrt", "flavour")})
    return root / f"timing-{tag[:16]}.cache"


def flavour(module_name: str = "tensorrt") -> str:
    """The distribution that installed the bindings, e.g. "tensorrt_cu12_bindings" ("" when unknown)."""
    from importlib import metadata

    try:
        dists = metadata.packages_distributions().get(module_name, [])
    except Exception:  # a broken site-packages must not stop the engine
        return ""
    return ",".join(sorted({d.lower().replace("-", "_") for d in dists}))


def flavour_cuda_major(name: str) -> int | None:
    """13 for the tensorrt-cu13 wheels, 12 for cu12, None when the flavour does not say."""
    for major in (13, 12, 11):
        if f"_cu{major}" in name:
            return major
    return None


def cuda_driver_version() -> int | None:
    """cuDriverGetVersion (e.g. 12020 for an r535 driver), None without a driver library."""
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so", "libcuda.dylib")
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        version = ctypes.c_int(0)
        if lib.cuDriverGetVersion(ctypes.byref(version)) == 0:
            return version.value
    return None


def gpu_problem(flavour_name: str, driver: int | None, capability: tuple[int, int], gpu_name: str) -> str:
    """Why these TensorRT wheels cannot run on this GPU/driver ("" when nothing is known to be wrong)."""
    if tuple(capability) < MIN_CAPABILITY:
        return (f"{gpu_name} is compute {capability[0]}.{capability[1]}; TensorRT 10 needs "
                f"{MIN_CAPABILITY[0]}.{MIN_CAPABILITY[1]} (Turing) or newer")
    major = flavour_cuda_major(flavour_name)
    if driver is not None and major == 13 and driver < CUDA13_DRIVER:
        return (f"the tensorrt-cu13 wheels need an r580+ driver (this driver supports CUDA "
                f"{driver // 1000}.{driver % 1000 // 10}): pip install 'live-biggan[tensorrt]' (cu12) instead")
    if driver is not None and major == 12 and driver < CUDA12_DRIVER:
        return f"the tensorrt-cu12 wheels need an r535+ driver (this one supports CUDA {driver // 1000}.x)"
    return ""
