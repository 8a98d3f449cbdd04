"""irtool eval: protocol maths on tiny arrays, noise reproducibility, and end-to-end runs on generated folders."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import write_images as _write_folder
from torch import nn
from typer.testing import CliRunner

from irtool.cli import app
from irtool.degrade import downscale, imresize, jpeg_compress
from irtool.errors import UsageError, WeightsNotFoundError
from irtool.evaluate import (
    PROTOCOLS,
    EvalSample,
    benchmark_dataset,
    evaluate,
    folder_dataset,
    get_protocol,
    load_benchmarks,
    make_noisy,
    prepare_image,
    score,
)
from irtool.metrics import psnr, ssim

# ------------------------------------------------------------------------------------------------ helpers


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth-ish RGB test image (gradients + texture), uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / w, yy / h, (xx + yy) / (h + w)], axis=2) * 200 + 20
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    import irtool.models as models
    from irtool.weights.checkpoints import save_safetensors

    torch.manual_seed(0)
    net = models.build("restormer_lite")
    path = tmp_path_factory.mktemp("w") / "tiny.safetensors"
    save_safetensors(net.state_dict(), path, metadata={"preset": "restormer_lite"})
    return path


# ------------------------------------------------------------------------------------------ protocol maths


def test_every_task_has_a_default_protocol_that_applies_to_it():
    from irtool.evaluate import TASKS, default_protocol

    for task in TASKS:
        assert task in default_protocol(task).tasks
    assert get_protocol(None, task="sr4").name == "sr-y-matlab"
    assert get_protocol(None, task="denoise").name == "dn-rgb-swinir"
    with pytest.raises(UsageError):
        get_protocol("dn-airnet", task="sr2")
    with pytest.raises(UsageError):
        get_protocol("no-such-protocol", task="denoise")


def test_sr_protocol_ignores_the_border_of_width_scale():
    gt = _photo(24, 24, 0)
    out = gt.astype(np.float64) / 255.0
    out[:3, :, :] = 0.0  # damage only inside the crop border (x3)
    out[:, -3:, :] = 1.0
    value, sim = score(out, gt, PROTOCOLS["sr-y-matlab"], task="sr3")
    assert value == math.inf and sim == pytest.approx(1.0)
    # With x2 the damaged third row/column is scored.
    assert score(out, gt, PROTOCOLS["sr-y-matlab"], task="sr2")[0] < 40


def test_sr_protocol_scores_float_y_of_the_rounded_output():
    gt = np.full((20, 20, 3), 100, np.uint8)
    out = (gt.astype(np.float64) + 1.0) / 255.0  # +1 level on every channel
    value, _ = score(out, gt, PROTOCOLS["sr-y-matlab"], task="sr2")
    # MATLAB Y: dY = (65.481 + 128.553 + 24.966) / 255 levels, kept as a float (BasicSR, not rounded).
    dy = (65.481 + 128.553 + 24.966) / 255.0
    assert value == pytest.approx(10 * math.log10(255.0**2 / dy**2), abs=1e-9)
    # The uint8-Y protocol (MATLAB rgb2ycbcr on uint8) rounds Y: 100 -> Y 102.0 and 101 -> 102.86 -> 103.
    value_u8, _ = score(out, gt, PROTOCOLS["derain-y-matlab"], task="derain")
    assert value_u8 == pytest.approx(10 * math.log10(255.0**2 / 1.0), abs=1e-9)


def test_rounding_vs_float_protocols_differ_as_documented():
    gt = _photo(32, 32, 1)
    out = (gt.astype(np.float64) + 0.4) / 255.0  # less than half a level off
    # BasicSR/SwinIR round the output to 8 bit: identical to the ground truth.
    assert score(out, gt, PROTOCOLS["paired-rgb"], task="derain")[0] == math.inf
    # PromptIR/HAIR score the clipped float: 0.4/255 RMS error.
    value, sim = score(out, gt, PROTOCOLS["aio-promptir"], task="derain")
    assert value == pytest.approx(10 * math.log10(1.0 / (0.4 / 255.0) ** 2), abs=1e-3)
    assert sim < 1.0


def test_skimage_family_uses_a_7x7_uniform_window():
    from skimage.metrics import structural_similarity

    gt = _photo(32, 32, 2)
    out = np.clip(gt.astype(np.float64) / 255.0 + 0.05 * np.sin(np.arange(32))[None, :, None], 0, 1)
    _, sim = score(out, gt, PROTOCOLS["aio-promptir"], task="dehaze")
    expected = structural_similarity(gt.astype(np.float32) / 255, out.astype(np.float32), data_range=1,
                                     channel_axis=2, win_size=7, gaussian_weights=False)
    assert sim == pytest.approx(expected, abs=1e-6)
    _, sim_wang = score(out, gt, PROTOCOLS["paired-rgb"], task="dehaze")
    assert abs(sim - sim_wang) > 1e-4  # the two SSIM families are not comparable


def test_gt_mean_protocol_rescales_the_output_brightness():
    gt = _photo(32, 32, 3)
    dark = gt.astype(np.float64) / 255.0 * 0.5
    plain, _ = score(dark, gt, PROTOCOLS["paired-rgb"], task="lowlight")
    aligned, _ = score(dark, gt, PROTOCOLS["lol-gtmean"], task="lowlight")
    assert plain < 15 and aligned > 40


# ------------------------------------------------------------------------------------------------- noise


def test_swinir_noise_is_float_unclipped_seeded_per_image_in_bgr_layout():
    gt = np.zeros((16, 16, 3), np.uint8)
    gt[:, 8:] = 255
    proto = PROTOCOLS["dn-rgb-swinir"]
    first = make_noisy(gt, proto, sigma=25)
    again = make_noisy(gt, proto, sigma=25)
    assert np.array_equal(first, again)  # seed reset per image: identical across runs and images
    expected = gt / 255.0 + np.random.RandomState(0).normal(0, 25 / 255.0, gt.shape)[:, :, ::-1]
    assert np.allclose(first, expected, atol=1e-6)
    assert first.min() < 0 and first.max() > 1  # not clipped
    assert len(np.unique(np.round(first * 255, 3))) > 300  # not quantized
    rgb_layout = make_noisy(gt, PROTOCOLS["dn-rgb-restormer"], sigma=25)
    assert not np.array_equal(first, rgb_layout)
    assert np.allclose(rgb_layout[:, :, 0], first[:, :, 2])


def test_airnet_noise_is_clipped_truncated_uint8_from_one_stream():
    gt = _photo(16, 16, 4)
    proto = PROTOCOLS["dn-airnet"]
    stream = np.random.RandomState(0)
    first = make_noisy(gt, proto, sigma=15, stream=stream)
    second = make_noisy(gt, proto, sigma=15, stream=stream)
    reference = np.random.RandomState(0)
    draw1 = np.clip(gt + reference.randn(*gt.shape) * 15, 0, 255)
    assert np.array_equal(first * 255.0, np.floor(draw1).astype(np.float32))  # truncation, not rounding
    assert not np.array_equal(first, second)  # the stream is not reset between images
    assert np.array_equal(first, make_noisy(gt, proto, sigma=15, stream=np.random.RandomState(0)))
    assert first.min() >= 0 and first.max() <= 1
    assert np.array_equal(np.round(first * 255), first * 255)  # 8-bit values
    # The two documented conventions give different inputs from the same seed.
    assert not np.allclose(first, make_noisy(gt, PROTOCOLS["dn-rgb-swinir"], sigma=15), atol=1 / 255)


def test_airnet_protocol_centre_crops_to_a_multiple_of_16(tmp_path):
    _write_folder(tmp_path / "hr", {"a.png": _photo(37, 50, 5)})
    sample = folder_dataset(tmp_path / "hr").samples[0]
    prepared = prepare_image(sample, PROTOCOLS["dn-airnet"], task="denoise", gray=False, sigma=25, quality=None)
    assert prepared.gt.shape == (32, 48, 3)
    full = _photo(37, 50, 5)
    assert np.array_equal(prepared.gt, full[2:34, 1:49])  # HAIR crop_img: offset = remainder // 2


# ------------------------------------------------------------------------------------- end to end: CLI


def _invoke(args: list[str]):
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_cli_denoise_on_hr_folder_with_model_baseline_and_reports(tmp_path, tiny_weights):
    images = {"a.png": _photo(32, 40, 10), "b.png": _photo(24, 32, 11)}
    hr = _write_folder(tmp_path / "hr", images)
    out_csv, out_json = tmp_path / "r.csv", tmp_path / "r.json"
    result = _invoke(["eval", "--task", "denoise", "--data", str(hr), "--weights", str(tiny_weights),
                      "--sigma", "15", "--tile", "16", "--csv", str(out_csv), "--json", str(out_json),
                      "--save-images", str(tmp_path / "saved"), "--quiet"])
    assert result.output == ""  # --quiet
    report = json.loads(out_json.read_text())["reports"][0]
    assert report["protocol"] == "dn-rgb-swinir" and report["sigma"] == 15
    assert report["protocol_settings"]["noise"] == "float-seed-per-image"
    summary = {s["model"]: s for s in report["summary"]}
    assert set(summary) == {"input", "tiny.safetensors"}
    assert summary["input"]["baseline"] and summary["input"]["parameters"] == 0
    assert summary["tiny.safetensors"]["parameters"] > 0
    # The baseline equals the metric of the degraded input, computed here independently.
    proto = PROTOCOLS["dn-rgb-swinir"]
    expected = [psnr(np.rint(np.clip(make_noisy(img, proto, sigma=15), 0, 1) * 255).astype(np.uint8), img)
                for img in images.values()]
    assert summary["input"]["psnr"] == pytest.approx(np.mean(expected), abs=1e-9)
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 4 and all(r["protocol"] == "dn-rgb-swinir (sigma=15)" for r in rows)
    assert (tmp_path / "saved" / "hr" / "tiny.safetensors" / "a.png").is_file()
    # Same command again: identical numbers (fixed seed, deterministic model).
    out_json2 = tmp_path / "r2.json"
    _invoke(["eval", "--task", "denoise", "--data", str(hr), "--weights", str(tiny_weights), "--sigma", "15",
             "--tile", "16", "--json", str(out_json2), "--quiet"])
    again = json.loads(out_json2.read_text())["reports"][0]
    assert [r["psnr"] for r in again["images"]] == [r["psnr"] for r in report["images"]]


def test_cli_table_names_the_protocol_and_the_airnet_numbers_differ(tmp_path):
    hr = _write_folder(tmp_path / "hr", {"a.png": _photo(32, 32, 12)})
    swinir = _invoke(["eval", "--task", "denoise", "--data", str(hr), "--baseline-only"])
    assert "dn-rgb-swinir" in swinir.output and "input" in swinir.output
    airnet_json = tmp_path / "a.json"
    airnet = _invoke(["eval", "--task", "denoise", "--data", str(hr), "--protocol", "dn-airnet", "--baseline-only",
                      "--json", str(airnet_json)])
    assert "dn-airnet (sigma=25)" in airnet.output
    report = json.loads(airnet_json.read_text())["reports"][0]
    assert report["protocol_settings"]["ssim"] == "skimage-uniform7"


def test_cli_sr2_on_hr_folder_uses_matlab_bicubic_baseline(tmp_path):
    gt = _photo(33, 42, 13)  # not a multiple of 2: modcrop to 32x42
    hr = _write_folder(tmp_path / "hr", {"x.png": gt})
    out_json = tmp_path / "sr.json"
    result = _invoke(["eval", "--task", "sr2", "--data", str(hr), "--json", str(out_json), "--baseline-only"])
    assert "sr-y-matlab" in result.output and "bicubic" in result.output
    report = json.loads(out_json.read_text())["reports"][0]
    assert report["inputs"] == "synthesised"
    cropped = gt[:32, :42]
    lr = downscale(cropped.astype(np.float32) / 255, scale=2)
    up = np.rint(np.clip(imresize(lr, 2.0), 0, 1) * 255).astype(np.uint8)
    bicubic = report["summary"][0]
    assert bicubic["model"] == "bicubic"
    assert bicubic["psnr"] == pytest.approx(psnr(up, cropped, crop_border=2, y_channel=True), abs=1e-9)
    assert bicubic["ssim"] == pytest.approx(ssim(up, cropped, crop_border=2, y_channel=True), abs=1e-9)


def test_cli_paired_folder_with_rain_naming(tmp_path):
    clean = {f"norain-{i}.png": _photo(32, 32, 20 + i) for i in range(2)}
    rainy = {f"rain-{i}.png": np.clip(img.astype(int) + 30, 0, 255).astype(np.uint8)
             for i, img in enumerate(clean.values())}
    gt_dir, lq_dir = _write_folder(tmp_path / "gt", clean), _write_folder(tmp_path / "lq", rainy)
    out_json = tmp_path / "p.json"
    _invoke(["eval", "--task", "derain", "--data", str(gt_dir), "--data-lq", str(lq_dir), "--json", str(out_json),
             "--baseline-only"])
    report = json.loads(out_json.read_text())["reports"][0]
    assert report["protocol"] == "paired-rgb" and report["inputs"] == "files"
    expected = np.mean([psnr(r, c) for r, c in zip(rainy.values(), clean.values())])
    assert report["summary"][0]["psnr"] == pytest.approx(expected, abs=1e-9)


def test_cli_list_and_missing_benchmark_messages(tmp_path, monkeypatch):
    listing = _invoke(["eval", "--list"])
    for name in ("set5", "urban100", "cbsd68", "classic5", "lol-v1", "sr-y-matlab", "dn-airnet", "jpeg-y-pillow"):
        assert name in listing.output
    monkeypatch.setenv("IRTOOL_DATA", str(tmp_path / "nothing-here"))
    missing = CliRunner().invoke(app, ["eval", "--task", "sr4", "--bench", "set5"], catch_exceptions=False)
    assert missing.exit_code == WeightsNotFoundError.exit_code
    assert "irtool download --bench set5" in missing.output
    with pytest.raises(WeightsNotFoundError, match="no hub copy"):
        benchmark_dataset("classic5", "jpeg")


# ------------------------------------------------------------------------------------- Python API


class _TinyUpscaler(nn.Module):
    """A real (random-weight) x2 network: conv + pixel shuffle plus the bicubic-free nearest skip."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        return (skip + 0.01 * self.shuffle(self.body(x))).clamp(0, 1)


