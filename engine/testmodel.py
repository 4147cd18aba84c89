"""Deterministic random BigGAN-deep weights in the pytorch-pretrained-biggan format (tests, benchmarks).

The weights are random but shaped like the real thing: spectral-norm u/v power-iterated to convergence,
per-truncation BN statistics calibrated on the model's own activations (so images are neither constant nor
saturated), a non-zero attention gamma (so attention is exercised) and an initialised final BN affine.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from core.files import atomic_output
from .weights import CONFIG_NAME, WEIGHTS_NAME

# Channel multiplier per resolution level (4, 8, 16, ... px), as in the BigGAN-deep paper/TF Hub modules.
CHANNEL_MULTS = {
    128: (16, 16, 8, 4, 2, 1),
    256: (16, 16, 8, 8, 4, 2, 1),
    512: (16, 16, 8, 8, 4, 2, 1, 1),
}
ATTENTION_RES = 64
POWER_ITERATIONS = 50
CALIBRATION_ANCHORS = (0, 10, 25, 50)  # stats rows measured; rows in between are interpolated
CALIBRATION_BATCH = 4
# Residual branch output scale (via bn_3's variance). A random deep net at full branch strength is chaotic: tiny
# input changes (truncation, z, bf16 rounding) scramble the image. Trained BigGAN is smooth; this mimics that.
BRANCH_SCALE = 0.25


def deep_layers(resolution: int) -> tuple[list[tuple[bool, int, int]], int]:
    """(layers, attention_layer_position) of BigGAN-deep at a resolution: per level one plain + one up block."""
    if resolution not in CHANNEL_MULTS:
        raise ValueError(f"resolution must be one of {sorted(CHANNEL_MULTS)}")
    mults = CHANNEL_MULTS[resolution]
    layers = []
    for a, b in zip(mults, mults[1:]):
        layers += [(False, a, a), (True, a, b)]
    level_64 = (ATTENTION_RES // 4).bit_length() - 1  # 4 px is level 0
    return layers, 2 * level_64


def _power_iterate(model: torch.nn.Module, eps: float) -> None:
    """Converge every spectral-norm u, v pair (what training would have done)."""
    for module in model.modules():
        if not hasattr(module, "weight_u"):
            continue
        w = module.weight_orig.reshape(module.weight_orig.shape[0], -1)
        u, v = module.weight_u, module.weight_v
        for _ in range(POWER_ITERATIONS):
            v.copy_(F.normalize(torch.mv(w.t(), u), dim=0, eps=eps))
            u.copy_(F.normalize(torch.mv(w, v), dim=0, eps=eps))


def _calibrate_stats(model, config, seed: int) -> None:
    """Per-truncation BN statistics from the model's own activations at anchor truncations."""
    from pytorch_pretrained_biggan.model import BigGANBatchNorm

    bns = [m for m in model.modules() if isinstance(m, BigGANBatchNorm)]
    shrink = {m.bn_3 for m in model.modules() if hasattr(m, "bn_3")}
    measured = {bn: {} for bn in bns}
    anchor = [0]

    def hook(bn, args):
        x = args[0]
        mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
        if bn in shrink:
            var = var / BRANCH_SCALE ** 2
        # Fill every row, so whichever row(s) the reference's lookup picks, it normalises with these stats.
        bn.running_means.copy_(mean.expand_as(bn.running_means))
        bn.running_vars.copy_(var.expand_as(bn.running_vars))
        measured[bn][anchor[0]] = (mean.clone(), var.clone())

    handles = [bn.register_forward_pre_hook(hook) for bn in bns]
    gen = torch.Generator().manual_seed(seed + 1)
    try:
        for k in CALIBRATION_ANCHORS:
            anchor[0] = k
            trunc = k / (config.n_stats - 1)
            z = torch.randn(CALIBRATION_BATCH, config.z_dim, generator=gen).clamp(-2, 2) * trunc
            classes = torch.randint(config.num_classes, (CALIBRATION_BATCH,), generator=gen)
            c = F.one_hot(classes, config.num_classes).float()
            model(z, c, 0.5)  # truncation argument is irrelevant: the hook sets all rows
    finally:
        for h in handles:
            h.remove()
    rows = torch.arange(config.n_stats, dtype=torch.float32)
    xs = torch.tensor(CALIBRATION_ANCHORS, dtype=torch.float32)
    for bn in bns:
        for buf, which in ((bn.running_means, 0), (bn.running_vars, 1)):
            ys = torch.stack([measured[bn][k][which] for k in CALIBRATION_ANCHORS])  # [anchors, C]
            hi = torch.searchsorted(xs, rows, right=False).clamp(1, len(xs) - 1)
            lo = hi - 1
            f = ((rows - xs[lo]) / (xs[hi] - xs[lo])).unsqueeze(1)
            buf.copy_(ys[lo] * (1 - f) + ys[hi] * f)


def make_random_model(out_dir, resolution: int = 128, channel_width: int = 128, seed: int = 0) -> Path:
    """Write config.json + pytorch_model.bin (reference format, deterministic for the arguments) into out_dir."""
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    layers, attn_pos = deep_layers(resolution)
    config = BigGANConfig(output_dim=resolution, channel_width=channel_width, layers=layers,
                          attention_layer_position=attn_pos)
    torch.manual_seed(seed)
    model = BigGAN(config)
    with torch.no_grad():
        _power_iterate(model, config.eps)
        gen = model.generator
        gen.bn.weight.fill_(1.0)  # torch.Tensor(n): uninitialised memory in the reference
        gen.bn.bias.zero_()
        gen.layers[attn_pos].gamma.fill_(0.3)  # zero-initialised: attention would be a no-op
        model.eval()
        _calibrate_stats(model, config, seed)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    with atomic_output(out / WEIGHTS_NAME) as tmp:
        torch.save(state, tmp)
    with atomic_output(out / CONFIG_NAME) as tmp:
        tmp.write_text(config.to_json_string(), encoding="utf-8")
    return out
