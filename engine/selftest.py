"""`live --selftest`: every usable backend, device and precision on this machine, checked and timed.

For each (backend, device) of the auto chain that is usable here and each precision it offers:
1. build it on a small random model (channel width 8, as the tests: same graph, seconds to build) and check parity
   against our torch fp32 graph on the CPU, on real walker states (the int8 calibration set);
2. build it at the --model size and check parity there too, against torch fp32 on the CPU at that size, then time
   ms/frame. The real weights are used when they are on disk (a model folder, or a name already downloaded);
   otherwise a random full-width model of that resolution, which costs exactly what the real one does: a
   self-test never downloads.
Parity is the PSNR of the uint8 frames (median over the states), held to the bar tests/test_backends.py holds
each precision to; fp32 must also stay within MAX_DIFF_FP32 levels on the small model. The largest single-pixel
difference is in the JSON only: a reduced precision flips a few saturated pixels far (int8: 200+ levels) while
the picture matches, so it is no verdict there.
Then it builds `auto` on the small model, as live and export would, and reports what it chose and why. The
report (a dict, JSON-ready) is what a bug report should carry; ok is False when auto's choice fails parity.
`auto_only=True` (the notebook) skips the rows and builds auto once, at the --model size and the given batch:
the very engine a later export at that batch loads from the cache.
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


def _reference(model_dir: Path, states) -> np.ndarray:
    """uint8 frames of our torch fp32 graph on the CPU, one state at a time (a 512 px batch would need GBs)."""
    import torch

    from .graph import build_generator

    gen = build_generator(model_dir)
    with torch.inference_mode():
        return np.concatenate([gen(*(torch.from_numpy(a[i:i + 1]) for a in states)).numpy()
                               for i in range(len(states[0]))])


def _parity(engine, ref: np.ndarray, states, precision: str, max_diff: bool = True, prefix: str = "") -> dict:
    n = engine.max_batch
    out = np.concatenate([engine.render(*(a[i:i + n] for a in states)) for i in range(0, len(ref), n)])
    diff = np.abs(out.astype(np.int16) - ref.astype(np.int16))
    mse = float(np.median(np.mean(diff.astype(np.float64) ** 2, axis=(1, 2, 3))))  # median frame, as the int8 gate
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
    ok = psnr >= MIN_PSNR[precision] and not (max_diff and precision == "fp32" and int(diff.max()) > MAX_DIFF_FP32)
    return {prefix + "psnr_db": round(psnr, 2) if psnr != float("inf") else None,
            prefix + "max_diff": int(diff.max()), prefix + "parity_ok": bool(ok)}


def _time(engine, repeats: int) -> float:
    """Median ms per frame at the engine's max batch."""
    z, c, t = (np.repeat(a, engine.max_batch, axis=0) for a in _states(1))
    for _ in range(2):
        engine.render(z, c, t)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        engine.render(z, c, t)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1e3 / engine.max_batch, 2)


def _why(exc: Exception) -> str:
    return first_line(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {first_line(exc)}"


def _row(cand, precision: str, small: Path, ref, states, big, repeats: int) -> dict:
    """One backend/device/precision: parity on the small model, then parity and speed at the --model size.
    big: (model dir, its reference frames) or None."""
    row = {"backend": cand.backend, "device": cand.device, "asked": precision}
    try:
        start = time.perf_counter()
        engine = create_engine(small, backend=cand.backend, precision=precision, max_batch=1, device=cand.device)
        row["build_s"] = round(time.perf_counter() - start, 2)
    except Exception as exc:  # a precision this hardware lacks, or a backend that fails to build: one line
        row["error"] = _why(exc)
        return row
    try:
        row["engine"] = engine.name
        row["precision"] = engine.name.rsplit("-", 1)[1]
        row.update(_parity(engine, ref, states, row["precision"]))
    finally:
        engine.close()
    if big is not None:
        row.update(_at_model_size(cand.backend, cand.device, precision, big, states, 1, repeats))
        row["parity_ok"] = row["parity_ok"] and row.get("model_parity_ok", False)
    return row


def _at_model_size(backend, device, precision, big, states, batch: int, repeats: int) -> dict:
    """Parity and ms/frame of one engine at the --model size (the model's own reference frames)."""
    model_dir, ref = big
    try:
        engine = create_engine(model_dir, backend=backend, precision=precision, max_batch=batch, device=device)
    except Exception as exc:
        return {"model_error": _why(exc), "model_parity_ok": False}
    try:
        # fp32 is held to PSNR only here: at full width a few pixels differ by more than a level or two
        result = _parity(engine, ref, states, engine.name.rsplit("-", 1)[1], max_diff=False, prefix="model_")
        result["ms_per_frame"] = _time(engine, repeats)
        result["engine_at_model_size"] = engine.name
        return result
    finally:
        engine.close()


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
        repeats: int = 5, timing: bool = True, auto_only: bool = False, batch: int = 1) -> dict:
    """The self-test report (see the module doc). precisions limits the precisions tried (default: all);
    timing=False skips the --model size; auto_only builds auto alone at the --model size and `batch`."""
    states = _states(PARITY_STATES)
    big_dir, big_what = timing_model(model) if timing or auto_only else (None, None)
    big = (big_dir, _reference(big_dir, states)) if big_dir is not None else None
    report = {"machine": machine(), "model": model, "timing_model": big_what, "batch": batch, "rows": [],
              "devices": [c._asdict() for c in list_devices()]}
    if auto_only:
        report["auto"] = _auto(big_dir, device, big[1], states, batch=batch, at_size=True, repeats=repeats)
    else:
        small = _random_model(128, PARITY_WIDTH)
        ref = _reference(small, states)
        for cand in candidates(backend, "auto", device):
            for precision in sorted(SUPPORTS[(cand.backend, cand.device)]):
                if precisions and precision not in precisions:
                    continue
                progress.say(f"self-test: {cand} {precision}")
                report["rows"].append(_row(cand, precision, small, ref, states, big, repeats))
        report["auto"] = _auto(small, device, ref, states)
    report["ok"] = bool(report["auto"].get("parity_ok"))
    return report


