"""Our own StyleGAN2 (-ADA) and StyleGAN3 graphs, built from a safely loaded network (engine.stylegan.unpickle).

Mapping: z (and label c) -> w, truncated toward w_avg; run where the walk is computed (small, per frame).
Synthesis: ws [B, num_ws, w_dim] (and for StyleGAN3 the input transform [B, 3, 3]) -> image; the part that is
exported to ONNX and run by the backends. Eval-mode inference with the stored constant noise, fp32 math of the
published networks (their reference ops), weights and gains folded at build.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import EngineError
from .ops import SQRT2, Dense, bias_act, const, demod_coefs, fir_weight, upfirdn2d


class Mapping(nn.Module):
    """MappingNetwork: normalize z (and the embedded label), the dense stack, broadcast, truncate toward w_avg."""

    def __init__(self, net):
        super().__init__()
        self.z_dim, self.c_dim = int(net.attr("z_dim")), int(net.attr("c_dim"))
        self.num_ws, self.w_dim = int(net.attr("num_ws")), int(net.attr("w_dim"))
        self.embed = Dense(net["embed"]) if self.c_dim > 0 else None
        n = int(net.attr("num_layers"))
        self.layers = nn.ModuleList(Dense(net[f"fc{i}"]) for i in range(n))
        self.w_avg = const(net.buffers["w_avg"])

    @staticmethod
    def _norm(x):
        return x * torch.rsqrt(x.square().mean(1, keepdim=True) + 1e-8)

    def forward(self, z, c, psi):
        """w [B, w_dim] truncated: w_avg + psi [B] * (w - w_avg)."""
        parts = [self._norm(z)] if self.z_dim > 0 else []
        if self.embed is not None:
            parts.append(self._norm(self.embed(c)))
        x = torch.cat(parts, dim=1)
        for layer in self.layers:
            x = layer(x)
        return self.w_avg + psi.reshape(-1, 1) * (x - self.w_avg)


# ---- StyleGAN2 ------------------------------------------------------------------------------------------


class _Layer2(nn.Module):
    """SynthesisLayer: modulated 3x3 conv (optionally 2x up), demodulation, constant noise, bias + lrelu."""

    def __init__(self, net):
        super().__init__()
        self.affine = Dense(net["affine"])
        w = net.params["weight"].double()
        k = w.shape[-1]
        self.up = int(net.attr("up", 1))
        self.wsq = const(w.square().sum([2, 3]))
        if self.up > 1:  # transposed conv, then the FIR filter (NVIDIA's conv2d_resample, up path)
            f = net.buffers["resample_filter"]
            fwid, pad = f.shape[-1], int(net.attr("padding", k // 2))
            p0 = pad + (fwid + self.up - 1) // 2 - (k - 1)
            p1 = pad + (fwid - self.up) // 2 - (k - self.up)
            self.tpad = max(min(-p0, -p1), 0)
            self.fpad = [p0 + self.tpad, p1 + self.tpad] * 2
            self.weight = const(w.transpose(0, 1))
            self.fir = const(fir_weight(f, w.shape[0], self.up ** 2))
        else:
            self.pad = int(net.attr("padding", k // 2))
            self.weight = const(w)
        noise = net.buffers.get("noise_const") if net.attr("use_noise", True) else None
        self.noise = const(noise * net.params["noise_strength"]) if noise is not None else None
        self.bias = const(net.params["bias"])
        self.act_gain = float(net.attr("act_gain", SQRT2))
        clamp = net.attr("conv_clamp")
        self.clamp = float(clamp) if clamp is not None else None

    def forward(self, x, w, gain: float = 1.0):
        styles = self.affine(w)
        x = x * styles[:, :, None, None]
        if self.up > 1:
            x = F.conv_transpose2d(x, self.weight, stride=self.up, padding=self.tpad)
            x = upfirdn2d(x, self.fir, padding=self.fpad)
        else:
            x = F.conv2d(x, self.weight, padding=self.pad)
        x = x * demod_coefs(styles, self.wsq)[:, :, None, None]
        if self.noise is not None:
            x = x + self.noise
        clamp = self.clamp * gain if self.clamp is not None else None
        return bias_act(x, self.bias, 0.2, self.act_gain * gain, clamp)


class _ToRGB2(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.affine = Dense(net["affine"])
        w = net.params["weight"]
        self.gain = float(net.attr("weight_gain", 1 / math.sqrt(w[0].numel())))
        self.weight = const(w)
        self.bias = const(net.params["bias"])
        clamp = net.attr("conv_clamp")
        self.clamp = float(clamp) if clamp is not None else None

    def forward(self, x, w):
        x = x * (self.affine(w) * self.gain)[:, :, None, None]
        return bias_act(F.conv2d(x, self.weight), self.bias, clamp=self.clamp)


class _Block2(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.arch = net.attr("architecture", "skip")
        self.first = int(net.attr("in_channels")) == 0
        self.const = const(net.params["const"]) if self.first else None
        self.conv0 = None if self.first else _Layer2(net["conv0"])
        self.conv1 = _Layer2(net["conv1"])
        self.torgb = _ToRGB2(net["torgb"]) if "torgb" in net.modules else None
        self.num_conv = 1 if self.first else 2
        f = net.buffers["resample_filter"]
        fw = f.shape[-1]
        self.img_pad = [(fw + 1) // 2, (fw - 2) // 2] * 2  # upsample2d's padding for up=2
        self.img_fir = const(fir_weight(f, int(net.attr("img_channels", 3)), 4.0))
        self.skip = None
        if "skip" in net.modules:  # resnet: 1x1 conv, 2x up, gain sqrt(1/2)
            s = net["skip"]
            self.skip = const(s.params["weight"].double() * float(s.attr("weight_gain")) * math.sqrt(0.5))
            self.skip_fir = const(fir_weight(s.buffers["resample_filter"], self.skip.shape[0], 4.0))

    def forward(self, x, img, ws):
        if self.first:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0])
        elif self.skip is not None:
            y = upfirdn2d(F.conv2d(x, self.skip), self.skip_fir, up=2, padding=self.img_pad)
            x = self.conv0(x, ws[:, 0])
            x = y + self.conv1(x, ws[:, 1], gain=math.sqrt(0.5))
        else:
            x = self.conv0(x, ws[:, 0])
            x = self.conv1(x, ws[:, 1])
        if img is not None:
            img = upfirdn2d(img, self.img_fir, up=2, padding=self.img_pad)
        if self.torgb is not None:
            y = self.torgb(x, ws[:, self.num_conv])
            img = y if img is None else img + y
        return x, img


class Synthesis2(nn.Module):
    """StyleGAN2 synthesis (orig, skip, resnet): ws [B, num_ws, w_dim] -> image [B, C, H, W] (about [-1, 1])."""

    transform = False

    def __init__(self, net):
        super().__init__()
        res = [2 ** i for i in range(2, int(math.log2(int(net.attr("img_resolution")))) + 1)]
        self.blocks = nn.ModuleList(_Block2(net[f"b{r}"]) for r in res)
        self.num_ws = int(net.attr("num_ws"))

    def forward(self, ws):
        x = img = None
        i = 0
        for block in self.blocks:
            n = block.num_conv + (block.torgb is not None)
            x, img = block(x, img, ws[:, i:i + n])
            i += block.num_conv
        return img


# ---- StyleGAN3 ------------------------------------------------------------------------------------------


class _Input3(nn.Module):
    """Fourier features at frequencies rotated/translated by the affine of w and the input transform."""

    def __init__(self, net):
        super().__init__()
        self.affine = Dense(net["affine"])
        self.freqs = const(net.buffers["freqs"])  # [C, 2]
        self.phases = const(net.buffers["phases"])  # [C]
        self.weight = const(net.params["weight"].double() / math.sqrt(net.params["weight"].shape[0]))
        self.bandwidth, self.rate = float(net.attr("bandwidth")), float(net.attr("sampling_rate"))
        w, h = (int(v) for v in np.broadcast_to(np.asarray(net.attr("size")), [2]))
        theta = torch.tensor([[0.5 * w / self.rate, 0, 0], [0, 0.5 * h / self.rate, 0]], dtype=torch.float32)
        grid = F.affine_grid(theta[None], [1, 1, h, w], align_corners=False)  # [1, H, W, 2]
        self.grid = const(grid.reshape(h * w, 2))
        self.h, self.w = h, w

    def forward(self, w, transform):
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        c, s, tx, ty = t[:, 0], t[:, 1], t[:, 2], t[:, 3]
        zero, one = torch.zeros_like(c), torch.ones_like(c)
        # inverse rotation times inverse translation of the image (rows of the 3x3 matrices)
        m = torch.stack([torch.stack([c, -s, -c * tx + s * ty], 1), torch.stack([s, c, -s * tx - c * ty], 1),
                         torch.stack([zero, zero, one], 1)], 1)
        m = m @ transform
        phases = self.phases + (self.freqs @ m[:, :2, 2:]).squeeze(2)  # [B, C]
        freqs = self.freqs @ m[:, :2, :2]  # [B, C, 2]
        amp = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.rate / 2 - self.bandwidth)).clamp(0, 1)
        x = self.grid @ freqs.transpose(1, 2)  # [B, HW, C]
        x = torch.sin((x + phases[:, None, :]) * (2 * math.pi)) * amp[:, None, :]
        x = x @ self.weight.t()
        return x.transpose(1, 2).reshape(-1, x.shape[2], self.h, self.w)


class _Layer3(nn.Module):
    """SynthesisLayer: modulated conv, then the filtered leaky ReLU (bias, upsample, lrelu, clamp, downsample)."""

    def __init__(self, net):
        super().__init__()
        self.affine = Dense(net["affine"])
        self.torgb = bool(net.attr("is_torgb"))
        w = net.params["weight"].double()
        k = w.shape[-1]
        self.pad = k - 1
        if self.torgb:
            self.style_gain = 1 / math.sqrt(w.shape[1] * k * k)
        else:
            w = w * w.square().mean([1, 2, 3], keepdim=True).rsqrt()
            self.style_gain = 1.0
        self.in_gain = float(net.buffers["magnitude_ema"].double().rsqrt())
        self.weight = const(w)
        self.wsq = const(w.square().sum([2, 3]))
        self.bias = const(net.params["bias"])
        c = w.shape[0]
        self.up, self.down = int(net.attr("up_factor")), int(net.attr("down_factor"))
        self.fu = fir_weight(net.buffers.get("up_filter"), c, self.up ** 2)
        self.fd = fir_weight(net.buffers.get("down_filter"), c, 1.0)
        self.fu = const(self.fu) if self.fu is not None else None
        self.fd = const(self.fd) if self.fd is not None else None
        self.padding = [int(p) for p in net.attr("padding")]
        self.slope, self.gain = (1.0, 1.0) if self.torgb else (0.2, SQRT2)
        clamp = net.attr("conv_clamp")
        self.clamp = float(clamp) if clamp is not None else None

    def forward(self, x, w):
        styles = self.affine(w) * self.style_gain
        if not self.torgb:  # scale-free thanks to the demodulation; keeps the magnitudes of the reference
            styles = styles * torch.rsqrt(styles.square().mean(1, keepdim=True))
        x = F.conv2d(x * (styles * self.in_gain)[:, :, None, None], self.weight, padding=self.pad)
        if not self.torgb:
            x = x * demod_coefs(styles, self.wsq)[:, :, None, None]
        x = bias_act(x, self.bias)
        x = upfirdn2d(x, self.fu, up=self.up, padding=self.padding)
        x = bias_act(x, lrelu=self.slope, gain=self.gain, clamp=self.clamp)
        return upfirdn2d(x, self.fd, down=self.down)


class Synthesis3(nn.Module):
    """StyleGAN3 synthesis (T and R): ws [B, num_ws, w_dim], transform [B, 3, 3] -> image [B, C, H, W]."""

    transform = True

    def __init__(self, net):
        super().__init__()
        self.input = _Input3(net["input"])
        self.layers = nn.ModuleList(_Layer3(net[name]) for name in net.attr("layer_names"))
        self.scale = float(net.attr("output_scale", 1.0))
        self.num_ws = int(net.attr("num_ws"))

    def forward(self, ws, transform):
        x = self.input(ws[:, 0], transform)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i + 1])
        return x * self.scale


def build_synthesis(gen) -> nn.Module:
    """Our synthesis graph for a loaded Generator (StyleGAN3 if it has Fourier-feature input, else StyleGAN2)."""
    syn = gen["synthesis"]
    try:
        return (Synthesis3(syn) if "input" in syn.modules else Synthesis2(syn)).eval()
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise EngineError(f"the synthesis network of this pickle is not a StyleGAN2/3 one we know "
                          f"({type(exc).__name__}: {exc})") from None
