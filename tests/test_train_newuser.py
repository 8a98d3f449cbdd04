"""``irtool train`` as a new user meets it (issue #19): a run too big for the machine stops before its first step
saying what fits, a recipe's warm-up is fitted to a short run, a model worse than its input is warned about,
checkpoints stay proportional, resuming says where it starts (or that nothing is left), Ctrl-C prints the command
that resumes, and curves.png is readable."""

from __future__ import annotations

import gc
import json
import shlex
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic import photo, write_images
from typer.testing import CliRunner

from irtool.cli import app
from irtool.tomlio import read_toml
from irtool.train.loop import WEIGHTS_ONLY_KEYS, Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

#: Small, quick runs: 32 px patches of 64 x 80 photos, validation on 48 px crops, a record every iteration.
QUICK = "log_every = 1\nval_every = 2\nckpt_every = 2\nval_crop = 48\nwarmup_iters = 0\n"


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    write_images(root / "train", {f"{i}.png": photo(64, 80, seed=i) for i in range(4)})
    write_images(root / "val", {f"{i}.png": photo(64, 80, seed=10 + i) for i in range(2)})
    return root


def _args(photos: Path, out: Path, *extra: str, config: str = QUICK, val: bool = True) -> list[str]:
    cfg = out / "quick.toml"
    out.mkdir(parents=True, exist_ok=True)
    cfg.write_text(config)
    args = ["train", "--preset", "restormer_lite", "--task", "denoise", "--data", str(photos / "train"),
            "--patch-size", "32", "--workers", "0", "--out", str(out), "--name", "run", "--config", str(cfg)]
    return [*args, *(["--val", str(photos / "val")] if val else []), *extra]


def _invoke(args: list[str]):
    return CliRunner().invoke(app, args)


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _estimate():
    from irtool.models import build, get_preset
    from irtool.train.memory import estimate_training_memory

    preset = get_preset("restormer_lite")
    return estimate_training_memory(build("restormer_lite"), channels=3, patch_size=32,
                                    multiple=preset.size_multiple, minimum=preset.min_input_side,
                                    device=torch.device("cpu"))


# --------------------------------------------------------------------------- 1. memory
def test_a_run_too_big_for_the_memory_limit_stops_before_its_first_step_saying_what_fits(photos, tmp_path):
    limit = _estimate().need(3, 32)  # batch 3 fits, 4 does not
    result = _invoke(_args(photos, tmp_path, "--iters", "2", "--batch-size", "8", "--memory-limit", f"{limit}B"))
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert "restormer_lite at batch size 8 with 32 px patches needs about" in errors[0]
    assert errors[0].endswith("--batch-size 3 fits"), errors[0]
    # Stopped before the first step: nothing was trained or written.
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "metrics.jsonl").exists()


def test_a_batch_size_nobody_chose_is_lowered_to_what_fits(photos, tmp_path):
    limit = _estimate().need(3, 32)
    result = _invoke(_args(photos, tmp_path, "--iters", "2", "--memory-limit", f"{limit}B", val=False))
    assert result.exit_code == 0, result.output
    assert "restormer_lite at batch size 8 with 32 px patches needs about" in result.output  # the lite recipe's 8
    assert "training at batch size 3" in result.output
    assert read_toml(tmp_path / "run" / "config.toml")["batch_size"] == 3
    # A batch size in a --config file was chosen too: refused, not lowered.
    chosen = _invoke(_args(photos, tmp_path / "chosen", "--iters", "2", "--memory-limit", f"{limit}B",
                           config=QUICK + "batch_size = 8\n", val=False))
    assert chosen.exit_code == 2 and "--batch-size 3 fits" in chosen.output


def test_memory_limit_needs_a_unit_and_is_parsed_in_binary_units(photos, tmp_path):
    from irtool.errors import InvalidArgumentError
    from irtool.train.memory import parse_memory_size

    assert parse_memory_size("2GB") == parse_memory_size("2G") == parse_memory_size("2 GiB") == 2 * 2**30
    assert parse_memory_size("512mb") == 512 * 2**20 and parse_memory_size("1.5G") == 3 * 2**29
    for bad in ("2", "GB", "-1GB", "0GB", "2 PB"):
        with pytest.raises(InvalidArgumentError, match="memory_limit"):
            parse_memory_size(bad)
    result = _invoke(_args(photos, tmp_path, "--iters", "2", "--memory-limit", "2"))
    assert result.exit_code == 2 and "2GB" in result.output and not (tmp_path / "run").exists()