def _loaded_upscaler(tile: int | None):
    from irtool.engine import InferenceEngine
    from irtool.models.registry import Preset
    from irtool.zoo import LoadedModel

    torch.manual_seed(0)
    preset = Preset(name="tiny_x2", network=_TinyUpscaler, family="test", kwargs={}, description="test",
                    tasks=("sr2",), recipe="lite", size_multiple=1, min_input_side=1, supports_fp16=True,
                    supports_bf16=True, scale=2)
    module = _TinyUpscaler()
    return LoadedModel("tiny_x2", preset, module, InferenceEngine(module, preset, device="cpu", tile=tile))


def test_api_sr_with_archive_lr_and_a_x2_model(tmp_path):
    hr = {"p.png": _photo(32, 36, 30), "q.png": _photo(28, 28, 31)}
    # An archive-like layout: LR files given (here made with nearest decimation, so we can tell they were used).
    lr = {k: v[::2, ::2].copy() for k, v in hr.items()}
    _write_folder(tmp_path / "Tiny_HR", hr)
    _write_folder(tmp_path / "Tiny_LR_x2", lr)
    registry = tmp_path / "bench.toml"
    registry.write_text('[benchmarks.tiny]\ntitle = "Tiny"\ntasks = ["sr2"]\nhub = false\ngt = "Tiny_HR"\n'
                        'lr = { sr2 = "Tiny_LR_x2" }\n', encoding="utf-8")
    import os

    os.environ["IRTOOL_BENCHMARKS_TOML"] = str(registry)
    try:
        dataset = benchmark_dataset("tiny", "sr2", root=tmp_path)
    finally:
        del os.environ["IRTOOL_BENCHMARKS_TOML"]
    assert dataset.lq_source == "files" and [s.name for s in dataset.samples] == ["p", "q"]
    whole = evaluate([None, _loaded_upscaler(None)], dataset, None, task="sr2")
    tiled = evaluate([None, _loaded_upscaler(16)], dataset, "sr-y-matlab", task="sr2")
    assert whole.protocol.name == "sr-y-matlab"
    assert [s.model for s in whole.summaries] == ["bicubic", "tiny_x2"]
    assert whole.summary("tiny_x2").parameters == sum(p.numel() for p in _TinyUpscaler().parameters())
    # Tiling goes through the engine's blending and agrees with whole-image inference to within rounding.
    assert tiled.summary("tiny_x2").psnr == pytest.approx(whole.summary("tiny_x2").psnr, abs=0.05)
    # The baseline used the archive LR (nearest decimation), not a fresh MATLAB bicubic LR.
    up = np.rint(np.clip(imresize(lr["p.png"].astype(np.float32) / 255, 2.0), 0, 1) * 255).astype(np.uint8)
    first = next(r for r in whole.images if r.model == "bicubic" and r.image == "p")
    assert first.psnr == pytest.approx(psnr(up, hr["p.png"], crop_border=2, y_channel=True), abs=1e-9)
    with pytest.raises(UsageError, match="x2"):
        evaluate([_loaded_upscaler(None)], dataset, None, task="sr4")


