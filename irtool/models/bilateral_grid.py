"""A bilateral grid of colour-affine transforms predicted from a thumbnail (HDRNet's idea, lite).

Gharbi, Chen, Barron, Hasinoff, Durand, "Deep Bilateral Learning for Real-Time Image Enhancement" (SIGGRAPH 2017):
a small network looks at a fixed-size thumbnail of the *whole* image and predicts a coarse 3-D grid (x, y,
intensity) of 3x4 colour-affine transforms; every full-resolution pixel then reads its transform from the grid at
its position and at the value of a learned per-pixel guide, and applies it to its own colour.

Why irtool has it: low light and haze are *global* corrections. Exposure and gamma act on the whole photo, and a
haze veil is an affine map per pixel (``J = (I - A) / t + A``) whose transmission ``t`` varies slowly. A network
that sees one tile at a time decides each tile's brightness from that tile alone and leaves seams; this one
decides once from the whole image, and its full-resolution work is pointwise, so the result does not depend on
how the image is cut. The engine therefore never tiles it (``Preset.whole_image``), and it costs a few
milliseconds per megapixel beyond the thumbnail. It does not remove noise or blur (they are not colour maps).

Differences from HDRNet: the output is a residual around the identity (the last layer starts at zero, so an
untrained network returns its input); the guide is a per-pixel MLP rather than per-channel curves; the thumbnail
keeps the image's aspect ratio inside a square canvas by reflection padding rather than stretching it.

The ``tone`` variant also reads the full-resolution image's tone distribution (:func:`tone_distribution`) into its
global path. Photos are darkened three ways that the averaged thumbnail shows alike: a scale (exposure: white
dims, black stays black), a subtraction (a brightness cut: shadows crushed to exactly black) and a tone curve
(white stays white, shadows sink); each needs another correction, and the share of pixels at each level of the
full image tells them apart. Its projection starts at zero, so a tone network grown from a plain one's weights
(:attr:`BilateralGridNet.grown_parts`) first returns what the plain one did.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .registry import register_preset

__all__ = ["BilateralGridNet", "tone_distribution"]

#: A 3x4 affine colour transform per grid cell: 3 output channels x (3 input channels + offset).
_AFFINE = 12


def tone_distribution(x: Tensor, levels: int) -> Tensor:
    """``[B, 3, H, W]`` in [0, 1] -> ``[B, levels]``: the share of each image's pixels whose luma (Rec. 601) is
    below ``(i / levels) ** 2`` for ``i = 1 .. levels`` (the last counts every pixel: 1).

    Levels are spaced on the square root of luma, as photo tone is perceived, which puts the first at a quarter of
    an 8-bit level (crushed black) and still resolves the highlights. Float32 whatever ``x`` is; no gradient.
    """
    with torch.no_grad():
        r, g, b = x.detach().float().clamp(0, 1).unbind(dim=1)
        tone = (0.299 * r + 0.587 * g + 0.114 * b).sqrt().flatten(1)
        counts = torch.stack([torch.histc(t, bins=levels, min=0.0, max=1.0) for t in tone])
        return counts.cumsum(dim=1) / tone.shape[1]


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.LeakyReLU(0.1, inplace=True))


class BilateralGridNet(nn.Module):
    """``forward(x)``: ``[B, 3, H, W]`` in [0, 1] -> the same shape, for any ``H x W`` (no padding, no tiling).

    ``thumbnail`` is the side the whole image is resized to for prediction; ``grid_side`` the grid's spatial
    cells per side (``thumbnail / grid_side`` must be a power of two: the splat path halves it); ``grid_depth``
    the intensity bins; ``width`` the channels of the last splat level; ``guide_width`` the guide MLP's hidden
    channels.
    """

    in_channels = 3
    scale = 1
    size_multiple = 1
    min_input_side = 1

    def __init__(self, *, thumbnail: int = 256, grid_side: int = 16, grid_depth: int = 8, width: int = 64,
                 guide_width: int = 16, tone_levels: int = 0) -> None:
        super().__init__()
        levels = (thumbnail // grid_side).bit_length() - 1
        if thumbnail % grid_side or 2**levels != thumbnail // grid_side or levels < 1:
            raise ValueError(f"thumbnail / grid_side must be a power of two >= 2, got {thumbnail} / {grid_side}")
        self.thumbnail, self.grid_side, self.grid_depth = thumbnail, grid_side, grid_depth
        widths = [max(8, width >> (levels - 1 - i)) for i in range(levels)]
        self.splat = nn.Sequential(*[_conv(3 if i == 0 else widths[i - 1], w, 2) for i, w in enumerate(widths)])
        self.local = nn.Sequential(_conv(width, width, 1), nn.Conv2d(width, width, 3, padding=1))
        # Global path: two more halvings, then an MLP on the pooled features (scene-wide exposure, airlight).
        self.global_conv = nn.Sequential(_conv(width, width, 2), _conv(width, width, 2))
        self.global_mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.LeakyReLU(0.1, inplace=True),
                                        nn.Linear(2 * width, width))
        self.to_grid = nn.Conv2d(width, _AFFINE * grid_depth, 1)
        nn.init.zeros_(self.to_grid.weight)
        if self.to_grid.bias is not None:
            nn.init.zeros_(self.to_grid.bias)
        self.guide = nn.Sequential(nn.Conv2d(3, guide_width, 1), nn.LeakyReLU(0.1, inplace=True),
                                   nn.Conv2d(guide_width, 1, 1))
        self.tone_levels = tone_levels
        self.tone: nn.Linear | None = None
        if tone_levels > 0:
            self.tone = nn.Linear(tone_levels, width)
            nn.init.zeros_(self.tone.weight)
            nn.init.zeros_(self.tone.bias)

    @property
    def grown_parts(self) -> tuple[str, ...]:
        """State-dict prefixes that a weights file of the same network without them may lack: they start at zero,
        so the network they extend computes what it did (``--init-weights`` from a plain grid)."""
        return ("tone.",) if self.tone is not None else ()

    def _thumbnail(self, x: Tensor) -> Tensor:
        """The whole image in a ``thumbnail`` square: resized (antialiased) so its longer side fills it, the rest
        reflected (replicated where the short side is too short to reflect)."""
        _, _, h, w = x.shape
        side = self.thumbnail
        th, tw = max(1, round(h * side / max(h, w))), max(1, round(w * side / max(h, w)))
        small = F.interpolate(x, size=(th, tw), mode="bilinear", align_corners=False, antialias=True)
        pad = (0, side - tw, 0, side - th)
        mode = "reflect" if side - tw < tw and side - th < th else "replicate"
        return F.pad(small, pad, mode=mode) if any(pad) else small

    def grid(self, x: Tensor) -> Tensor:
        """The predicted grid ``[B, 12, grid_depth, g, g]`` of residual affine coefficients for image ``x``."""
        features = self.splat(self._thumbnail(x))
        pooled = self.global_conv(features).mean(dim=(2, 3))
        if self.tone is not None:
            pooled = pooled + self.tone(tone_distribution(x, self.tone_levels).to(pooled.dtype))
        fused = F.leaky_relu(self.local(features) + self.global_mlp(pooled)[:, :, None, None], 0.1)
        coeffs = self.to_grid(fused)
        b, _, g, _ = coeffs.shape
        return coeffs.view(b, _AFFINE, self.grid_depth, g, g)

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        grid = self.grid(x)
        # Thumbnail cells cover the image's own extent (the padding sits right/bottom of it).
        longer = max(h, w)
        extent_y, extent_x = h / longer, w / longer
        ys = (torch.arange(h, device=x.device, dtype=x.dtype) + 0.5) / h * extent_y * 2 - 1
        xs = (torch.arange(w, device=x.device, dtype=x.dtype) + 0.5) / w * extent_x * 2 - 1
        guide = torch.sigmoid(self.guide(x)) * 2 - 1  # [B, 1, H, W] in (-1, 1): the intensity coordinate
        coords = torch.stack([xs.view(1, 1, w).expand(b, h, w), ys.view(1, h, 1).expand(b, h, w),
                              guide[:, 0]], dim=-1)
        affine = F.grid_sample(grid.to(x.dtype), coords.unsqueeze(1), mode="bilinear", padding_mode="border",
                               align_corners=False)[:, :, 0]  # [B, 12, H, W]
        a = affine.view(b, 3, 4, h, w)
        return x + (a[:, :, :3] * x.unsqueeze(1)).sum(dim=2) + a[:, :, 3]


register_preset(
    "bilateral_grid_lite", BilateralGridNet,
    family="bilateral_grid",
    description="HDRNet-style bilateral grid of colour-affine transforms predicted from a 256 px thumbnail of the "
    "whole image: seam-free global corrections (low light, haze)",
    tasks=("lowlight", "dehaze"), kwargs={}, size_multiple=1, min_input_side=1, recipe="lite",
    supports_fp16=False, supports_bf16=True, whole_image=True, family_default=True,
    # Full-resolution float32 planes per pixel: input 3, guide 16 + 1, coordinates 3, sliced coefficients 12,
    # products 9, output 3 = 47 floats (188 bytes), rounded up; the thumbnail path is a constant.
    bytes_per_pixel=256,
)

register_preset(
    "bilateral_grid_tone_lite", BilateralGridNet,
    family="bilateral_grid",
    description="bilateral_grid_lite that also reads the whole image's tone distribution (32 levels), to tell a "
    "darkening by exposure from one by a brightness cut or a tone curve",
    tasks=("lowlight", "dehaze"), kwargs={"tone_levels": 32}, size_multiple=1, min_input_side=1, recipe="lite",
    supports_fp16=False, supports_bf16=True, whole_image=True,
    # As bilateral_grid_lite, plus the luma and its square root for the tone distribution.
    bytes_per_pixel=264,
)
