"""Restormer: Efficient Transformer for High-Resolution Image Restoration (Zamir et al., CVPR 2022).

Section 3 of the paper: a 4-level U-shaped encoder-decoder of Transformer blocks (MDTA + GDFN, see
:mod:`irtool.models.layers`), pixel-(un)shuffle resizing, skip connections by concatenation (1x1 channel
reduction at levels 3 and 2, none at level 1, which therefore runs at ``2C``), refinement blocks at full
resolution and a global residual. Parameter names equal the official ``restormer_arch.py`` so the released
``.pth`` files (``{'params': state_dict}``) load with ``strict=True``.

Unlike the official module this one accepts any input size: it pads to a multiple of 8
(:func:`~irtool.models.layers.pad_to_multiple`) and crops back.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from irtool.errors import InvalidArgumentError

from .layers import BlockOptions, Downsample, OverlapPatchEmbed, Upsample, pad_to_multiple, transformer_stage
from .registry import register_preset
from .strips import WHOLE_IMAGE, RowStrips, Runner, run_stage, strip_bytes_per_pixel

__all__ = ["Restormer"]

SIZE_MULTIPLE = 8  # three 2x downsamplings


class Restormer(nn.Module):
    """Restormer U-net; ``forward(x) -> restored x`` for any ``H x W``."""

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        dim: int = 48,
        num_blocks: Sequence[int] = (4, 6, 6, 8),
        num_refinement_blocks: int = 4,
        heads: Sequence[int] = (1, 2, 4, 8),
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        layernorm_type: str = "WithBias",
        dual_pixel_task: bool = False,
    ) -> None:
        super().__init__()
        if len(num_blocks) != 4 or len(heads) != 4:
            raise ValueError("num_blocks and heads need one entry per level (4)")
        if in_channels != out_channels and not dual_pixel_task:
            raise ValueError("the global residual needs in_channels == out_channels")
        self.in_channels = in_channels
        self.scale = 1
        self.size_multiple = SIZE_MULTIPLE
        self.min_input_side = SIZE_MULTIPLE
        self.strip_bytes_per_pixel = strip_bytes_per_pixel(dim)
        self.dual_pixel_task = dual_pixel_task
        common: BlockOptions = {
            "ffn_expansion_factor": ffn_expansion_factor, "bias": bias, "layernorm_type": layernorm_type,
        }
        d1, d2, d3, d4 = dim, dim * 2, dim * 4, dim * 8

        self.patch_embed = OverlapPatchEmbed(in_channels=in_channels, embed_dim=dim)
        self.encoder_level1 = transformer_stage(count=num_blocks[0], dim=d1, heads=heads[0], **common)
        self.down1_2 = Downsample(channels=d1)
        self.encoder_level2 = transformer_stage(count=num_blocks[1], dim=d2, heads=heads[1], **common)
        self.down2_3 = Downsample(channels=d2)
        self.encoder_level3 = transformer_stage(count=num_blocks[2], dim=d3, heads=heads[2], **common)
        self.down3_4 = Downsample(channels=d3)
        self.latent = transformer_stage(count=num_blocks[3], dim=d4, heads=heads[3], **common)

        self.up4_3 = Upsample(channels=d4)
        self.reduce_chan_level3 = nn.Conv2d(d4, d3, kernel_size=1, bias=bias)
        self.decoder_level3 = transformer_stage(count=num_blocks[2], dim=d3, heads=heads[2], **common)
        self.up3_2 = Upsample(channels=d3)
        self.reduce_chan_level2 = nn.Conv2d(d3, d2, kernel_size=1, bias=bias)
        self.decoder_level2 = transformer_stage(count=num_blocks[1], dim=d2, heads=heads[1], **common)
        self.up2_1 = Upsample(channels=d2)  # level 1 keeps 2C after the concatenation (no reduction)
        self.decoder_level1 = transformer_stage(count=num_blocks[0], dim=d2, heads=heads[0], **common)
        self.refinement = transformer_stage(count=num_refinement_blocks, dim=d2, heads=heads[0], **common)
        if dual_pixel_task:
            self.skip_conv = nn.Conv2d(d1, d2, kernel_size=1, bias=bias)
        self.output = nn.Conv2d(d2, out_channels, kernel_size=3, padding=1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self._run(x, WHOLE_IMAGE)

    def forward_in_strips(self, x: Tensor, *, strips: RowStrips) -> Tensor:
        """``forward(x)`` computed in the row strips ``strips`` describes (:mod:`~irtool.models.strips`): the same
        result up to float summation order, in bounded working memory."""
        return self._run(x, strips)

    def _run(self, x: Tensor, run: Runner) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise InvalidArgumentError(f"expected a [B, {self.in_channels}, H, W] tensor, got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        padded = pad_to_multiple(x, SIZE_MULTIPLE)
        embedded = run.local(self.patch_embed.proj, padded)
        # Before the encoder: a runner may overwrite a stage's input (embedded) with its output.
        skip = run.local(self.skip_conv, embedded) if self.dual_pixel_task else None
        enc1 = run_stage(run, self.encoder_level1, embedded)
        enc2 = run_stage(run, self.encoder_level2, run.local(self.down1_2, enc1))
        enc3 = run_stage(run, self.encoder_level3, run.local(self.down2_3, enc2))
        latent = run_stage(run, self.latent, run.local(self.down3_4, enc3))

        dec3 = torch.cat([run.local(self.up4_3, latent), enc3], 1)
        dec3 = run_stage(run, self.decoder_level3, run.local(self.reduce_chan_level3, dec3))
        dec2 = torch.cat([run.local(self.up3_2, dec3), enc2], 1)
        dec2 = run_stage(run, self.decoder_level2, run.local(self.reduce_chan_level2, dec2))
        dec1 = torch.cat([run.local(self.up2_1, dec2), enc1], 1)
        del enc1, enc2, enc3, dec2, dec3  # full-resolution maps the rest does not read
        dec1 = run_stage(run, self.refinement, run_stage(run, self.decoder_level1, dec1))
        if skip is not None:
            out = run.local(self.output, dec1 + skip)
        else:
            out = run.local(self.output, dec1) + padded
        return out[..., :h, :w]


_RESTORMER_TASKS = ("denoise", "deblur", "derain")
_CONTRACT = {"family": "restormer", "size_multiple": SIZE_MULTIPLE, "min_input_side": SIZE_MULTIPLE,
             "supports_fp16": True, "supports_bf16": True, "strips": True}

register_preset(
    "restormer",
    Restormer,
    description="Restormer (paper sizes: C=48, blocks 4/6/6/8, refinement 4); loads the official .pth files",
    tasks=_RESTORMER_TASKS,
    recipe="hair",
    family_default=True,
    paper_params=26_130_000,
    **_CONTRACT,
)

register_preset(
    "restormer_biasfree",
    Restormer,
    kwargs={"layernorm_type": "BiasFree"},
    # The official denoising configs (Denoising/Options/*Denoising_Restormer*.yml) use BiasFree LayerNorm.
    description="Restormer with BiasFree LayerNorm, as the official real and Gaussian denoising checkpoints",
    tasks=("denoise",),
    recipe="hair",
    paper_params=26_130_000,
    **_CONTRACT,
)

register_preset(
    "restormer_lite",
    Restormer,
    kwargs={
        "dim": 14,
        "num_blocks": (1, 1, 1, 2),
        "num_refinement_blocks": 1,
        "heads": (1, 2, 4, 8),
        "ffn_expansion_factor": 2.0,
    },
    description="Small Restormer for CPU training/inference (C=14, blocks 1/1/1/2, refinement 1)",
    tasks=_RESTORMER_TASKS,
    recipe="lite",
    **_CONTRACT,
)
