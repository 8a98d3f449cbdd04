"""Classical denoising baselines in irtool eval: strengths follow sigma, rows are scored exactly like models."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from synthetic import photo, write_images
from typer.testing import CliRunner

from irtool.cli import app
from irtool.errors import UsageError
from irtool.evaluate import (
    PROTOCOLS,
    ClassicalDenoiser,
    classical,
    classical_denoisers,
    evaluate,
    folder_dataset,
    make_noisy,
)
from irtool.metrics import psnr, ssim


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth waves with little noise: something the classical denoisers can restore."""
    return photo(h, w, seed, noise=2.0)


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)


def test_strengths_are_the_tuned_constants_times_sigma():
    # Imported here: skimage.restoration pulls scipy.stats (1.5 s) into every test process while it collects.
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

    noisy = make_noisy(_photo(40, 48, 0), PROTOCOLS["dn-rgb-swinir"], sigma=15)
    s = 15 / 255
    np.testing.assert_array_equal(
        classical.denoise_tv(noisy, sigma=15),
        denoise_tv_chambolle(noisy.astype(np.float64), weight=classical.TV_WEIGHT_PER_SIGMA * s, channel_axis=-1))
    np.testing.assert_array_equal(
        classical.denoise_nlm(noisy, sigma=15),
        denoise_nl_means(noisy.astype(np.float64), h=classical.NLM_H_PER_SIGMA * s, sigma=s, fast_mode=True,
                         patch_size=classical.NLM_PATCH_SIZE, patch_distance=classical.NLM_PATCH_DISTANCE,
                         channel_axis=-1))
    np.testing.assert_array_equal(
        classical.denoise_wavelet_bayes(noisy, sigma=15),
        denoise_wavelet(noisy.astype(np.float64), sigma=classical.WAVELET_SIGMA_FACTOR * s,
                        wavelet=classical.WAVELET_NAME, method="BayesShrink", mode="soft", convert2ycbcr=True,
                        rescale_sigma=True, channel_axis=-1))
    # A different sigma gives a different (weaker) result: the strength is not fixed.
    assert not np.array_equal(classical.denoise_tv(noisy, sigma=5), classical.denoise_tv(noisy, sigma=15))


@pytest.mark.parametrize("name", ["nlm", "wavelet", "tv"])
def test_each_denoiser_removes_noise_on_colour_and_gray_images(name):
    clean = _photo(48, 64, 1)
    protocol = PROTOCOLS["dn-rgb-swinir"]
    for gt in (clean, clean[:, :, :1].copy()):
        noisy = make_noisy(gt, protocol, sigma=25)
        out = ClassicalDenoiser(name=name, sigma=25).restore_image(noisy)
        assert out.shape == gt.shape
        assert psnr(_to_u8(out), gt) > psnr(_to_u8(noisy), gt) + 3.0


def test_invalid_denoiser_settings_are_usage_errors():
    with pytest.raises(UsageError, match="unknown classical denoiser"):
        ClassicalDenoiser(name="bm3d", sigma=25)
    with pytest.raises(UsageError, match="positive noise sigma"):
        ClassicalDenoiser(name="tv", sigma=0)


def test_evaluate_scores_classical_rows_like_the_input_row(tmp_path):
    images = {"a.png": _photo(32, 40, 2), "b.png": _photo(24, 32, 3)}
    dataset = folder_dataset(write_images(tmp_path / "hr", images))
    report = evaluate([None, *classical_denoisers(sigma=20)], dataset, "dn-rgb-swinir", task="denoise", sigma=20)
    assert [s.model for s in report.summaries] == ["input", "nlm", "wavelet", "tv"]
    assert all(s.baseline and s.parameters == 0 and s.images == 2 for s in report.summaries)
    # Independently: the same noisy input, the same denoiser, the protocol's metric (rounded output, Wang SSIM).
    protocol = PROTOCOLS["dn-rgb-swinir"]
    for name, run in classical.CLASSICAL_DENOISERS.items():
        outputs = [_to_u8(run(make_noisy(img, protocol, sigma=20), sigma=20)) for img in images.values()]
        summary = report.summary(name)
        assert summary.psnr == pytest.approx(np.mean([psnr(o, g) for o, g in zip(outputs, images.values())]),
                                             abs=1e-9)
        assert summary.ssim == pytest.approx(np.mean([ssim(o, g) for o, g in zip(outputs, images.values())]),
                                             abs=1e-9)
        assert summary.psnr > report.summary("input").psnr + 3.0


def test_evaluate_rejects_classical_rows_for_the_wrong_task_or_sigma(tmp_path):
    dataset = folder_dataset(write_images(tmp_path / "hr", {"a.png": _photo(16, 16, 4)}))
    with pytest.raises(UsageError, match="sigma 25"):
        evaluate([None, *classical_denoisers(sigma=25)], dataset, None, task="denoise", sigma=15)
    with pytest.raises(UsageError, match="Gaussian denoising"):
        evaluate([None, ClassicalDenoiser(name="tv", sigma=25)], dataset, None, task="jpeg")


def test_cli_classical_rows_in_table_json_and_csv(tmp_path):
    hr = write_images(tmp_path / "hr", {"a.png": _photo(32, 40, 5), "b.png": _photo(32, 32, 6)})
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    result = CliRunner().invoke(app, ["eval", "--task", "denoise", "--data", str(hr), "--sigma", "25", "--classical",
                                      "--baseline-only", "--json", str(out_json), "--csv", str(out_csv)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for name in ("input", "nlm", "wavelet", "tv"):
        assert name in result.output
    report = json.loads(out_json.read_text())["reports"][0]
    summary = {s["model"]: s for s in report["summary"]}
    assert list(summary) == ["input", "nlm", "wavelet", "tv"] and report["sigma"] == 25
    assert all(s["baseline"] for s in summary.values())
    rows = list(csv.DictReader(out_csv.open()))
    assert sorted({r["model"] for r in rows}) == ["input", "nlm", "tv", "wavelet"] and len(rows) == 8


def test_cli_classical_with_another_task_is_a_usage_error(tmp_path):
    hr = write_images(tmp_path / "hr", {"a.png": _photo(16, 16, 7)})
    result = CliRunner().invoke(app, ["eval", "--task", "jpeg", "--data", str(hr), "--classical"])
    assert result.exit_code == 2
    assert "--classical" in result.output and "denoise" in result.output