def test_api_jpeg_gray_protocol_scores_the_matlab_y_plane(tmp_path):
    img = _photo(32, 32, 40)
    _write_folder(tmp_path / "hr", {"c.png": img})
    report = evaluate([None], folder_dataset(tmp_path / "hr"), "jpeg-y-pillow", task="jpeg", quality=20)
    assert report.quality == 20 and report.protocol_label == "jpeg-y-pillow (q=20)"
    from irtool.metrics import rgb_to_y

    y = rgb_to_y(img)[:, :, None]
    coded = jpeg_compress(y.astype(np.float32) / 255, quality=20)
    assert report.summaries[0].psnr == pytest.approx(psnr(np.rint(coded * 255).astype(np.uint8), y), abs=1e-9)


def test_registry_covers_the_issue_and_marks_hub_copies_honestly():
    registry = load_benchmarks()
    for name in ("set5", "set14", "bsd100", "urban100", "manga109", "cbsd68", "kodak24", "mcmaster", "classic5",
                 "live1", "rain100l", "sots-outdoor", "gopro", "lol-v1"):
        assert name in registry
    assert "denoise" in registry["urban100"].tasks
    for bench in registry.values():
        if bench.hub:
            assert bench.revision and len(bench.revision) == 40 and bench.files
            assert all(f.sha256 is None or len(f.sha256) == 64 for f in bench.files)
        else:
            assert bench.note  # says where the official data is


