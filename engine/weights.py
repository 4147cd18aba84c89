"""BigGAN-deep weights: resolve `--model` (name or directory), download once into the cache (from the first
source that delivers, size and kind checked, sha256 recorded and checked on every later start), load strictly."""

from __future__ import annotations

import contextlib
import http.client
import json
import sys
import time
import urllib.request
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

from core.files import atomic_output, write_json_atomic
from core.cache import cache_dir
from . import progress
from .errors import EngineError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "pytorch_model.bin"
MODEL_NAMES = ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512")
DOWNLOAD_TIMEOUT_S = 30.0
DOWNLOAD_TICK_S = 5.0
HASHES_NAME = "sha256.json"  # beside the downloaded files: their digests, checked on every later load
_HUB_MIRRORS = {"biggan-deep-128": "https://huggingface.co/osanseviero/BigGAN-deep-128/resolve/main/"}


def _sources() -> dict[str, list[dict[str, str]]]:
    """Where each model's two files can be downloaded, tried in order: the URLs pytorch-pretrained-biggan
    itself uses (its S3 bucket), then known mirrors (Hugging Face Hub copies)."""
    from pytorch_pretrained_biggan import model as ref

    table = {}
    for name in MODEL_NAMES:
        table[name] = [{CONFIG_NAME: ref.PRETRAINED_CONFIG_ARCHIVE_MAP[name],
                        WEIGHTS_NAME: ref.PRETRAINED_MODEL_ARCHIVE_MAP[name]}]
        if name in _HUB_MIRRORS:
            table[name].append({f: _HUB_MIRRORS[name] + f for f in (CONFIG_NAME, WEIGHTS_NAME)})
    return table


SOURCES: dict[str, list[dict[str, str]]] = _sources()  # module-level so tests can repoint it


def check_model_dir(path: Path) -> Path:
    """A model directory must hold both files; one line naming the missing one otherwise."""
    for fname in (CONFIG_NAME, WEIGHTS_NAME):
        if not (path / fname).is_file():
            raise EngineError(f"model directory {path} has no {fname}; it needs {CONFIG_NAME} and {WEIGHTS_NAME} "
                              f"(pytorch-pretrained-biggan format)")
    return path


def model_cache(name: str) -> Path:
    """Where a model name's files live in the cache (not created here: a failed download leaves no folder)."""
    return cache_dir() / "models" / name


def resolve_model(spec: str) -> Path:
    """Turn `--model` into a directory holding config.json + pytorch_model.bin (downloading a known name once,
    checking what was downloaded against its recorded sha256 on every later start)."""
    spec = str(spec)
    if spec in MODEL_NAMES:
        target = model_cache(spec)
        fresh = not target.is_dir()
        try:
            for fname in (CONFIG_NAME, WEIGHTS_NAME):  # config first: it is small and fails fast when offline
                if not (target / fname).is_file():
                    _download([s[fname] for s in SOURCES[spec]], target / fname, f"{spec} {fname}", spec)
        finally:
            if fresh and target.is_dir() and not any(target.iterdir()):
                target.rmdir()
        _check_hashes(target)
        return target
    path = Path(spec).expanduser()
    if path.is_dir():
        return check_model_dir(path)
    raise EngineError(f"unknown model {spec!r}: use one of {', '.join(MODEL_NAMES)} or a directory holding "
                      f"{CONFIG_NAME} and {WEIGHTS_NAME}")


def _check_hashes(folder: Path) -> None:
    """Record the digests of a model folder's files the first time, compare them every time after."""
    from .sealed import memo_sha256

    digests = {f: memo_sha256(folder / f) for f in (CONFIG_NAME, WEIGHTS_NAME)}
    record = folder / HASHES_NAME
    try:
        recorded = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:  # just downloaded, or downloaded by a version that did not record digests
        try:
            write_json_atomic(record, digests)
        except OSError:
            pass  # a read-only shared cache: the files load, unchecked
        return
    except (OSError, ValueError):
        recorded = {}
    for fname, digest in digests.items():
        if recorded.get(fname) != digest:
            raise EngineError(f"{folder / fname} is not the file that was downloaded (its sha256 changed); delete "
                              f"the folder {folder} to download it again")


def _sniff(path: Path, fname: str) -> None:
    """Refuse what is not the file asked for (an HTML error page served with status 200, a proxy's notice)."""
    if fname == CONFIG_NAME:
        try:
            if not isinstance(json.loads(path.read_text(encoding="utf-8")), dict):
                raise ValueError
        except (UnicodeDecodeError, ValueError):
            raise OSError("not a JSON config") from None
        return
    with open(path, "rb") as f:
        head = f.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):  # torch.save: a zip, or a legacy pickle
        raise OSError("not a PyTorch weights file")


def _download(urls: list[str], dest: Path, label: str, name: str) -> None:
    """Fetch dest from the first of urls that delivers the whole file; one line naming them all if none does."""
    failures = []
    for url in urls:
        try:
            _fetch(url, dest, label)
            return
        except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError, HTTPError, timeouts: OSErrors
            failures.append(f"{url}: {getattr(exc, 'reason', None) or exc}")
    where = " or ".join(f"{s[CONFIG_NAME]} and {s[WEIGHTS_NAME]}" for s in SOURCES[name])
    raise EngineError(f"download of {label} failed ({'; '.join(failures)}); offline? Get {where} on a machine "
                      f"that is online, put the two files in one folder and pass it: --model DIR")


def _fetch(url: str, dest: Path, label: str) -> None:
    """Stream url to dest; dest appears only once complete, of the announced size and the right kind."""
    with atomic_output(dest) as tmp, open(tmp, "wb") as out, \
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        with _progress(label, total) as bar:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                bar(done)
        out.flush()
        if total is not None and done != total:
            raise OSError(f"connection closed after {done} of {total} bytes")
        if done == 0:
            raise OSError("empty file")
        _sniff(tmp, dest.name)


@contextlib.contextmanager
def _progress(label: str, total: int | None):
    """A progress bar on a terminal; plain lines every few seconds otherwise (a log, CI, a notebook's pipe)."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, file=sys.stderr,
                  leave=False) as bar:
            yield lambda done: bar.update(done - bar.n)
        return
    of = f" of {total / 1e6:.0f} MB" if total and total >= 1e6 else ""
    progress.say(f"downloading {label}{of}...")
    last = [time.monotonic()]

    def report(done):
        if time.monotonic() - last[0] >= DOWNLOAD_TICK_S:
            last[0] = time.monotonic()
            progress.say(f"downloading {label}: {done / 1e6:.0f} MB{of}")
    yield report


def full_config(config: dict) -> dict:
    """The config as pytorch-pretrained-biggan sees it: its defaults overridden by the file's fields."""
    from pytorch_pretrained_biggan import BigGANConfig

    merged = BigGANConfig().to_dict()
    merged.update(config)
    merged["layers"] = [tuple(layer) for layer in merged["layers"]]
    return merged


class _NoRandomInit(TorchFunctionMode):
    """Skips the random initialization of parameters (their values are never read). Cheaper than building on
    the meta device, whose first use costs every `live` start ~2 s (torch imports its dynamo for it)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.normal_, torch.Tensor.uniform_):
            return args[0]
        return func(*args, **(kwargs or {}))


def reference_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """State-dict key -> shape of the reference model for this config (built uninitialized, then dropped)."""
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    try:
        with torch.no_grad(), _NoRandomInit():
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
