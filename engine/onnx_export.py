"""Export our Generator to ONNX, cached per weights + resolution + variant + exporter.

Inputs z [B,128] f32, c [B,1000] f32, t [B] f32 with a dynamic batch axis. Truncation is an input: the graph
interpolates the BN statistics in-graph (engine/graph.py), so a live truncation knob needs no rebuild.
Variants:
- "uint8":  output `image` uint8 [B,H,W,3] (OpenVINO, onnxruntime).
- "pixels": output `pixels` f32 [B,H,W,3], already clamped and rounded to 0..255. TensorRT's ONNX parser has
  patchy UINT8 support, so TensorRT builds from this and casts to uint8 on the GPU itself.
- "pixels-fp16": the same with the residual body in fp16 and the head (embedding, BN statistics
  interpolation) in f32, casts explicit in the graph: what a strongly typed TensorRT network needs (TensorRT
  deprecated the FP16 builder flag in 10.12 and removed it in 11). No bf16 variant: ONNX allows a bfloat16
  Conv only from opset 22, so such a file fails onnx.checker and onnxruntime.
Every export is sealed (engine/sealed.py): a file that fails to load is re-exported only if it is corrupt.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from core.files import atomic_output
from core.cache import cache_dir
from core.dims import NUM_CLASSES, Z_DIM
from core.errors import first_line
from . import progress, sealed
from .stylegan import is_pickle
from .errors import EngineError

EXPORT_VERSION = "1"  # bump whenever the exported graph would differ for the same weights
VARIANTS = ("uint8", "pixels", "pixels-fp16")
INPUT_NAMES = ("z", "c", "t")
OUTPUT_NAME = {v: "image" if v == "uint8" else "pixels" for v in VARIANTS}
_BODY_DTYPE = {"pixels-fp16": torch.float16}


def model_fingerprint(source) -> str:
    """Short hash of what defines the weights: a model directory's two files, a network pickle, or a
    Generator's tensors."""
    h = hashlib.sha256()
    if isinstance(source, nn.Module):
        for name, p in sorted(source.state_dict().items()):
            t = p.detach().float().contiguous().cpu()
            h.update(name.encode())
            h.update(str(tuple(t.shape)).encode())
            h.update(t.numpy().tobytes())
    elif is_pickle(source):  # a StyleGAN network pickle: the file
        h.update(sealed.memo_sha256(Path(source)).encode())
    else:
        from .weights import CONFIG_NAME, WEIGHTS_NAME, check_model_dir

        d = check_model_dir(Path(source))
        for fname in (CONFIG_NAME, WEIGHTS_NAME):
            h.update(fname.encode() + sealed.memo_sha256(d / fname).encode())
    return h.hexdigest()[:20]


def model_resolution(source) -> int:
    """Output resolution without loading weights: 4 px doubled at each upsampling block."""
    if isinstance(source, nn.Module):
        return int(source.resolution)
    from .weights import CONFIG_NAME, full_config

    try:
        config = full_config(json.loads((Path(source) / CONFIG_NAME).read_text(encoding="utf-8")))
        return 4 * 2 ** sum(1 for layer in config["layers"] if layer[0])
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise EngineError(f"cannot read {Path(source) / CONFIG_NAME} ({exc}); restore or re-download it") from None


def exporter_tag() -> str:
    return f"e{EXPORT_VERSION}-torch{torch.__version__.split('+')[0]}"


def onnx_cache_path(fingerprint: str, resolution: int, variant: str, kind: str = "biggan") -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r}; use one of {VARIANTS}")
    return cache_dir("onnx") / f"{kind}-{resolution}-{fingerprint}-{variant}-{exporter_tag()}.onnx"


class _Pixels(nn.Module):
    """Generator head for TensorRT: float NHWC pixels 0..255, rounded (uint8 cast happens on the GPU)."""

    def __init__(self, gen: nn.Module):
        super().__init__()
        self.gen = gen

    def forward(self, z, c, t):
        return self.gen.pixels(z, c, t)


class _StylePixels(_Pixels):
    """The same for a StyleGAN's inputs."""

    def forward(self, ws, transform=None):
        return self.gen.pixels(ws, transform)


def _generator(source, variant: str) -> nn.Module:
    if isinstance(source, nn.Module):
        if variant in _BODY_DTYPE:  # reduced variants convert the body in place: work on a copy
            source = copy.deepcopy(source)
        if getattr(source, "body_dtype", torch.float32) != torch.float32:
            raise EngineError("ONNX export needs the fp32 generator; build a fresh one from the model directory")
        return source.eval()
    from .graph import build_generator

    return build_generator(source)


def _export(gen: nn.Module, variant: str, dest: Path) -> None:
    if variant in _BODY_DTYPE:
        gen.set_body_dtype(_BODY_DTYPE[variant])
    module = gen if variant == "uint8" else (_StylePixels if hasattr(gen, "inputs") else _Pixels)(gen)
    if hasattr(gen, "inputs"):  # a StyleGAN: ws (and transform)
        names = [name for name, _ in gen.inputs]
        example = tuple(torch.eye(3).expand(2, 3, 3).contiguous() if name == "transform"
                        else torch.zeros(2, *tail) for name, tail in gen.inputs)
    else:
        names = list(INPUT_NAMES)
        z_dim = getattr(gen, "z_dim", Z_DIM)
        n_cls = getattr(gen, "num_classes", NUM_CLASSES)
        example = (torch.zeros(2, z_dim), torch.zeros(2, n_cls), torch.full((2,), 0.5))  # B=2: B=1 would specialise
    batch = torch.export.Dim("batch", min=1, max=4096)
    dyn = {name: {0: batch} for name in names}
    sink = io.StringIO()  # the exporter prints progress lines to stdout and logs irrelevant torchvision notes
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    with atomic_output(dest) as tmp, torch.no_grad(), contextlib.redirect_stdout(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quiet.setLevel(logging.ERROR)
        try:
            torch.onnx.export(module, example, str(tmp), dynamo=True, input_names=names,
                              output_names=[OUTPUT_NAME[variant]], dynamic_shapes=dyn, external_data=False)
        except Exception as exc:
            raise EngineError(f"ONNX export failed ({type(exc).__name__}: {first_line(exc)}); "
                              f"use --backend torch") from None
        finally:
            quiet.setLevel(level)


def export_onnx(source, variant: str = "uint8", force: bool = False) -> Path:
    """Path of the cached .onnx for source (model dir or fp32 Generator), exporting it once.

    force=True re-exports (a cached file that failed to load is replaced rather than trusted).
    """
    res = model_resolution(source)
    path = onnx_cache_path(model_fingerprint(source), res, variant, getattr(source, "kind", "biggan"))
    if force or not path.is_file() or path.stat().st_size == 0:
        with progress.step(f"exporting the {res} px generator to ONNX ({variant}, once)"):
            _export(_generator(source, variant), variant, path)
        sealed.seal(path)
        _prune_superseded(path)
    return path


def _prune_superseded(path: Path) -> None:
    """Remove exports of the same weights and variant by another exporter version (a torch or EXPORT_VERSION
    upgrade), with the OpenVINO files compiled from them: they are never read again."""
    import shutil

    keep = path.name
    prefix = keep[: keep.rindex("-e")]  # biggan-<res>-<fingerprint>-<variant>
    for old in path.parent.glob(prefix + "-e*.onnx"):
        if old.name != keep and old.name[len(prefix):].count("-") == 2:  # -e<N>-torch<version>.onnx only
            sealed.discard(old)
            shutil.rmtree(cache_dir("openvino", old.stem), ignore_errors=True)