def test_paired_protocol_without_inputs_asks_for_data_lq(tmp_path):
    _write_folder(tmp_path / "hr", {"a.png": _photo(16, 16, 50)})
    with pytest.raises(UsageError, match="--data-lq"):
        evaluate([None], folder_dataset(tmp_path / "hr"), None, task="dehaze")
    sample = EvalSample(name="a", gt=tmp_path / "hr" / "a.png")
    assert prepare_image(sample, PROTOCOLS["dn-rgb-swinir"], task="denoise", gray=False, sigma=5,
                         quality=None).gt.shape == (16, 16, 3)


# -------------------------------------------------------------------- every protocol field drives behaviour
def test_the_ssim_field_alone_picks_the_ssim_family():
    import dataclasses

    from skimage.metrics import structural_similarity

    gt = _photo(32, 32, 3)
    out = np.clip(gt.astype(np.float64) / 255.0 + 0.05 * np.sin(np.arange(32))[None, :, None], 0, 1)
    wang = PROTOCOLS["paired-rgb"]
    uniform = dataclasses.replace(wang, name="paired-rgb-skimage", ssim="skimage-uniform7")
    (p_wang, s_wang), (p_uniform, s_uniform) = (score(out, gt, p, task="derain") for p in (wang, uniform))
    assert p_wang == p_uniform  # the same scored image and PSNR
    rounded = np.rint(np.clip(out, 0, 1) * 255.0)
    assert s_uniform == pytest.approx(structural_similarity(gt.astype(np.float64), rounded, data_range=255.0,
                                                            channel_axis=2), abs=1e-9)
    assert s_wang == pytest.approx(ssim(rounded.astype(np.uint8), gt), abs=1e-9) and abs(s_wang - s_uniform) > 1e-4
    # And on the clipped-float line, the Wang SSIM can be asked for too.
    float_wang = dataclasses.replace(PROTOCOLS["aio-promptir"], name="aio-wang", ssim="wang-gaussian11")
    _, sim = score(out, gt, float_wang, task="derain")
    assert sim == pytest.approx(ssim(np.clip(out, 0, 1).astype(np.float32).astype(np.float64) * 255.0,
                                     gt.astype(np.float64)), abs=1e-9)


