"""Our own BigGAN-deep inference graph, built once from pytorch-pretrained-biggan (config, state_dict).

Same math as the reference generator in eval mode, restructured for inference:
- spectral norm folded into plain weights at build (eval-mode sigma = u . (W v) from the stored u, v buffers);
- every conditional BN reduced to a per-sample gain/bias; all layers' scale/offset linears are one matmul and all
  layers' truncation statistics one [n_stats, 2*sumC] matrix, interpolated with hat weights (the reference swaps
  the two weights, so its output jumps at every 1/(n_stats-1) step; both agree on the grid points);
- only the 3 RGB output channels of the last conv are computed; the attention gamma is folded into its out conv;
- nearest-upsample + 3x3 conv in the up blocks runs as one equivalent stride-2 transposed conv (4/9 the FLOPs).
Truncation is an input tensor t[B], so it can change per frame and per sample. No Python control flow depends
on tensor values and all shapes except the batch are static, so the module traces for ONNX/OpenVINO export.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn


@contextlib.contextmanager
def ieee_fp32():
    """cuDNN convs and cuBLAS matmuls in IEEE fp32 for the calls inside, restored after.

    The flags are process-wide, and torch 2.9+ refuses to trace (torch.export, so every later ONNX export) while
    the cuDNN conv flag disagrees with the RNN one and the legacy allow_tf32: set for good, they would break the
    export that the self-test runs after building torch on CUDA in fp32.
    """
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    saved = conv.fp32_precision, matmul.fp32_precision
    conv.fp32_precision = matmul.fp32_precision = "ieee"
    try:
        yield
    finally:
        conv.fp32_precision, matmul.fp32_precision = saved


def fold_sn(state: dict, prefix: str) -> torch.Tensor:
    """Weight of a spectral-normed layer as the reference uses it in eval mode: W / (u . (W v))."""
    w = state[prefix + "weight_orig"].double()
    u = state[prefix + "weight_u"].double()
    v = state[prefix + "weight_v"].double()
    sigma = torch.dot(u, torch.mv(w.reshape(w.shape[0], -1), v))
    return (w / sigma).float()


# Nearest 2x upsample followed by a 3x3 conv (pad 1) equals one stride-2 4x4 transposed conv on the small input:
# per axis, output 2i sees taps (w[-1] on x[i-1], w[0]+w[1] on x[i]) and 2i+1 sees (w[-1]+w[0] on x[i], w[1] on
# x[i+1]). Rows: transposed-conv tap 0..3; columns: 3x3 tap -1, 0, +1. 4/9 of the FLOPs, no 4x-sized temporary.
_UP_TAPS = torch.tensor([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=torch.float64)
DECONV_MIN_SIZE = 8  # at 4x4 inputs the plain path is as fast; keeps the tiny first layer simple


def upsample_conv_weight(w: torch.Tensor) -> torch.Tensor:
    """[out, in, 3, 3] conv weight -> [in, out, 4, 4] conv_transpose2d(stride=2, padding=1) weight."""
    return torch.einsum("pk,ql,oikl->iopq", _UP_TAPS, _UP_TAPS, w.double()).float()


def _const(t: torch.Tensor) -> nn.Parameter:
    # Parameters (not buffers) so .to(dtype/memory_format) and exporters treat them as weights; never trained.
    return nn.Parameter(t.detach().float().contiguous(), requires_grad=False)


class _Block(nn.Module):
    """GenBlock: 4 x (BN -> ReLU -> conv), bottleneck 1x1/3x3/3x3/1x1, optional nearest 2x upsample."""

    def __init__(self, state: dict, prefix: str, up: bool, c_in: int, c_out: int, bn_offsets: list[int], size: int):
        super().__init__()
        self.up, self.c_in, self.c_out = up, c_in, c_out
        self.mid = c_in // 4
        self.bn_offsets = bn_offsets  # column offset of bn_0..bn_3 in the fused gain/bias matrices
        self.deconv = up and size >= DECONV_MIN_SIZE
        for i in range(4):
            w = fold_sn(state, f"{prefix}conv_{i}.")
            setattr(self, f"w{i}", _const(upsample_conv_weight(w) if i == 1 and self.deconv else w))
            setattr(self, f"b{i}", _const(state[f"{prefix}conv_{i}.bias"]))

    @staticmethod
    def _bn_relu(x, gain, bias, off: int, c: int):
        return torch.relu(torch.addcmul(bias[:, off:off + c, None, None], x, gain[:, off:off + c, None, None]))

    def forward(self, x, gain, bias):
        o = self.bn_offsets
        h = self._bn_relu(x, gain, bias, o[0], self.c_in)
        h = F.conv2d(h, self.w0, self.b0)
        h = self._bn_relu(h, gain, bias, o[1], self.mid)
        if self.deconv:
            h = F.conv_transpose2d(h, self.w1, self.b1, stride=2, padding=1)
        else:
            if self.up:
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = F.conv2d(h, self.w1, self.b1, padding=1)
        h = self._bn_relu(h, gain, bias, o[2], self.mid)
        h = F.conv2d(h, self.w2, self.b2, padding=1)
        h = self._bn_relu(h, gain, bias, o[3], self.mid)
        h = F.conv2d(h, self.w3, self.b3)
        skip = x[:, :self.c_out] if self.c_out != self.c_in else x  # reference keeps the first half
        if self.up:
            skip = F.interpolate(skip, scale_factor=2.0, mode="nearest")
        return h + skip


class _Attention(nn.Module):
    """SAGAN self-attention; theta/phi/g 1x1 convs fused into one, gamma folded into the output conv."""

    def __init__(self, state: dict, prefix: str, c: int, size: int):
        super().__init__()
        self.c, self.size, self.hw = c, size, size * size
        names = ("theta", "phi", "g")
        self.w_qkg = _const(torch.cat([fold_sn(state, f"{prefix}snconv1x1_{n}.") for n in names]))
        self.w_o = _const(fold_sn(state, f"{prefix}snconv1x1_o_conv.") * state[prefix + "gamma"].float())

    def forward(self, x):
        # Position-major [B, HW, C] matrices: free views of channels_last tensors, and plain row-major matmuls.
        c8, c2, hw, s = self.c // 8, self.c // 2, self.hw, self.size
        qkg = F.conv2d(x, self.w_qkg)
        theta = qkg[:, :c8].permute(0, 2, 3, 1).reshape(-1, hw, c8)
        pooled = F.max_pool2d(qkg[:, c8:], 2).permute(0, 2, 3, 1).reshape(-1, hw // 4, c8 + c2)  # phi, g pooled
        phi, g = pooled[:, :, :c8], pooled[:, :, c8:]
        attn = torch.softmax(torch.bmm(theta, phi.transpose(1, 2)), dim=-1)  # [B, HW, HW/4]
        out = torch.bmm(attn, g).reshape(-1, s, s, c2).permute(0, 3, 1, 2)
        return x + F.conv2d(out, self.w_o)


class Generator(nn.Module):
    """BigGAN-deep generator: (z[B,128], c[B,1000], t[B]) -> uint8 [B,H,W,3] (forward) or f32 (forward_float)."""

    def __init__(self, config: dict, state: dict):
        super().__init__()
        ch, zdim = config["channel_width"], config["z_dim"]
        self.n_stats, self.eps, self.z_dim = config["n_stats"], float(config["eps"]), zdim
        self.num_classes = config["num_classes"]
        self.body_dtype = torch.float32
        self.channels_last = False  # set by backends that convert the weights with .to(memory_format=...)
        g = "generator."

        self.embed = _const(state["embeddings.weight"])  # [class_embed_dim, num_classes]
        # gen_z rows are stored in TF's (h, w, c) order: permute them once so the output is already NCHW.
        c0 = 16 * ch
        wz = fold_sn(state, g + "gen_z.").reshape(4, 4, c0, -1).permute(2, 0, 1, 3).reshape(16 * c0, -1)
        self.w_z = _const(wz)  # [out, in]: F.linear is both the most accurate CPU path and an ONNX Gemm
        self.b_z = _const(state[g + "gen_z.bias"].reshape(4, 4, c0).permute(2, 0, 1).reshape(-1))
        self.c0 = c0

        scales, offsets, means, variances = [], [], [], []
        total = 0

        def add_bn(prefix: str, c: int) -> int:
            nonlocal total
            scales.append(fold_sn(state, prefix + "scale."))
            offsets.append(fold_sn(state, prefix + "offset."))
            means.append(state[prefix + "running_means"].float())
            variances.append(state[prefix + "running_vars"].float())
            total += c
            return total - c

        layers, size, idx = [], 4, 0
        for i, (up, m_in, m_out) in enumerate(config["layers"]):
            if i == config["attention_layer_position"]:
                layers.append(_Attention(state, f"{g}layers.{idx}.", ch * m_in, size))
                idx += 1
            p = f"{g}layers.{idx}."
            c_in, c_out = ch * m_in, ch * m_out
            offs = [add_bn(p + f"bn_{j}.", c) for j, c in enumerate((c_in, c_in // 4, c_in // 4, c_in // 4))]
            layers.append(_Block(state, p, bool(up), c_in, c_out, offs, size))
            size *= 2 if up else 1
            idx += 1
        self.layers = nn.ModuleList(layers)
        self.resolution = size

        # Final unconditional BN: same fused path with zero cond weights, its affine weight/bias as constants.
        n_cond = total
        self.final_off, self.ch = total, ch
        total += ch
        zeros = torch.zeros(ch, 2 * zdim)
        cond_w = torch.cat(scales + [zeros] + offsets + [zeros], dim=0)  # [2*total, 2*zdim]
        cond_b = torch.cat([torch.ones(n_cond), state[g + "bn.weight"].float(),
                            torch.zeros(n_cond), state[g + "bn.bias"].float()])
        means.append(state[g + "bn.running_means"].float())
        variances.append(state[g + "bn.running_vars"].float())
        self.w_cond, self.b_cond, self.total = _const(cond_w), _const(cond_b), total
        self.stats = _const(torch.cat(means + variances, dim=1))  # [n_stats, 2*total]
        self.grid = _const(torch.arange(self.n_stats, dtype=torch.float32))

        self.w_rgb = _const(fold_sn(state, g + "conv_to_rgb.")[:3])  # only the channels the reference keeps
        self.b_rgb = _const(state[g + "conv_to_rgb.bias"][:3])

    def head(self, z, c, t):
        """Per-sample BN gains/biases [B, total] and the 4x4 input tensor (always computed in f32)."""
        cond = torch.cat([z, F.linear(c, self.embed)], dim=1)
        pos = t.clamp(0.0, 1.0).reshape(-1, 1) * (self.n_stats - 1)
        hat = torch.relu(1.0 - (pos - self.grid).abs())  # [B, n_stats], at most two non-zero weights
        stats = hat @ self.stats
        mean, var = stats[:, :self.total], stats[:, self.total:]
        aff = F.linear(cond, self.w_cond, self.b_cond)
        gain = aff[:, :self.total] * torch.rsqrt(var + self.eps)
        bias = aff[:, self.total:] - mean * gain
        x = F.linear(cond, self.w_z, self.b_z).reshape(-1, self.c0, 4, 4)
        return x, gain, bias

    def body(self, x, gain, bias):
        """Residual stack + final BN/ReLU + RGB conv, in the body dtype; returns the pre-tanh f32 image."""
        for layer in self.layers:
            x = layer(x, gain, bias) if isinstance(layer, _Block) else layer(x)
        x = _Block._bn_relu(x, gain, bias, self.final_off, self.ch)
        return F.conv2d(x, self.w_rgb, self.b_rgb, padding=1).float()

    def forward_float(self, z, c, t):
        """f32 image [B, 3, H, W] in [-1, 1]."""
        x, gain, bias = self.head(z.float(), c.float(), t.float())
        d = self.body_dtype
        x = x.to(d)
        if self.channels_last:  # the first elementwise ops would otherwise keep NCHW until the first conv
            x = x.contiguous(memory_format=torch.channels_last)
        return torch.tanh(self.body(x, gain.to(d), bias.to(d)))

    def pixels(self, z, c, t):
        """Float pixels [B, H, W, 3], rounded to 0..255 (so a uint8 cast is exact)."""
        img = torch.clamp((self.forward_float(z, c, t) + 1.0) * 127.5, 0.0, 255.0)
        return torch.round(img).permute(0, 2, 3, 1)

    def forward(self, z, c, t):
        """uint8 image [B, H, W, 3]."""
        return self.pixels(z, c, t).to(torch.uint8)

    def set_body_dtype(self, dtype: torch.dtype) -> "Generator":
        """Run the residual stack in dtype (bf16/fp16); the head (embedding, BN statistics) stays f32."""
        self.body_dtype = dtype
        for layer in self.layers:
            layer.to(dtype)
        self.w_rgb.data, self.b_rgb.data = self.w_rgb.data.to(dtype), self.b_rgb.data.to(dtype)
        return self


def build_generator(model_dir) -> Generator:
    """Load weights from a model directory (strict) and build the eval-mode graph."""
    from .weights import load_model

    config, state = load_model(model_dir)
    return Generator(config, state).eval()
