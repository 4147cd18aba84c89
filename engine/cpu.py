"""Facts of this machine's CPU that choose engine settings: native bf16, physical cores."""

from __future__ import annotations

import os


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA, honoured by torch's and OpenVINO's CPU kernels) below native bf16.
_BELOW_BF16 = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}


def isa_capped_below_bf16() -> bool:
    """True when ONEDNN_MAX_CPU_ISA limits the kernels below bf16 (e.g. an AVX2-only benchmark on a newer CPU)."""
    return os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper() in _BELOW_BF16


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    if isa_capped_below_bf16():
        return False
    if {"avx512_bf16", "amx_bf16"} & _cpu_flags():
        return True
    import torch

    return "AMX" in torch.backends.cpu.get_cpu_capability()  # non-Linux: what torch's dispatcher detected


def cpu_name() -> str:
    """The CPU's model name (for reports beside every figure)."""
    import platform

    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def physical_cores() -> int:
    """Engine threads: the physical cores this process may run on (hyperthreads only slow conv-heavy inference
    down), no more than OMP_NUM_THREADS when that is set (Ray sets it to an actor's CPUs)."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) > 0:
        allowed = min(allowed, int(omp))
    cores, phys, core = set(), None, None
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    phys = val.strip()
                elif key == "core id":
                    core = val.strip()
                elif not key and core is not None:  # blank line ends one logical CPU
                    cores.add((phys, core))
                    phys = core = None
        if core is not None:
            cores.add((phys, core))
    except OSError:
        pass
    return max(1, min(allowed, len(cores) or allowed))