def test_the_lr_source_field_decides_whether_an_archives_lr_is_used():
    import dataclasses

    hr = _photo(32, 32, 5)
    lr_file = hr[::2, ::2].copy()  # nearest decimation: not what MATLAB bicubic makes
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        _write_folder(Path(folder) / "hr", {"p.png": hr})
        _write_folder(Path(folder) / "lr", {"p.png": lr_file})
        sample = EvalSample(name="p", gt=Path(folder) / "hr" / "p.png", lq=Path(folder) / "lr" / "p.png")
        archive = PROTOCOLS["sr-y-matlab"]
        synthetic = dataclasses.replace(archive, name="sr-y-bicubic", lr_source="matlab-bicubic")
        given = prepare_image(sample, archive, task="sr2", gray=False, sigma=None, quality=None)
        made = prepare_image(sample, synthetic, task="sr2", gray=False, sigma=None, quality=None)
    assert np.array_equal(np.rint(given.model_input * 255).astype(np.uint8), lr_file)
    assert np.array_equal(made.model_input, downscale(hr.astype(np.float32) / 255, scale=2))
    with pytest.raises(ValueError, match="needs an lr_source"):
        dataclasses.replace(archive, name="bad", lr_source="none")


def test_the_jpeg_encoder_field_picks_the_chroma_subsampling(tmp_path):
    import dataclasses

    img = _photo(32, 32, 6)
    _write_folder(tmp_path / "hr", {"c.png": img})
    sample = folder_dataset(tmp_path / "hr").samples[0]
    p420 = PROTOCOLS["jpeg-rgb-pillow"]
    p444 = dataclasses.replace(p420, name="jpeg-rgb-444", jpeg_encoder="pillow-444")
    inputs = [prepare_image(sample, p, task="jpeg", gray=False, sigma=None, quality=30).model_input
              for p in (p420, p444)]
    as_float = img.astype(np.float32) / 255
    assert np.array_equal(inputs[0], jpeg_compress(as_float, quality=30, subsampling=2))
    assert np.array_equal(inputs[1], jpeg_compress(as_float, quality=30, subsampling=0))
    assert not np.array_equal(inputs[0], inputs[1])
    with pytest.raises(ValueError, match="unknown jpeg_encoder"):
        dataclasses.replace(p420, name="bad", jpeg_encoder="opencv")