def test_what_fits_names_a_lite_preset_and_a_smaller_patch_when_one_sample_is_too_big():
    from irtool.train.memory import MemoryEstimate, TrainingMemoryError, check_fits, lighter_presets

    assert lighter_presets("hi_ir_unet", "jpeg") == ["hi_ir_unet_lite"]
    assert lighter_presets("hi_ir_b_sr2", "sr2") == ["hi_ir_sr2_lite"]
    assert lighter_presets("hi_ir_unet_lite", "jpeg") == [] and lighter_presets("restormer", "jpeg") == []
    # hi_ir_unet as measured (86 kB of saved activations per pixel, 22.3M parameters) on the 24 GB machine.
    hi_ir_unet = MemoryEstimate(fixed_bytes=615_158_344, bytes_per_pixel=85_921.5, multiple=64, minimum=64)
    budget = int(0.9 * 23.5 * 2**30)
    with pytest.raises(TrainingMemoryError) as caught:
        check_fits(hi_ir_unet, batch_size=32, patch_size=128, budget=budget, where="available", preset="hi_ir_unet",
                   task="jpeg", lower_batch=False)
    assert caught.value.fixes == [{"batch_size": 8}, {"preset": "hi_ir_unet_lite"}]
    assert caught.value.advice({"batch_size": "--batch-size", "preset": "--preset"}).endswith(
        ": --batch-size 8 or --preset hi_ir_unet_lite fits")
    assert check_fits(hi_ir_unet, batch_size=32, patch_size=128, budget=budget, where="available",
                      preset="hi_ir_unet", task="jpeg", lower_batch=True)[0] == 8
    # Not even one 128 px patch fits 2 GB: a smaller patch does.
    with pytest.raises(TrainingMemoryError) as caught:
        check_fits(hi_ir_unet, batch_size=32, patch_size=128, budget=2 * 2**30, where="available",
                   preset="hi_ir_unet", task="jpeg", lower_batch=True)
    assert caught.value.fixes[0] == {"batch_size": 1, "patch_size": 64}


def _live_tensors() -> int:
    gc.collect()
    return sum(issubclass(type(o), torch.Tensor) for o in gc.get_objects())


def test_the_memory_probe_leaves_the_run_unchanged_and_frees_what_it_used():
    from irtool.models import build
    from irtool.train.memory import activation_bytes_per_pixel

    torch.manual_seed(0)
    model = build("restormer_lite")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = torch.get_rng_state()
    tensors = _live_tensors()
    per_pixel = activation_bytes_per_pixel(model, channels=3, side=32, device=torch.device("cpu"))
    # Nothing of the pass survives it (the model's copy, its saved activations), so training can use that memory.
    assert _live_tensors() == tensors
    again = activation_bytes_per_pixel(model, channels=3, side=32, device=torch.device("cpu"))
    assert per_pixel == again > 0
    assert torch.equal(torch.get_rng_state(), state) and model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_an_out_of_memory_error_saves_a_checkpoint_and_says_what_should_fit(photos, tmp_path, monkeypatch):
    step = Trainer._step

    def out_of_memory_at_2(self, batch):
        if self.iteration == 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return step(self, batch)

    monkeypatch.setattr(Trainer, "_step", out_of_memory_at_2)
    # No checkpoint is due at iteration 2: the one found there was written for the error.
    result = _invoke(_args(photos, tmp_path, "--iters", "4", "--batch-size", "2",
                           config=QUICK.replace("ckpt_every = 2", "ckpt_every = 100"), val=False))
    assert result.exit_code == 2, result.output
    assert ("out of memory on cpu at iteration 2 with batch size 2 and 32 px patches; a checkpoint was saved: "
            "--batch-size 1 --resume auto should fit") in result.output
    assert "Traceback" not in result.output
    saved = torch.load(tmp_path / "run" / "checkpoints" / "iter_00000002.pt", weights_only=True)
    assert saved["iteration"] == 2 and "optimizer" in saved


# --------------------------------------------------------------------------- 2. schedule and result
def test_a_recipe_warm_up_longer_than_the_run_is_scaled_to_it(photos, tmp_path):
    # The hi_ir recipe warms up for 10,000 iterations: a 10-iteration run would never pass 2e-7.
    result = _invoke(_args(photos, tmp_path, "--recipe", "hi_ir", "--iters", "10", "--batch-size", "1",
                           config="log_every = 1\n", val=False))
    assert result.exit_code == 0, result.output
    assert "warm-up of 10000 iterations scaled to 1 for a run of 10" in result.output
    assert read_toml(tmp_path / "run" / "config.toml")["warmup_iters"] == 1
    lrs = [r["lr"] for r in _records(tmp_path / "run")]
    assert max(lrs) == pytest.approx(2e-4) and lrs[0] == pytest.approx(2e-4)


