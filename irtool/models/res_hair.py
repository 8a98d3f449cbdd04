"""Res-HAIR: Restormer with HAIR hypernetworks (Cao et al., "HAIR: Hypernetworks-based All-in-One Image
Restoration", arXiv 2408.08091), section 3.

* The Restormer encoder (levels 1-3, static weights) produces ``F_g`` at ``H/8 x W/8 x 8C``.
* The Classifier (3.1) turns ``F_g`` into the Global Information Vector (GIV) ``V_g`` of size ``2C``: ResNet
  blocks with downsampling, then global average pooling, no softmax.
* Each HyperTrans block owns a Hyper Selecting Net (3.2): an MLP on the GIV and a softmax give the selecting
  vector ``V_s`` (size N); the block's convolution weights are ``V_s @ W`` where ``W`` (``N x P``) is the Weights
  Box shared by all blocks of one level. Blocks at level 4, in the decoder and in the refinement are HyperTrans
  blocks; LayerNorm affines and the attention temperature stay static, as in the official code.

Implementation notes. The weight generation is one ``[B, N] @ [N, P]`` matmul per block; every image in a batch
gets its own weights (1x1 convs become one batched matmul, depthwise convs fold the batch into the groups), and a
GIV batch of one is broadcast over all images (the engine computes the GIV once per photo and reuses it for
every tile; then the convolutions use one weight set, the fast path). Any input size works: the input is padded
(:func:`~irtool.models.layers.pad_to_multiple`) to a multiple of 8 and to at least
``8 * 2**(classifier_levels - 1)`` px (32 for the official classifier, whose zero-pad-then-stride-2 convolutions
fail on smaller maps), then cropped back.

Where the official code (toummHus/HAIR ``net/HAIR.py`` and ``utils/ResNet.py`` at 2a7af06) departs from the paper,
preset ``res_hair`` follows the official layout so the released ``hair3d.ckpt`` loads with ``strict=True``
(28,559,846 parameters vs the paper's "29M"):

1. Weights-box sizes are ``max(4, n) + 1`` for ``n`` blocks per level except the level-3 decoder, which has
   ``max(4, n)``: N = 9 (level 4), 6 (decoder 3), 7 (decoder 2), 5 (decoder 1), 5 (refinement); the paper says
   [5, 7, 7, 9]. Here they are the ``weights_box_sizes`` argument.
2. Level 4 is followed by a 3x3 conv with bias ``reduce_latent`` (8C -> 4C) before ``up4_3`` (4C -> 2C), where
   Restormer upsamples 8C -> 4C; so ``reduce_chan_level3`` maps 2C + 4C -> 4C. The official code hard-wires the
   4C skip as ``192`` (correct only for C = 48); we write ``4 * dim`` so other widths work.
3. The level-1 decoder and the refinement run at 2C (as in Restormer; the paper's figure suggests C).
4. The classifier is not three (ResNet block, downsample) stages to ``H/64 x W/64 x 2C``: it is the diffusion-
   style encoder of ``utils/ResNet.py``: ``conv_in`` (8C -> 1.5C), three levels of three GroupNorm(24)/swish
   ResNet blocks with a zero-pad-then-stride-2 conv between levels (so ``H/32``), a middle block / single-head
   spatial self-attention / block, GroupNorm, swish, ``conv_out`` (1.5C -> 2C), then the spatial mean.
5. The hyper-generated convolutions have no bias (the official ``HyConv2d`` ignores ``bias``); ``bias`` here only
   affects the static convolutions, as there.
6. The Hyper Selecting Net MLP halves its width ``selector_depth`` (3) times from 2C with GELU, then maps to N.
"""

from __future__ import annotations

import math
from typing import Sequence, TypedDict, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from irtool.errors import InvalidArgumentError

from .layers import (
    AttentionKernels,
    BlockOptions,
    ChannelLayerNorm,
    Downsample,
    FeedForwardKernels,
    OverlapPatchEmbed,
    Upsample,
    gdfn,
    mdta,
    pad_to_multiple,
    transformer_stage,
)
from .registry import register_preset
from .strips import WHOLE_IMAGE, RestormerBlock, RowStrips, Runner, run_stage, strip_bytes_per_pixel

__all__ = ["GIVClassifier", "HyperLevel", "HyperTransformerBlock", "ResHAIR", "SelectingNet"]

SIZE_MULTIPLE = 8


def min_input_side(classifier_levels: int) -> int:
    """Smallest padded side: the classifier's stride-2 convolutions need level 4 >= 2**(levels-1) px."""
    return SIZE_MULTIPLE * 2 ** (classifier_levels - 1)