def test_cli_precision_is_applied_and_reported(tmp_path, tiny_weights):
    # `--precision bf16` runs the network in bf16 autocast (the README's CPU speed option): the report says which
    # precision each model ran in, and the scores move a little, not a lot.
    hr = _write_folder(tmp_path / "hr", {"a.png": _photo(32, 40, 14)})
    reports = {}
    for precision in ("fp32", "bf16"):
        out_json = tmp_path / f"{precision}.json"
        _invoke(["eval", "--task", "denoise", "--data", str(hr), "--weights", str(tiny_weights), "--device", "cpu",
                 "--precision", precision, "--json", str(out_json), "--quiet"])
        summary = {s["model"]: s for s in json.loads(out_json.read_text())["reports"][0]["summary"]}
        assert summary["input"]["precision"] == "-"
        assert summary["tiny.safetensors"]["precision"] == precision
        reports[precision] = summary["tiny.safetensors"]["psnr"]
    assert reports["bf16"] != reports["fp32"]
    assert reports["bf16"] == pytest.approx(reports["fp32"], abs=0.5)


def test_cli_precision_is_refused_where_it_does_not_apply(tmp_path):
    hr = _write_folder(tmp_path / "hr", {"a.png": _photo(32, 32, 15)})
    result = CliRunner().invoke(app, ["eval", "--task", "detect", "--data", str(hr), "--precision", "bf16"])
    assert result.exit_code != 0 and "--precision" in result.output
