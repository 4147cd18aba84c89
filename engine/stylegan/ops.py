"""The StyleGAN2/3 primitives as plain torch ops with static shapes (they trace and export to ONNX).

Same math as the published networks: upfirdn2d (zero-insert upsample, pad/crop, FIR filter as a true
convolution, subsample), bias + activation + gain + clamp, modulated convolution. The modulation is applied to
the activations (scale the input channels, one shared conv, scale the output channels) rather than by a
per-sample grouped conv: the conv weights stay constants and the batch stays a free axis.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def const(t) -> nn.Parameter:
    """A frozen float32 weight (a Parameter, so .to(dtype) and the exporters treat it as a weight)."""
    return nn.Parameter(torch.as_tensor(t).detach().float().contiguous(), requires_grad=False)


def fir_weight(f: torch.Tensor | None, channels: int, gain: float, flip: bool = True) -> torch.Tensor | None:
    """A FIR filter (1-D: separable, 2-D) as depthwise conv weights, scaled by gain (split over the axes of a
    1-D filter) and flipped, so conv2d (a correlation) computes the convolution."""
    if f is None:  # NVIDIA's "no filter": identity (callers pass gain 1 then)
        return None
    f = f.double() * gain ** (f.ndim / 2)
    if flip:
        f = f.flip(list(range(f.ndim)))
    return f.float()[None, None].repeat([channels, 1] + [1] * f.ndim)


def upfirdn2d(x, fw: torch.Tensor | None, up: int = 1, down: int = 1, padding=(0, 0, 0, 0)):
    """x [B,C,H,W]: upsample by zero insertion, pad (negative = crop) [x0, x1, y0, y1], filter with fw (from
    fir_weight: [C,1,K] separable or [C,1,K,K]), keep every down-th sample."""
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(b, c, h * up, w * up)
    px0, px1, py0, py1 = padding
    if max(px0, px1, py0, py1) > 0:
        x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    if min(px0, px1, py0, py1) < 0:
        x = x[:, :, max(-py0, 0):x.shape[2] - max(-py1, 0), max(-px0, 0):x.shape[3] - max(-px1, 0)]
    if fw is not None:
        if fw.ndim == 4:
            x = F.conv2d(x, fw, groups=c)
        else:
            x = F.conv2d(x, fw.unsqueeze(2), groups=c)
            x = F.conv2d(x, fw.unsqueeze(3), groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def bias_act(x, b=None, lrelu: float | None = None, gain: float = 1.0, clamp: float | None = None):
    """x + b, then leaky ReLU of slope lrelu (None: linear), times gain, clamped to +-clamp."""
    if b is not None:
        x = x + b.reshape(1, -1, *([1] * (x.ndim - 2)))
    if lrelu is not None and lrelu != 1.0:
        x = F.leaky_relu(x, lrelu)
    if gain != 1.0:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


class Dense(nn.Module):
    """FullyConnectedLayer: weight and bias gains folded in; linear or leaky ReLU (gain sqrt 2)."""

    def __init__(self, net):
        super().__init__()
        wg, bg = float(net.attr("weight_gain", 1.0)), float(net.attr("bias_gain", 1.0))
        self.weight = const(net.params["weight"].double() * wg)
        bias = net.params.get("bias")
        self.bias = const(bias.double() * bg) if bias is not None else None
        self.lrelu = net.attr("activation", "linear") == "lrelu"

    def forward(self, x):
        x = F.linear(x, self.weight, self.bias)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.lrelu else x


def demod_coefs(styles, wsq):
    """Demodulation: 1/|w·s| per output channel from the squared weights summed over the kernel [O, I]."""
    return torch.rsqrt(F.linear(styles.square(), wsq) + 1e-8)
