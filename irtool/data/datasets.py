"""Folder datasets for training and validating restoration models (torch ``Dataset``s).

* :class:`DegradedFolderDataset` — clean photos, degraded on the fly (HAIR sec. 4 / Hi-IR appendix A: random
  crops with flips and 90-degree rotations; the all-in-one setting mixes tasks), degradations synthesised by
  ``irtool.degrade.degrade_for_task``.
* :class:`PairedFolderDataset` — degraded/clean pairs matched by file stem, aligned crops for SR pairs.
* :class:`ValidationSet` — whole (optionally centre-cropped) images with a fixed degradation per image.

Every item is a dict: ``lq`` and ``gt`` (float32 CHW tensors in [0, 1]), ``task`` (str), ``kind`` (int index
into :func:`irtool.degradations.detector_types`, -1 if unknown) and ``severity`` (float in [0, 1]; NaN if unknown).

Sizes. ``patch_size`` is the size of the *input* (lq) patch; for super-resolution the target patch is
``patch_size * scale`` (the field's convention: SwinIR/Hi-IR quote the LR patch). With
``sr_as_same_size=True`` (training the degradation head, which sees images at their own size) SR inputs are
upsampled back with ``imresize`` to the target's size, so lq and gt are both ``patch_size``.

Randomness. Each item draws from its own ``numpy.random.Generator`` seeded by
``SeedSequence([seed, stream, epoch, index])``, so an item depends only on those numbers: not on the worker
count, the worker that loads it or the order items are asked for. Items are asked for as ``(epoch, index)`` (the
training loop's sampler does), or by ``index`` alone for epoch 0; another epoch gives every item a new crop and
degradation.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from irtool.data.images import (
    DEFAULT_CACHE_BYTES,
    CacheMode,
    ImageStore,
    augment_pair,
    crop_pair,
    header_size,
    list_images,
    pad_to_at_least,
    random_dihedral,
)
from irtool.data.tasks import (
    CLEAN_TASK,
    UNKNOWN_KIND,
    TaskMixture,
    kind_index,
    parse_task_mix,
    task_kind,
    task_scale,
)
from irtool.data.transforms import PatchTransform, check_probability, luma
from irtool.degrade import TASK_DEGRADATIONS, degrade_for_task, imresize, modcrop, quantize_uint8
from irtool.errors import UsageError

__all__ = ["DegradedFolderDataset", "PairedFolderDataset", "ValidationSet", "block_dark_channel", "match_pairs"]

# Separate random streams, so a training item and a validation item with the same index never coincide.
_STREAM_DEGRADED = 0
_STREAM_PAIRED = 1
_STREAM_VALIDATION = 2

PathLike = str | os.PathLike[str]
Item = dict[str, Any]


def _item_rng(seed: int, stream: int, epoch: int, index: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, epoch, index])))


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    """HWC float32 -> CHW float32 tensor (a copy, so no view of a cached image escapes)."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))


def _to_float(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img, dtype=np.float32) / np.float32(255.0)


def _check_seed(seed: int) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise UsageError(f"seed must be an integer >= 0, got {seed!r}")
    return seed


def check_unclipped_noise(value: float, *, quantize_lq: bool) -> float:
    """A fraction in [0, 1]; 8-bit rounding would clip the noise again, so the two exclude each other."""
    value = check_probability("unclipped_noise", value)
    if value > 0 and quantize_lq:
        raise UsageError("unclipped_noise needs quantize_lq off: rounding to 8-bit levels clips the noise")
    return value


