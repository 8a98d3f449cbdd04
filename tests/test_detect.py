"""How the degradation detector reads an image: native-resolution crops on a grid, one decision per image."""

from __future__ import annotations

import pytest
import torch

from irtool.degradations import detector_types
from irtool.detect import Detector, summary_size
from irtool.engine import grid_crops
from irtool.models.giv_detector import build_giv_detector

DEGRADATION_TYPES = detector_types()


@pytest.mark.parametrize(("height", "width", "count"), [(640, 1024, 12), (4000, 3000, 16), (100, 3000, 12),
                                                        (200, 200, 1), (256, 512, 2)])
def test_crops_cover_the_image_at_native_resolution(height, width, count):
    image = torch.arange(height * width, dtype=torch.float32).reshape(1, height, width).expand(3, -1, -1)
    crops = grid_crops(image, 256, 16, align=8)
    assert crops.shape == (count, 3, min(256, height), min(256, width))
    # Native resolution: each crop is a verbatim window of the image (values are pixel indices).
    starts = [(int(c[0, 0, 0]) // width, int(c[0, 0, 0]) % width) for c in crops]
    for (top, left), c in zip(starts, crops):
        assert torch.equal(c, image[:, top : top + c.shape[1], left : left + c.shape[2]])
    # Starts sit on the 8-pixel grid (JPEG blocks in training phase); the grid spans the image within a block.
    tops, lefts = {t for t, _ in starts}, {x for _, x in starts}
    assert all(t % 8 == 0 for t in tops) and all(x % 8 == 0 for x in lefts)
    assert min(tops) == 0 and height - crops.shape[2] - 8 < max(tops) <= height - crops.shape[2]
    assert min(lefts) == 0 and width - crops.shape[3] - 8 < max(lefts) <= width - crops.shape[3]


def test_detector_names_one_type_per_image_and_treats_gray_as_rgb():
    torch.manual_seed(0)
    model = build_giv_detector("res_hair_lite")
    with torch.no_grad():
        model.head.type_logits.bias[DEGRADATION_TYPES.index("haze")] = 50.0  # a decisive, known answer
    detector = Detector(model, device="cpu")
    gray = torch.rand(1, 300, 420)
    found = detector.detect(gray)
    assert found.type == "haze" and found.confidence > 0.99 and 0.0 <= found.severity <= 1.0
    assert abs(sum(found.probabilities.values()) - 1.0) < 1e-5
    assert detector.detect(gray.expand(3, -1, -1)) == found


class _LogitsFromGIV(torch.nn.Module):
    """A head that reads its type logits and severity straight from the GIV, so a test can choose them."""

    num_types = len(DEGRADATION_TYPES)

    def forward(self, giv: torch.Tensor):
        return giv[:, : self.num_types], giv[:, self.num_types :]


def test_one_decision_per_image_averages_the_crops_probabilities_not_their_logits():
    model = build_giv_detector("res_hair_lite")
    model.head = _LogitsFromGIV()
    detector = Detector(model, device="cpu")
    blur, noise, clean = (DEGRADATION_TYPES.index(t) for t in ("blur", "noise", "clean"))
    givs = torch.zeros(2, len(DEGRADATION_TYPES) + 1)
    givs[0, blur], givs[0, -1] = 20.0, 0.8  # a crop that is surely blurred, severity 0.8
    givs[1, noise], givs[1, clean], givs[1, -1] = 30.0, 29.5, 0.2  # large logits, but only 62% sure of noise
    found = detector.classify(givs)
    # Mean logits would say noise (15 vs 10); the mean probability says blur (0.50 vs 0.31).
    assert found.type == "blur" and found.confidence == pytest.approx(0.5, abs=1e-3)
    assert found.severity == pytest.approx(0.8, abs=1e-3)  # weighted by each crop's probability of blur
    assert abs(sum(found.probabilities.values()) - 1.0) < 1e-5


def _crop_sets(count: int, *, clean: bool, seed: int) -> list[torch.Tensor]:
    """Crop probabilities of synthetic images. A clean photo with a shallow depth of field: most crops look a
    little blurred, a few are sharp. A blurred photo: every crop looks a little blurred, none is sharp."""
    g = torch.Generator().manual_seed(seed)
    blur, clean_i = DEGRADATION_TYPES.index("blur"), DEGRADATION_TYPES.index("clean")
    sets = []
    for _ in range(count):
        n = 32
        p_blur = 0.6 + 0.1 * torch.rand(n, generator=g)
        if clean:
            sharp = torch.randperm(n, generator=g)[: n // 5]
            p_blur[sharp] = 0.05 * torch.rand(len(sharp), generator=g)
        probs = torch.full((n, len(DEGRADATION_TYPES)), 0.0)
        probs[:, blur] = p_blur * 0.98
        probs[:, clean_i] = (1 - p_blur) * 0.98
        probs += 0.02 / len(DEGRADATION_TYPES)
        sets.append(probs)
    return sets


def test_a_fitted_vote_reads_how_the_crops_disagree_where_their_mean_cannot():
    from irtool.detect import image_summary
    from irtool.train.vote import fit_vote

    image = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))  # the same image for every sample

    blur, clean = DEGRADATION_TYPES.index("blur"), DEGRADATION_TYPES.index("clean")
    train = _crop_sets(30, clean=True, seed=0) + _crop_sets(30, clean=False, seed=1)
    labels = torch.tensor([clean] * 30 + [blur] * 30)
    vote = fit_vote(torch.stack([image_summary(p, image) for p in train]).double(), labels,
                    num_types=len(DEGRADATION_TYPES), l2=1e-3)
    test = _crop_sets(20, clean=True, seed=2) + _crop_sets(20, clean=False, seed=3)
    truth = [clean] * 20 + [blur] * 20
    mean_says = [int(p.mean(0).argmax()) for p in test]
    vote_says = [int(vote.decide(image_summary(p, image)).argmax()) for p in test]
    assert mean_says == [blur] * 40  # the plain mean calls every clean photo blurred
    assert vote_says == truth


def test_the_detector_decides_by_its_vote_and_files_load_with_or_without_one(tmp_path):
    from irtool.detect import read_detector
    from irtool.weights.checkpoints import save_safetensors

    torch.manual_seed(0)
    model = build_giv_detector("res_hair_lite", vote_size=summary_size(len(DEGRADATION_TYPES)))
    with torch.no_grad():
        model.head.type_logits.bias[DEGRADATION_TYPES.index("haze")] = 50.0  # every crop: surely haze
        model.vote.linear.weight.zero_()
        model.vote.linear.bias.zero_()
        model.vote.linear.bias[DEGRADATION_TYPES.index("rain")] = 10.0  # the vote overrules the crops
    assert Detector(model, device="cpu").detect(torch.rand(3, 200, 260)).type == "rain"

    save_safetensors(model.state_dict(), tmp_path / "voted.safetensors", metadata={"preset": "res_hair_lite"})
    plain = {k: v for k, v in model.state_dict().items() if not k.startswith("vote.")}
    save_safetensors(plain, tmp_path / "plain.safetensors", metadata={"preset": "res_hair_lite"})
    voted, _ = read_detector(tmp_path / "voted.safetensors", "res_hair_lite")
    unvoted, _ = read_detector(tmp_path / "plain.safetensors", "res_hair_lite")
    image = torch.rand(3, 200, 260)
    assert Detector(voted, device="cpu").detect(image).type == "rain"
    assert unvoted.vote is None and Detector(unvoted, device="cpu").detect(image).type == "haze"


def test_vote_cross_validation_folds_by_photo_and_can_score_one_fold():
    """Folds deal sorted photos round-robin; ``only_fold`` scores that fold alone (for a study whose other
    inputs were fitted without it). Here fold 0's photos have their evidence reversed, so only it is wrong."""
    from irtool.train.vote import VoteSamples, cross_validate

    names = [f"p{i}" for i in range(10)]  # sorted: fold k holds p{k} and p{k+5}
    rows, labels, photos = [], [], []
    for i, name in enumerate(names):
        for label in (0, 1, 0, 1):
            sign = 1.0 if label == 1 else -1.0
            rows.append([sign * (-1.0 if i % 5 == 0 else 1.0), 0.1 * len(rows) % 1.0])
            labels.append(label)
            photos.append(name)
    samples = VoteSamples(torch.tensor(rows, dtype=torch.float64), torch.tensor(labels), photos)
    everyone = cross_validate(samples, num_types=2, l2=1e-3)
    assert everyone["type_accuracy"] == everyone["clean_accuracy"] == pytest.approx(0.8)  # 8 of 10 photos right
    assert everyone["recall_0"] == everyone["recall_1"] == pytest.approx(0.8)
    assert cross_validate(samples, num_types=2, l2=1e-3, only_fold=0)["worst_class_accuracy"] == 0.0
    assert cross_validate(samples, num_types=2, l2=1e-3, only_fold=3)["worst_class_accuracy"] == 1.0


def test_scene_statistics_see_under_exposure_and_haze_on_a_photo():
    """The vote's global cues on a held-out-free synthetic scene: darkening lowers the highlights (p99), a haze veil
    lifts the dark channel and washes out saturation; the statistics do not depend on the image's size."""
    from irtool.detect import SCENE_STATISTICS, scene_statistics

    y, x = torch.meshgrid(torch.linspace(0, 1, 300), torch.linspace(0, 1, 420), indexing="ij")
    scene = torch.stack([0.5 + 0.45 * torch.sin(9 * x), 0.5 + 0.45 * torch.cos(7 * y), 0.3 * x * y]).clamp(0, 1)
    stats = dict(zip(SCENE_STATISTICS, scene_statistics(scene).tolist()))
    dark = dict(zip(SCENE_STATISTICS, scene_statistics(0.25 * scene).tolist()))
    hazy = dict(zip(SCENE_STATISTICS, scene_statistics(0.5 * scene + 0.5 * 0.85).tolist()))
    assert dark["luma_p99"] == pytest.approx(0.25 * stats["luma_p99"], rel=0.02)
    assert dark["luma_mean"] < 0.3 * stats["luma_mean"] + 1e-6
    assert hazy["dark_channel_p50"] > stats["dark_channel_p50"] + 0.35
    assert hazy["saturation_mean"] < 0.7 * stats["saturation_mean"]
    big = torch.nn.functional.interpolate(scene[None], scale_factor=3, mode="bilinear", align_corners=False)[0]
    torch.testing.assert_close(scene_statistics(big), scene_statistics(scene), atol=0.02, rtol=0.05)
    assert torch.isfinite(scene_statistics(torch.rand(1, 1, 1))).all()  # a 1x1 gray image too


def test_a_vote_fitted_before_the_scene_statistics_still_decides():
    """The shipped detector's vote reads the summary without the scene statistics; it is served their absence."""
    model = build_giv_detector("res_hair_lite", vote_size=summary_size(len(DEGRADATION_TYPES), scene=False))
    with torch.no_grad():
        model.vote.linear.weight.zero_()
        model.vote.linear.bias.zero_()
        model.vote.linear.bias[DEGRADATION_TYPES.index("jpeg")] = 10.0
    assert Detector(model, device="cpu").detect(torch.rand(3, 120, 130)).type == "jpeg"


def test_temperature_calibrates_overconfident_logits_without_changing_decisions():
    """Logits twice too sharp for how often they are right: the fitted temperature is about 2, the calibration error
    falls, and no argmax changes (the vote's decisions stay as fitted)."""
    from irtool.train.vote import calibration_error, fit_temperature

    generator = torch.Generator().manual_seed(0)
    true_logits = torch.randn(4000, 5, generator=generator) * 1.5
    labels = torch.multinomial(torch.softmax(true_logits, dim=1), 1, generator=generator)[:, 0]
    sharp = true_logits * 2.0
    temperature = fit_temperature(sharp, labels)
    assert 1.8 < temperature < 2.2
    assert calibration_error(sharp / temperature, labels) < 0.5 * calibration_error(sharp, labels)
    assert torch.equal((sharp / temperature).argmax(1), sharp.argmax(1))


def test_detection_report_calibration_table():
    from irtool.evaluate.detection import DetectionReport, DetectionSample

    def sample(confidence: float, right: bool) -> DetectionSample:
        return DetectionSample(image="x", true_type="noise", severity=0.5, true_severity=0.5,
                               predicted_type="noise" if right else "blur", predicted_severity=0.5,
                               confidence=confidence)

    report = DetectionReport(detector="d", source="s", types=("clean", "noise", "blur"), severities=(0.5,), seed=0,
                             images=4, seconds=0.0,
                             samples=[sample(0.99, True), sample(0.97, False), sample(0.6, True), sample(0.6, True)])
    error, rows = report.calibration()
    assert [(r, n) for r, n, _, _ in rows] == [("50%-70%", 2), ("95%-100%", 2)]
    assert error == pytest.approx((2 * abs(1.0 - 0.6) + 2 * abs(0.5 - 0.98)) / 4)
    assert "expected calibration error" in report.to_markdown()


@pytest.mark.parametrize("sigma", [2.0, 8.0, 20.0])
def test_noise_floor_reads_the_noise_of_the_flattest_blocks_in_8_bit_levels(sigma: float) -> None:
    """Gaussian noise on a photo-like image whose left half is a smooth ramp and right half a strong texture: the
    flattest tenth of the blocks reads sigma (within 15%, as Immerkaer's estimator on 16 px blocks does), whatever
    the texture; gray images are read the same way; near-black regions (clipped noise) are skipped."""
    from irtool.detect import noise_floor

    g = torch.Generator().manual_seed(int(sigma))
    y, x = torch.meshgrid(torch.arange(160.0), torch.arange(256.0), indexing="ij")
    scene = torch.where(x < 128, 0.3 + 0.3 * x / 256, 0.5 + 0.3 * torch.sin(x / 1.7) * torch.cos(y / 2.3))
    noisy = scene + torch.randn(160, 256, generator=g) * sigma / 255
    assert noise_floor(noisy[None]) == pytest.approx(sigma, rel=0.15)
    assert noise_floor(noisy[None].expand(3, -1, -1)) == pytest.approx(sigma, rel=0.15)
    black = torch.cat([noisy, (torch.randn(160, 256, generator=g) * sigma / 255).clamp_min(0)], dim=1)
    assert noise_floor(black[None]) == pytest.approx(sigma, rel=0.15)  # the clipped black half is skipped


def test_removed_noise_reads_what_a_denoiser_takes_where_it_takes_least_and_samples_large_images() -> None:
    """A "denoiser" that returns the scene behind the noise: what it removes reads the noise sigma in 8-bit levels
    wherever the noise is (here a textured half and a smooth half alike); one that changes only the textured half (as
    a denoiser sharpening texture would) reads 0, since the least-changed tenth of the blocks is smooth; gray images
    read the same. An image above irtool.detect.NOISE_REMOVED_SAMPLE_PIXELS is read on crops of
    NOISE_REMOVED_CROP px on a grid (8 px aligned) whose pixels stay within that budget."""
    import numpy as np

    from irtool.detect import NOISE_REMOVED_CROP, NOISE_REMOVED_SAMPLE_PIXELS, removed_noise

    g = torch.Generator().manual_seed(3)
    y, x = torch.meshgrid(torch.arange(160.0), torch.arange(256.0), indexing="ij")
    scene = torch.where(x < 128, 0.3 + 0.3 * x / 256, 0.5 + 0.3 * torch.sin(x / 1.7) * torch.cos(y / 2.3))
    noise = torch.randn(160, 256, generator=g) * 10 / 255
    behind = scene.numpy()[..., None]

    def to_scene(pixels: np.ndarray) -> np.ndarray:
        return np.broadcast_to(behind, pixels.shape).copy()

    assert removed_noise((scene + noise)[None], to_scene).level == pytest.approx(10.0, rel=0.15)
    assert removed_noise((scene + noise)[None].expand(3, -1, -1), to_scene).level == pytest.approx(10.0, rel=0.15)
    textured = (x >= 128).numpy()[..., None]
    assert removed_noise(scene[None], lambda pixels: np.where(textured, pixels + 0.1, pixels)).level == 0.0
    assert removed_noise(torch.rand(3, 10, 10), lambda pixels: pixels * 0) == (0.0, 0.0)  # no whole 16 px block

    seen: list[tuple[int, ...]] = []

    def identity(pixels: np.ndarray) -> np.ndarray:
        seen.append(pixels.shape)
        return pixels

    large = torch.rand(3, 900, 1200)
    assert removed_noise(large, identity) == (0.0, 0.0)
    assert seen and all(shape == (NOISE_REMOVED_CROP, NOISE_REMOVED_CROP, 3) for shape in seen)
    assert len(seen) * NOISE_REMOVED_CROP ** 2 <= NOISE_REMOVED_SAMPLE_PIXELS
    seen.clear()
    assert removed_noise(torch.rand(3, 300, 400), identity) == (0.0, 0.0)
    assert seen == [(300, 400, 3)]  # small enough: read whole


def test_removed_share_tells_noise_taken_from_plain_regions_from_texture_softened_everywhere() -> None:
    """Noise on a plain scene, taken whole: the share of each block's fine detail removed is about 1. A frame filled
    with fine texture, softened by a tenth everywhere: every block changes (a level of several 8-bit levels, as
    noise would read), but the share is a tenth. Shading is not fine detail: noise on a steep ramp reads as on a
    plain one."""
    import numpy as np

    from irtool.detect import block_fine_detail, removed_noise

    g = torch.Generator().manual_seed(5)
    y, x = torch.meshgrid(torch.arange(128.0), torch.arange(192.0), indexing="ij")
    noise = torch.randn(128, 192, generator=g) * 6 / 255
    for plain in (torch.full((128, 192), 0.5), 0.2 + 0.6 * x / 192):
        behind = plain.numpy()[..., None]
        taken = removed_noise((plain + noise)[None],
                              lambda pixels, behind=behind: np.broadcast_to(behind, pixels.shape).copy())
        assert taken.share == pytest.approx(1.0, abs=0.1)
    texture = 0.5 + 0.3 * torch.sin(x * 2.1) * torch.cos(y * 1.3)
    mean = float(texture.mean())
    softened = removed_noise(texture[None], lambda pixels: mean + 0.9 * (pixels - mean))
    assert softened.level > 3.0
    assert softened.share == pytest.approx(0.1, abs=0.03)
    assert block_fine_detail(0.2 + 0.6 * x / 192).max() < 1e-3  # a ramp: none (the edge blocks a trace, 0.13/255)
    assert block_fine_detail(torch.zeros(10, 40)).shape == (0, 2)  # whole 16 px blocks only


def test_highlight_level_is_the_99th_percentile_of_luma_and_dims_with_exposure() -> None:
    """Under-exposure scales the highlights down with everything else; a dark scene with one bright patch keeps
    a high level (its lights), which is what tells it from a darkened photo."""
    from irtool.detect import highlight_level

    ramp = torch.linspace(0, 1, 200)[None, None].expand(3, 100, -1)
    assert highlight_level(ramp) == pytest.approx(0.99, abs=0.01)
    assert highlight_level(0.25 * ramp) == pytest.approx(0.2475, abs=0.005)
    night = torch.full((3, 100, 200), 0.05)
    night[:, 40:60, 90:110] = 0.95  # 2% of the image: a lit window
    assert highlight_level(night) == pytest.approx(0.95, abs=0.01)


def test_black_point_is_the_1st_percentile_of_luma_and_falls_with_any_darkening() -> None:
    """A gain, a gamma curve and a brightness cut all push the darkest pixels towards black; lifted blacks (a
    scene rendered dark on purpose) stay where they are."""
    from irtool.detect import black_point

    scene = torch.linspace(0.1, 0.9, 200)[None, None].expand(3, 100, -1)
    assert black_point(scene) == pytest.approx(0.108, abs=0.005)
    assert black_point(0.25 * scene) == pytest.approx(0.027, abs=0.002)
    assert black_point(scene ** 2.5) < 0.005
    assert black_point((scene - 0.3).clamp_min(0)) == 0.0
    gray = scene[:1]
    assert black_point(gray) == pytest.approx(black_point(scene), abs=1e-6)


def _discs(h: int = 96, w: int = 128) -> torch.Tensor:
    """Dark discs on a light ground: step edges in every direction."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    inside = ((yy % 32 - 16) ** 2 + (xx % 32 - 16) ** 2) < 100
    return torch.where(inside, 0.2, 0.8)[None].expand(3, -1, -1).contiguous()


def test_edge_sharpness_is_high_for_step_edges_and_low_after_any_blur_even_motion_along_one_axis() -> None:
    """Motion blur along the rows leaves the discs' top and bottom edges sharp; the least sharp direction (across
    columns) still tells. A flat image has no edge to read."""
    import torch.nn.functional as F

    from irtool.detect import EDGE_SHARPNESS_MIN, edge_sharpness

    sharp = _discs()
    x = torch.arange(-6, 7, dtype=torch.float32)
    gauss = torch.exp(-x ** 2 / (2 * 2.0 ** 2))
    gauss = gauss / gauss.sum()
    kernel = (gauss[:, None] * gauss[None])[None, None]
    blurred = F.conv2d(F.pad(sharp[:, None], (6, 6, 6, 6), mode="replicate"), kernel)
    along_rows = F.conv2d(F.pad(sharp[:, None], (7, 7, 0, 0), mode="replicate"), torch.full((1, 1, 1, 15), 1 / 15))
    assert edge_sharpness(sharp) > 0.9
    assert edge_sharpness(blurred[:, 0]) < EDGE_SHARPNESS_MIN
    assert edge_sharpness(along_rows[:, 0]) < EDGE_SHARPNESS_MIN
    assert edge_sharpness(torch.full((3, 64, 64), 0.5)) == 0.0


def test_noise_floor_of_a_clean_smooth_image_and_of_a_tiny_one_is_low() -> None:
    from irtool.detect import NOISE_FLOOR_MIN, noise_floor

    y, x = torch.meshgrid(torch.arange(96.0), torch.arange(128.0), indexing="ij")
    smooth = torch.stack([0.2 + 0.5 * x / 128, 0.4 + 0.2 * torch.sin(y / 15), 0.3 + 0.4 * y / 96])
    assert noise_floor(torch.round(smooth * 255) / 255) < 1.0 < NOISE_FLOOR_MIN
    assert noise_floor(torch.rand(3, 10, 10)) == 0.0  # no whole 16 px block


def test_streak_coherence_tells_parallel_rain_streaks_from_noise_on_a_textured_scene() -> None:
    """Rain streaks along one slant (irtool's screen-blended streaks, the detector's training rain) read far above
    STREAK_COHERENCE_MIN at either slant; Gaussian noise of 10/255 on the same scene, whose texture runs in every
    direction, reads below it; a flat image and one too small for a gradient read 0."""
    import numpy as np

    from irtool.degrade import synth
    from irtool.detect import STREAK_COHERENCE_MIN, streak_coherence

    scene = _discs(128, 160)
    rng = np.random.default_rng(3)
    for slant in (70.0, 100.0):
        rainy = synth.add_rain(scene.permute(1, 2, 0).numpy(), density=0.03, length=20.0, angle_deg=slant, rng=rng)
        assert streak_coherence(torch.from_numpy(np.ascontiguousarray(rainy)).permute(2, 0, 1).float()) > 0.3
    noisy = (scene + torch.randn(scene.shape, generator=torch.Generator().manual_seed(3)) * 10 / 255).clamp(0, 1)
    assert streak_coherence(noisy) < STREAK_COHERENCE_MIN
    assert streak_coherence(torch.full((3, 64, 64), 0.5)) == 0.0
    assert streak_coherence(torch.rand(3, 2, 40)) == 0.0


def _smooth_scene(h: int = 120, w: int = 160) -> torch.Tensor:
    """A smooth colour scene whose levels spread over the whole range (every 8-bit level populated once rounded)."""
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = 0.5 * x + 0.5 * y
    return torch.stack([base, (0.9 * base + 0.05 * torch.sin(7 * x)).clamp(0, 1), base.flip(1)])


def test_tone_gaps_read_a_darkening_curve_applied_to_8_bit_pixels_and_nothing_a_camera_would_make() -> None:
    """A gamma darkening (white stays white) applied to an 8-bit photo leaves every other highlight level empty: it
    reads at or above TONE_GAPS_MIN at gamma 2.5 (the share grows with gamma); the same curve applied before the
    rounding, as a camera applies its own, the clean photo, a contrast stretch (gaps in the shadows too), and the
    darkened photo with faint noise added afterwards all read far below; a flat or tiny image cannot be read."""
    import math

    from irtool.detect import TONE_GAPS_MIN, tone_gaps

    def stored(x: torch.Tensor) -> torch.Tensor:
        return torch.round(x.clamp(0, 1) * 255) / 255

    photo = stored(_smooth_scene())
    assert tone_gaps(photo) < 0.05
    assert tone_gaps(stored(photo ** 2.5)) >= TONE_GAPS_MIN
    assert tone_gaps(stored(photo ** 1.5)) < tone_gaps(stored(photo ** 2.5))
    assert tone_gaps(stored(_smooth_scene() ** 2.5)) < 0.05  # curved before rounding: no fingerprint
    assert tone_gaps(stored(photo * 1.6 - 0.2)) == 0.0  # a stretch skips levels everywhere, not a darkening
    noise = torch.randn(photo.shape, generator=torch.Generator().manual_seed(0)) * 2 / 255
    assert tone_gaps(stored(photo ** 2.5 + noise)) < 0.05
    assert math.isnan(tone_gaps(torch.full((3, 64, 64), 0.5)))
    assert math.isnan(tone_gaps(photo[:, :4, :4]))
