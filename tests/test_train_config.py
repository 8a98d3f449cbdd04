"""Training configuration: recipes, TOML + overrides, schedules, and the resumable sampler."""

from __future__ import annotations

import dataclasses

import pytest

from irtool.errors import UsageError
from irtool.train.config import TrainConfig, load_config, recipe
from irtool.train.distributed import DistInfo
from irtool.train.loop import IterationBatchSampler, lr_at


def test_hair_recipe_matches_the_paper():
    cfg = recipe("hair", preset="res_hair", task="all")
    assert (cfg.lr, cfg.betas, cfg.loss, cfg.patch_size, cfg.batch_size) == (2e-4, (0.9, 0.999), "l1", 128, 32)
    assert recipe("hair", preset="res_hair", task="denoise").batch_size == 8
    # 2e-4 for 150 of 160 epochs, then 2e-5.
    assert lr_at(cfg, int(cfg.iters * 149 / 160)) == pytest.approx(2e-4)
    assert lr_at(cfg, int(cfg.iters * 151 / 160)) == pytest.approx(2e-5)


def test_hi_ir_recipe_uses_charbonnier_for_deblurring_and_warmup():
    assert recipe("hi_ir", preset="hi_ir_unet", task="deblur").loss == "charbonnier"
    cfg = recipe("hi_ir", preset="hi_ir_l_sr4", task="sr4")
    assert cfg.warmup_iters == 50_000 and cfg.patch_size == 64
    assert lr_at(cfg, 0) < lr_at(cfg, 25_000) < lr_at(cfg, 49_999) == pytest.approx(cfg.lr)
    assert lr_at(cfg, cfg.iters) == pytest.approx(cfg.lr * cfg.min_lr_ratio)


def test_toml_then_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('preset = "res_hair_lite"\ntask = "jpeg"\niters = 50\nlr = 0.01\n[task_mix]\njpeg = 1.0\n')
    cfg = load_config(config_file=path, overrides={"lr": 0.5, "batch_size": None, "name": "x"})
    assert (cfg.preset, cfg.task, cfg.iters, cfg.lr, cfg.name) == ("res_hair_lite", "jpeg", 50, 0.5, "x")
    assert cfg.batch_size == recipe("lite", preset="res_hair_lite", task="jpeg").batch_size
    # The saved config reloads to the same thing.
    saved = tmp_path / "saved.toml"
    saved.write_text(cfg.to_toml())
    assert load_config(config_file=saved) == cfg


def test_a_recipe_may_name_the_one_generator_of_a_degradation_and_it_round_trips(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('preset = "hi_ir_unet_lite"\ntask = "all"\nsynthesis = "wide"\n[generators]\nhaze = "scattering"\n')
    cfg = load_config(config_file=path)
    assert dict(cfg.generators) == {"haze": "scattering"}
    saved = tmp_path / "saved.toml"
    saved.write_text(cfg.to_toml())
    assert load_config(config_file=saved) == cfg
    assert not load_config(preset="hi_ir_unet_lite", task="all").generators


def test_downscale_is_off_by_default_and_round_trips_through_a_config_file(tmp_path):
    cfg = load_config(preset="res_hair_lite", task="detect")
    assert cfg.downscale == (1.0, 1.0) and cfg.quantize_lq
    saved = tmp_path / "saved.toml"
    saved.write_text(cfg.replace(downscale=(0.5, 1.0)).to_toml())
    assert load_config(config_file=saved).downscale == (0.5, 1.0)


@pytest.mark.parametrize(
    "overrides, message",
    [({"lr_typo": 1}, "unknown config key"), ({"task": "sharpen"}, "unknown task"), ({"iters": 0}, "positive"),
     ({"loss": "l2"}, "loss must be"), ({"downscale": (0.5, 2.0)}, "downscale must"),
     ({"unclipped_noise": 1.5}, "unclipped_noise must"), ({"tone_jitter": -0.1}, "tone_jitter must"),
     ({"gray_photos": 1.1}, "gray_photos must"), ({"clean_candidates": 0}, "clean_candidates must"),
     ({"clean_pick": "sharpest"}, "clean_pick must"),
     ({"unclipped_noise": 0.5, "quantize_lq": True}, "needs quantize_lq off"),
     ({"generators": {"haze": "fog"}}, "generators: haze has no generator 'fog'"),
     ({"generators": {"smoke": "veil"}}, "generators: unknown")],
)
def test_bad_config_fails_before_any_work(overrides, message):
    with pytest.raises(UsageError, match=message):
        load_config(preset="res_hair_lite", task="denoise", overrides=overrides)


def test_sampler_is_a_pure_function_of_iteration_and_rank():
    one = DistInfo()
    full = list(IterationBatchSampler(10, batch_size=4, seed=3, start=0, stop=8, dist_info=one))
    resumed = list(IterationBatchSampler(10, batch_size=4, seed=3, start=5, stop=8, dist_info=one))
    assert full[5:] == resumed
    # Every item appears once per epoch.
    flat = [k for batch in full for k in batch]
    epoch0 = sorted(i for e, i in flat if e == 0)
    assert epoch0 == list(range(10))
    # Two ranks split the same global stream with no overlap.
    r0 = list(IterationBatchSampler(10, batch_size=2, seed=3, start=0, stop=5, dist_info=DistInfo(0, 2, 0)))
    r1 = list(IterationBatchSampler(10, batch_size=2, seed=3, start=0, stop=5, dist_info=DistInfo(1, 2, 1)))
    keys0 = {k for b in r0 for k in b}
    keys1 = {k for b in r1 for k in b}
    assert not keys0 & keys1 and len(keys0 | keys1) == 20


def test_config_is_typed_and_frozen():
    cfg = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.replace(learning_rate=1.0)


def test_a_warm_up_longer_than_a_tenth_of_the_run_is_shortened_to_it():
    from irtool.train.config import fit_schedule_to_run

    paper = recipe("hi_ir", preset="hi_ir_l_sr4", task="sr4")  # 50,000 of 500,000: a tenth, kept
    assert fit_schedule_to_run(paper) == (paper, None)
    short, note = fit_schedule_to_run(paper.replace(iters=30))
    assert short.warmup_iters == 3 and note is not None and "50000" in note and "scaled to 3" in note
    assert lr_at(short, 2) == pytest.approx(short.lr) and lr_at(paper.replace(iters=30), 29) < 1e-6
    assert fit_schedule_to_run(paper.replace(iters=5))[0].warmup_iters == 0
