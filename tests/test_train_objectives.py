"""Training objectives: which one a config trains, how it picks its best checkpoint, its patch transforms."""

from __future__ import annotations

import pytest

from irtool.data.transforms import DegradeMargin, Downscale, GrayPhotos, QuantizeInput, ToneJitter
from irtool.train.config import TRAIN_TASKS, TrainConfig, recipe
from irtool.train.objectives import DetectionObjective, RestorationObjective, objective_for, patch_transforms


@pytest.mark.parametrize("task", TRAIN_TASKS)
def test_each_task_trains_one_objective(task):
    objective = objective_for(TrainConfig(preset="res_hair_lite", task=task))
    if task == "detect":
        assert isinstance(objective, DetectionObjective)
        assert (objective.kind, objective.best_key, objective.metrics) == ("detector", "val_accuracy", ("accuracy",))
    else:
        assert isinstance(objective, RestorationObjective)
        assert (objective.kind, objective.best_key) == ("restorer", "val_psnr")
        assert objective.metrics == ("psnr", "ssim", "psnr_in")  # a same-size preset: the input is scored too


def test_an_sr_restorer_is_not_scored_on_its_smaller_input():
    assert objective_for(TrainConfig(preset="hi_ir_b_sr4", task="sr4")).metrics == ("psnr", "ssim")


def test_the_best_record_is_the_first_of_the_best_scores():
    history = [{"iter": 1, "loss": 0.5}, {"iter": 2, "val_psnr": 20.0}, {"iter": 4, "val_psnr": 22.5},
               {"iter": 5, "loss": 0.3}, {"iter": 6, "val_psnr": 22.5}, {"iter": 8, "val_psnr": 21.0}]
    objective = objective_for(TrainConfig(preset="restormer_lite", task="denoise"))
    assert objective.best_record(history)["iter"] == 4
    assert objective.best_record([{"iter": 1, "loss": 0.5}]) is None
    detection = objective_for(TrainConfig(preset="res_hair_lite", task="detect"))
    assert detection.best_record([{"iter": 2, "val_accuracy": 0.5}, {"iter": 4, "val_accuracy": 0.75},
                                  {"iter": 6, "val_accuracy": 0.5}])["iter"] == 4

    class LowerIsBetter(RestorationObjective):
        best_key = "val_error"
        higher_is_better = False

    lower = LowerIsBetter(TrainConfig(preset="restormer_lite", task="denoise"))
    assert lower.best_record([{"iter": 2, "val_error": 3.0}, {"iter": 4, "val_error": 1.0},
                              {"iter": 6, "val_error": 1.0}])["iter"] == 4
    assert lower.improves(0.5, 1.0) and not lower.improves(1.0, 1.0) and lower.improves(7.0, None)


def test_patch_transforms_are_the_ones_the_config_switches_on():
    assert patch_transforms(TrainConfig()) == []
    detect = recipe("lite", preset="res_hair_lite", task="detect")
    steps = patch_transforms(detect)
    assert [type(s) for s in steps] == [DegradeMargin, QuantizeInput] and steps[0].margin == detect.degrade_margin
    every = patch_transforms(TrainConfig(degrade_margin=24, downscale=(0.5, 1.0), tone_jitter=0.5, gray_photos=0.2,
                                         quantize_lq=True))
    assert [type(s) for s in every] == [DegradeMargin, Downscale, ToneJitter, GrayPhotos, QuantizeInput]
    assert (every[1].low, every[1].high, every[2].probability) == (0.5, 1.0, 0.5)
