"""`live --selftest`: every usable backend, device and precision on this machine, checked and timed.

For each (backend, device) of the auto chain that is usable here and each precision it offers:
1. build it on a small random model (channel width 8, as the tests: same graph, seconds to build) and check parity against
   our torch fp32 graph on the CPU, on real walker states (the int8 calibration set): PSNR and max difference
   of the uint8 frames, pass/fail against the bar tests/test_backends.py holds each precision to;
2. time ms/frame at batch 1 at the --model size. The real weights are used when they are on disk (a model
   folder, or a name already downloaded); otherwise a random full-width model of that resolution, which costs
   exactly what the real one does: a self-test never downloads.
Then it builds `auto` on the small model, as live and export would, and reports what it chose and why. The
report (a dict, JSON-ready) is what a bug report should carry; ok is False when auto's choice fails parity.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from core.cache import cache_dir
from core.errors import first_line

from . import progress
from .cpu import cpu_name
from .backends import SUPPORTS, candidates, create_engine, list_devices
from .errors import EngineError

PARITY_WIDTH = 8
MIN_PSNR = {"fp32": 45.0, "bf16": 30.0, "fp16": 30.0, "int8": 28.0}
MAX_DIFF_FP32 = 2  # levels: fp32 backends differ from torch only by float summation order
PARITY_STATES = 8


def _random_model(resolution: int, width: int) -> Path:
    from .testmodel import make_random_model

    out = cache_dir("selftest-models", f"biggan-deep-{resolution}-random-w{width}")
    if not (out / "pytorch_model.bin").is_file() or not (out / "config.json").is_file():
        with progress.step(f"making a random {resolution} px model (width {width}, once)", silent_s=0):
            make_random_model(out, resolution=resolution, channel_width=width, seed=0)
    return out


def timing_model(model: str) -> tuple[Path, str]:
    """(model dir, what it is) for the --model size: real weights on disk, else random full-width ones."""
    from .weights import CONFIG_NAME, MODEL_NAMES, WEIGHTS_NAME, check_model_dir, model_cache

    if model in MODEL_NAMES:
        cached = model_cache(model)
        if (cached / CONFIG_NAME).is_file() and (cached / WEIGHTS_NAME).is_file():
            return cached, f"{model} (downloaded weights)"
        res = int(model.rsplit("-", 1)[1])
        return _random_model(res, 128), f"random full-width {res} px weights ({model} is not downloaded; same cost)"
    path = check_model_dir(Path(model).expanduser())
    return path, str(path)


def _states(n: int):
    from .quantize import calibration_states

    states = calibration_states()[:: max(1, len(calibration_states()) // n)][:n]
    return tuple(np.concatenate([s[k] for s in states]) for k in ("z", "c", "t"))


def _parity(engine, ref: np.ndarray, states, precision: str) -> dict:
    out = np.concatenate([engine.render(*(a[i:i + 1] for a in states)) for i in range(len(ref))])
    diff = np.abs(out.astype(np.int16) - ref.astype(np.int16))
    mse = float(np.median(np.mean(diff.astype(np.float64) ** 2, axis=(1, 2, 3))))  # median frame, as the int8 gate
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
    ok = psnr >= MIN_PSNR[precision] and (precision != "fp32" or int(diff.max()) <= MAX_DIFF_FP32)
    return {"psnr_db": round(psnr, 2) if psnr != float("inf") else None, "max_diff": int(diff.max()),
            "parity_ok": bool(ok)}


def _time(engine, repeats: int) -> float:
    z, c, t = _states(1)
    for _ in range(2):
        engine.render(z, c, t)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        engine.render(z, c, t)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1e3, 2)


def _row(cand, precision: str, small: Path, ref, states, big: Path | None, repeats: int) -> dict:
    row = {"backend": cand.backend, "device": cand.device, "asked": precision}
    try:
        start = time.perf_counter()
        engine = create_engine(small, backend=cand.backend, precision=precision, max_batch=1, device=cand.device)
        row["build_s"] = round(time.perf_counter() - start, 2)
    except Exception as exc:  # a precision this hardware lacks, or a backend that fails to build: one line
        row["error"] = first_line(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {first_line(exc)}"
        return row
    try:
        row["engine"] = engine.name
        row["precision"] = engine.name.rsplit("-", 1)[1]
        row.update(_parity(engine, ref, states, row["precision"]))
    finally:
        engine.close()
    if big is not None:
        try:
            engine = create_engine(big, backend=cand.backend, precision=precision, max_batch=1, device=cand.device)
            try:
                row["ms_per_frame"] = _time(engine, repeats)
            finally:
                engine.close()
        except Exception as exc:
            row["timing_error"] = first_line(exc)
    return row


def machine() -> dict:
    import torch

    info = {"python": platform.python_version(), "platform": platform.platform(), "torch": torch.__version__,
            "cpu": cpu_name()}
    for name in ("openvino", "tensorrt", "nncf"):
        try:
            info[name] = __import__(name).__version__
        except Exception:
            info[name] = None
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def run(model: str = "biggan-deep-128", backend: str = "auto", device: str = "auto", precisions=None,
        repeats: int = 5, timing: bool = True) -> dict:
    """The self-test report (see the module doc). precisions limits the precisions tried (default: all)."""
    from .graph import build_generator

    small = _random_model(128, PARITY_WIDTH)
    states = _states(PARITY_STATES)
    import torch

    with torch.inference_mode():
        ref = build_generator(small)(*(torch.from_numpy(a) for a in states)).numpy()
    big, big_what = timing_model(model) if timing else (None, None)
    report = {"machine": machine(), "model": model, "timing_model": big_what, "rows": [],
              "devices": [c._asdict() for c in list_devices()]}
    for cand in candidates(backend, "auto", device):
        for precision in sorted(SUPPORTS[(cand.backend, cand.device)]):
            if precisions and precision not in precisions:
                continue
            progress.say(f"self-test: {cand} {precision}")
            report["rows"].append(_row(cand, precision, small, ref, states, big, repeats))
    report["auto"] = _auto(small, device, ref, states)
    report["ok"] = bool(report["auto"].get("parity_ok"))
    return report


def _auto(small: Path, device: str, ref, states) -> dict:
    """Build auto as live and export do, check its parity, and say why it chose what it chose."""
    try:
        engine = create_engine(small, backend="auto", max_batch=1, device=device)
    except Exception as exc:
        return {"engine": None, "why": first_line(exc), "parity_ok": False}
    try:
        result = {"engine": engine.name, **_parity(engine, ref, states, engine.name.rsplit("-", 1)[1])}
        skipped = [f"{c}: {why}" for c, why in engine.fallbacks]
    finally:
        engine.close()
    unusable = [f"{c}: {c.why}" for c in list_devices() if not c.usable]
    result["why"] = ("the first of TensorRT > torch CUDA > MPS > OpenVINO GPU/NPU > OpenVINO CPU > torch CPU that "
                     "builds and renders here" + (f"; failed before it: {'; '.join(skipped)}" if skipped else "")
                     + (f"; not usable here: {'; '.join(unusable)}" if unusable else ""))
    return result


def format_table(report: dict) -> str:
    ms_head = "ms/frame" + (f" ({report['model']})" if report.get("timing_model") else "")
    head = f"{'backend':9} {'device':6} {'asked':5} {'engine':22} {'build s':>7} {'PSNR dB':>8} {'max diff':>8} " \
           f"{'parity':6} {ms_head}"
    lines = [head, "-" * len(head)]
    for r in report["rows"]:
        lead = f"{r['backend']:9} {r['device']:6} {r['asked']:5}"
        if "error" in r:
            lines.append(f"{lead} not available: {r['error']}")
            continue
        psnr = "inf" if r["psnr_db"] is None else f"{r['psnr_db']:.1f}"
        ms = f"{r['ms_per_frame']:.1f}" if "ms_per_frame" in r else r.get("timing_error", "-")
        lines.append(f"{lead} {r['engine']:22} {r['build_s']:7.1f} {psnr:>8} {r['max_diff']:8d} "
                     f"{'ok' if r['parity_ok'] else 'FAIL':6} {ms}")
    auto = report["auto"]
    lines.append(f"auto picks {auto['engine']}: {auto['why']}")
    if report.get("timing_model"):
        lines.append(f"timed on {report['timing_model']}, batch 1")
    lines.append("self-test " + ("passed" if report["ok"] else "FAILED: auto's choice does not match torch fp32"))
    return "\n".join(lines)


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, default=str)
