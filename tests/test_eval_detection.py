"""irtool eval --task detect: sample counts, confusion-matrix and accuracy arithmetic, reproducible inputs, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic import photo, write_catalog, write_images
from typer.testing import CliRunner

from irtool.cli import app
from irtool.degradations import detector_types
from irtool.degrade import DEGRADATION_KINDS, downscale, imresize, quantize_uint8
from irtool.detect import Detector
from irtool.errors import UsageError
from irtool.evaluate import evaluate_detector
from irtool.evaluate.detection import detection_input
from irtool.models.giv_detector import build_giv_detector
from irtool.weights.checkpoints import save_safetensors

DEGRADATION_TYPES = detector_types()

SEVERITIES = (0.0, 1.0)
PER_IMAGE = 1 + len(DEGRADATION_KINDS) * len(SEVERITIES)


def _constant_network(predicted: str):
    """A real GIV detector whose type head always answers ``predicted`` (zero weights, one-hot bias)."""
    torch.manual_seed(0)
    net = build_giv_detector("res_hair_lite")
    with torch.no_grad():
        net.head.type_logits.weight.zero_()
        net.head.type_logits.bias.zero_()
        net.head.type_logits.bias[DEGRADATION_TYPES.index(predicted)] = 4.0
    return net


def _photo(seed: int) -> np.ndarray:
    return photo(64, 80, seed)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return write_images(tmp_path_factory.mktemp("photos"), {f"p{i}.png": _photo(i) for i in range(2)})


def _row_sums_expected(images: int) -> list[int]:
    return [images if t == "clean" else images * len(SEVERITIES) for t in DEGRADATION_TYPES]


def test_counts_confusion_and_accuracy_of_a_detector_that_always_says_noise(photos):
    report = evaluate_detector(Detector(_constant_network("noise"), device="cpu", name="always-noise"), photos,
                               severities=SEVERITIES)
    assert report.images == 2 and len(report.samples) == 2 * PER_IMAGE
    matrix = report.confusion()
    assert matrix.shape == (len(DEGRADATION_TYPES), len(DEGRADATION_TYPES))
    assert matrix.sum(axis=1).tolist() == _row_sums_expected(2)
    # Every prediction is in the "noise" column.
    noise = DEGRADATION_TYPES.index("noise")
    assert matrix[:, noise].sum() == matrix.sum()
    assert report.type_accuracy == pytest.approx(len(SEVERITIES) * 2 / (len(DEGRADATION_KINDS) * len(SEVERITIES) * 2))
    assert report.clean_accuracy == 0.0
    accuracy = report.kind_accuracy()
    assert accuracy["noise"] == 1.0 and accuracy["clean"] == 0.0 and accuracy["haze"] == 0.0
    assert report.kind_severity_accuracy()["noise"] == {0.0: 1.0, 1.0: 1.0}
    data = json.loads(json.dumps(report.to_dict()))
    assert data["samples"] == 2 * PER_IMAGE and data["confusion"]["matrix"] == matrix.tolist()
    assert data["kind_severity_accuracy"]["rain"] == {"0": 0.0, "1": 0.0}
    markdown = report.to_markdown()
    assert "| noise | 0 | **4** |" in markdown and "type accuracy 14.3% (4/28" in markdown


def test_min_confidence_counts_unsure_detections_as_clean(photos):
    """The report shows what restore --auto --min-confidence would do: below the threshold an image is copied."""
    report = evaluate_detector(Detector(_constant_network("noise"), device="cpu"), photos, severities=SEVERITIES)
    confidence = report.samples[0].confidence
    assert confidence == pytest.approx(np.exp(4) / (np.exp(4) + 7))  # one logit 4, seven at 0: 0.886
    assert report.gated_accuracy(0.0) == (report.type_accuracy, report.clean_accuracy) == (pytest.approx(1 / 7), 0.0)
    assert report.gated_accuracy(0.8) == report.gated_accuracy(0.0)
    assert report.gated_accuracy(0.9) == (0.0, 1.0)  # everything unsure: every image copied
    data = json.loads(json.dumps(report.to_dict()))
    assert data["min_confidence"]["0.8"] == {"type_accuracy": pytest.approx(1 / 7), "clean_accuracy": 0.0}
    markdown = report.to_markdown()
    assert "| degraded: type named (else copied) | 14.3% | 14.3% | 14.3% | 14.3% | 14.3% |" in markdown
    assert "| clean: copied | 0.0% | 0.0% | 0.0% | 0.0% | 0.0% |" in markdown


def test_a_detector_that_always_says_clean_is_right_on_clean_images_only(photos):
    report = evaluate_detector(Detector(_constant_network("clean"), device="cpu"), photos, severities=SEVERITIES)
    assert report.clean_accuracy == 1.0 and report.type_accuracy == 0.0
    assert report.confusion()[:, 0].tolist() == _row_sums_expected(2)


def test_runs_are_reproducible_and_depend_on_the_seed(photos):
    torch.manual_seed(1)
    detector = Detector(build_giv_detector("res_hair_lite"), device="cpu")  # random weights: input-dependent
    first = evaluate_detector(detector, photos, severities=SEVERITIES)
    second = evaluate_detector(detector, photos, severities=SEVERITIES)
    assert [(s.image, s.true_type, s.severity, s.predicted_type, s.confidence) for s in first.samples] == \
        [(s.image, s.true_type, s.severity, s.predicted_type, s.confidence) for s in second.samples]
    clean = _photo(0).astype(np.float32) / 255

    def noisy(seed: int) -> np.ndarray:
        return detection_input(clean, "noise", 0.5, rng=np.random.default_rng(seed))[0]

    np.testing.assert_array_equal(noisy(3), noisy(3))
    assert not np.array_equal(noisy(3), noisy(4))


@pytest.mark.parametrize("kind", ["clean", *DEGRADATION_KINDS])
def test_inputs_are_8_bit_images_of_the_original_size(kind):
    clean = _photo(5).astype(np.float32) / 255
    for severity in SEVERITIES:
        pixels, _ = detection_input(clean, kind, severity, rng=np.random.default_rng(0))
        assert pixels.shape == clean.shape and pixels.dtype == np.float32
        np.testing.assert_allclose(pixels * 255, np.rint(pixels * 255), atol=1e-3)


def test_low_resolution_is_a_bicubic_downscale_enlarged_back_as_auto_sees_it():
    clean = _photo(6).astype(np.float32) / 255  # 64 x 80: a multiple of 2 and 4, not of 3
    for severity, scale in ((0.0, 2), (1.0, 4)):
        pixels, label = detection_input(clean, "low-resolution", severity, rng=np.random.default_rng(0))
        expected = imresize(downscale(clean, scale=scale), output_shape=(64, 80))
        np.testing.assert_array_equal(pixels, quantize_uint8(expected))
        assert label == severity
    # x3: the image is first cropped to a multiple of the scale.
    pixels, _ = detection_input(clean, "low-resolution", 0.5, rng=np.random.default_rng(0))
    assert pixels.shape == (63, 78, 3)


def test_bad_severities_are_usage_errors(photos):
    detector = Detector(_constant_network("clean"), device="cpu")
    with pytest.raises(UsageError, match="severities"):
        evaluate_detector(detector, photos, severities=(0.5, 1.5))
    with pytest.raises(UsageError, match="severities"):
        evaluate_detector(detector, photos, severities=())


@pytest.fixture
def detector_catalog(tmp_path, use_catalog) -> Path:
    save_safetensors(_constant_network("jpeg").state_dict(), tmp_path / "det.safetensors",
                     metadata={"kind": "detector"})
    det = {"preset": "res_hair_lite", "kind": "detector", "tasks": ["detect"], "file": tmp_path / "det.safetensors"}
    use_catalog(write_catalog(tmp_path / "weights.toml", {"det": det}, detector="det"))
    return tmp_path


def test_cli_prints_the_matrix_and_writes_json(detector_catalog, photos):
    out_json = detector_catalog / "detect.json"
    result = CliRunner().invoke(app, ["eval", "--task", "detect", "--data", str(photos), "--json", str(out_json),
                                      "--markdown"], catch_exceptions=False, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "true \\ predicted" in result.output and "low-light" in result.output
    assert "clean accuracy: 0.0% (0/2)" in result.output
    assert "type accuracy (degraded samples): 14.3% (10/70)" in result.output
    assert "| jpeg | 0 | 0 | **10** |" in result.output  # the Markdown table
    data = json.loads(out_json.read_text())
    detection = data["detection"]
    assert detection["detector"] == "det" and detection["samples"] == 2 * (1 + 5 * len(DEGRADATION_KINDS))
    assert [sum(row) for row in detection["confusion"]["matrix"]] == \
        [2 if t == "clean" else 10 for t in DEGRADATION_TYPES]
    assert detection["kind_accuracy"]["jpeg"] == 1.0 and "| clean |" in data["markdown"]


@pytest.mark.parametrize("extra, message", [(["--bench", "set5"], "--bench"), (["--sigma", "5"], "--sigma"),
                                            (["--classical"], "--classical")])
def test_cli_detect_rejects_options_that_do_not_apply(detector_catalog, photos, extra, message):
    result = CliRunner().invoke(app, ["eval", "--task", "detect", "--data", str(photos), *extra])
    assert result.exit_code == 2
    assert message in result.output


def test_cli_detect_reads_a_local_checkpoint_and_its_preset(detector_catalog, photos):
    # A detector straight out of `irtool train --task detect`: not in weights.toml, its preset in its metadata.
    trained = detector_catalog / "final.safetensors"
    save_safetensors(_constant_network("rain").state_dict(), trained,
                     metadata={"kind": "detector", "preset": "res_hair_lite"})
    result = CliRunner().invoke(app, ["eval", "--task", "detect", "--data", str(photos), "--weights", str(trained)],
                                catch_exceptions=False, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "detector final" in result.output
    assert "type accuracy (degraded samples): 14.3% (10/70)" in result.output  # all rain, as that network says

    bare = detector_catalog / "bare.safetensors"
    save_safetensors(_constant_network("rain").state_dict(), bare, metadata={"kind": "detector"})
    for extra, message in ((["--weights", str(bare)], "does not name its preset: give one (option --arch)"),
                           (["--weights", str(trained), "--model", "det"], "evaluates one detector"),
                           (["--arch", "res_hair_lite"], "--arch goes with --weights")):
        result = CliRunner().invoke(app, ["eval", "--task", "detect", "--data", str(photos), *extra])
        assert result.exit_code == 2 and message in result.output, result.output
    result = CliRunner().invoke(app, ["eval", "--task", "detect", "--data", str(photos), "--weights", str(bare),
                                      "--arch", "res_hair_lite"])
    assert result.exit_code == 0, result.output


def test_wide_synthesis_draws_other_generators_and_says_so(photos):
    from irtool.evaluate.detection import detection_input

    clean = _photo(0).astype(np.float32) / 255
    seeds = range(8)
    default = [detection_input(clean, "haze", 0.5, rng=np.random.default_rng(s))[0] for s in seeds]
    wide = [detection_input(clean, "haze", 0.5, rng=np.random.default_rng(s), synthesis="wide")[0] for s in seeds]
    assert any(not np.array_equal(a, b) for a, b in zip(default, wide))
    report = evaluate_detector(Detector(_constant_network("noise"), device="cpu"), photos, severities=(0.5,),
                               synthesis="wide")
    assert report.synthesis == "wide" and report.to_dict()["synthesis"] == "wide"
    assert "wide synthesis" in report.to_markdown()


def test_detection_input_can_name_one_generator():
    """``generator`` makes the degradation with that registered generator alone, as ``degrade`` does with it (the
    same draws from the same seed); without it the generator is drawn."""
    from irtool.degrade.pipeline import degrade

    clean = _photo(0).astype(np.float32) / 255
    veiled, _ = detection_input(clean, "haze", 0.5, rng=np.random.default_rng(3), synthesis="wide", generator="veil")
    direct, _ = degrade(clean, "haze", severity=0.5, rng=np.random.default_rng(3), synthesis="wide", generator="veil")
    assert np.array_equal(veiled, quantize_uint8(direct))
    drawn = [detection_input(clean, "haze", 0.5, rng=np.random.default_rng(s), synthesis="wide")[0] for s in range(6)]
    assert any(not np.array_equal(veiled, image) for image in drawn)
    enlarged, _ = detection_input(clean, "low-resolution", 0.5, rng=np.random.default_rng(3), synthesis="wide",
                                  generator="resampled")
    assert enlarged.shape[2] == 3 and enlarged.dtype == np.float32


def _labelled_folder(root: Path) -> Path:
    for kind, count in (("clean", 2), ("noise", 3), ("haze", 1)):
        (root / kind).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(_photo(10 + i)).save(root / kind / f"{kind}{i}.png")
    return root


def test_a_labelled_folder_of_images_made_elsewhere_is_scored_by_its_subfolders(tmp_path):
    from irtool.evaluate import evaluate_detector_on_files

    folder = _labelled_folder(tmp_path / "heldout")
    report = evaluate_detector_on_files(Detector(_constant_network("noise"), device="cpu"), folder)
    assert report.images == 6 and report.synthesis == "files" and report.severities == ()
    assert report.kind_accuracy()["noise"] == 1.0 and report.kind_accuracy()["haze"] == 0.0
    assert report.clean_accuracy == 0.0 and report.type_accuracy == pytest.approx(3 / 4)
    assert sorted(s.image for s in report.samples)[:2] == ["clean/clean0.png", "clean/clean1.png"]
    assert "labelled files" in report.to_markdown()
    (folder / "smudge").mkdir()
    with pytest.raises(UsageError, match="subfolders must be named by the detector's types"):
        evaluate_detector_on_files(Detector(_constant_network("noise"), device="cpu"), folder)


def test_cli_labelled_and_synthesis_options(tmp_path, photos):
    weights = tmp_path / "det.safetensors"
    net = _constant_network("haze")
    save_safetensors({k: v.contiguous() for k, v in net.state_dict().items()}, weights,
                     metadata={"preset": "res_hair_lite", "kind": "detector"})
    folder = _labelled_folder(tmp_path / "heldout")
    report = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["eval", "--task", "detect", "--data", str(folder), "--labelled",
                                      "--weights", str(weights), "--json", str(report), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())["detection"]
    assert data["synthesis"] == "files" and data["kind_accuracy"]["haze"] == 1.0 and data["samples"] == 6
    for extra, message in ((["--labelled", "--synthesis", "wide"], "drop --synthesis"),
                           (["--synthesis", "broad"], "--synthesis must be one of")):
        result = CliRunner().invoke(app, ["eval", "--task", "detect", "--data", str(photos), "--weights",
                                          str(weights), *extra])
        assert result.exit_code == 2 and message in result.output, result.output
    result = CliRunner().invoke(app, ["eval", "--task", "denoise", "--data", str(photos), "--labelled"])
    assert result.exit_code == 2 and "are for --task detect" in result.output
