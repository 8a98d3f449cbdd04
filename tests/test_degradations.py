"""The degradation registry is the one place tasks, labels, mixtures and generators come from."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from irtool import degradations as reg
from irtool.degrade import DEGRADATION_KINDS, TASK_DEGRADATIONS, TASK_SCALES, degrade, degrade_for_task
from irtool.errors import InvalidArgumentError, UsageError


def test_the_registry_imports_neither_numpy_nor_torch():
    code = "import sys, irtool.degradations; assert not {'numpy', 'torch'} & set(sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_every_list_of_tasks_and_kinds_is_the_registrys():
    from irtool.data.tasks import KNOWN_TASKS
    from irtool.evaluate.protocols import DEFAULT_PROTOCOL
    from irtool.evaluate.protocols import TASKS as EVAL_TASKS
    from irtool.train.config import DEFAULT_ALL_IN_ONE, DEFAULT_DETECT_MIX, TRAIN_TASKS

    assert DEGRADATION_KINDS == tuple(reg.DEGRADATIONS)
    assert set(TASK_DEGRADATIONS) == set(reg.SINGLE_TASKS) == set(EVAL_TASKS)
    assert all(reg.get_task(t).degradation == k for t, k in TASK_DEGRADATIONS.items())
    assert TASK_SCALES == {"sr2": 2, "sr3": 3, "sr4": 4}
    assert reg.RESTORE_TASKS == (*reg.SINGLE_TASKS, "all") and TRAIN_TASKS == (*reg.RESTORE_TASKS, "detect")
    assert KNOWN_TASKS == ("clean", *reg.SINGLE_TASKS)
    assert reg.detector_types() == ("clean", *reg.DEGRADATIONS)
    # Every task can be evaluated and every mixture entry is a known task.
    assert set(DEFAULT_PROTOCOL) == set(reg.SINGLE_TASKS)
    assert set(DEFAULT_ALL_IN_ONE) <= set(reg.SINGLE_TASKS)
    assert set(DEFAULT_DETECT_MIX) == set(reg.MIXTURE_TASKS)  # the detector sees every degradation and clean


@pytest.mark.parametrize("task", ["sr2", "sr3", "sr4", "denoise", "all", "clean", "detect"])
def test_one_sr_scale_of_a_task(task):
    from irtool.data.tasks import task_scale as data_task_scale

    expected = int(task[2:]) if task.startswith("sr") else 1
    assert reg.task_scale(task) == data_task_scale(task) == expected


def test_unknown_names_are_one_usage_error_with_a_suggestion():
    with pytest.raises(InvalidArgumentError, match=r"unknown task 'denoize'; did you mean denoise"):
        reg.get_task("denoize")
    with pytest.raises(InvalidArgumentError, match=r"unknown degradation 'hazy'.*did you mean haze"):
        reg.get_degradation("hazy")
    with pytest.raises(InvalidArgumentError, match="unknown degradation"):
        degrade(np.zeros((8, 8, 3), np.float32), "fog", rng=np.random.default_rng(0))
    with pytest.raises(InvalidArgumentError, match="has no generator 'box'"):
        degrade(np.zeros((8, 8, 3), np.float32), "blur", generator="box", rng=np.random.default_rng(0))


def test_ramps_map_severity_to_parameters_and_back():
    ramp = reg.Ramp(name="quality", at_0=60.0, at_1=10.0, integer=True)
    assert (ramp.at(0.0), ramp.at(0.5), ramp.at(1.0)) == (60, 35, 10)
    assert ramp.severity_of(35) == 0.5 and ramp.severity_of(80) == 0.0 and ramp.severity_of(0) == 1.0


def test_a_generator_is_chosen_by_weight_from_one_draw():
    blur = reg.get_degradation("blur")
    assert [g.name for g in blur.pool("default")] == ["gaussian", "motion"]
    assert blur.choose_generator(0.0).name == "gaussian" and blur.choose_generator(0.49).name == "gaussian"
    assert blur.choose_generator(0.5).name == "motion" and blur.choose_generator(0.999).name == "motion"
    # Over seeds both are drawn, and the record names the one that made the image.
    img = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    used = {degrade(img, "blur", severity=0.5, rng=np.random.default_rng(s))[1].generator for s in range(12)}
    assert used == {"gaussian", "motion"}


def test_a_named_generator_is_used_and_its_draws_are_recorded():
    img = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    out, info = degrade(img, "blur", severity=1.0, generator="motion", rng=np.random.default_rng(0))
    assert info.generator == "motion" and info.params["length"] == 25.0 and 0 <= info.params["angle_deg"] <= 180
    assert info.to_dict()["generator"] == "motion"
    # The same call with the same seed makes the same image (the generator draws nothing else first).
    again, _ = degrade(img, "blur", severity=1.0, generator="motion", rng=np.random.default_rng(0))
    assert np.array_equal(out, again) and not np.array_equal(out, img)


def test_a_fixed_sr_scale_sets_the_recorded_severity():
    img = np.random.default_rng(0).random((24, 24, 3)).astype(np.float32)
    small, info = degrade(img, "low-resolution", scale=3, rng=np.random.default_rng(0))
    assert small.shape == (8, 8, 3) and info.params["scale"] == 3 and info.severity == 0.5
    # A severity between scales records the severity of the scale it rounds to.
    _, info = degrade(img[:12, :12], "low-resolution", severity=0.3, rng=np.random.default_rng(0))
    assert info.params["scale"] == 3 and info.severity == 0.5
    small, info = degrade_for_task(img, "sr4", rng=np.random.default_rng(0))
    assert small.shape == (6, 6, 3) and info.severity == 1.0
    with pytest.raises(UsageError, match="only applies to 'low-resolution'"):
        degrade(img, "noise", scale=2, rng=np.random.default_rng(0))


def test_registry_entries_must_be_consistent():
    gen = reg.Generator(name="g", function="irtool.degrade.generators:gaussian_noise")
    with pytest.raises(ValueError, match="no default generator"):
        reg.Degradation(name="x", label="x", tasks=(), generators=())
    with pytest.raises(ValueError, match="names 'noise'"):
        reg.Degradation(name="x", label="x", tasks=(reg.Task(name="t", degradation="noise"),), generators=(gen,))


# --------------------------------------------------------------------------------- detector labels by name
def _detector_file(tmp_path, types: list[str] | None, favoured: int):
    from irtool.models.giv_detector import build_giv_detector
    from irtool.weights.checkpoints import save_safetensors

    torch.manual_seed(0)
    model = build_giv_detector("res_hair_lite", num_types=len(types) if types else 8)
    with torch.no_grad():
        model.head.type_logits.bias[favoured] = 50.0
    meta = {"preset": "res_hair_lite", "kind": "detector"}
    if types is not None:
        meta["types"] = json.dumps(types)
    path = tmp_path / "det.safetensors"
    save_safetensors({k: v.contiguous() for k, v in model.state_dict().items()}, path, metadata=meta)
    return path


def test_a_detector_names_its_outputs_by_the_types_its_weights_list(tmp_path):
    from irtool.detect import load_detector_file
    from irtool.zoo import EngineSettings, ModelZoo

    zoo = ModelZoo(EngineSettings(device="cpu"))
    image = torch.rand(3, 64, 64)
    # A file trained with another order: output 0 is "haze" because its metadata says so, whatever the registry.
    order = ["haze", "clean", "noise"]
    detector = load_detector_file(zoo, _detector_file(tmp_path, order, favoured=0))
    assert detector.types == tuple(order) and detector.detect(image).type == "haze"
    # A file without the field predates it: the first shipped detector's labels.
    detector = load_detector_file(zoo, _detector_file(tmp_path, None, favoured=4))
    assert detector.types == reg.LEGACY_DETECTOR_TYPES and detector.detect(image).type == "low-resolution"


@pytest.mark.parametrize(("types", "message"), [
    (["clean", "noise", "smudge"], "does not know"),
    (["clean", "noise", "noise"], "twice"),
    (["noise", "jpeg", "blur"], "no 'clean' type"),
])
def test_a_detector_with_labels_irtool_cannot_read_is_refused(tmp_path, types, message):
    from irtool.detect import load_detector_file
    from irtool.zoo import EngineSettings, ModelZoo

    with pytest.raises(UsageError, match=message):
        load_detector_file(ModelZoo(EngineSettings(device="cpu")), _detector_file(tmp_path, types, favoured=0))


def test_a_label_list_that_does_not_match_the_head_is_refused(tmp_path):
    from irtool.detect import read_detector

    path = _detector_file(tmp_path, ["clean", "noise", "jpeg"], favoured=0)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    from irtool.weights.checkpoints import save_safetensors

    save_safetensors(tensors, path, metadata={"preset": "res_hair_lite", "types": json.dumps(["clean", "noise"])})
    with pytest.raises(UsageError, match="predicts 3 types but lists 2"):
        read_detector(path)


# ------------------------------------------------------------------------------- every registered generator
_GENERATORS = [(d.name, g.name) for d in reg.DEGRADATIONS.values() for g in d.generators]
#: Generators that return the input's size (an enlargement as seen), asked for with same_size=True.
_ENLARGING = {g.name for d in reg.DEGRADATIONS.values() for g in d.generators if g.enlarges}


def _textured(shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = 0.5 + 0.3 * np.sin(xx / 3.0) * np.cos(yy / 5.0)
    img = base[:, :, None] * np.array([1.0, 0.8, 0.6]) + 0.05 * rng.random(shape[:2] + (3,))
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.mark.parametrize(("kind", "name"), _GENERATORS, ids=[f"{k}:{g}" for k, g in _GENERATORS])
def test_every_generator_is_deterministic_safe_and_stronger_with_severity(kind, name):
    img = _textured((48, 48))
    before = img.copy()
    outs = {}
    same_size = name in _ENLARGING
    for severity in (0.0, 1.0):
        a, info = degrade(img, kind, severity=severity, generator=name, rng=np.random.default_rng(7),
                          same_size=same_size)
        b, _ = degrade(img, kind, severity=severity, generator=name, rng=np.random.default_rng(7),
                       same_size=same_size)
        assert np.array_equal(a, b), "not a pure function of the seed"
        assert a.dtype == np.float32 and a.min() >= 0.0 and a.max() <= 1.0
        assert info.generator == name and info.kind == kind
        outs[severity] = a
    assert np.array_equal(img, before), "the input was modified"
    if kind == "low-resolution" and not same_size:
        assert outs[0.0].shape == (24, 24, 3) and outs[1.0].shape == (12, 12, 3)
        return
    # Severity 0 is the lightest visible damage (somewhere a change of over 4 levels); severity 1 does more.
    assert float(np.abs(outs[0.0] - img).max()) > 4 / 255, "severity 0 leaves no visible change"
    damage = {s: float(np.abs(o - img).mean()) for s, o in outs.items()}
    assert damage[1.0] > damage[0.0], damage


@pytest.mark.parametrize(("kind", "name"), _GENERATORS, ids=[f"{k}:{g}" for k, g in _GENERATORS])
def test_every_generator_degrades_gray_images_too(kind, name):
    gray = _textured((48, 48))[:, :, 1]
    for image in (gray, gray[:, :, None]):
        out, _ = degrade(image, kind, severity=0.5, generator=name, rng=np.random.default_rng(3),
                         same_size=name in _ENLARGING)
        scale = out.shape[0] / image.shape[0]
        assert out.shape == (round(48 * scale), round(48 * scale), *image.shape[2:])
        if kind != "low-resolution" or name in _ENLARGING:
            assert not np.array_equal(out, image)


def test_the_wide_pool_draws_every_generator_and_the_default_pool_only_the_original_ones():
    img = _textured((32, 32))
    for kind, entry in reg.DEGRADATIONS.items():
        if kind == "low-resolution":
            continue
        wide = {degrade(img, kind, severity=0.5, synthesis="wide", rng=np.random.default_rng(s))[1].generator
                for s in range(40)}
        default = {degrade(img, kind, severity=0.5, rng=np.random.default_rng(s))[1].generator for s in range(10)}
        assert wide == {g.name for g in entry.generators}
        assert default == {g.name for g in entry.generators if g.default}
    with pytest.raises(InvalidArgumentError, match="synthesis must be"):
        degrade(img, "noise", synthesis="broad", rng=np.random.default_rng(0))


def test_the_unseen_pool_draws_every_generator_outside_the_default_draw_and_says_when_there_is_none():
    """``synthesis="unseen"`` (what a detector trained on the default draw never saw, for calibrating its
    confidence): every kind has such generators for same-size draws (the detector's), and they are exactly the
    non-default ones; a size-changing draw takes only those that return the smaller image (``shrunk`` for low
    resolution, not the ones that enlarge back), and a kind with none says so."""
    for entry in reg.DEGRADATIONS.values():
        unseen = entry.pool("unseen", same_size=True)
        assert unseen and {g.name for g in unseen} == {g.name for g in entry.generators if not g.default}
        assert set(entry.pool("wide", same_size=True)) == set(unseen) | set(entry.pool("default", same_size=True))
    assert [g.name for g in reg.DEGRADATIONS["low-resolution"].pool("unseen", same_size=False)] == ["shrunk"]
    only_enlarging = reg.Degradation(
        name="low-resolution", label="low resolution", tasks=(),
        generators=tuple(g for g in reg.DEGRADATIONS["low-resolution"].generators if g.name != "shrunk"))
    with pytest.raises(InvalidArgumentError,
                       match="low-resolution has no generator in the 'unseen' pool that returns the smaller"):
        only_enlarging.pool("unseen", same_size=False)
    img = _textured((32, 32))
    drawn = {degrade(img, "blur", severity=0.5, synthesis="unseen", rng=np.random.default_rng(s))[1].generator
             for s in range(20)}
    assert drawn == {g.name for g in reg.DEGRADATIONS["blur"].generators if not g.default}


def test_darkening_by_subtraction_crushes_the_shadows_and_a_tone_curve_keeps_white():
    """The two darkenings photo tools make besides scaling: ``lowered`` subtracts (every value below the offset is
    black, tone differences above it are kept), ``curve`` bends the tones (white stays white, a midtone drops)."""
    ramp = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (8, 1))
    img = np.repeat(ramp[..., None], 3, axis=-1)
    entry = reg.DEGRADATIONS["low-light"]
    offset = float(entry.generator("lowered").parameters(0.5)["offset"])
    lowered, info = degrade(img, "low-light", severity=0.5, generator="lowered", rng=np.random.default_rng(0))
    assert info.generator == "lowered" and info.params["offset"] == pytest.approx(offset)
    np.testing.assert_allclose(lowered, np.clip(img - offset, 0.0, 1.0), atol=1e-6)
    assert np.all(lowered[img <= offset] == 0.0) and lowered.max() == pytest.approx(1.0 - offset)

    gamma = float(entry.generator("curve").parameters(0.5)["gamma"])
    curved, _ = degrade(img, "low-light", severity=0.5, generator="curve", rng=np.random.default_rng(0))
    assert curved.max() == pytest.approx(1.0)
    np.testing.assert_allclose(curved, img**gamma, atol=1e-6)


def test_scattering_fog_is_the_fractal_fog_over_a_softened_scene():
    """``scattering`` veils the photo as ``fractal`` does (same draws: same transmission and airlight) and also
    blurs the scene behind the veil by its sigma, as forward scattering softens photos in mist and fog."""
    from irtool.degrade import generators, synth

    img = _textured((64, 64))
    params = reg.DEGRADATIONS["haze"].generator("scattering").parameters(0.5)
    _, info = degrade(img, "haze", severity=0.5, generator="scattering", rng=np.random.default_rng(5))
    assert info.params["sigma"] == pytest.approx(params["sigma"]) and 0.8 < params["sigma"] < 3.0
    options = generators.DegradeOptions()
    fog, _ = generators.scattering_fog(img, params, rng=np.random.default_rng(5), options=options)
    # The same draws over the scene blurred by hand, through the fractal generator at the same beta.
    softened = synth.gaussian_blur(img, sigma=params["sigma"])
    expected, _ = generators.fractal_haze(softened, params, rng=np.random.default_rng(5), options=options)
    np.testing.assert_allclose(fog, expected, atol=1e-6)
    veiled_only, _ = generators.fractal_haze(img, params, rng=np.random.default_rng(5), options=options)
    assert np.abs(np.diff(fog, axis=1)).mean() < 0.7 * np.abs(np.diff(veiled_only, axis=1)).mean()


def test_low_resolution_as_people_have_it_is_the_input_size_from_many_kernels_and_factors():
    """same_size=True: the detector's view of a low-resolution photo. The original generator's small image is
    enlarged back by MATLAB bicubic exactly as before; the wide draw adds enlargements by other kernels and
    non-integer factors (sometimes then JPEG), which super-resolution training (small output) never draws."""
    from irtool.degrade import imresize, quantize_uint8

    img = _textured((48, 48))
    small, _ = degrade(img, "low-resolution", scale=2, rng=np.random.default_rng(0))
    enlarged, info = degrade(img, "low-resolution", scale=2, rng=np.random.default_rng(0), same_size=True)
    assert info.generator == "matlab-bicubic"
    assert np.array_equal(enlarged, quantize_uint8(imresize(small, output_shape=(48, 48))))

    drawn = [degrade(img, "low-resolution", severity=0.5, synthesis="wide", rng=np.random.default_rng(s),
                     same_size=True) for s in range(60)]
    assert {i.generator for _, i in drawn} == {"matlab-bicubic", "shrunk", "resampled", "interpolated"}
    assert all(out.shape == img.shape for out, _ in drawn)
    resampled = [i.params for _, i in drawn if i.generator == "resampled"]
    assert {p["shrink_kernel"] for p in resampled} == {"bilinear", "bicubic", "lanczos", "area"}
    assert {p["enlarge_kernel"] for p in resampled} == {"bilinear", "bicubic", "lanczos"}
    assert any(p["factor"] != round(p["factor"]) for p in resampled)
    assert any("then_jpeg_quality" in p for p in resampled)
    # SR training asks for the small image: the enlarging generators are never drawn, and naming one is an error.
    small_draws = [degrade(img, "low-resolution", scale=2, synthesis="wide", rng=np.random.default_rng(s))
                   for s in range(20)]
    assert {i.generator for _, i in small_draws} == {"matlab-bicubic", "shrunk"}
    assert all(out.shape == (24, 24, 3) for out, _ in small_draws)
    with pytest.raises(UsageError, match="same_size=True"):
        degrade(img, "low-resolution", scale=2, generator="resampled", rng=np.random.default_rng(0))


def test_a_photo_tools_small_image_is_shrunk_by_each_antialiasing_kernel():
    """The `shrunk` generator: the small image by the exact integer factor with each of Pillow's antialiasing
    kernels (area averages blocks exactly), in 8 bits; a size that is no multiple of the factor is refused."""
    from irtool.degrade import quantize_uint8
    from irtool.degrade.synth import RESAMPLING_KERNELS

    img = _textured((48, 60))
    drawn = [degrade(img, "low-resolution", scale=3, generator="shrunk", rng=np.random.default_rng(s))
             for s in range(24)]
    assert {i.params["shrink_kernel"] for _, i in drawn} == set(RESAMPLING_KERNELS)
    assert all(out.shape == (16, 20, 3) and i.params["scale"] == 3 for out, i in drawn)
    area = next(out for out, i in drawn if i.params["shrink_kernel"] == "area")
    blocks = img.reshape(16, 3, 20, 3, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(area, quantize_uint8(blocks), atol=1 / 255 + 1e-6)
    with pytest.raises(UsageError, match="not a multiple of scale 3"):
        degrade(_textured((50, 60)), "low-resolution", scale=3, generator="shrunk", rng=np.random.default_rng(0))


def test_interpolated_enlargements_use_every_kernel_the_enlargement_search_knows():
    """The `interpolated` generator enlarges back by each kernel find_enlargement looks for (OpenCV's Lanczos 4
    included, which `resampled` never draws), after every shrinking kernel, at integer and non-integer factors,
    sometimes then JPEG; like `resampled` it only exists at the input's size."""
    from irtool.degrade.enlargement import ENLARGEMENT_KERNELS
    from irtool.degrade.synth import RESAMPLING_KERNELS

    img = _textured((60, 72))
    drawn = [degrade(img, "low-resolution", severity=0.5, generator="interpolated", same_size=True,
                     rng=np.random.default_rng(s)) for s in range(40)]
    assert all(out.shape == img.shape and out.dtype == np.float32 for out, _ in drawn)
    params = [i.params for _, i in drawn]
    assert {p["enlarge_kernel"] for p in params} == set(ENLARGEMENT_KERNELS)
    assert {p["shrink_kernel"] for p in params} == set(RESAMPLING_KERNELS)
    assert any(p["factor"] != round(p["factor"]) for p in params)
    assert any("then_jpeg_quality" in p for p in params)
    stored = [out for out, _ in drawn]
    assert all(np.array_equal(out, np.round(out * 255) / 255) for out in stored)  # 8-bit levels, as saved
    with pytest.raises(UsageError, match="same_size=True"):
        degrade(img, "low-resolution", scale=2, generator="interpolated", rng=np.random.default_rng(0))


def test_kernel_enlargement_matches_the_libraries_and_the_search_finds_it():
    """enlarge_with_kernel interpolates as Pillow does with the kernels they share (away from the edges, where the
    libraries pad differently), and an 8-bit OpenCV-style Lanczos 4 enlargement made with it is found by the
    search at its exact small size."""
    from irtool.degrade import quantize_uint8
    from irtool.degrade.enlargement import enlarge_with_kernel, find_enlargement
    from irtool.degrade.synth import resample

    small = np.random.default_rng(3).random((40, 52)).astype(np.float32)
    for ours, pillow in (("bicubic", "bicubic"), ("bilinear", "bilinear"), ("lanczos3", "lanczos")):
        enlarged = np.clip(enlarge_with_kernel(small, 120, 130, ours), 0, 1)[8:-8, 8:-8]
        assert np.allclose(enlarged, resample(small, (120, 130), kernel=pillow)[8:-8, 8:-8], atol=1e-5), ours
    # Mid-grey detail: a Lanczos overshoot past black or white is clipped, and a clipped line fits no kernel.
    detail = _textured((100, 120), seed=4) * np.random.default_rng(5).random((100, 120, 1))
    texture = quantize_uint8(0.25 + 0.5 * detail)
    enlarged = quantize_uint8(enlarge_with_kernel(texture, 290, 330, "lanczos4"))
    assert find_enlargement(enlarged) == (100, 120, "lanczos4")
