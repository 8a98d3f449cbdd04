"""Folder datasets: shapes, ranges, determinism, pairing, augmentation and task mixtures (irtool.data)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from irtool.data import (
    DegradedFolderDataset,
    PairedFolderDataset,
    ValidationSet,
    list_images,
    parse_task_mix,
    seed_worker,
)
from irtool.data.datasets import block_dark_channel, least_fine_detail
from irtool.data.images import TONE_RANGES, random_tone
from irtool.data.transforms import DegradeMargin, Downscale, GrayPhotos, QuantizeInput, ToneJitter
from irtool.degradations import detector_types
from irtool.degrade import TASK_DEGRADATIONS
from irtool.errors import UsageError

DEGRADATION_TYPES = detector_types()


def _save(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth colour gradients plus texture: every crop position and orientation looks different."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([x / width, y / height, (x + 2 * y) / (width + 2 * height)], axis=-1) * 180
    return np.clip(base + rng.integers(0, 70, size=(height, width, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(7)
    _save(folder / "a.png", _photo(rng, 40, 50))
    _save(folder / "b.jpg", _photo(rng, 64, 48))
    _save(folder / "c.png", _photo(rng, 20, 30)[:, :, 0])  # grey and smaller than most patches: padded
    (folder / "notes.txt").write_text("not an image")
    _save(folder / ".hidden.png", _photo(rng, 8, 8))
    return folder


def _items(dataset, indices=None) -> list[dict]:
    return [dataset[i] for i in (range(len(dataset)) if indices is None else indices)]


def _same(a: dict, b: dict) -> bool:
    return (
        a["task"] == b["task"]
        and a["kind"] == b["kind"]
        and a["severity"] == b["severity"]
        and torch.equal(a["lq"], b["lq"])
        and torch.equal(a["gt"], b["gt"])
    )


def test_list_images_sorted_images_only(photos: Path) -> None:
    assert [p.name for p in list_images(photos)] == ["a.png", "b.jpg", "c.png"]
    with pytest.raises(UsageError):
        list_images(photos / "missing")


@pytest.mark.parametrize("task", ["denoise", "jpeg", "deblur", "derain", "dehaze", "lowlight", "clean"])
def test_same_size_tasks_shapes_ranges_and_labels(photos: Path, task: str) -> None:
    dataset = DegradedFolderDataset(photos, task_mix=task, patch_size=24, length=6)
    expected_kind = DEGRADATION_TYPES.index("clean" if task == "clean" else TASK_DEGRADATIONS[task])
    for item in _items(dataset):
        assert item["task"] == task and item["kind"] == expected_kind
        for key in ("lq", "gt"):
            assert item[key].shape == (3, 24, 24) and item[key].dtype == torch.float32
            assert 0.0 <= float(item[key].min()) and float(item[key].max()) <= 1.0
        assert 0.0 <= item["severity"] <= 1.0
        if task == "clean":
            assert item["severity"] == 0.0 and torch.equal(item["lq"], item["gt"])
        else:
            assert not torch.equal(item["lq"], item["gt"])


def _is_uniform_veil(item: dict) -> bool:
    """Whether ``lq = t gt + a_c (1 - t)`` with one transmission ``t`` over the whole patch (a per-channel affine
    map of the target, the same slope in every channel)."""
    gt, lq = item["gt"].double().reshape(3, -1), item["lq"].double().reshape(3, -1)
    slopes = []
    for c in range(3):
        design = torch.stack([gt[c], torch.ones_like(gt[c])], dim=1)
        fit = torch.linalg.lstsq(design, lq[c, :, None]).solution
        if float((design @ fit - lq[c, :, None]).abs().max()) > 1e-4:
            return False
        slopes.append(float(fit[0]))
    return max(slopes) - min(slopes) < 1e-4


def test_a_named_generator_makes_every_patch_of_its_degradation(photos: Path) -> None:
    """generators={"haze": "veil"}: every hazy patch is a uniform veil, where the default pool's depth haze (a
    transmission that varies over the patch) is not; other tasks are untouched."""
    veiled = DegradedFolderDataset(photos, task_mix="dehaze", patch_size=24, length=6, generators={"haze": "veil"})
    assert all(_is_uniform_veil(item) for item in _items(veiled))
    assert not all(_is_uniform_veil(item) for item in _items(DegradedFolderDataset(photos, task_mix="dehaze",
                                                                                    patch_size=24, length=6)))
    noisy = {"task_mix": "denoise", "patch_size": 24, "length": 4}
    assert all(_same(a, b) for a, b in zip(_items(DegradedFolderDataset(photos, **noisy)),
                                           _items(DegradedFolderDataset(photos, generators={"haze": "veil"},
                                                                        **noisy))))


@pytest.mark.parametrize("task,scale", [("sr2", 2), ("sr3", 3), ("sr4", 4)])
def test_sr_patch_is_lq_size_and_target_is_scaled(photos: Path, task: str, scale: int) -> None:
    dataset = DegradedFolderDataset(photos, task_mix=task, patch_size=8)
    assert dataset.scale == scale
    for item in _items(dataset):
        assert item["lq"].shape == (3, 8, 8) and item["gt"].shape == (3, 8 * scale, 8 * scale)
        assert item["kind"] == DEGRADATION_TYPES.index("low-resolution")
        assert 0.0 <= float(item["lq"].min()) and float(item["lq"].max()) <= 1.0


def test_sr_as_same_size_upsamples_lq_to_target(photos: Path) -> None:
    dataset = DegradedFolderDataset(photos, task_mix="sr2:1,sr4:1", patch_size=16, sr_as_same_size=True, length=8)
    assert dataset.scale == 1
    seen = set()
    for item in _items(dataset):
        seen.add(item["task"])
        assert item["lq"].shape == item["gt"].shape == (3, 16, 16)
        assert item["kind"] == DEGRADATION_TYPES.index("low-resolution")
        # An enlarged low-resolution image is smooth: less high-frequency energy than the target.
        assert item["lq"].diff(dim=2).abs().mean() < item["gt"].diff(dim=2).abs().mean()
    assert seen == {"sr2", "sr4"}


def test_scale_and_mixture_mismatches_are_usage_errors(photos: Path) -> None:
    with pytest.raises(UsageError, match="x4"):
        DegradedFolderDataset(photos, task_mix="sr4", patch_size=8, scale=2)
    with pytest.raises(UsageError, match="sr_as_same_size"):
        DegradedFolderDataset(photos, task_mix={"sr2": 1, "denoise": 1}, patch_size=8)
    with pytest.raises(UsageError, match="multiple of 4"):
        DegradedFolderDataset(photos, task_mix="sr4", patch_size=18, sr_as_same_size=True)
    with pytest.raises(UsageError, match="unknown task"):
        DegradedFolderDataset(photos, task_mix="deblurr", patch_size=8)


def test_parse_task_mix_forms() -> None:
    assert dict(parse_task_mix("denoise").probabilities) == {"denoise": 1.0}
    assert dict(parse_task_mix("denoise:3, clean=1").probabilities) == {"denoise": 0.75, "clean": 0.25}
    assert parse_task_mix({"jpeg": 1.0, "derain": 0.0}).tasks == ("jpeg",)
    for bad in ("", "denoise:x", "denoise:-1", "jpeg:0"):
        with pytest.raises(UsageError):
            parse_task_mix(bad)


def test_same_seed_same_items_and_cache_does_not_matter(photos: Path) -> None:
    mix = {"denoise": 1, "deblur": 1, "derain": 1, "clean": 1}
    cached = DegradedFolderDataset(photos, task_mix=mix, patch_size=16, seed=3, length=8, cache_in_memory=True)
    uncached = DegradedFolderDataset(photos, task_mix=mix, patch_size=16, seed=3, length=8, cache_in_memory=False)
    assert cached.images.cached and not uncached.images.cached
    forward = _items(cached)
    backward = _items(uncached, reversed(range(8)))[::-1]  # access order must not matter either
    assert all(_same(a, b) for a, b in zip(forward, backward, strict=True))
    other_seed = _items(DegradedFolderDataset(photos, task_mix=mix, patch_size=16, seed=4, length=8))
    assert not all(_same(a, b) for a, b in zip(forward, other_seed, strict=True))


def test_new_epoch_gives_new_crops(photos: Path) -> None:
    dataset = DegradedFolderDataset(photos, task_mix="clean", patch_size=16, length=6)
    first = _items(dataset)
    second = [dataset[(1, i)] for i in range(len(dataset))]
    assert all(_same(a, b) for a, b in zip(first, [dataset[(0, i)] for i in range(6)], strict=True))
    assert sum(not torch.equal(a["gt"], b["gt"]) for a, b in zip(first, second, strict=True)) >= 5


def test_batches_do_not_depend_on_worker_count(photos: Path) -> None:
    # Batches of (epoch, index) keys, as the training loop's sampler hands them to the DataLoader.
    order = [3, 7, 1, 10, 0, 5, 9, 2]
    keys = [[(epoch, i) for i in order[start : start + 4]] for epoch in (0, 1) for start in (0, 4)]

    def batches(workers: int) -> list[dict]:
        dataset = DegradedFolderDataset(photos, task_mix="denoise:1,jpeg:1", patch_size=16, length=12, seed=5)
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=keys, num_workers=workers,
                                             worker_init_fn=seed_worker if workers else None)
        return list(loader)

    serial, parallel = batches(0), batches(2)
    assert len(serial) == len(parallel) == 4
    for x, y in zip(serial, parallel, strict=True):
        assert x["task"] == y["task"]
        assert torch.equal(x["lq"], y["lq"]) and torch.equal(x["gt"], y["gt"])
        assert torch.equal(x["kind"], y["kind"]) and torch.equal(x["severity"], y["severity"])
    assert not torch.equal(serial[0]["gt"], serial[2]["gt"])  # the same images in epoch 1: new crops


def _dihedral(img: np.ndarray) -> list[np.ndarray]:
    return [np.rot90(f, k) for f in (img, img[:, ::-1]) for k in range(4)]


def test_crops_are_flipped_rotated_windows_of_the_image(photos: Path) -> None:
    """'clean' is the identity degradation: lq must equal gt, and gt must be an orientation of a real window."""
    source = np.asarray(Image.open(photos / "a.png")).astype(np.float32) / 255
    windows = sliding_window_view(source, (16, 16, 3)).reshape(-1, 16, 16, 3)
    dataset = DegradedFolderDataset(photos, task_mix="clean", patch_size=16, length=3 * 16, seed=1)
    orientations = set()
    for index in range(0, len(dataset), 3):  # every third item comes from a.png
        item = dataset[index]
        assert torch.equal(item["lq"], item["gt"])
        gt = item["gt"].numpy().transpose(1, 2, 0)
        matches = [
            k
            for k, candidate in enumerate(_dihedral(gt))
            if np.any(np.all(np.abs(windows - candidate) < 1e-7, axis=(1, 2, 3)))
        ]
        assert matches, f"item {index} is not a window of the source image"
        orientations.add(matches[0])
    assert len(orientations) >= 4  # augmentation really varies orientation


@pytest.mark.parametrize("margin", [0, 24])
def test_degrade_margin_hides_the_blur_kernels_border(tmp_path: Path, margin: int) -> None:
    # Blur leaves a linear ramp unchanged except where its kernel reaches past the degraded region's border
    # (reflect padding bends the ramp there). With a margin wider than the kernel no patch shows that border.
    ramp = np.tile(np.linspace(0, 255, 96), (96, 1)).round().astype(np.uint8)
    _save(tmp_path / "ramp.png", np.stack([ramp] * 3, axis=-1))
    ds = DegradedFolderDataset(tmp_path, task_mix="deblur", patch_size=24, length=24, seed=1,
                               transforms=[DegradeMargin(margin)])
    worst = max(float((it["lq"] - it["gt"]).abs().max()) for it in _items(ds))
    if margin:
        assert all(it["lq"].shape == it["gt"].shape == (3, 24, 24) for it in _items(ds))
        assert worst <= 1.5 / 255
    else:
        assert worst > 4 / 255


@pytest.mark.parametrize("quantize", [False, True])
def test_quantize_lq_puts_synthetic_inputs_on_8_bit_levels(photos: Path, quantize: bool) -> None:
    # Blur leaves values between the 8-bit levels; a stored photo never has them, and a detector trained on
    # them learns "off the levels" instead of "blurred". Validation items follow the same switch.
    ds = DegradedFolderDataset(photos, task_mix="deblur", patch_size=24, length=4, seed=3,
                               transforms=[QuantizeInput()] if quantize else [])
    val = ValidationSet(photos, task_mix="deblur", crop_size=32, quantize_lq=quantize)
    for lq in [it["lq"] for it in _items(ds)] + [val[i]["lq"] for i in range(len(val))]:
        off_level = float((lq * 255 - (lq * 255).round()).abs().max())
        assert (off_level < 1e-3) == quantize, off_level


@pytest.mark.parametrize(("downscale", "period"), [((1.0, 1.0), 16), ((0.5, 0.5), 8), ((0.25, 0.25), 4)])
def test_downscale_shows_the_photo_at_a_smaller_scale(tmp_path: Path, downscale, period: int) -> None:
    # Vertical stripes with a 16 px period: a patch shrunk by f from a region 1/f times larger shows period 16 f.
    row = np.where(np.arange(256) % 16 < 8, 40, 220).astype(np.uint8)
    _save(tmp_path / "stripes.png", np.stack([np.tile(row, (256, 1))] * 3, axis=-1))
    ds = DegradedFolderDataset(tmp_path, task_mix="clean", patch_size=64, length=4, seed=0, augment=False,
                               transforms=[Downscale(downscale)])
    for item in _items(ds):
        assert item["lq"].shape == (3, 64, 64) and torch.equal(item["lq"], item["gt"])
        values = item["gt"] * 255
        assert float((values - values.round()).abs().max()) < 1e-3  # still on 8-bit levels, like a stored photo
        spectrum = np.abs(np.fft.rfft(values[0].mean(0).numpy() - float(values.mean())))
        assert 64 / int(spectrum.argmax()) == period


@pytest.mark.parametrize("downscale", [(0.0, 1.0), (0.8, 0.5), (0.5, 1.5), (0.5,)])
def test_downscale_range_is_checked(photos: Path, downscale) -> None:
    with pytest.raises(UsageError, match="downscale"):
        DegradedFolderDataset(photos, task_mix="clean", patch_size=24, transforms=[Downscale(downscale)])


def test_random_tone_regrades_within_its_ranges_and_leaves_the_photo_alone() -> None:
    rng = np.random.default_rng(3)
    photo = rng.random((16, 16, 3), dtype=np.float32)
    before = photo.copy()
    toned = [random_tone(photo, np.random.default_rng(seed)) for seed in range(40)]
    assert np.array_equal(photo, before)
    assert all(t.dtype == np.float32 and t.shape == photo.shape and 0 <= t.min() and t.max() <= 1 for t in toned)
    assert all(np.abs(t * 255 - np.round(t * 255)).max() < 1e-3 for t in toned)  # on 8-bit levels
    assert np.array_equal(toned[0], random_tone(photo, np.random.default_rng(0)))  # a function of the generator
    # Mean brightness moves both ways, and never further than the extreme gain and gamma allow.
    means = np.array([t.mean() for t in toned])
    assert means.min() < photo.mean() < means.max()
    (gain_lo, gain_hi), (gamma_lo, gamma_hi) = TONE_RANGES["gain"], TONE_RANGES["gamma"]
    grey = np.full((1, 1, 3), 0.5, np.float32)  # saturation leaves grey alone: only gain and gamma act
    for seed in range(40):
        value = float(random_tone(grey, np.random.default_rng(seed))[0, 0, 0])
        assert (0.5 * gain_lo) ** gamma_hi - 0.5 / 255 <= value <= (0.5 * gain_hi) ** gamma_lo + 0.5 / 255


def test_tone_jitter_changes_clean_patches_only_when_asked(photos: Path) -> None:
    def patches(*transforms) -> list[dict]:
        return _items(DegradedFolderDataset(photos, task_mix="clean", patch_size=24, length=6, seed=4,
                                            transforms=transforms))

    plain, off, on = patches(), patches(ToneJitter(0.0)), patches(ToneJitter(1.0))
    assert all(_same(a, b) for a, b in zip(plain, off))  # off draws nothing: old seeds give old patches
    assert all(torch.equal(x["lq"], x["gt"]) for x in on)  # still clean: input = target
    assert sum(not torch.equal(a["gt"], b["gt"]) for a, b in zip(plain, on)) >= 5
    with pytest.raises(UsageError, match="tone_jitter must be a fraction"):
        DegradedFolderDataset(photos, task_mix="clean", patch_size=24, transforms=[ToneJitter(1.5)])


def test_clean_candidates_takes_the_palest_window_for_clean_patches_only(tmp_path: Path) -> None:
    # A haze corrector learns to leave bright flat scenes alone only if its clean patches show some: with
    # clean_candidates a clean patch is the window of highest median dark channel among that many, while every
    # other task's patch, and a run without the option, stay what the seed always gave.
    rng = np.random.default_rng(3)
    photo = np.empty((64, 128, 3), np.uint8)
    photo[:, :64] = 235  # a white wall ...
    photo[:, 64:] = rng.integers(0, 120, (64, 64, 3))  # ... beside dark texture
    _save(tmp_path / "wall.png", photo)

    def patches(mix: str, **options) -> list[dict]:
        return _items(DegradedFolderDataset(tmp_path, task_mix=mix, patch_size=32, length=24, seed=5,
                                            augment=False, **options))

    plain, palest = patches("clean"), patches("clean", clean_candidates=4)
    assert all(_same(a, b) for a, b in zip(plain, patches("clean", clean_candidates=1)))
    assert all(torch.equal(x["lq"], x["gt"]) for x in palest)  # still clean: input = target

    def dark(item: dict) -> float:
        return block_dark_channel(np.round(item["gt"].permute(1, 2, 0).numpy() * 255).astype(np.uint8))

    assert np.mean([dark(x) for x in palest]) > np.mean([dark(x) for x in plain]) + 0.2
    assert all(dark(b) >= dark(a) for a, b in zip(plain, palest))  # the first candidate is the plain window
    assert all(_same(a, b) for a, b in zip(patches("denoise"), patches("denoise", clean_candidates=4)))
    # Windows cut from a photo have any size: whole 8 x 8 blocks only, the ragged edge left out.
    ragged = rng.integers(0, 256, (37, 45, 3)).astype(np.uint8)
    blocks = [ragged[y : y + 8, x : x + 8].min() for y in range(0, 32, 8) for x in range(0, 40, 8)]
    assert block_dark_channel(ragged) == pytest.approx(np.median(blocks) / 255)
    assert block_dark_channel(ragged[:5, :5]) == pytest.approx(ragged[:5, :5].min() / 255)
    with pytest.raises(UsageError, match="clean_candidates"):
        DegradedFolderDataset(tmp_path, task_mix="clean", patch_size=32, clean_candidates=0)


def test_clean_pick_textured_takes_the_window_busy_everywhere_for_clean_patches(tmp_path: Path) -> None:
    # A denoiser learns to keep texture only if its clean patches show frames filled with it: with clean_pick
    # "textured" a clean patch is, of clean_candidates windows, the one whose least detailed blocks hold the most
    # fine detail (a plain wall beside fine grass: the grass), while other tasks' patches stay what the seed gave.
    rng = np.random.default_rng(4)
    photo = np.empty((64, 128, 3), np.uint8)
    photo[:, :64] = 120  # a plain wall ...
    photo[:, 64:] = rng.integers(40, 220, (64, 64, 1))  # ... beside fine gray texture
    _save(tmp_path / "grass.png", photo)

    def patches(mix: str, **options) -> list[dict]:
        return _items(DegradedFolderDataset(tmp_path, task_mix=mix, patch_size=32, length=24, seed=5,
                                            augment=False, **options))

    def detail(item: dict) -> float:
        return least_fine_detail(np.round(item["gt"].permute(1, 2, 0).numpy() * 255).astype(np.uint8))

    plain, textured = patches("clean"), patches("clean", clean_candidates=4, clean_pick="textured")
    assert all(torch.equal(x["lq"], x["gt"]) for x in textured)  # still clean: input = target
    assert all(detail(b) >= detail(a) for a, b in zip(plain, textured))  # the first candidate is the plain window
    assert sum(detail(x) > 20 for x in textured) > sum(detail(x) > 20 for x in plain) + 5
    assert all(_same(a, b) for a, b in zip(patches("denoise"),
                                           patches("denoise", clean_candidates=4, clean_pick="textured")))
    assert least_fine_detail(photo[:, :64]) == 0.0 and least_fine_detail(photo[:8, :8]) == 0.0  # plain; no block
    with pytest.raises(UsageError, match="clean_pick"):
        DegradedFolderDataset(tmp_path, task_mix="clean", patch_size=32, clean_pick="sharpest")


def test_gray_photos_makes_the_photo_and_its_damage_gray_only_when_asked(photos: Path) -> None:
    def patches(*transforms) -> list[dict]:
        return _items(DegradedFolderDataset(photos, task_mix="denoise:1,clean:1", patch_size=24, length=8, seed=2,
                                            transforms=transforms))

    plain, off, on = patches(), patches(GrayPhotos(0.0)), patches(GrayPhotos(1.0))
    assert all(_same(a, b) for a, b in zip(plain, off))  # off draws nothing: old seeds give old patches
    for item in on:
        for image in (item["gt"], item["lq"]):  # [3, H, W]: every channel the same
            assert torch.equal(image[0], image[1]) and torch.equal(image[0], image[2])
    noisy = [x for x in on if x["task"] == "denoise"]
    assert noisy and all(not torch.equal(x["lq"], x["gt"]) for x in noisy)  # still noisy, in gray
    assert all(torch.equal(x["lq"], x["gt"]) for x in on if x["task"] == "clean")
    with pytest.raises(UsageError, match="gray_photos must be a fraction"):
        GrayPhotos(2.0)


def test_degrade_margin_must_keep_sr_grids_whole(photos: Path) -> None:
    with pytest.raises(UsageError, match="multiple of 12"):
        DegradedFolderDataset(photos, task_mix="sr3:1,sr4:1", patch_size=48, sr_as_same_size=True,
                              transforms=[DegradeMargin(8)])
    ds = DegradedFolderDataset(photos, task_mix="sr4", patch_size=12, transforms=[DegradeMargin(8)], length=2)
    assert [tuple(it["lq"].shape) for it in _items(ds)] == [(3, 12, 12)] * 2
    assert [tuple(it["gt"].shape) for it in _items(ds)] == [(3, 48, 48)] * 2


def _pairs(root: Path, *, scale: int, names=("p", "q", "r")) -> tuple[Path, Path]:
    """lq images and nearest-neighbour x``scale`` targets, so ``gt == repeat(lq)`` exactly, in any orientation."""
    rng = np.random.default_rng(scale)
    for name in names:
        lq = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
        _save(root / "lq" / f"{name}.png", lq)
        _save(root / "gt" / f"{name}.png", lq.repeat(scale, axis=0).repeat(scale, axis=1))
    return root / "lq", root / "gt"


@pytest.mark.parametrize("scale", [1, 2])
def test_paired_crops_and_augmentation_stay_aligned(tmp_path: Path, scale: int) -> None:
    lq_dir, gt_dir = _pairs(tmp_path, scale=scale)
    augmented = PairedFolderDataset(lq_dir, gt_dir, patch_size=6, scale=scale, length=24, seed=2)
    plain = PairedFolderDataset(lq_dir, gt_dir, patch_size=6, scale=scale, length=24, seed=2, augment=False)
    unchanged = 0
    for index in range(len(augmented)):
        item = augmented[index]
        assert item["lq"].shape == (3, 6, 6) and item["gt"].shape == (3, 6 * scale, 6 * scale)
        expected_gt = item["lq"].repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
        assert torch.equal(item["gt"], expected_gt)
        assert item["kind"] == -1 and np.isnan(item["severity"])
        unchanged += torch.equal(item["lq"], plain[index]["lq"])
    assert unchanged < len(augmented) // 2  # identity is 1 of 8 orientations


def test_pairs_matched_by_stem(tmp_path: Path) -> None:
    for name, value in (("one", 10), ("two", 200)):
        _save(tmp_path / "lq" / f"{name}.jpg", np.full((8, 8, 3), value, np.uint8))
        _save(tmp_path / "gt" / f"{name}.png", np.full((8, 8, 3), value, np.uint8))
    dataset = PairedFolderDataset(tmp_path / "lq", tmp_path / "gt", patch_size=4, task="denoise")
    for item, value in zip(_items(dataset), (10, 200), strict=True):
        assert torch.allclose(item["gt"], torch.full((3, 4, 4), value / 255))
        assert abs(float(item["lq"].mean()) - value / 255) < 3 / 255  # JPEG of a flat image
        assert item["task"] == "denoise" and item["kind"] == DEGRADATION_TYPES.index("noise")
    _save(tmp_path / "lq" / "three_x2.png", np.zeros((8, 8, 3), np.uint8))
    _save(tmp_path / "gt" / "four.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(UsageError, match=r"three_x2\.png") as error:
        PairedFolderDataset(tmp_path / "lq", tmp_path / "gt", patch_size=4)
    assert "four.png" in str(error.value)


def test_sr_pair_size_mismatch_is_reported(tmp_path: Path) -> None:
    lq_dir, gt_dir = _pairs(tmp_path, scale=2, names=("good",))
    _save(lq_dir / "bad.png", np.zeros((12, 10, 3), np.uint8))
    _save(gt_dir / "bad.png", np.zeros((24, 21, 3), np.uint8))
    with pytest.raises(UsageError, match=r"exactly x2.*bad\.png 10x12 vs bad\.png 21x24"):
        PairedFolderDataset(lq_dir, gt_dir, patch_size=4, scale=2)


def test_mixture_ratios_are_honoured(photos: Path) -> None:
    mix = {"clean": 2.0, "denoise": 1.0, "jpeg": 1.0}
    dataset = DegradedFolderDataset(photos, task_mix=mix, patch_size=8, length=800, seed=0)
    counts = Counter(dataset[i]["task"] for i in range(len(dataset)))
    for task, ratio in mix.items():
        assert abs(counts[task] / 800 - ratio / 4) < 0.05, counts


def test_validation_set_is_fixed_and_modcropped(photos: Path) -> None:
    first = ValidationSet(photos, task_mix="denoise,sr3", seed=9)
    again = ValidationSet(photos, task_mix="denoise,sr3", seed=9)
    assert [(e[1]) for e in first.entries] == ["denoise", "sr3", "denoise"]
    for a, b in zip(_items(first), _items(again), strict=True):
        assert a["name"] == b["name"] and _same(a, b)
    b_item = first[1]  # b.jpg is 64 x 48 (height x width): 64 is not a multiple of 3
    assert b_item["name"] == "b" and b_item["scale"] == 3
    assert b_item["gt"].shape == (3, 63, 48) and b_item["lq"].shape == (3, 21, 16)
    assert first[2]["gt"].shape == first[2]["lq"].shape == (3, 20, 30)
    every = ValidationSet(photos, task_mix="denoise,jpeg", all_tasks=True, crop_size=16)
    assert len(every) == 6 and {it["gt"].shape for it in _items(every)} == {(3, 16, 16)}


def test_paired_validation_modcrops_target(tmp_path: Path) -> None:
    lq = np.random.default_rng(0).integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    gt = np.zeros((22, 28, 3), np.uint8)  # 7*3 + 1 by 9*3 + 1: one extra row and column
    gt[:21, :27] = lq.repeat(3, axis=0).repeat(3, axis=1)
    _save(tmp_path / "lq" / "x.png", lq)
    _save(tmp_path / "gt" / "x.png", gt)
    item = ValidationSet(tmp_path / "gt", lq_folder=tmp_path / "lq", scale=3)[0]
    assert item["gt"].shape == (3, 21, 27) and item["lq"].shape == (3, 7, 9)
    assert torch.equal(item["gt"], item["lq"].repeat_interleave(3, dim=1).repeat_interleave(3, dim=2))


def test_unclipped_noise_leaves_benchmark_style_noise_on_a_share_of_samples(tmp_path: Path) -> None:
    # Half black, half white: clipped noise stays in [0, 1]; benchmark-style noise goes past both ends.
    half = np.zeros((96, 96, 3), np.uint8)
    half[:, 48:] = 255
    _save(tmp_path / "half.png", half)

    def outside(unclipped: float, task: str = "denoise") -> list[bool]:
        ds = DegradedFolderDataset(tmp_path, task_mix=task, patch_size=64, length=24, seed=1,
                                   unclipped_noise=unclipped)
        return [bool((it["lq"] < 0).any() or (it["lq"] > 1).any()) for it in _items(ds)]

    assert not any(outside(0.0)) and all(outside(1.0))
    assert 0 < sum(outside(0.5)) < 24
    # Other tasks are untouched, and draw the same patches as without the option.
    jpeg = [DegradedFolderDataset(tmp_path, task_mix="jpeg", patch_size=64, length=4, seed=1, unclipped_noise=u)
            for u in (0.0, 1.0)]
    assert all(torch.equal(a["lq"], b["lq"]) for a, b in zip(_items(jpeg[0]), _items(jpeg[1])))


@pytest.mark.parametrize(("unclipped", "quantize"), [(-0.1, False), (1.5, False), (0.5, True)])
def test_unclipped_noise_is_checked(photos: Path, unclipped: float, quantize: bool) -> None:
    with pytest.raises(UsageError, match="unclipped_noise"):
        DegradedFolderDataset(photos, task_mix="denoise", patch_size=24, unclipped_noise=unclipped,
                              transforms=[QuantizeInput()] if quantize else [])


def test_hazy_patches_span_the_depth_they_span_in_the_photo(tmp_path: Path) -> None:
    # A 48 px patch of a 512 px photo covers a tenth of its depth range, so haze barely varies across it
    # (degraded alone, the patch went from haze-free to the thickest haze in 48 rows).
    _save(tmp_path / "gray.png", np.full((512, 512, 3), 50, np.uint8))
    ds = DegradedFolderDataset(tmp_path, task_mix="dehaze", patch_size=48, length=12, seed=0)
    for item in _items(ds):
        rows = item["lq"].mean(dim=(0, 2))
        cols = item["lq"].mean(dim=(0, 1))
        assert float(max(rows.max() - rows.min(), cols.max() - cols.min())) < 0.2


def test_wide_synthesis_draws_other_generators_for_the_same_seed(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((96, 96, 3)) * 255).astype(np.uint8)).save(folder / "a.png")
    kwargs = dict(task_mix="dehaze", patch_size=32, seed=3, length=12, augment=False)
    default = DegradedFolderDataset(folder, **kwargs)
    wide = DegradedFolderDataset(folder, synthesis="wide", **kwargs)
    assert wide.synthesis == "wide"
    same = [torch.equal(default[i]["gt"], wide[i]["gt"]) for i in range(12)]
    differ = [not torch.equal(default[i]["lq"], wide[i]["lq"]) for i in range(12)]
    assert all(same) and any(differ)  # same crops, other hazes for some
    with pytest.raises(UsageError, match="synthesis must be"):
        DegradedFolderDataset(folder, synthesis="broad", **kwargs)
