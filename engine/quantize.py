"""int8 for OpenVINO: NNCF post-training quantization of our ONNX export, calibrated on walker states.

Recipe (tools/int8_quality.py measures it: >= 32 dB PSNR against fp32, median over 32 held-out walker states,
on the full-width random 128 px model):
- only convolutions (and the up-blocks' transposed convs) are quantized: weights int8 per channel, their
  inputs int8 per tensor (NNCF's mixed preset). The head (class embedding, the truncation-interpolated BN
  statistics, the per-sample gains), every elementwise op and the attention matmuls stay in float: they are
  cheap, and the BN statistics and gains span ranges int8 cannot hold (quantizing them: ~10 dB);
- the convs of the first levels (output <= KEEP_FLOAT_PX px) stay float too: their error spreads over the
  whole picture and they hold under a tenth of the FLOPs (all convs int8: 28 dB; these float: 35 dB);
- the float parts run in f32 (an int8 model compiled with a bf16 hint loses ~3 dB more).
Calibration states: engine/data/calibration_states.npz, made by tools/walker_states.py (the app's own
features + walker over generated music under each preset), so the ranges are those the live knob reaches.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np

from .errors import EngineError

QUANT_VERSION = "1"  # bump when the recipe or the calibration set changes
KEEP_FLOAT_PX = 8
CONV_TYPES = ("Convolution", "ConvolutionBackpropData")
_FLOAT_TYPES = ["MatMul", "Multiply", "Add", "Subtract", "Sqrt", "Interpolate", "Concat", "Reshape", "Transpose",
                "Unsqueeze", "Softmax", "MaxPool"]
CALIBRATION = Path(__file__).with_name("data") / "calibration_states.npz"


def calibration_states(path: Path = CALIBRATION) -> list[dict[str, np.ndarray]]:
    """One {z [1,128], c [1,1000], t [1]} input per stored walker state."""
    try:
        with np.load(path) as data:
            z, c, t = (np.asarray(data[k], np.float32) for k in ("z", "c", "t"))
    except (OSError, KeyError, ValueError) as exc:
        raise EngineError(f"int8 calibration states {path} are missing or damaged ({exc}); reinstall live") from None
    return [{"z": z[i:i + 1], "c": c[i:i + 1], "t": t[i:i + 1]} for i in range(len(t))]


def float_convs(model, keep_px: int = KEEP_FLOAT_PX) -> list[str]:
    """Names of the convolutions whose output is at most keep_px pixels high (the first levels)."""
    names = []
    for op in model.get_ordered_ops():
        if op.get_type_name() in CONV_TYPES:
            height = op.get_output_partial_shape(0)[2]
            if height.is_static and height.get_length() <= keep_px:
                names.append(op.get_friendly_name())
    return names


def quantize(model, states=None):
    """The int8 ov.Model for an fp32 ov.Model of our generator (batch axis static or dynamic)."""
    try:
        import nncf
    except ImportError:
        raise EngineError("--precision int8 needs NNCF: pip install nncf (or the live-biggan[int8] extra)") from None
    states = states if states is not None else calibration_states()
    scope = nncf.IgnoredScope(names=float_convs(model), types=_FLOAT_TYPES, validate=False)
    nncf_log = logging.getLogger("nncf")
    level = nncf_log.level
    nncf_log.setLevel(logging.ERROR)  # hundreds of INFO lines about the ops it leaves alone
    try:  # its progress bars go to stdout, which --selftest --json may own: engine.progress reports instead
        with contextlib.redirect_stdout(io.StringIO()):
            return nncf.quantize(model, nncf.Dataset(states), preset=nncf.QuantizationPreset.MIXED,
                                 subset_size=len(states), ignored_scope=scope)
    finally:
        nncf_log.setLevel(level)