def _auto(model_dir: Path, device: str, ref, states, batch: int = 1, at_size: bool = False, repeats: int = 5) -> dict:
    """Build auto as live and export do, check its parity, and say why it chose what it chose. at_size: model_dir
    is the --model itself (built at `batch`, so a later export at that batch loads it from the cache), timed too."""
    try:
        engine = create_engine(model_dir, backend="auto", max_batch=batch, device=device)
    except Exception as exc:
        return {"engine": None, "why": _why(exc), "parity_ok": False}
    try:
        precision = engine.name.rsplit("-", 1)[1]
        result = {"engine": engine.name, "precision": precision}
        if at_size:
            result.update(_parity(engine, ref, states, precision, max_diff=False, prefix="model_"))
            result["parity_ok"] = result["model_parity_ok"]
            result["ms_per_frame"] = _time(engine, repeats)
        else:
            result.update(_parity(engine, ref, states, precision))
        result["why"] = _auto_why(engine)
    finally:
        engine.close()
    return result


def _auto_why(engine) -> str:
    skipped = [f"{c}: {why}" for c, why in engine.fallbacks]
    unusable = [f"{c}: {c.why}" for c in list_devices() if not c.usable]
    return ("the first of TensorRT > torch CUDA > MPS > OpenVINO GPU/NPU > OpenVINO CPU > torch CPU that builds and "
            "renders here" + (f"; failed before it: {'; '.join(skipped)}" if skipped else "")
            + (f"; not usable here: {'; '.join(unusable)}" if unusable else ""))


def _bar(precision: str) -> str:
    return f">={MIN_PSNR[precision]:g} dB" + (f", diff<={MAX_DIFF_FP32}" if precision == "fp32" else "")


def _db(value) -> str:
    return "inf" if value is None else f"{value:.1f}"


def format_table(report: dict) -> str:
    """The rows: PSNR against torch fp32 on the small model and at the --model size, the bar, the verdict."""
    sized = bool(report.get("timing_model"))
    batch = report.get("batch", 1)
    head = (f"{'backend':9} {'device':6} {'asked':5} {'engine':22} {'build s':>7} {'PSNR dB':>8} "
            + (f"{'at size':>8} " if sized else "") + f"{'bar':>17} {'parity':6}"
            + (f" ms/frame ({report['model']}, batch {batch})" if sized else ""))
    lines = [head, "-" * len(head)]
    for r in report["rows"]:
        lead = f"{r['backend']:9} {r['device']:6} {r['asked']:5}"
        if "error" in r:
            lines.append(f"{lead} not available: {r['error']}")
            continue
        line = f"{lead} {r['engine']:22} {r['build_s']:7.1f} {_db(r['psnr_db']):>8} "
        if sized:
            line += f"{_db(r['model_psnr_db']) if 'model_psnr_db' in r else '-':>8} "
        line += f"{_bar(r['precision']):>17} {'ok' if r['parity_ok'] else 'FAIL':6}"
        if sized:
            line += f" {r['ms_per_frame']:.1f}" if "ms_per_frame" in r else f" {r.get('model_error', '-')}"
        lines.append(line)
    auto = report["auto"]
    lines.append(f"auto picks {auto['engine']}: {auto['why']}")
    if "model_psnr_db" in auto:
        lines.append(f"  at {report['model']}, batch {batch}: PSNR {_db(auto['model_psnr_db'])} dB against torch "
                     f"fp32 (bar >={MIN_PSNR[auto['precision']]:g} dB), {auto['ms_per_frame']:.1f} ms/frame")
    if sized:
        lines.append(f"PSNR: median over {PARITY_STATES} walker states against torch fp32 on the CPU, on the small "
                     f"random model and at the --model size ({report['timing_model']})")
    lines.append("self-test " + ("passed" if report["ok"] else "FAILED: auto's choice does not match torch fp32"))
    return "\n".join(lines)


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, default=str)
