"""Typed training configuration: recipes, TOML files and command-line overrides.

Resolution order: recipe defaults -> ``--config`` TOML -> command-line overrides. The resolved
config is saved as ``runs/NAME/config.toml`` and is the complete description of a run.

Recipes (``--recipe``):

* ``hair``  — HAIR paper sec. 4: AdamW (0.9, 0.999), lr 2e-4, then 2e-5 for the last 10 of 160
  epochs (expressed as the last 1/16 of the iterations), L1, 128 px patches, flips, batch 32
  all-in-one / 8 single-task.
* ``hi_ir`` — Hi-IR appendix A.2: AdamW, linear warm-up, L1 (Charbonnier for deblurring), cosine
  decay. The paper's per-task table did not survive text extraction; lr 2e-4, betas (0.9, 0.99),
  batch 32 and patch 64 (SR, LR side) / 128 are the values its baselines (SwinIR, GRL) use.
* ``lite``  — CPU recipe for the bundled lite models: AdamW 1e-3 with warm-up and cosine decay,
  small batches and patches, so a model trains on 2 cores in about an hour.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from irtool.degradations import (
    ALL_IN_ONE,
    DETECT,
    MIXTURE_TASKS,
    RESTORE_TASKS,
    all_in_one_mixture,
    detect_mixture,
    task_scale,
)
from irtool.errors import UsageError
from irtool.tomlio import TOMLDecodeError, dumps, read_toml

#: "detect" trains the GIV degradation head.
TRAIN_TASKS = (*RESTORE_TASKS, DETECT)
#: The default mixtures of "all" and "detect" come from the degradation registry's task weights.
DEFAULT_ALL_IN_ONE = all_in_one_mixture()
DEFAULT_DETECT_MIX = detect_mixture()


@dataclass(frozen=True)
class TrainConfig:
    name: str = "run"
    preset: str = "res_hair_lite"
    task: str = "all"
    #: task -> ratio for mixtures ("all", "detect"); empty = the default mixture for the task.
    task_mix: Mapping[str, float] = field(default_factory=dict)
    data: str = ""
    #: Paired training data: folder of degraded inputs matched by file name to ``data`` (the targets).
    data_lq: str = ""
    val: str = ""
    val_lq: str = ""
    #: Validation images cropped to at most this size (centre) to keep validation cheap; 0 = whole.
    val_crop: int = 256
    val_max_images: int = 0
    iters: int = 1000
    batch_size: int = 8
    patch_size: int = 128
    #: Degrade a region this many pixels larger on every side and train on its centre (see
    #: ``DegradedFolderDataset``): 0 degrades the patch itself.
    degrade_margin: int = 0
    #: Round synthetic inputs to 8-bit levels, as stored photos are (see ``DegradedFolderDataset``).
    quantize_lq: bool = False
    #: Shrink each training patch from a region 1/f times larger, f uniform in (low, high) (see
    #: ``DegradedFolderDataset``); (1, 1) = off.
    downscale: tuple[float, float] = (1.0, 1.0)
    #: Fraction of noise samples left unclipped, as denoising benchmarks add noise (see ``DegradedFolderDataset``).
    unclipped_noise: float = 0.0
    #: Degradation generators to draw from: "default" (the original ones), "wide" (every registered one) or "unseen"
    #: (only those outside the default draw; see
    #: ``irtool.degradations``); validation uses the same pool.
    synthesis: str = "default"
    #: Degradation -> the one generator its patches are made by (e.g. ``{ haze = "scattering" }``), in place of a
    #: draw from the ``synthesis`` pool; degradations not named draw as usual.
    generators: Mapping[str, str] = field(default_factory=dict)
    #: Probability that a patch's clean photo is re-exposed and re-graded before degrading (see
    #: ``DegradedFolderDataset``); 0 = off.
    tone_jitter: float = 0.0
    #: Probability that a patch's photo, and then its degraded input, is made gray (black-and-white photos;
    #: ``irtool.data.transforms.GrayPhotos``); 0 = off.
    gray_photos: float = 0.0
    #: A clean patch (its own target) is the best of this many random windows of its photo by ``clean_pick``
    #: (``DegradedFolderDataset``): hard negatives; 1 = off.
    clean_candidates: int = 1
    #: How those windows are ranked: "palest" (highest median dark channel: bright flat scenes, for a haze corrector)
    #: or "textured" (frames filled with fine detail, for a denoiser that must keep texture).
    clean_pick: str = "palest"
    #: With --fit-vote: the share of clean photos the vote must call clean in cross-validation; the clean logit is
    #: raised by the smallest margin that reaches it (0 = off; see ``irtool.train.vote.clean_margin``).
    vote_clean_target: float = 0.0
    #: With --fit-vote: the ``vote_samples.pt`` of an earlier fit of the same network, instead of reading the photos
    #: again (its summaries depend on that network only).
    vote_samples: str | None = None
    #: With --fit-vote: keep the --init-weights detector's own vote and fold in only a temperature fitted on that
    #: vote's logits on the samples (e.g. of ``synthesis = "wide"``): the same decisions, a calibrated confidence.
    keep_vote: bool = False
    #: With --fit-vote: give each called type its own confidence map, fitted on the vote's logits on the samples
    #: (``irtool.train.vote.fit_call_maps``): the same decisions, a confidence calibrated per type of call.
    calibrate_calls: bool = False
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    #: "cosine" (to lr * min_lr_ratio) or "step" (multiply by step_gamma at each fraction in step_at).
    schedule: str = "step"
    min_lr_ratio: float = 0.01
    step_at: tuple[float, ...] = (0.9375,)
    step_gamma: float = 0.1
    warmup_iters: int = 0
    loss: str = "l1"
    grad_clip: float = 0.0
    ema_decay: float = 0.999
    amp: bool = True
    val_every: int = 500
    ckpt_every: int = 500
    log_every: int = 20
    keep_last: int = 2
    workers: int = 2
    seed: int = 0
    device: str = "auto"
    out: str = "runs"
    resume: str = ""
    #: Start from these weights (fine-tuning); the optimizer starts fresh. For task "detect" this may be a
    #: trained restorer of ``preset``: its GIV path (encoder + classifier) initialises the detector's.
    init_weights: str = ""
    #: Stop after this many seconds (a checkpoint is written first); 0 = no limit.
    time_limit: float = 0.0
    #: Memory the run may use, with a unit ("2GB", "512MB"; GB = 2**30 bytes); "" = 90 % of what the device has
    #: free (see :mod:`irtool.train.memory`). A run estimated to need more is refused before its first step.
    memory_limit: str = ""

    def replace(self, **changes: Any) -> "TrainConfig":
        return _coerce(dataclasses.replace(self, **changes))

    def to_toml(self) -> str:
        values: dict[str, Any] = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        mix = {k: float(v) for k, v in self.task_mix.items()}
        values["task_mix"] = mix or None  # an empty mixture (the task's default) is left out
        values["generators"] = dict(self.generators) or None
        return dumps(values)

    @property
    def mixture(self) -> dict[str, float]:
        if self.task_mix:
            return dict(self.task_mix)
        if self.task == ALL_IN_ONE:
            return dict(DEFAULT_ALL_IN_ONE)
        if self.task == DETECT:
            return dict(DEFAULT_DETECT_MIX)
        return {self.task: 1.0}


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(cfg: TrainConfig) -> TrainConfig:
    """Validate values (so a typo or a bad value fails before any work starts)."""
    if cfg.task not in TRAIN_TASKS:
        raise UsageError(f"unknown task {cfg.task!r}; tasks are {', '.join(TRAIN_TASKS)}")
    if cfg.loss not in ("l1", "charbonnier"):
        raise UsageError(f"loss must be l1 or charbonnier, not {cfg.loss!r}")
    if cfg.schedule not in ("cosine", "step"):
        raise UsageError(f"schedule must be cosine or step, not {cfg.schedule!r}")
    for name in ("iters", "batch_size", "patch_size", "clean_candidates"):
        if getattr(cfg, name) <= 0:
            raise UsageError(f"{name} must be positive")
    from irtool.data.datasets import check_clean_pick  # the data module owns the picks

    check_clean_pick(cfg.clean_pick)
    if cfg.lr <= 0:
        raise UsageError("lr must be positive")
    if cfg.warmup_iters < 0:
        raise UsageError("warmup_iters must be 0 or more")
    if cfg.memory_limit:
        from .memory import parse_memory_size

        parse_memory_size(cfg.memory_limit)
    from irtool.data.datasets import check_generators, check_synthesis, check_unclipped_noise
    from irtool.data.transforms import check_downscale_range, check_probability

    check_downscale_range(cfg.downscale)
    check_probability("tone_jitter", cfg.tone_jitter)
    check_probability("gray_photos", cfg.gray_photos)
    check_probability("vote_clean_target", cfg.vote_clean_target)
    check_unclipped_noise(cfg.unclipped_noise, quantize_lq=cfg.quantize_lq)
    check_synthesis(cfg.synthesis)
    check_generators(cfg.generators)
    bad = [k for k in cfg.task_mix if k not in MIXTURE_TASKS]
    if bad:
        raise UsageError(f"unknown task(s) in task_mix: {bad}")
    return cfg


def recipe(name: str, *, preset: str, task: str) -> TrainConfig:
    """Recipe defaults for a preset and task (see the module docstring)."""
    from irtool.models import get_preset

    spec = get_preset(preset)
    base = TrainConfig(preset=preset, task=task)
    single = task not in ("all", "detect")
    if name == "hair":
        return base.replace(lr=2e-4, betas=(0.9, 0.999), schedule="step", step_at=(150 / 160,), step_gamma=0.1,
                            loss="l1", patch_size=128, batch_size=8 if single else 32, iters=300_000)
    if name == "hi_ir":
        sr = task_scale(task) > 1
        return base.replace(lr=2e-4, betas=(0.9, 0.99), schedule="cosine", min_lr_ratio=0.005,
                            warmup_iters=spec.warmup_iters or 10_000,
                            loss="charbonnier" if task == "deblur" else "l1",
                            patch_size=64 if sr else 128, batch_size=32, iters=500_000, grad_clip=0.0)
    if name == "lite" and task == "detect":
        # Fine-tunes a pretrained GIV path. Patches are cut from the middle of a degraded region 24 px larger
        # on every side, as the detector meets them in a whole photo (96 px: a multiple of 8 and of x2/x3/x4),
        # and rounded to 8-bit levels like every photo it will read.
        return base.replace(lr=1e-3, betas=(0.9, 0.99), schedule="cosine", min_lr_ratio=0.02, warmup_iters=100,
                            patch_size=96, degrade_margin=24, quantize_lq=True, batch_size=16, iters=6000,
                            grad_clip=1.0,
                            ema_decay=0.995,
                            val_every=250, ckpt_every=250, workers=1, val_max_images=40)
    if name == "lite":
        sr = task_scale(task) > 1
        return base.replace(lr=1e-3, betas=(0.9, 0.99), schedule="cosine",
                            min_lr_ratio=0.02, warmup_iters=200, loss="charbonnier" if task == "deblur" else "l1",
                            patch_size=48 if sr else 96, batch_size=8, iters=6000, grad_clip=0.5,
                            ema_decay=0.995, val_every=500, ckpt_every=250, workers=1, val_max_images=8)
    raise UsageError(f"unknown recipe {name!r}; recipes are hair, hi_ir, lite")


#: The longest warm-up a run keeps, as a share of its iterations: recipes state the papers' warm-up for their
#: hundreds of thousands of iterations, which would leave a short run at a tiny learning rate throughout.
MAX_WARMUP_FRACTION = 0.1


def fit_schedule_to_run(cfg: TrainConfig) -> tuple[TrainConfig, str | None]:
    """``cfg`` with its warm-up shortened to at most ``MAX_WARMUP_FRACTION`` of its iterations, and a note saying
    so when it was (the rest of the schedule is already stated in fractions of the run)."""
    longest = int(MAX_WARMUP_FRACTION * cfg.iters)
    if cfg.warmup_iters <= longest:
        return cfg, None
    note = (f"warm-up of {cfg.warmup_iters} iterations scaled to {longest} for a run of {cfg.iters} (at most "
            f"{MAX_WARMUP_FRACTION:.0%} of the run)")
    return cfg.replace(warmup_iters=longest), note


def explicit_keys(config_file: str | Path | None, overrides: Mapping[str, Any] | None) -> set[str]:
    """The config keys a user set: those of the TOML file and the overrides given (not None)."""
    keys = {k for k, v in (overrides or {}).items() if v is not None}
    if config_file:
        try:
            keys |= set(read_toml(Path(config_file)))
        except (OSError, TOMLDecodeError):
            pass  # load_config reports an unreadable file
    return keys


def default_recipe(preset: str) -> str:
    """The recipe preset ``preset`` states (:attr:`irtool.models.Preset.recipe`)."""
    from irtool.models import get_preset

    recipe = get_preset(preset).recipe
    assert recipe is not None, "registered presets always name a recipe (register_preset checks it)"
    return recipe


def load_config(
    *,
    preset: str | None = None,
    task: str | None = None,
    recipe_name: str | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Recipe defaults, then the TOML file, then explicit overrides (None values ignored)."""
    file_values: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        try:
            file_values = read_toml(path)
        except (OSError, TOMLDecodeError) as exc:
            raise UsageError(f"cannot read config {path}: {exc}") from None
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(file_values) - set(_FIELDS)) + sorted(set(given) - set(_FIELDS))
    if unknown:
        raise UsageError(f"unknown config key(s): {', '.join(unknown)}")
    preset = given.get("preset") or file_values.get("preset") or preset or TrainConfig.preset
    task = given.get("task") or file_values.get("task") or task or TrainConfig.task
    cfg = recipe(recipe_name or default_recipe(preset), preset=preset, task=task)
    merged = {**file_values, **given}
    for key in ("betas", "step_at", "downscale"):
        if key in merged:
            merged[key] = tuple(merged[key])
    return cfg.replace(**merged)