# ----------------------------------------------------------------------------------------------- classifier
class _ClassifierResBlock(nn.Module):
    """GroupNorm -> swish -> 3x3 conv, twice, plus the identity (``ResnetBlock`` without time embedding)."""

    def __init__(self, *, in_channels: int, out_channels: int, norm_groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(norm_groups, in_channels, eps=1e-6)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.norm2 = nn.GroupNorm(norm_groups, out_channels, eps=1e-6)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class _ClassifierAttention(nn.Module):
    """Single-head self-attention over positions (scaled dot product; memory-efficient kernel)."""

    def __init__(self, *, channels: int, norm_groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(norm_groups, channels, eps=1e-6)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        normed = self.norm(x)
        q, k, v = (conv(normed).flatten(2).transpose(1, 2)[:, None] for conv in (self.q, self.k, self.v))
        out = F.scaled_dot_product_attention(q, k, v)  # default scale 1/sqrt(c), as the official code
        return x + self.proj_out(out[:, 0].transpose(1, 2).reshape(b, c, h, w))


class _StridedDownsample(nn.Module):
    """Zero-pad right/bottom by one, then a stride-2 3x3 conv (the official asymmetric padding)."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class _ClassifierLevel(nn.Module):
    def __init__(self, *, channels: int, num_blocks: int, norm_groups: int, downsample: bool) -> None:
        super().__init__()
        self.block = nn.ModuleList(
            _ClassifierResBlock(in_channels=channels, out_channels=channels, norm_groups=norm_groups)
            for _ in range(num_blocks)
        )
        self.downsample = _StridedDownsample(channels=channels) if downsample else None

    def forward(self, x: Tensor) -> Tensor:
        for block in self.block:
            x = block(x)
        return x if self.downsample is None else self.downsample(x)


class _ClassifierMiddle(nn.Module):
    def __init__(self, *, channels: int, norm_groups: int) -> None:
        super().__init__()
        self.block_1 = _ClassifierResBlock(in_channels=channels, out_channels=channels, norm_groups=norm_groups)
        self.attn_1 = _ClassifierAttention(channels=channels, norm_groups=norm_groups)
        self.block_2 = _ClassifierResBlock(in_channels=channels, out_channels=channels, norm_groups=norm_groups)

    def forward(self, x: Tensor) -> Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class GIVClassifier(nn.Module):
    """HAIR Classifier (section 3.1, official ``utils/ResNet.py`` layout): ``F_g -> V_g`` (``[B, out_channels]``)."""

    def __init__(
        self, *, in_channels: int, width: int, out_channels: int, num_levels: int = 3, blocks_per_level: int = 3,
        norm_groups: int = 24,
    ) -> None:
        super().__init__()
        if width % norm_groups:
            raise ValueError(f"classifier width {width} is not divisible by norm_groups {norm_groups}")
        self.conv_in = nn.Conv2d(in_channels, width, kernel_size=3, padding=1)
        self.down = nn.ModuleList(
            _ClassifierLevel(
                channels=width, num_blocks=blocks_per_level, norm_groups=norm_groups, downsample=i < num_levels - 1
            )
            for i in range(num_levels)
        )
        self.mid = _ClassifierMiddle(channels=width, norm_groups=norm_groups)
        self.norm_out = nn.GroupNorm(norm_groups, width, eps=1e-6)
        self.conv_out = nn.Conv2d(width, out_channels, kernel_size=3, padding=1)

    def forward(self, features: Tensor) -> Tensor:
        x = self.conv_in(features)
        for level in self.down:
            x = level(x)
        x = self.conv_out(F.silu(self.norm_out(self.mid(x))))
        return x.mean(dim=(-2, -1))  # GAP: a fixed-size vector whatever the resolution


# ------------------------------------------------------------------------------------------ hypernetwork
class SelectingNet(nn.Module):
    """Hyper Selecting Net (section 3.2): ``softmax(MLP(V_g))``, the selecting vector over the Weights Box."""

    def __init__(self, *, giv_dim: int, box_size: int, depth: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = giv_dim
        for _ in range(depth):
            layers += [nn.Linear(width, width // 2), nn.GELU()]
            width //= 2
        layers.append(nn.Linear(width, box_size))
        self.net = nn.Sequential(*layers)

    def forward(self, giv: Tensor) -> Tensor:
        return self.net(giv).softmax(dim=-1)


class _HyperAttentionParams(nn.Module):
    """Only the static temperature; the MDTA convolution weights are generated (official ``Hyattn``)."""

    def __init__(self, *, num_heads: int) -> None:
        super().__init__()
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))


def _kernel_layout(*, dim: int, hidden: int) -> tuple[tuple[int, int], ...]:
    """(size, fan_in) of each generated kernel of a HyperTrans block, in weight-vector order."""
    return (
        (3 * dim * dim, dim),
        (3 * dim * 9, 9),
        (dim * dim, dim),
        (2 * hidden * dim, dim),
        (2 * hidden * 9, 9),
        (hidden * dim, hidden),
    )


class HyperTransformerBlock(nn.Module):
    """HyperTrans block: a Restormer block whose six convolution kernels come from a flat weight vector.

    Weight-vector layout (official order): MDTA qkv ``[3d, d]``, qkv depthwise ``[3d, 1, 3, 3]``, projection
    ``[d, d]``, GDFN input ``[2h, d]``, depthwise ``[2h, 1, 3, 3]``, output ``[d, h]`` (``h = int(d * factor)``).
    """

    def __init__(self, *, dim: int, num_heads: int, ffn_expansion_factor: float, layernorm_type: str) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        hidden = int(dim * ffn_expansion_factor)
        self.dim, self.hidden, self.num_heads = dim, hidden, num_heads
        self.norm1 = ChannelLayerNorm(dim=dim, layernorm_type=layernorm_type)
        self.attn = _HyperAttentionParams(num_heads=num_heads)
        self.norm2 = ChannelLayerNorm(dim=dim, layernorm_type=layernorm_type)
        self.kernel_layout = _kernel_layout(dim=dim, hidden=hidden)

    def kernels(self, weights: Tensor | None = None) -> tuple[AttentionKernels, FeedForwardKernels]:
        """The block's convolutions from its generated weight vector ``[B, P]`` (one set per image) or ``[1, P]``
        (shared by the batch)."""
        if weights is None:
            raise ValueError("a HyperTrans block needs its generated weights")
        n = weights.shape[0]
        d, h = self.dim, self.hidden
        qkv, qkv_dw, proj, ffn_in, ffn_dw, ffn_out = weights.split([s for s, _ in self.kernel_layout], dim=1)
        attention: AttentionKernels = {
            "qkv_weight": qkv.reshape(n, 3 * d, d), "qkv_dw_weight": qkv_dw.reshape(n, 3 * d, 1, 3, 3),
            "out_weight": proj.reshape(n, d, d), "temperature": self.attn.temperature, "num_heads": self.num_heads,
        }
        feed_forward: FeedForwardKernels = {
            "in_weight": ffn_in.reshape(n, 2 * h, d), "dw_weight": ffn_dw.reshape(n, 2 * h, 1, 3, 3),
            "out_weight": ffn_out.reshape(n, d, h),
        }
        return attention, feed_forward

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        """``weights`` is ``[B, P]`` (one set per image) or ``[1, P]`` (shared by the batch)."""
        attention, feed_forward = self.kernels(weights)
        x = x + mdta(self.norm1(x), attention)
        return x + gdfn(self.norm2(x), feed_forward)


class HyperLevel(nn.Module):
    """One level of HyperTrans blocks sharing one Weights Box ``kernel_box`` (``[N, P]``), one HSN per block."""

    def __init__(
        self, *, dim: int, num_heads: int, ffn_expansion_factor: float, layernorm_type: str, num_blocks: int,
        box_size: int, giv_dim: int, selector_depth: int,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            HyperTransformerBlock(
                dim=dim, num_heads=num_heads, ffn_expansion_factor=ffn_expansion_factor, layernorm_type=layernorm_type
            )
            for _ in range(num_blocks)
        )
        self.extracts = nn.ModuleList(
            SelectingNet(giv_dim=giv_dim, box_size=box_size, depth=selector_depth) for _ in range(num_blocks)
        )
        self._kernel_layout = _kernel_layout(dim=dim, hidden=int(dim * ffn_expansion_factor))
        self.kernel_box = nn.Parameter(torch.empty(box_size, sum(size for size, _ in self._kernel_layout)))
        self.reset_kernel_box()

    @torch.no_grad()
    def reset_kernel_box(self) -> None:
        """Each box row starts as freshly initialised convolutions would (uniform, bound ``1/sqrt(fan_in)``)."""
        start = 0
        for size, fan_in in self._kernel_layout:
            bound = 1.0 / math.sqrt(fan_in)
            self.kernel_box[:, start : start + size].uniform_(-bound, bound)
            start += size

    def forward(self, x: Tensor, giv: Tensor, run: Runner = WHOLE_IMAGE) -> Tensor:
        for block, selector in zip(self.blocks, self.extracts):
            weights = selector(giv) @ self.kernel_box  # [B, P]: one matmul generates the whole block
            x = run.block(cast(RestormerBlock, block), x, weights)
        return x


# ------------------------------------------------------------------------------------------------ Res-HAIR
class _HyperOptions(TypedDict):
    """The options every :class:`HyperLevel` shares."""

    ffn_expansion_factor: float
    layernorm_type: str
    giv_dim: int
    selector_depth: int


class ResHAIR(nn.Module):
    """Res-HAIR. ``giv(x) -> [B, 2C]``; ``forward(x, giv=None) -> restored x`` (any ``H x W``).

    ``weights_box_sizes`` is N for (level 4, decoder 3, decoder 2, decoder 1, refinement).
    ``classifier_width`` defaults to ``int(1.5 * dim)`` as in the official code.
    """

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
        weights_box_sizes: Sequence[int] = (9, 6, 7, 5, 5),
        selector_depth: int = 3,
        classifier_width: int | None = None,
        classifier_levels: int = 3,
        classifier_blocks_per_level: int = 3,
        classifier_norm_groups: int = 24,
    ) -> None:
        super().__init__()
        if len(num_blocks) != 4 or len(heads) != 4 or len(weights_box_sizes) != 5:
            raise ValueError("num_blocks and heads need 4 entries, weights_box_sizes 5")
        if in_channels != out_channels:
            raise ValueError("the global residual needs in_channels == out_channels")
        self.in_channels = in_channels
        self.scale = 1
        self.size_multiple = SIZE_MULTIPLE
        self.min_input_side = min_input_side(classifier_levels)
        self.strip_bytes_per_pixel = strip_bytes_per_pixel(dim)
        self.giv_dim = 2 * dim
        d1, d2, d3, d4 = dim, dim * 2, dim * 4, dim * 8
        static: BlockOptions = {
            "ffn_expansion_factor": ffn_expansion_factor, "bias": bias, "layernorm_type": layernorm_type,
        }
        hyper: _HyperOptions = {
            "ffn_expansion_factor": ffn_expansion_factor, "layernorm_type": layernorm_type, "giv_dim": self.giv_dim,
            "selector_depth": selector_depth,
        }
        box_latent, box_dec3, box_dec2, box_dec1, box_refine = weights_box_sizes

        self.patch_embed = OverlapPatchEmbed(in_channels=in_channels, embed_dim=dim)
        self.encoder_level1 = transformer_stage(count=num_blocks[0], dim=d1, heads=heads[0], **static)
        self.down1_2 = Downsample(channels=d1)
        self.encoder_level2 = transformer_stage(count=num_blocks[1], dim=d2, heads=heads[1], **static)
        self.down2_3 = Downsample(channels=d2)
        self.encoder_level3 = transformer_stage(count=num_blocks[2], dim=d3, heads=heads[2], **static)
        self.down3_4 = Downsample(channels=d3)

        self.latent = HyperLevel(dim=d4, num_heads=heads[3], num_blocks=num_blocks[3], box_size=box_latent, **hyper)
        self.reduce_latent = nn.Conv2d(d4, d3, kernel_size=3, padding=1)
        self.feature = GIVClassifier(
            in_channels=d4,
            width=classifier_width if classifier_width is not None else int(dim * 1.5),
            out_channels=self.giv_dim,
            num_levels=classifier_levels,
            blocks_per_level=classifier_blocks_per_level,
            norm_groups=classifier_norm_groups,
        )

        self.up4_3 = Upsample(channels=d3)
        self.reduce_chan_level3 = nn.Conv2d(d2 + d3, d3, kernel_size=1, bias=bias)
        self.decoder_level3 = HyperLevel(dim=d3, num_heads=heads[2], num_blocks=num_blocks[2],
                                          box_size=box_dec3, **hyper)
        self.up3_2 = Upsample(channels=d3)
        self.reduce_chan_level2 = nn.Conv2d(d3, d2, kernel_size=1, bias=bias)
        self.decoder_level2 = HyperLevel(dim=d2, num_heads=heads[1], num_blocks=num_blocks[1],
                                          box_size=box_dec2, **hyper)
        self.up2_1 = Upsample(channels=d2)
        self.decoder_level1 = HyperLevel(dim=d2, num_heads=heads[0], num_blocks=num_blocks[0],
                                          box_size=box_dec1, **hyper)
        self.refinement = HyperLevel(
            dim=d2, num_heads=heads[0], num_blocks=num_refinement_blocks, box_size=box_refine, **hyper
        )
        self.output = nn.Conv2d(d2, out_channels, kernel_size=3, padding=1, bias=bias)

    # .................................................................................................. API
    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise InvalidArgumentError(f"expected a [B, {self.in_channels}, H, W] tensor, got {tuple(x.shape)}")

    def _encode(self, padded: Tensor, run: Runner = WHOLE_IMAGE) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        enc1 = run_stage(run, self.encoder_level1, run.local(self.patch_embed.proj, padded))
        enc2 = run_stage(run, self.encoder_level2, run.local(self.down1_2, enc1))
        enc3 = run_stage(run, self.encoder_level3, run.local(self.down2_3, enc2))
        return enc1, enc2, enc3, run.local(self.down3_4, enc3)

    def giv(self, x: Tensor) -> Tensor:
        """Global Information Vector ``[B, 2C]`` of whole images (run the encoder and the classifier only)."""
        self._check_input(x)
        padded = pad_to_multiple(x, SIZE_MULTIPLE, min_size=self.min_input_side)
        return self.feature(self._encode(padded)[3])

    def forward(self, x: Tensor, giv: Tensor | None = None) -> Tensor:
        """Restore ``x``; a given ``giv`` (``[B, 2C]`` or ``[1, 2C]`` for the whole batch) skips the classifier."""
        return self._run(x, giv, WHOLE_IMAGE)

    def forward_in_strips(self, x: Tensor, giv: Tensor | None = None, *, strips: RowStrips) -> Tensor:
        """``forward(x, giv)`` computed in the row strips ``strips`` describes (:mod:`~irtool.models.strips`): the
        same result up to float summation order, in bounded working memory."""
        return self._run(x, giv, strips)

    def _run(self, x: Tensor, giv: Tensor | None, run: Runner) -> Tensor:
        self._check_input(x)
        if giv is not None and (giv.dim() != 2 or giv.shape[1] != self.giv_dim or giv.shape[0] not in (1, x.shape[0])):
            raise InvalidArgumentError(f"giv must be [{x.shape[0]} or 1, {self.giv_dim}], got {tuple(giv.shape)}")
        h, w = x.shape[-2:]
        padded = pad_to_multiple(x, SIZE_MULTIPLE, min_size=self.min_input_side)
        enc1, enc2, enc3, level4 = self._encode(padded, run)
        if giv is None:
            giv = self.feature(level4)  # the classifier pools the whole level-4 map (H/8): run as it is
        giv = giv.to(level4.dtype)

        latent = run.local(self.reduce_latent, self.latent(level4, giv, run))
        dec3 = torch.cat([run.local(self.up4_3, latent), enc3], 1)
        dec3 = self.decoder_level3(run.local(self.reduce_chan_level3, dec3), giv, run)
        dec2 = torch.cat([run.local(self.up3_2, dec3), enc2], 1)
        dec2 = self.decoder_level2(run.local(self.reduce_chan_level2, dec2), giv, run)
        dec1 = torch.cat([run.local(self.up2_1, dec2), enc1], 1)
        del enc1, enc2, enc3, dec2, dec3  # full-resolution maps the rest does not read
        dec1 = self.refinement(self.decoder_level1(dec1, giv, run), giv, run)
        out = run.local(self.output, dec1) + padded
        return out[..., :h, :w]


# Both presets keep the official classifier depth (3 levels).
_COMMON = {"family": "res_hair", "has_giv": True, "size_multiple": SIZE_MULTIPLE, "min_input_side": min_input_side(3),
           "supports_fp16": True, "supports_bf16": True, "strips": True}

register_preset(
    "res_hair",
    ResHAIR,
    description="Res-HAIR, official layout (C=48, blocks 4/6/6/8, refinement 4); loads the official hair3d.ckpt",
    tasks=("denoise", "derain", "dehaze", "all"),
    recipe="hair",
    family_default=True,
    paper_params=29_000_000,
    **_COMMON,
)

register_preset(
    "res_hair_lite",
    ResHAIR,
    kwargs={
        "dim": 14,
        "num_blocks": (1, 1, 1, 2),
        "num_refinement_blocks": 1,
        "heads": (1, 2, 4, 8),
        "ffn_expansion_factor": 2.0,
        "weights_box_sizes": (3, 3, 3, 3, 3),
        "selector_depth": 2,
        "classifier_width": 24,
        "classifier_blocks_per_level": 1,
        "classifier_norm_groups": 8,
    },
    description="Small Res-HAIR for CPU photos (C=14, blocks 1/1/1/2, refinement 1, boxes of 3)",
    tasks=("all",),
    recipe="lite",
    **_COMMON,
)