def _fixed_scores(psnr: float, psnr_in: float):
    def scores(self, model, items, device):
        n = len(list(items))
        return {"psnr": [psnr] * n, "ssim": [0.5] * n, "psnr_in": [psnr_in] * n}

    return scores


def test_a_model_worse_than_its_input_on_validation_is_warned_about_even_when_quiet(photos, tmp_path, monkeypatch):
    from irtool.train.objectives import RestorationObjective

    monkeypatch.setattr(RestorationObjective, "validation_scores", _fixed_scores(10.4, 30.4))
    result = _invoke(_args(photos, tmp_path, "--iters", "2", "--batch-size", "1", "-q"))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("warning: the final weights make the validation images worse: PSNR 10.40 "
                                     "against 30.40 for the input (best.safetensors too); train longer or check the "
                                     "learning rate")
    monkeypatch.setattr(RestorationObjective, "validation_scores", _fixed_scores(31.0, 30.4))
    better = _invoke(_args(photos, tmp_path / "better", "--iters", "2", "--batch-size", "1", "-q"))
    assert better.exit_code == 0 and "warning" not in better.output
    # Clean photos in the validation mixture make the input's PSNR infinite: nothing to be worse than.
    monkeypatch.setattr(RestorationObjective, "validation_scores", _fixed_scores(39.0, float("inf")))
    mixed = _invoke(_args(photos, tmp_path / "mixed", "--iters", "2", "--batch-size", "1", "-q"))
    assert mixed.exit_code == 0 and "warning" not in mixed.output


# --------------------------------------------------------------------------- 3. checkpoints
def test_checkpoints_stay_proportional_to_what_they_are_for(photos, tmp_path):
    from irtool.models import build

    weights = sum(p.numel() * 4 for p in build("restormer_lite").parameters())
    result = _invoke(_args(photos, tmp_path, "--iters", "6", "--batch-size", "2", "-q"))
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    ckpts = run / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["iter_00000004.pt", "iter_00000006.pt"]  # no best.pt
    older = torch.load(ckpts / "iter_00000004.pt", weights_only=True)
    latest = torch.load(ckpts / "iter_00000006.pt", weights_only=True)
    assert set(older) == set(WEIGHTS_ONLY_KEYS) and older["iteration"] == 4  # EMA weights only
    assert {"model", "ema", "optimizer", "rng"} <= set(latest)  # what an exact resume needs
    assert (ckpts / "iter_00000004.pt").stat().st_size < 1.2 * weights
    assert (ckpts / "iter_00000006.pt").stat().st_size < 4.3 * weights
    # Before: two full checkpoints and best.pt (4x the weights each) besides final and best.safetensors: 14x.
    files = [*ckpts.iterdir(), run / "final.safetensors", run / "best.safetensors"]
    assert sum(f.stat().st_size for f in files) < 7.5 * weights
    # An older checkpoint is refused for resuming with one line (it has no optimizer state), the latest resumes.
    refused = _invoke(_args(photos, tmp_path, "--iters", "8", "--batch-size", "2", "--resume",
                            str(ckpts / "iter_00000004.pt")))
    assert refused.exit_code == 2 and "holds the EMA weights only" in refused.output
    assert len([line for line in refused.output.splitlines() if line.strip()]) <= 2  # the header and the error


# --------------------------------------------------------------------------- 4. resuming
def test_resume_says_where_it_starts_or_that_the_run_is_complete(photos, tmp_path):
    args = _args(photos, tmp_path, "--batch-size", "2", val=False)
    assert _invoke([*args, "--iters", "4"]).exit_code == 0
    run = tmp_path / "run"
    final_written = (run / "final.safetensors").stat().st_mtime_ns
    records = _records(run)

    again = _invoke([*args, "--iters", "4", "--resume", "auto"])
    assert again.exit_code == 0, again.output
    assert "already complete at iteration 4; raise --iters above 4 to train further" in again.output
    assert "0/4" not in again.output and "finished" not in again.output
    assert (run / "final.safetensors").stat().st_mtime_ns == final_written and _records(run) == records

    more = _invoke([*args, "--iters", "6", "--resume", "auto"])
    assert more.exit_code == 0, more.output
    assert f"resumed from iteration 4 ({run / 'checkpoints' / 'iter_00000004.pt'})" in more.output
    assert "finished at iteration 6" in more.output
    after = _records(run)[len(records):]
    assert [r["iter"] for r in after] == [5, 6]
    # metrics.jsonl's time runs on across the resume.
    assert after[0]["time"] > records[-1]["time"]