def _check_positive(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def check_synthesis(synthesis: str) -> str:
    """A generator pool of :mod:`irtool.degradations` (``"default"``, ``"wide"`` or ``"unseen"``)."""
    from irtool.degradations import SYNTHESES

    if synthesis not in SYNTHESES:
        raise UsageError(f"synthesis must be one of {', '.join(SYNTHESES)}, not {synthesis!r}")
    return synthesis


def check_generators(generators: Mapping[str, str]) -> dict[str, str]:
    """A recipe's ``generators``: degradation -> one of its registered generators (one that enlarges, only for
    low resolution as the detector sees it)."""
    from irtool.degradations import get_degradation
    from irtool.errors import InvalidArgumentError

    checked = {}
    for kind, name in generators.items():
        try:
            checked[kind] = get_degradation(kind).generator(name).name
        except (InvalidArgumentError, UsageError) as exc:
            raise UsageError(f"generators: {exc}") from None
    return checked


def _degrade(gt: np.ndarray, task: str, *, rng: np.random.Generator, same_size: bool,
             unclipped_noise: float = 0.0, window: tuple[int, int, int, int] | None = None,
             synthesis: str = "default", generators: Mapping[str, str] | None = None) -> tuple[np.ndarray, int, float]:
    """(lq, kind index, severity) for one clean float image; ``window``: where it sits in its photo;
    ``generators``: the one generator of each degradation named there (see :func:`check_generators`)."""
    if task == CLEAN_TASK:
        return gt.copy(), kind_index("clean"), 0.0
    # No extra draw unless used, so other tasks' (and existing seeds') patches stay the same.
    noise = unclipped_noise > 0 and TASK_DEGRADATIONS[task] == "noise"
    clip_noise = not (noise and rng.uniform() < unclipped_noise)
    lq, info = degrade_for_task(gt, task, rng=rng, clip_noise=clip_noise, window=window, synthesis=synthesis,
                                same_size=same_size, generator=(generators or {}).get(TASK_DEGRADATIONS[task]))
    return lq, kind_index(info.kind), float(info.severity)


def _resolve_scale(mixture: TaskMixture, *, scale: int | None, same_size: bool) -> int:
    """The lq -> gt size factor of the dataset's items, checked against the mixture."""
    sr_scales = mixture.sr_scales
    if same_size or not sr_scales:
        if scale not in (None, 1):
            why = "sr_as_same_size=True keeps lq and gt the same size" if same_size else "no task in it is SR"
            raise UsageError(f"scale={scale} does not fit the mixture {mixture} ({why}); leave scale at 1")
        return 1
    mixed = [t for t in mixture.tasks if task_scale(t) != sr_scales[0]]
    if len(sr_scales) > 1 or mixed:
        raise UsageError(
            f"the mixture {mixture} mixes super-resolution factors or SR with same-size tasks, so inputs of "
            "one batch would differ in size; train one SR scale at a time, or pass sr_as_same_size=True"
        )
    if scale not in (None, sr_scales[0]):
        raise UsageError(f"scale={scale} but the mixture's SR tasks are x{sr_scales[0]}")
    return sr_scales[0]


def _epoch_and_index(key: int | tuple[int, int], length: int) -> tuple[int, int]:
    """Items are keyed by ``(epoch, index)`` or by ``index`` (epoch 0).

    The explicit form lets a sampler make every batch a pure function of the training iteration, which is
    what exact resume needs (see ``irtool.train.loop.IterationBatchSampler``).
    """
    epoch, index = key if isinstance(key, tuple) else (0, key)
    if not 0 <= index < length:
        raise IndexError(f"index {index} out of range for {length} items")
    if epoch < 0:
        raise IndexError(f"epoch must be >= 0, got {epoch}")
    return int(epoch), int(index)


class DegradedFolderDataset(Dataset):
    """Clean images from ``folder``, cropped, augmented and degraded on the fly.

    Args:
        folder: clean training images (see :func:`list_images`).
        task_mix: task -> ratio (``{"denoise": 1, "clean": 0.5}``), a single task name, or ``"a:1,b:2"``.
        patch_size: input (lq) patch side; the target is ``patch_size * scale`` for SR tasks (see module doc).
        scale: the SR factor, if given checked against the mixture; ``None`` infers it (1 unless SR).
        augment: random horizontal flip and 0/90/180/270-degree rotation (all 8 symmetries of the square).
        cache_in_memory: True, False or "auto" (cache when the decoded folder fits in ``cache_bytes``).
        seed: base seed (>= 0); items are a function of (seed, epoch, index).
        length: items per epoch; ``None`` = one per image. Item ``i`` uses image ``i % len(images)``.
        sr_as_same_size: upsample SR inputs back to the target size (the degradation head's data).
        unclipped_noise: fraction of noise samples left unclipped (values outside [0, 1]), as the SwinIR/Restormer
            colour-denoising benchmarks add noise; the rest are clipped like a noisy photo on disk. A model
            trained only on clipped noise reads every value near 0 or 1 as clipped and shifts it, which costs
            PSNR on those benchmarks.
        transforms: optional steps in making a patch (:mod:`irtool.data.transforms`: a margin degraded around
            it, content shrunk from a larger region, re-graded clean photos, inputs rounded to 8 bit).
        clean_candidates: a clean patch (task ``clean``: its own target) is the best of this many random windows of
            its photo by ``clean_pick``. 1 (the default) takes one window and draws nothing more.
        clean_pick: how those windows are ranked (:data:`CLEAN_PICKS`): ``"palest"``, the highest median dark
            channel (:func:`block_dark_channel`): the bright, flat scenes (a white wall, sand, sky) that a haze
            corrector mistakes for a veil; ``"textured"``, the most fine detail in the least detailed tenth of the
            blocks (:func:`least_fine_detail`): frames filled with grass, hair or bristles, which a denoiser must
            keep. Random windows seldom show either.

    Images smaller than the target patch are mirror-padded (see :func:`pad_to_at_least` for why).
    """

    def __init__(
        self,
        folder: PathLike,
        *,
        task_mix: Mapping[str, float] | str,
        patch_size: int,
        scale: int | None = None,
        augment: bool = True,
        cache_in_memory: CacheMode = "auto",
        seed: int = 0,
        length: int | None = None,
        sr_as_same_size: bool = False,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        unclipped_noise: float = 0.0,
        transforms: Sequence[PatchTransform] = (),
        synthesis: str = "default",
        generators: Mapping[str, str] | None = None,
        clean_candidates: int = 1,
        clean_pick: str = "palest",
    ) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.clean_candidates = _check_positive("clean_candidates", clean_candidates)
        self.clean_pick = check_clean_pick(clean_pick)
        self.mixture = parse_task_mix(task_mix)
        self.generators = check_generators(generators or {})
        self.patch_size = _check_positive("patch_size", patch_size)
        self.sr_as_same_size = bool(sr_as_same_size)
        self.scale = _resolve_scale(self.mixture, scale=scale, same_size=self.sr_as_same_size)
        if self.sr_as_same_size:
            # The SR degradation needs the target's sides to be multiples of every factor in the mixture.
            multiple = math.lcm(1, *self.mixture.sr_scales)
            if patch_size % multiple:
                raise UsageError(
                    f"patch_size={patch_size} must be a multiple of {multiple} for the SR tasks in {self.mixture}"
                )
        self.unclipped_noise = check_probability("unclipped_noise", unclipped_noise)
        self.synthesis = check_synthesis(synthesis)
        self.transforms = tuple(transforms)
        for transform in self.transforms:
            transform.check(self)
        self.augment = bool(augment)
        self.seed = _check_seed(seed)
        paths = list_images(self.folder)
        if not paths:
            raise UsageError(f"no images in {self.folder}")
        self.images = ImageStore(paths=paths, cache_in_memory=cache_in_memory, cache_bytes=cache_bytes)
        self.length = len(paths) if length is None else _check_positive("length", length)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: int | tuple[int, int]) -> Item:
        epoch, index = _epoch_and_index(key, len(self))
        rng = _item_rng(self.seed, _STREAM_DEGRADED, epoch, index)
        task = self.mixture.draw(rng)
        region = self.patch_size * self.scale
        for transform in self.transforms:
            region = transform.region(region)
        source = region
        for transform in self.transforms:
            source = transform.source(source, rng)
        image = pad_to_at_least(self.images.load(index % len(self.images)), height=source, width=source)
        top = int(rng.integers(0, image.shape[0] - source + 1))
        left = int(rng.integers(0, image.shape[1] - source + 1))
        crop = image[top : top + source, left : left + source]
        if task == CLEAN_TASK and self.clean_candidates > 1:
            # More draws only here, so other tasks' (and a run without the option's) patches stay the same.
            score = CLEAN_PICKS[self.clean_pick]
            best = score(crop)
            for _ in range(self.clean_candidates - 1):
                y = int(rng.integers(0, image.shape[0] - source + 1))
                x = int(rng.integers(0, image.shape[1] - source + 1))
                if (value := score(image[y : y + source, x : x + source])) > best:
                    best, top, left = value, y, x
            crop = image[top : top + source, left : left + source]
        if source != region:
            crop = imresize(crop, output_shape=(region, region))
        # Where the region sits in its photo (in the region's scale), so haze gives it the depth range it
        # has in the whole photo rather than far-to-near squeezed into one patch.
        k = region / source
        window = (round(top * k), round(left * k), round(image.shape[0] * k), round(image.shape[1] * k))
        if self.augment:
            flip, quarter_turns = random_dihedral(rng)
            (crop,) = augment_pair(crop, flip=flip, quarter_turns=quarter_turns)
            if quarter_turns % 2:  # the patch now lies across the photo: so does its window
                window = (window[1], window[0], window[3], window[2])
        window = (window[0], window[1], max(window[2], window[0] + region), max(window[3], window[1] + region))
        gt = _to_float(crop)
        for transform in self.transforms:
            gt = transform.clean(gt, rng)
        lq, kind, severity = _degrade(gt, task, rng=rng, same_size=self.sr_as_same_size,
                                      unclipped_noise=self.unclipped_noise, window=window, synthesis=self.synthesis,
                                      generators=self.generators)
        for transform in self.transforms:
            lq, gt = transform.degraded(lq, gt)
        return {"lq": _to_tensor(lq), "gt": _to_tensor(gt), "task": task, "kind": kind, "severity": severity}


