"""BigGAN-deep weights: resolve `--model` (name or directory), download once into the cache, load strictly."""

from __future__ import annotations

import http.client
import json
import sys
import urllib.request
from pathlib import Path

import torch

from core.files import atomic_output
from core.cache import cache_dir
from .errors import EngineError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "pytorch_model.bin"
MODEL_NAMES = ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512")
DOWNLOAD_TIMEOUT_S = 30.0


def _reference_urls() -> dict[str, dict[str, str]]:
    # The URLs pytorch-pretrained-biggan itself downloads from; a module-level table so tests can repoint it.
    from pytorch_pretrained_biggan import model as ref

    return {name: {CONFIG_NAME: ref.PRETRAINED_CONFIG_ARCHIVE_MAP[name],
                   WEIGHTS_NAME: ref.PRETRAINED_MODEL_ARCHIVE_MAP[name]} for name in MODEL_NAMES}


URLS: dict[str, dict[str, str]] = _reference_urls()


def check_model_dir(path: Path) -> Path:
    """A model directory must hold both files; one line naming the missing one otherwise."""
    for fname in (CONFIG_NAME, WEIGHTS_NAME):
        if not (path / fname).is_file():
            raise EngineError(f"model directory {path} has no {fname}; it needs {CONFIG_NAME} and {WEIGHTS_NAME} "
                              f"(pytorch-pretrained-biggan format)")
    return path


def resolve_model(spec: str) -> Path:
    """Turn `--model` into a directory holding config.json + pytorch_model.bin (downloading a known name once)."""
    spec = str(spec)
    if spec in MODEL_NAMES:
        target = cache_dir("models", spec)
        for fname in (CONFIG_NAME, WEIGHTS_NAME):  # config first: it is small and fails fast when offline
            if not (target / fname).is_file():
                _download(URLS[spec][fname], target / fname, f"{spec} {fname}")
        return target
    path = Path(spec).expanduser()
    if path.is_dir():
        return check_model_dir(path)
    raise EngineError(f"unknown model {spec!r}: use one of {', '.join(MODEL_NAMES)} or a directory holding "
                      f"{CONFIG_NAME} and {WEIGHTS_NAME}")


def _download(url: str, dest: Path, label: str) -> None:
    """Stream url to dest with a progress bar on stderr; dest appears only once complete."""
    from tqdm import tqdm

    try:
        with atomic_output(dest) as tmp, open(tmp, "wb") as out, \
                urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, file=sys.stderr,
                      leave=False, disable=None) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    done += len(chunk)
                    bar.update(len(chunk))
            if total is not None and done != total:
                raise OSError(f"connection closed after {done} of {total} bytes")
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError, HTTPError, timeouts are OSErrors
        reason = getattr(exc, "reason", None) or exc
        raise EngineError(f"download of {label} failed ({reason}); offline? Get {CONFIG_NAME} and {WEIGHTS_NAME} "
                          f"elsewhere and pass --model DIR, a directory holding both") from None


def full_config(config: dict) -> dict:
    """The config as pytorch-pretrained-biggan sees it: its defaults overridden by the file's fields."""
    from pytorch_pretrained_biggan import BigGANConfig

    merged = BigGANConfig().to_dict()
    merged.update(config)
    merged["layers"] = [tuple(layer) for layer in merged["layers"]]
    return merged


def reference_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """State-dict key -> shape of the reference model for this config (built on the meta device: no memory)."""
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    try:
        with torch.device("meta"):
            ref = BigGAN(BigGANConfig.from_dict(full_config(config)))
    except Exception as exc:  # malformed layers/sizes: the reference cannot even be built
        raise EngineError(f"invalid BigGAN config ({type(exc).__name__}: {exc}); check config.json") from None
    return {k: tuple(v.shape) for k, v in ref.state_dict().items()}


def _few(names, n: int = 3) -> str:
    names = sorted(names)
    return ", ".join(names[:n]) + (f" (+{len(names) - n} more)" if len(names) > n else "")


def check_state(config: dict, state: dict) -> None:
    """Strict check: exactly the reference's keys with the reference's shapes, else EngineError."""
    expected = reference_shapes(config)
    missing = expected.keys() - state.keys()
    unexpected = state.keys() - expected.keys()
    problems = []
    if missing:
        problems.append(f"missing keys {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_few(unexpected)}")
    wrong = [f"{k} {getattr(state[k], 'shape', type(state[k]).__name__)} != {expected[k]}" for k in sorted(expected.keys() & state.keys())
             if not isinstance(state[k], torch.Tensor) or tuple(state[k].shape) != expected[k]]
    if wrong:
        problems.append(f"shape mismatch {'; '.join(wrong[:3])}" + (f" (+{len(wrong) - 3} more)" if len(wrong) > 3 else ""))
    if problems:
        raise EngineError(f"weights do not match the BigGAN-deep config: {'; '.join(problems)}; "
                          f"use the config.json that came with these weights")


def load_model(model_dir) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read (config dict with defaults filled, state dict) from a model directory; strict key/shape check."""
    model_dir = check_model_dir(Path(model_dir))
    try:
        config = json.loads((model_dir / CONFIG_NAME).read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot read {model_dir / CONFIG_NAME} ({exc}); restore or re-download it") from None
    try:
        state = torch.load(model_dir / WEIGHTS_NAME, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated file, pickle with code, not a torch file...
        raise EngineError(f"cannot load {model_dir / WEIGHTS_NAME} ({type(exc).__name__}); the file is corrupt "
                          f"or not a PyTorch state dict: delete it and download again") from None
    if not isinstance(state, dict):
        raise EngineError(f"{model_dir / WEIGHTS_NAME} holds a {type(state).__name__}, not a state dict")
    try:
        config = full_config(config)
    except (TypeError, KeyError, ValueError) as exc:
        raise EngineError(f"{model_dir / CONFIG_NAME} is not a BigGAN config ({exc}); restore or re-download it") \
            from None
    check_state(config, state)
    return config, dict(state)