def test_ctrl_c_prints_the_command_that_resumes(photos, tmp_path, monkeypatch):
    step = Trainer._step

    def interrupted_at_2(self, batch):
        loss = step(self, batch)
        if self.iteration == 1:  # the step that makes iteration 2
            signal.raise_signal(signal.SIGINT)
        return loss

    monkeypatch.setattr(Trainer, "_step", interrupted_at_2)
    args = _args(photos, tmp_path, "--iters", "4", "--batch-size", "2", "-q", val=False)
    result = _invoke(args)
    assert result.exit_code == 130, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("resume with: "))
    command = shlex.split(line.removeprefix("resume with: "))
    # The original command line, plus --resume auto.
    assert command[:2] == ["irtool", "train"] and "--quiet" in command
    assert command[command.index("--resume") + 1] == "auto"
    for option in ("--preset", "--task", "--data", "--patch-size", "--workers", "--out", "--name", "--config",
                   "--iters", "--batch-size"):
        assert command[command.index(option) + 1] == args[args.index(option) + 1], option
    records = _records(tmp_path / "run")
    assert records[-1]["iter"] == 2

    monkeypatch.setattr(Trainer, "_step", step)
    resumed = _invoke(command[1:])
    assert resumed.exit_code == 0, resumed.output
    after = _records(tmp_path / "run")[len(records):]
    assert [r["iter"] for r in after] == [3, 4] and after[0]["time"] > records[-1]["time"]


# --------------------------------------------------------------------------- 5. curves
def test_curves_draw_the_input_reference_validation_markers_readable_axes_and_a_log_loss(tmp_path):
    from irtool.train.curves import LOSS_COLOR, REFERENCE_COLOR, SCORE_COLOR, write_curves

    history = [{"iter": i, "loss": 0.3 * 0.9**i, "lr": 1e-3} for i in range(1, 31)]
    history[-1].update(val_psnr=10.4, val_ssim=0.2, val_psnr_in=30.4)  # one validation, worse than the input
    loss_panel, score_panel = write_curves(history, tmp_path / "curves.png", score_key="val_psnr",
                                           reference_key="val_psnr_in")
    assert loss_panel.log_y and not score_panel.log_y
    assert (loss_panel.x_label, loss_panel.y_label) == ("iteration", "loss")
    assert (score_panel.x_label, score_panel.y_label) == ("iteration", "PSNR (dB)")
    # Ticks: decades (and 2, 5) of the loss; iterations from 0; the validation axis spans the score and the input's.
    assert len(loss_panel.y_ticks) >= 3 and all(f"{t:.0e}"[0] in "125" for t in loss_panel.y_ticks)
    assert score_panel.y_range[0] < 10.4 and score_panel.y_range[1] > 30.4 and len(score_panel.y_ticks) >= 3
    assert all(score_panel.y_range[0] <= t <= score_panel.y_range[1] for t in score_panel.y_ticks)
    assert score_panel.x_ticks[0] == 0 and score_panel.x_ticks[-1] >= 25
    [reference] = score_panel.references
    assert reference.value == 30.4 and reference.label == "input 30.40 dB"
    [validation] = score_panel.series
    assert validation.points == ((30.0, 10.4),) and validation.markers  # one validation still shows

    image = np.asarray(Image.open(tmp_path / "curves.png").convert("RGB"))

    def colour_near(panel, x, y, colour):
        px, py = (int(round(v)) for v in panel.to_pixel(x, y))
        patch = image[py - 2:py + 3, px - 2:px + 3].reshape(-1, 3)
        return any(tuple(p) == colour for p in patch)

    assert colour_near(score_panel, 30, 10.4, SCORE_COLOR)  # the marker
    assert colour_near(score_panel, 5, 30.4, REFERENCE_COLOR)  # the reference line, across the panel
    assert colour_near(loss_panel, 1, 0.27, LOSS_COLOR) and colour_near(loss_panel, 30, 0.3 * 0.9**30, LOSS_COLOR)


def test_a_run_draws_its_input_reference_and_validation_markers(photos, tmp_path):
    from irtool.train.curves import REFERENCE_COLOR, SCORE_COLOR

    result = _invoke(_args(photos, tmp_path, "--iters", "2", "--batch-size", "1", "-q"))
    assert result.exit_code == 0, result.output
    pixels = np.asarray(Image.open(tmp_path / "run" / "curves.png").convert("RGB")).reshape(-1, 3)
    colours = {tuple(p) for p in pixels}
    assert REFERENCE_COLOR in colours and SCORE_COLOR in colours