#: :func:`block_dark_channel`'s block side (pixels of the window as cut from its photo).
DARK_CHANNEL_BLOCK = 8


def block_dark_channel(window: np.ndarray) -> float:
    """The median over ``window``'s (uint8 HxWx3) 8 x 8 blocks of each block's darkest level in any channel, in
    [0, 1]: He, Sun and Tang's dark channel prior, cheaply. A haze-free scene mostly holds some dark pixel in each
    region; a veil, or a bright flat scene, lifts it (``irtool.detect.median_dark_channel`` reads the same cue
    from a whole image)."""
    side = DARK_CHANNEL_BLOCK
    darkest = window.min(axis=2)
    height, width = darkest.shape[0] // side * side, darkest.shape[1] // side * side
    if not height or not width:  # smaller than one block: the block is the window
        return float(darkest.min()) / 255.0
    blocks = darkest[:height, :width].reshape(height // side, side, width // side, side).min(axis=(1, 3))
    return float(np.median(blocks)) / 255.0


def least_fine_detail(window: np.ndarray) -> float:
    """The fine detail (:func:`irtool.detect.block_fine_detail` of the luma, 8-bit levels) of ``window``'s (HxWx3
    in 8-bit levels, uint8 or float) least detailed tenth of 16 px blocks: high only when every part of the window
    is busy (a frame filled with texture); 0 for a window smaller than one block."""
    from irtool.detect import NOISE_FLATTEST_SHARE, block_fine_detail

    plane = torch.from_numpy(np.ascontiguousarray(luma(window.astype(np.float32))[..., 0]))
    detail = block_fine_detail(plane).flatten()
    return float(torch.quantile(detail, NOISE_FLATTEST_SHARE)) if detail.numel() else 0.0


#: ``clean_pick``: how a clean patch's candidate windows are ranked (highest first).
CLEAN_PICKS = {"palest": block_dark_channel, "textured": least_fine_detail}


def check_clean_pick(name: str) -> str:
    """``name`` if it is one of :data:`CLEAN_PICKS`, else a one-line :class:`UsageError`."""
    if name not in CLEAN_PICKS:
        raise UsageError(f"clean_pick must be one of {', '.join(CLEAN_PICKS)}, not {name!r}")
    return name


def _stems(paths: Sequence[Path], *, folder: Path) -> dict[str, Path]:
    by_stem: dict[str, Path] = {}
    for path in paths:
        stem = path.stem
        if stem in by_stem:
            raise UsageError(f"{folder}: {by_stem[stem].name} and {path.name} have the same name stem")
        by_stem[stem] = path
    return by_stem


def _preview(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def match_pairs(lq_dir: PathLike, gt_dir: PathLike) -> list[tuple[Path, Path]]:
    """(lq, gt) files with exactly the same stem, sorted; any file without a partner is an error."""
    lq_root, gt_root = Path(lq_dir), Path(gt_dir)
    lq_stems = _stems(list_images(lq_root), folder=lq_root)
    gt_stems = _stems(list_images(gt_root), folder=gt_root)
    lq_only = sorted(set(lq_stems) - set(gt_stems))
    gt_only = sorted(set(gt_stems) - set(lq_stems))
    if lq_only or gt_only:
        lines = ["input and target files are matched by exact file stem, and some have no partner:"]
        if lq_only:
            lines.append(f"  only in {lq_root}: {_preview([lq_stems[s].name for s in lq_only])}")
        if gt_only:
            lines.append(f"  only in {gt_root}: {_preview([gt_stems[s].name for s in gt_only])}")
        raise UsageError("\n".join(lines))
    if not lq_stems:
        raise UsageError(f"no images in {lq_root} or {gt_root}")
    return [(lq_stems[s], gt_stems[s]) for s in sorted(lq_stems)]


def _check_pair_sizes(pairs: Sequence[tuple[Path, Path]], *, scale: int, modcrop_gt: bool) -> None:
    bad = []
    for lq_path, gt_path in pairs:
        (lq_h, lq_w), (gt_h, gt_w) = header_size(lq_path), header_size(gt_path)
        if modcrop_gt:
            gt_h, gt_w = gt_h - gt_h % scale, gt_w - gt_w % scale
        if (gt_h, gt_w) != (lq_h * scale, lq_w * scale):
            bad.append(f"{lq_path.name} {lq_w}x{lq_h} vs {gt_path.name} {gt_w}x{gt_h}")
    if bad:
        raise UsageError(
            f"target images must be exactly x{scale} the inputs"
            + (" (after cropping the target to a multiple of the scale)" if modcrop_gt else "")
            + f"; these pairs are not (width x height): {_preview(bad, 5)}"
        )


def _pair_labels(task: str | None) -> tuple[str, int]:
    if task is None:
        return "paired", UNKNOWN_KIND
    return task, kind_index(task_kind(task))


class PairedFolderDataset(Dataset):
    """Degraded inputs in ``lq_dir`` and targets in ``gt_dir``, matched by exact file stem.

    For SR pairs (``scale`` > 1) every target must be exactly ``scale`` times its input (checked from the file
    headers at construction); the target crop is the input crop's region scaled up, and the same flip and
    rotation is applied to both. ``task`` (optional) labels the items' ``task``/``kind``; severity is unknown
    (NaN) for real pairs.
    """

    def __init__(
        self,
        lq_dir: PathLike,
        gt_dir: PathLike,
        *,
        patch_size: int,
        scale: int = 1,
        augment: bool = True,
        cache_in_memory: CacheMode = "auto",
        seed: int = 0,
        length: int | None = None,
        task: str | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        super().__init__()
        self.patch_size = _check_positive("patch_size", patch_size)
        self.scale = _check_positive("scale", scale)
        self.augment = bool(augment)
        self.seed = _check_seed(seed)
        self.task, self.kind = _pair_labels(task)
        self.pairs = match_pairs(lq_dir, gt_dir)
        _check_pair_sizes(self.pairs, scale=self.scale, modcrop_gt=False)
        self.lq_images = ImageStore(
            paths=[p for p, _ in self.pairs], cache_in_memory=cache_in_memory, cache_bytes=cache_bytes // 2
        )
        self.gt_images = ImageStore(
            paths=[p for _, p in self.pairs], cache_in_memory=cache_in_memory, cache_bytes=cache_bytes // 2
        )
        self.length = len(self.pairs) if length is None else _check_positive("length", length)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: int | tuple[int, int]) -> Item:
        epoch, index = _epoch_and_index(key, len(self))
        rng = _item_rng(self.seed, _STREAM_PAIRED, epoch, index)
        pair = index % len(self.pairs)
        size = self.patch_size
        lq_img = pad_to_at_least(self.lq_images.load(pair), height=size, width=size)
        gt_img = pad_to_at_least(self.gt_images.load(pair), height=size * self.scale, width=size * self.scale)
        if gt_img.shape[:2] != (lq_img.shape[0] * self.scale, lq_img.shape[1] * self.scale):
            raise UsageError(f"{self.pairs[pair][1]}: size changed since the dataset was built")
        top = int(rng.integers(0, lq_img.shape[0] - size + 1))
        left = int(rng.integers(0, lq_img.shape[1] - size + 1))
        lq, gt = crop_pair(lq_img, gt_img, top=top, left=left, lq_size=size, scale=self.scale)
        if self.augment:
            flip, quarter_turns = random_dihedral(rng)
            lq, gt = augment_pair(lq, gt, flip=flip, quarter_turns=quarter_turns)
        return {
            "lq": _to_tensor(_to_float(lq)),
            "gt": _to_tensor(_to_float(gt)),
            "task": self.task,
            "kind": self.kind,
            "severity": math.nan,
        }


def _centre_crop(img: np.ndarray, *, height: int, width: int) -> np.ndarray:
    top, left = (img.shape[0] - height) // 2, (img.shape[1] - width) // 2
    return img[top : top + height, left : left + width]


class ValidationSet(Dataset):
    """Whole validation images, deterministic: the same items in every run, epoch and worker layout.

    Synthetic (``task_mix`` given, no ``lq_folder``): image ``i`` gets task ``tasks[i % len(tasks)]`` (the
    mixture's tasks in order; ratios only select which tasks take part, so every task is validated) or, with
    ``all_tasks=True``, every image is paired with every task. The degradation's random parameters come from
    ``SeedSequence([seed, stream, index])``, so validation PSNR is comparable across runs.

    Paired (``lq_folder`` given): inputs matched to the targets by stem; ``task_mix`` may name one task to
    label the items.

    Sizes: with ``crop_size`` > 0 the target is centre-cropped to at most ``crop_size`` per side (the input
    to the matching region). A target whose sides are not multiples of the item's SR factor is then cropped
    at the bottom/right to the nearest multiple (the field's ``modcrop``, as Set5/Urban100 evaluation does),
    so the input is exactly ``1/scale`` of it. Items also carry ``name`` (the file stem) and ``scale``.
    """

    def __init__(
        self,
        folder: PathLike,
        *,
        task_mix: Mapping[str, float] | str | None = None,
        lq_folder: PathLike | None = None,
        scale: int = 1,
        seed: int = 0,
        sr_as_same_size: bool = False,
        crop_size: int = 0,
        max_images: int = 0,
        all_tasks: bool = False,
        cache_in_memory: CacheMode = "auto",
        quantize_lq: bool = False,
        synthesis: str = "default",
        generators: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.seed = _check_seed(seed)
        self.synthesis = check_synthesis(synthesis)
        self.generators = check_generators(generators or {})
        self.sr_as_same_size = bool(sr_as_same_size)
        if crop_size < 0 or max_images < 0:
            raise UsageError("crop_size and max_images must be >= 0 (0 = no limit)")
        self.crop_size = int(crop_size)
        self.quantize_lq = bool(quantize_lq)  # synthetic inputs only: as DegradedFolderDataset's
        self.paired = lq_folder is not None
        self.entries: list[tuple[int, str]]
        if self.paired:
            assert lq_folder is not None
            self.scale = _check_positive("scale", scale)
            label: str | None = None
            if task_mix is not None:
                mixture = parse_task_mix(task_mix)
                if len(mixture.tasks) != 1:
                    raise UsageError("paired validation data can be labelled with one task only")
                label = mixture.tasks[0]
            self.task, self.kind = _pair_labels(label)
            pairs = match_pairs(lq_folder, folder)
            if max_images:
                pairs = pairs[:max_images]
            _check_pair_sizes(pairs, scale=self.scale, modcrop_gt=True)
            self.names = [gt.stem for _, gt in pairs]
            self.lq_images: ImageStore | None = ImageStore(paths=[p for p, _ in pairs], cache_in_memory=cache_in_memory)
            self.gt_images = ImageStore(paths=[p for _, p in pairs], cache_in_memory=cache_in_memory)
            self.entries = [(i, self.task) for i in range(len(pairs))]
            return
        if task_mix is None:
            raise UsageError("ValidationSet needs task_mix (synthetic degradations) or lq_folder (paired data)")
        self.mixture = parse_task_mix(task_mix)
        if scale != 1 and not self.sr_as_same_size and set(self.mixture.sr_scales) != {scale}:
            raise UsageError(f"scale={scale} does not match the SR tasks of {self.mixture}")
        paths = list_images(folder)
        if max_images:
            paths = paths[:max_images]
        if not paths:
            raise UsageError(f"no images in {folder}")
        self.names = [p.stem for p in paths]
        self.lq_images = None
        self.gt_images = ImageStore(paths=paths, cache_in_memory=cache_in_memory)
        tasks = self.mixture.tasks
        if all_tasks:
            self.entries = [(i, t) for i in range(len(paths)) for t in tasks]
        else:
            self.entries = [(i, tasks[i % len(tasks)]) for i in range(len(paths))]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Item:
        if not 0 <= index < len(self.entries):
            raise IndexError(f"index {index} out of range for {len(self.entries)} items")
        image_index, task = self.entries[index]
        gt_img = self.gt_images.load(image_index)
        if self.paired:
            assert self.lq_images is not None
            scale = self.scale
            lq_img = self.lq_images.load(image_index)
            if self.crop_size:
                lq_h = min(lq_img.shape[0], max(1, self.crop_size // scale))
                lq_w = min(lq_img.shape[1], max(1, self.crop_size // scale))
                top, left = (lq_img.shape[0] - lq_h) // 2, (lq_img.shape[1] - lq_w) // 2
                lq_img = lq_img[top : top + lq_h, left : left + lq_w]
                gt_img = gt_img[top * scale : (top + lq_h) * scale, left * scale : (left + lq_w) * scale]
            gt_img = modcrop(gt_img, scale)
            return {
                "name": self.names[image_index],
                "lq": _to_tensor(_to_float(lq_img)),
                "gt": _to_tensor(_to_float(gt_img)),
                "task": self.task,
                "kind": self.kind,
                "severity": math.nan,
                "scale": scale,
            }
        if self.crop_size:
            gt_img = _centre_crop(
                gt_img, height=min(gt_img.shape[0], self.crop_size), width=min(gt_img.shape[1], self.crop_size)
            )
        multiple = task_scale(task)
        gt = _to_float(modcrop(gt_img, multiple))
        rng = _item_rng(self.seed, _STREAM_VALIDATION, 0, index)
        lq, kind, severity = _degrade(gt, task, rng=rng, same_size=self.sr_as_same_size, synthesis=self.synthesis,
                                      generators=self.generators)
        if self.quantize_lq:
            lq = quantize_uint8(lq)
        return {
            "name": self.names[image_index],
            "lq": _to_tensor(lq),
            "gt": _to_tensor(gt),
            "task": task,
            "kind": kind,
            "severity": severity,
            "scale": 1 if self.sr_as_same_size else multiple,
        }
