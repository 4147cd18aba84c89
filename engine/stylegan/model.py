"""A StyleGAN network pickle as the engine sees it: the synthesis graph behind BigGAN's engine interface.

`StyleGAN` renders the synthesis input (ws [B, num_ws, w_dim], and for StyleGAN3 transform [B, 3, 3]) to
uint8 [B, H, W, 3] with NVIDIA's conversion (img * 127.5 + 128, clamped, truncated), so a frame is the one
NVIDIA's code makes from the same ws. Its `inputs` name the engine inputs and their shapes; the mapping
network (`mapping`, z/c -> w) stays beside it for the walk. `info` describes a pickle for --model-info.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .graph import Mapping, build_synthesis
from .unpickle import load_generator

class StyleGAN(nn.Module):
    """render inputs -> uint8 [B, H, W, 3] (forward), float pixels (pixels), [-1, 1] float (forward_float)."""

    def __init__(self, gen):
        super().__init__()
        self.synthesis = build_synthesis(gen)
        self.mapping = Mapping(gen["mapping"]).eval()
        self.kind = "stylegan3" if self.synthesis.transform else "stylegan2"
        self.z_dim, self.c_dim = self.mapping.z_dim, self.mapping.c_dim
        self.num_ws, self.w_dim = self.synthesis.num_ws, self.mapping.w_dim
        self.resolution = int(gen.attr("img_resolution"))
        self.img_channels = int(gen.attr("img_channels", 3))
        self.inputs = (("ws", (self.num_ws, self.w_dim)),) + ((("transform", (3, 3)),) if self.kind == "stylegan3"
                                                              else ())
        self.body_dtype = torch.float32
        self.channels_last = False

    def forward_float(self, ws, transform=None):
        d = self.body_dtype
        if self.kind == "stylegan3":  # the Fourier-feature input stays f32 (large phases), the layers run in d
            x = self.synthesis.input(ws[:, 0].float(), transform.float()).to(d)
            wsd = ws.to(d)
            for i, layer in enumerate(self.synthesis.layers):
                x = layer(x, wsd[:, i + 1])
            img = x.float() * self.synthesis.scale
        else:
            img = self.synthesis(ws.to(d)).float()
        if self.img_channels == 1:
            img = img.expand(-1, 3, -1, -1)
        return img[:, :3]

    def pixels(self, ws, transform=None):
        """Float pixels [B, H, W, 3] already on the uint8 grid: NVIDIA's (x * 127.5 + 128).clamp(0, 255) cast."""
        img = torch.floor(torch.clamp(self.forward_float(ws, transform) * 127.5 + 128.0, 0.0, 255.0))
        return img.permute(0, 2, 3, 1)

    def forward(self, ws, transform=None):
        return self.pixels(ws, transform).to(torch.uint8)

    def set_body_dtype(self, dtype: torch.dtype) -> "StyleGAN":
        self.body_dtype = dtype
        body = self.synthesis.layers if self.kind == "stylegan3" else self.synthesis
        body.to(dtype)
        return self

    @torch.no_grad()
    def map(self, z, c, psi):
        """w [B, w_dim] (float32 numpy) for z [B, z_dim], c [B, c_dim], truncation psi [B]."""
        f = lambda a: torch.as_tensor(a, dtype=torch.float32)
        return self.mapping(f(z), f(c), f(psi)).numpy()


def build(path) -> StyleGAN:
    """Load a network pickle safely and build its graphs."""
    return StyleGAN(load_generator(Path(path))).eval()


def info(path) -> dict:
    """What a pickle holds, for --model-info: kind, resolution, latent sizes, mapping layers, size."""
    gen = load_generator(Path(path))
    model = StyleGAN(gen)
    n_params = sum(t.numel() for t in gen.tensors().values())
    kind = model.kind
    if kind == "stylegan3":  # config R: 1x1 convs (and radial filters); T: 3x3
        kind += "-r" if model.synthesis.layers[0].weight.shape[-1] == 1 else "-t"
    return {"file": str(path), "kind": kind, "resolution": model.resolution, "z_dim": model.z_dim,
            "w_dim": model.w_dim, "c_dim": model.c_dim, "num_ws": model.num_ws,
            "mapping_layers": len(model.mapping.layers), "parameters": n_params,
            "file_bytes": Path(path).stat().st_size}
