"""Hi-IR: hierarchical information flow for image restoration.

Li et al., "Hierarchical Information Flow for Generalized Efficient Image Restoration" (arXiv 2411.18588).
This module implements

* the Hi-IR layer of section 3.3 (eq. 1) in the *v3* form chosen by the ablation of section 5.1:
  ``x + TIFM_att(LN(x))`` then ``x + TIFM_conv(LN(x))``, where ``TIFM_att`` is L1 attention inside ``p x p``
  windows followed, with no projection in between, by L2 attention across the ``s x s`` windows of a
  ``P x P = (s p) x (s p)`` region (section 3.2; tokens grouped by the paper's reshape
  ``(H/P, s, p, W/P, s, p) -> (H/P . W/P . p^2, s^2)``), query/key width halved to ``C/2``, plain dot-product
  attention (section 4, table 5) through :func:`torch.nn.functional.scaled_dot_product_attention`;
  ``TIFM_conv`` is the L3 convolutional FFN, a 1x1 -> 3x3 -> 1x1 bottleneck (sections 3.2 and 4);
* the columnar SR network (appendix A.1, figure 7, table 16: Hi-IR-B 6 stages x 6 layers, Hi-IR-L 8 x 8) with
  a pixel-shuffle upsampler, and
* the U-shaped network (figure 3c, table 16: 3 down stages, 1 latent stage, 3 up stages, 6 layers each).

No official implementation was found (GitHub code and issue search while writing this module), so everything
the paper leaves open is our choice, made to reproduce the paper's parameter counts (tables 8, 9, 19) within 2.5 %:

* v3 parameter layout: L1 projects ``C -> C/2 (q) + C/2 (k) + C (v)``, L2 projects its input the same way,
  one ``C -> C`` output projection after L2 (5 C^2 per layer). This is the reading under which table 6's
  v2 - v3 difference (3.53 M over 36 layers) is 3 C^2 per layer at C = 180 (to 1 %).
* L3 FFN: 1x1 ``C -> m``, GELU, 3x3 ``m -> m``, GELU, 1x1 ``m -> C`` with ``m = ffn_expansion * C / 4``
  ("middle width divided by 4", section 4); the same bottleneck without activations replaces the dense 3x3
  convolution at the end of each columnar stage (section 4: "adopted in all the other experiments").
* Widths: Hi-IR-B ``C = 192``, Hi-IR-L ``C = 240`` (``ffn_expansion = 8/3``); U-shape ``C = 64`` doubling per
  level (64/128/256/512, ``ffn_expansion = 2``). Upsampler: SwinIR's conv -> 64 features -> pixel shuffle;
  its x2 / x3 / x4 parameter differences match the paper's (0.19 M, 0.15 M).
* Windows: ``p = 8`` and ``s = 8`` (64 x 64 regions) for SR; the U-shape shrinks the region per level so that
  every level covers 64 x 64 input pixels, which keeps the padding multiple at 64 instead of 512.
* No relative position bias (the paper mentions none); the 3x3 convolutions supply position information.
* Speed, same maths: on the CPU, attention runs as batched matmuls over cache-sized chunks of windows; on
  GPUs each value head (twice the query/key width) runs as two sub-heads sharing a duplicated query and key,
  so ``scaled_dot_product_attention`` takes its fused kernels rather than the reference path.

Parameter counts (meta device) against the paper: U-shape 22.84 M (22.33 M, +2.3 %); Hi-IR-B x2/x3/x4
14.63/14.81/14.77 M (14.68/14.87/14.83 M, -0.4 %); Hi-IR-L x2/x3/x4 39.57/39.76/39.72 M (39.07/39.26/39.22 M,
+1.3 %). The ``*_lite`` presets (bottom of this module) reuse the same classes at CPU sizes.

The networks pad their input to :attr:`size_multiple` (:func:`~irtool.models.layers.pad_to_multiple`) and crop
the result, so any input size works.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InvalidArgumentError
from .layers import pad_to_multiple
from .registry import EDGE_MARGIN, register_preset

__all__ = [
    "ConvBottleneck",
    "HiIRAttention",
    "HiIRColumnar",
    "HiIRLayer",
    "HiIRStage",
    "HiIRUNet",
]

Upsampler = Literal["pixelshuffle", "pixelshuffledirect"]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidArgumentError(message)


class ConvBottleneck(nn.Module):
    """1x1 ``in -> mid``, 3x3 ``mid -> mid``, 1x1 ``mid -> in`` (section 4, "conv3") on channels-last input.

    The 1x1 convolutions are :class:`~torch.nn.Linear` layers on ``[B, H, W, C]`` (same parameters): on CPU a
    1x1 ``Conv2d`` over a channels-last tensor falls back to PyTorch's slow convolution, a Linear does not.
    """

    def __init__(self, *, channels: int, mid_channels: int, activation: bool) -> None:
        super().__init__()
        self.reduce = nn.Linear(channels, mid_channels)
        self.spatial = nn.Conv2d(mid_channels, mid_channels, 3, padding=1)
        self.expand = nn.Linear(mid_channels, channels)
        self.act: nn.Module = nn.GELU() if activation else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        # The permutes are views: the 3x3 convolution runs on channels-last strides without copies.
        y = self.spatial(self.act(self.reduce(x)).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.expand(self.act(y))


#: CPU path: windows per batched matmul, so each chunk's attention matrices (2 MiB of float32) stay in cache.
#: Measured on 2 cores over 65k tokens, 3-4x faster than the fused kernel for the lite presets' shapes (64
#: tokens, 2 heads: 9.4 ms vs 35.2 ms); forward + backward 1.4-2.6x faster on one core.
_CPU_ATTENTION_ELEMENTS = 2**19
_CPU_ATTENTION_MAX_WINDOWS = 2048


def _attend(tokens: Tensor, project_in: nn.Linear, num_heads: int, qk_dim: int,
            project_out: nn.Linear | None = None) -> Tensor:
    """Multi-head dot-product attention over dim 1 of ``tokens`` = ``[N, L, C]``: ``project_in`` makes the
    ``[N, L, 2 qk_dim + v_dim]`` queries, keys and values, ``project_out`` (if given) maps the ``v_dim`` result.

    The value heads are twice as wide as the query/key heads (v3). On the CPU the windows go through explicit
    batched matmuls in cache-sized chunks, projections included (:func:`_attend_chunked`); elsewhere through the
    fused kernel (:func:`_attend_fused`).
    """
    if tokens.device.type == "cpu":
        return _attend_chunked(tokens, project_in, num_heads, qk_dim, project_out)
    out = _attend_fused(project_in(tokens), num_heads, qk_dim)
    return out if project_out is None else project_out(out)


def _attend_fused(qkv: Tensor, num_heads: int, qk_dim: int) -> Tensor:
    """Each value head runs as two sub-heads of query/key width sharing their (duplicated) query and key: the
    same maths, but equal head widths let :func:`~torch.nn.functional.scaled_dot_product_attention` use its
    fused (flash / memory-efficient) kernels instead of the much slower reference path."""
    n, length, width = qkv.shape
    v_dim = width - 2 * qk_dim
    q, k, v = qkv.split([qk_dim, qk_dim, v_dim], -1)
    ratio = v_dim // qk_dim
    q, k = (t.reshape(n, length, num_heads, -1).transpose(1, 2).repeat_interleave(ratio, dim=1) for t in (q, k))
    v = v.reshape(n, length, num_heads * ratio, -1).transpose(1, 2)
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, length, v_dim)


def _attend_chunked(tokens: Tensor, project_in: nn.Linear, num_heads: int, qk_dim: int,
                    project_out: nn.Linear | None = None) -> Tensor:
    # The projections run per chunk too: the whole tile's queries, keys and values (2x the activations; 32 MiB
    # for a 256 px tile of hi_ir_sr4_lite, which glibc then maps and faults in afresh for every layer) never
    # exist at once, and each chunk's stay in cache from projection to output.
    n, length, _ = tokens.shape
    v_dim = project_in.out_features - 2 * qk_dim
    scale = (qk_dim // num_heads) ** -0.5
    chunk = max(1, min(_CPU_ATTENTION_MAX_WINDOWS, _CPU_ATTENTION_ELEMENTS // (num_heads * length * length)))
    out = tokens.new_empty(n, length, v_dim if project_out is None else project_out.out_features)
    for start in range(0, n, chunk):
        part = project_in(tokens[start:start + chunk])
        m = part.shape[0]
        q, k, v = (t.reshape(m, length, num_heads, -1).transpose(1, 2).reshape(m * num_heads, length, -1)
                   for t in part.split([qk_dim, qk_dim, v_dim], -1))
        # alpha scales the scores inside the matmul, rather than in a pass over the queries of their own.
        scores = torch.baddbmm(q.new_empty(()).expand(m * num_heads, length, length), q, k.transpose(1, 2),
                               beta=0, alpha=scale)
        dest = out[start:start + m]
        # Inference without autocast (out= variants take no part in autograd or autocast): results are written
        # straight into the output.
        direct = not torch.is_grad_enabled() and part.dtype == out.dtype
        if project_out is None and num_heads == 1 and direct:  # one head: the matmul writes the result
            torch.bmm(scores.softmax(-1), v, out=dest)
            continue
        heads = torch.bmm(scores.softmax(-1), v).view(m, num_heads, length, -1).transpose(1, 2)
        if project_out is None:
            dest.view(m, length, num_heads, -1).copy_(heads)  # the heads' interleave and the write in one copy
        elif not direct or project_out.bias is None or project_out.weight.dtype != out.dtype:
            dest.copy_(project_out(heads.reshape(m, length, v_dim)))
        else:
            torch.addmm(project_out.bias, heads.reshape(m * length, v_dim), project_out.weight.t(),
                        out=dest.view(m * length, -1))
    return out


class HiIRAttention(nn.Module):
    """L1 window attention then L2 region attention (v3: no projection between them), channels-last input.

    ``window_size`` is the paper's ``p``, ``region_windows`` its ``s``: L2 attends over the ``s x s`` tokens
    that sit at the same offset in each of the ``s x s`` windows of a ``P x P`` region (``P = s p``), so one
    layer mixes information across a ``P x P`` area at the cost of two small attentions.
    """

    def __init__(self, *, dim: int, num_heads: int, window_size: int, region_windows: int) -> None:
        super().__init__()
        _check(dim % (2 * num_heads) == 0, f"dim {dim} must be divisible by 2 * num_heads ({2 * num_heads})")
        self.num_heads = num_heads
        self.window_size = window_size
        self.region_windows = region_windows
        self.qk_dim = dim // 2  # halved query/key width (v3)
        self.qkv_l1 = nn.Linear(dim, 2 * dim)
        self.qkv_l2 = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    @property
    def region_size(self) -> int:
        return self.window_size * self.region_windows

    def forward(self, x: Tensor, residual: Tensor | None = None, out: Tensor | None = None) -> Tensor:
        """The attention of ``x``; with ``residual``, ``residual`` plus it (into ``out`` if given), so the tokens go
        back to image order inside that sum instead of in a copy of their own."""
        b, h, w, c = x.shape
        p, s = self.window_size, self.region_windows
        r = p * s
        if h % r or w % r:
            raise InvalidArgumentError(f"feature size {h}x{w} is not a multiple of the region size {r}")
        nh, nw = h // r, w // r
        # Image -> L1 windows, ordered (b, region row, region col, window row, window col | p x p tokens).
        t = x.view(b, nh, s, p, nw, s, p, c).permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(-1, p * p, c)
        t = _attend(t, self.qkv_l1, self.num_heads, self.qk_dim)
        # L1 windows -> L2 groups (b, region row, region col, in-window row, in-window col | s x s tokens):
        # one transpose, because the windows of a region are already adjacent.
        t = t.view(b * nh * nw, s * s, p * p, c).transpose(1, 2).reshape(-1, s * s, c)
        t = _attend(t, self.qkv_l2, self.num_heads, self.qk_dim, self.proj)
        # L2 groups -> image.
        t = t.view(b, nh, nw, p, p, s, s, c).permute(0, 1, 5, 3, 2, 6, 4, 7)
        if residual is None:
            return t.reshape(b, h, w, c)
        image_order = (b, nh, s, p, nw, s, p, c)
        if out is None:
            return (residual.view(image_order) + t).reshape(b, h, w, c)
        torch.add(residual.view(image_order), t, out=out.view(image_order))
        return out


class HiIRLayer(nn.Module):
    """Eq. (1): ``x + TIFM_att(LN(x))``, then ``x + TIFM_conv(LN(x))``; ``[B, H, W, C]`` in and out."""

    def __init__(self, *, dim: int, num_heads: int, window_size: int, region_windows: int,
                 ffn_expansion: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = HiIRAttention(dim=dim, num_heads=num_heads, window_size=window_size,
                                  region_windows=region_windows)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = ConvBottleneck(channels=dim, mid_channels=max(1, round(ffn_expansion * dim / 4)), activation=True)

    def forward(self, x: Tensor) -> Tensor:
        if _in_row_strips(x):
            return self._forward_in_row_strips(x)
        x = self.attn(self.norm1(x), residual=x)
        return x + self.ffn(self.norm2(x))

    def _forward_in_row_strips(self, x: Tensor) -> Tensor:
        """The same layer one band of rows at a time, so each band's norms, window shuffles, attention and residual
        stay in cache instead of streaming the whole map through memory once per step (CPU inference). The
        attention half is exact per band of regions (attention never crosses a region); the FFN's 3x3 convolution
        reads one row beyond its band on either side, recomputed from the band's neighbours."""
        height = x.shape[1]
        region = self.attn.region_size
        band = region * max(1, _LAYER_STRIP_ROWS // region)
        mid = torch.empty_like(x)
        for top in range(0, height, band):
            part = x[:, top:top + band]
            self.attn(self.norm1(part), residual=part, out=mid[:, top:top + band])
        out = torch.empty_like(x)
        ffn, rows = self.ffn, _LAYER_STRIP_ROWS
        for top in range(0, height, rows):
            first = max(0, top - 1)  # the row above the band, where there is one (the row below: the slice's end)
            hidden = ffn.act(ffn.reduce(self.norm2(mid[:, first:top + rows + 1])))
            hidden = ffn.spatial(hidden.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)[:, top - first:top - first + rows]
            torch.add(mid[:, top:top + rows], ffn.expand(ffn.act(hidden)), out=out[:, top:top + rows])
        return out


#: CPU inference runs a Hi-IR layer in bands of rows (:meth:`HiIRLayer._forward_in_row_strips`) once its feature
#: map holds more than this many bytes, in bands of about this many rows. 32 MiB is where glibc, as the ``irtool``
#: command sets it (``irtool.engine.host``), maps every block afresh, so each full-map temporary of a larger map
#: faults its pages in again; below it whole-map layers were as fast (README "Speed and memory", "Hi-IR layers in
#: bands of rows").
_LAYER_STRIP_MIN_BYTES = 32 * 2**20
_LAYER_STRIP_ROWS = 64


def _in_row_strips(x: Tensor) -> bool:
    return (x.device.type == "cpu" and not torch.is_grad_enabled()
            and x.numel() * x.element_size() > _LAYER_STRIP_MIN_BYTES and x.shape[1] > _LAYER_STRIP_ROWS)


class HiIRStage(nn.Module):
    """``depth`` Hi-IR layers on ``[B, C, H, W]``; columnar stages add a bottleneck conv and a stage residual."""

    def __init__(self, *, dim: int, depth: int, num_heads: int, window_size: int, region_windows: int,
                 ffn_expansion: float, residual_conv: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            HiIRLayer(dim=dim, num_heads=num_heads, window_size=window_size, region_windows=region_windows,
                      ffn_expansion=ffn_expansion)
            for _ in range(depth)
        )
        self.conv = (ConvBottleneck(channels=dim, mid_channels=max(1, dim // 4), activation=False)
                     if residual_conv else None)

    def forward(self, x: Tensor) -> Tensor:
        # Channels-last memory (a copy only if x is not already in it): as a permuted view of NCHW memory, every
        # LayerNorm and Linear of every layer copied it again (README "Speed and memory", bench_models.py --against).
        y = x.permute(0, 2, 3, 1).contiguous()
        for layer in self.layers:
            y = layer(y)
        if self.conv is None:
            return y.permute(0, 3, 1, 2)
        return x + self.conv(y).permute(0, 3, 1, 2)


class HiIRColumnar(nn.Module):
    """Columnar Hi-IR for super-resolution (appendix A.1, figure 7): ``[B, C, H, W] -> [B, C, sH, sW]``.

    ``upsampler="pixelshuffle"`` is the paper's (conv to 64 features, conv + pixel shuffle per factor 2 or 3);
    ``"pixelshuffledirect"`` (one conv to ``C s^2`` then shuffle) is the cheap head of the lite presets.
    ``image_skip`` adds a bilinear upsampling of the input so the network learns a residual (lite presets:
    faster convergence on CPU budgets; not in the paper).
    """

    def __init__(self, *, in_channels: int = 3, upscale: int = 4, dim: int = 192, num_stages: int = 6,
                 stage_depth: int = 6, num_heads: int = 6, window_size: int = 8, region_windows: int = 8,
                 ffn_expansion: float = 8 / 3, upsampler: Upsampler = "pixelshuffle",
                 upsampler_features: int = 64, image_skip: bool = False) -> None:
        super().__init__()
        _check(upscale == 3 or (upscale >= 2 and upscale & (upscale - 1) == 0),
               f"upscale must be 3 or a power of two >= 2, got {upscale}")
        _check(upsampler in ("pixelshuffle", "pixelshuffledirect"), f"unknown upsampler {upsampler!r}")
        self.in_channels = in_channels
        self.scale = upscale
        self.size_multiple = window_size * region_windows
        self.min_input_side = self.size_multiple
        self.image_skip = image_skip

        self.conv_first = nn.Conv2d(in_channels, dim, 3, padding=1)
        self.stages = nn.ModuleList(
            HiIRStage(dim=dim, depth=stage_depth, num_heads=num_heads, window_size=window_size,
                      region_windows=region_windows, ffn_expansion=ffn_expansion, residual_conv=True)
            for _ in range(num_stages)
        )
        self.norm = nn.LayerNorm(dim)
        self.conv_after_body = nn.Conv2d(dim, dim, 3, padding=1)

        layers: list[nn.Module]
        if upsampler == "pixelshuffle":
            layers = [nn.Conv2d(dim, upsampler_features, 3, padding=1), nn.LeakyReLU(inplace=True)]
            factors = [3] if upscale == 3 else [2] * int(math.log2(upscale))
            for factor in factors:
                layers += [nn.Conv2d(upsampler_features, upsampler_features * factor**2, 3, padding=1),
                           nn.PixelShuffle(factor)]
            layers.append(nn.Conv2d(upsampler_features, in_channels, 3, padding=1))
        else:
            layers = [nn.Conv2d(dim, in_channels * upscale**2, 3, padding=1), nn.PixelShuffle(upscale)]
        self.upsample = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        _check(x.dim() == 4 and x.shape[1] == self.in_channels,
               f"expected [B, {self.in_channels}, H, W], got {list(x.shape)}")
        height, width = x.shape[-2:]
        # Channels-last memory from the first convolution on: each stage's Hi-IR layers want [B, H, W, C], which is
        # then the feature maps' own memory instead of a copy per stage, and the convolutions read it natively.
        padded = pad_to_multiple(x, self.size_multiple).contiguous(memory_format=torch.channels_last)
        shallow = self.conv_first(padded)
        deep = shallow
        for stage in self.stages:
            deep = stage(deep)
        deep = self.norm(deep.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        out = self.upsample(self.conv_after_body(deep) + shallow)
        if self.image_skip:
            # From the padded input, so the output is the crop of the padded image's output.
            out = out + F.interpolate(padded, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return out[..., : height * self.scale, : width * self.scale]


class HiIRUNet(nn.Module):
    """U-shaped Hi-IR (figure 3c): 3 encoder stages, 1 latent stage, 3 decoder stages; ``[B, C, H, W]`` in/out.

    Level ``l`` works at ``1/2^l`` resolution with width ``dim * 2^l``; ``depths`` gives the layer count of
    encoder levels 0-2 and the latent level 3, ``decoder_depths`` that of decoder levels 0-2. Resizing follows
    Restormer (3x3 conv + pixel-unshuffle down, 1x1 conv + pixel-shuffle up, concatenated skip reduced by a
    1x1 conv); the output is the input plus a predicted residual.
    """

    def __init__(self, *, in_channels: int = 3, dim: int = 64,
                 depths: tuple[int, int, int, int] = (6, 6, 6, 6),
                 decoder_depths: tuple[int, int, int] = (6, 6, 6),
                 num_heads: tuple[int, int, int, int] = (2, 4, 8, 16),
                 window_sizes: tuple[int, int, int, int] = (8, 8, 4, 4),
                 region_windows: tuple[int, int, int, int] = (8, 4, 4, 2),
                 ffn_expansion: float = 2.0) -> None:
        super().__init__()
        for name, value, length in (("depths", depths, 4), ("decoder_depths", decoder_depths, 3),
                                    ("num_heads", num_heads, 4), ("window_sizes", window_sizes, 4),
                                    ("region_windows", region_windows, 4)):
            _check(len(value) == length, f"{name} needs {length} entries, got {len(value)}")
        _check(dim % 2 == 0, f"dim must be even, got {dim}")
        self.in_channels = in_channels
        self.scale = 1
        # Every level's region, measured in input pixels, must tile the padded input.
        self.size_multiple = math.lcm(*(p * s * 2**level for level, (p, s)
                                        in enumerate(zip(window_sizes, region_windows))))
        self.min_input_side = self.size_multiple

        def stage(level: int, depth: int) -> HiIRStage:
            return HiIRStage(dim=dim * 2**level, depth=depth, num_heads=num_heads[level],
                             window_size=window_sizes[level], region_windows=region_windows[level],
                             ffn_expansion=ffn_expansion, residual_conv=False)

        self.conv_first = nn.Conv2d(in_channels, dim, 3, padding=1)
        self.encoders = nn.ModuleList(stage(level, depths[level]) for level in range(3))
        self.downs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(dim * 2**level, dim * 2**level // 2, 3, padding=1, bias=False),
                          nn.PixelUnshuffle(2))
            for level in range(3)
        )
        self.latent = stage(3, depths[3])
        self.ups = nn.ModuleList(
            nn.Sequential(nn.Conv2d(dim * 2**(level + 1), dim * 2**(level + 2), 1, bias=False), nn.PixelShuffle(2))
            for level in range(3)
        )
        self.reduces = nn.ModuleList(nn.Conv2d(dim * 2**(level + 1), dim * 2**level, 1, bias=False)
                                     for level in range(3))
        self.decoders = nn.ModuleList(stage(level, decoder_depths[level]) for level in range(3))
        self.conv_last = nn.Conv2d(dim, in_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        _check(x.dim() == 4 and x.shape[1] == self.in_channels,
               f"expected [B, {self.in_channels}, H, W], got {list(x.shape)}")
        height, width = x.shape[-2:]
        # Channels-last memory from the first convolution on: each stage's Hi-IR layers want [B, H, W, C], which is
        # then the feature maps' own memory instead of a copy per stage, and the convolutions read it natively.
        padded = pad_to_multiple(x, self.size_multiple).contiguous(memory_format=torch.channels_last)
        feature = self.conv_first(padded)
        skips: list[Tensor] = []
        for encoder, down in zip(self.encoders, self.downs):
            feature = encoder(feature)
            skips.append(feature)
            feature = down(feature)
        feature = self.latent(feature)
        for level in reversed(range(3)):
            feature = self.ups[level](feature)
            feature = self.reduces[level](torch.cat([feature, skips[level]], dim=1))
            feature = self.decoders[level](feature)
        return (padded + self.conv_last(feature))[..., :height, :width]


# --- presets -------------------------------------------------------------------------------------------------

_UNET_TASKS = ("denoise", "jpeg", "deblur", "derain", "dehaze", "lowlight", "all")
_PAPER_SR_PARAMS = {("b", 2): 14_680_000, ("b", 3): 14_870_000, ("b", 4): 14_830_000,
                    ("l", 2): 39_070_000, ("l", 3): 39_260_000, ("l", 4): 39_220_000}
_SR_SIZES = {
    "b": {"dim": 192, "num_stages": 6, "stage_depth": 6, "num_heads": 6},
    "l": {"dim": 240, "num_stages": 8, "stage_depth": 8, "num_heads": 8},
}

_CONTRACT = {"family": "hi_ir", "supports_fp16": True, "supports_bf16": True}

register_preset(
    "hi_ir_unet", HiIRUNet,
    description="Hi-IR U-shape (3 down + latent + 3 up stages, 6 layers each), denoising/JPEG/deblurring/all-in-one",
    tasks=_UNET_TASKS, kwargs={}, size_multiple=64, min_input_side=64, recipe="hi_ir", family_default=True,
    paper_params=22_330_000, **_CONTRACT,
)
for _size, _upscale in ((size, upscale) for size in ("b", "l") for upscale in (2, 3, 4)):
    register_preset(
        f"hi_ir_{_size}_sr{_upscale}", HiIRColumnar,
        description=f"Hi-IR-{_size.upper()} columnar super-resolution x{_upscale} "
                    f"({_SR_SIZES[_size]['num_stages']} stages x {_SR_SIZES[_size]['stage_depth']} layers)",
        tasks=(f"sr{_upscale}",), kwargs={**_SR_SIZES[_size], "upscale": _upscale}, scale=_upscale,
        size_multiple=64, min_input_side=64, recipe="hi_ir", family_default=_size == "b",
        # The large model warms up five times longer in the hi_ir recipe.
        warmup_iters=50_000 if _size == "l" else None,
        paper_params=_PAPER_SR_PARAMS[(_size, _upscale)], **_CONTRACT,
    )

# Lite presets: same families, sized for CPU (<= 2 M parameters and <= ~100 kFLOPs per *output* pixel counted
# with FlopCounterMode; the SR ones run on the LR grid, so they afford more work per input pixel). The U-shape
# keeps its full-resolution level shallow because full-resolution layers dominate the CPU time.
register_preset(
    "hi_ir_unet_lite", HiIRUNet,
    description="Hi-IR U-shape lite (widths 16-128, 1/1/2 + 6 latent + 1/1/2 layers) for CPU denoising, JPEG, "
    "deblurring",
    tasks=("denoise", "jpeg", "deblur"),
    kwargs={"dim": 16, "depths": (1, 1, 2, 6), "decoder_depths": (1, 1, 2), "num_heads": (1, 1, 2, 4),
            "window_sizes": (8, 8, 4, 4), "region_windows": (4, 4, 4, 2), "ffn_expansion": 2.0},
    size_multiple=64, min_input_side=64, recipe="lite",
    # Per computed pixel about as fast at 768 px as at 384, and tiles fitted to the photo at 768 px compute 1.12x a
    # 12 MP photo's pixels instead of 1.32x: 20.8 s against 22.9 s (README "Tiles fitted to the photo").
    cpu_tile=768, edge_margin=EDGE_MARGIN, **_CONTRACT,
)
_SR_LITE_SIZES = {
    2: {"dim": 32, "num_stages": 4, "stage_depth": 3, "num_heads": 2},
    3: {"dim": 48, "num_stages": 3, "stage_depth": 4, "num_heads": 3},
    4: {"dim": 64, "num_stages": 4, "stage_depth": 4, "num_heads": 4},
}
for _upscale, _sizes in _SR_LITE_SIZES.items():
    register_preset(
        f"hi_ir_sr{_upscale}_lite", HiIRColumnar,
        description=f"Hi-IR columnar lite super-resolution x{_upscale} ({_sizes['num_stages']} stages x "
                    f"{_sizes['stage_depth']} layers, width {_sizes['dim']}, direct pixel-shuffle head)",
        tasks=(f"sr{_upscale}",),
        kwargs={**_sizes, "upscale": _upscale, "window_size": 8, "region_windows": 4, "ffn_expansion": 2.0,
                "upsampler": "pixelshuffledirect", "image_skip": True},
        scale=_upscale, size_multiple=32, min_input_side=32, recipe="lite", **_CONTRACT,
    )
