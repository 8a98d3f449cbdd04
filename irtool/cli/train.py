"""``irtool train``: the papers' recipes over folder datasets; runs unchanged under torchrun."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer

from irtool.cli.options import DEVICE_HELP, TRAIN_TASK_HELP, Quiet

#: The options that set the arguments a memory error's fixes name.
_FIX_OPTIONS = {"batch_size": "--batch-size", "patch_size": "--patch-size", "preset": "--preset", "resume": "--resume"}


def _command_line(given: dict) -> str:
    """The command that reproduces this run, rebuilt from the options given (recorded in weights.toml)."""
    parts = ["irtool", "train"]
    for key, value in given.items():
        flag = "--" + key.replace("_", "-")
        parts += [flag] if value is True else [flag, str(value)]
    return shlex.join(parts)


def train(
    arch: Optional[str] = typer.Option(
        None, "--arch", help="Architecture family: res_hair, hi_ir, restormer (picks the paper preset for the task)."
    ),
    task: Optional[str] = typer.Option(None, "--task", help=TRAIN_TASK_HELP),
    preset: Optional[str] = typer.Option(None, "--preset", help="Exact preset (overrides --arch), e.g. res_hair_lite."),
    recipe: Optional[str] = typer.Option(None, "--recipe", help="hair, hi_ir or lite (default: from the preset)."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file with any TrainConfig keys."),
    data: Optional[str] = typer.Option(
        None, "--data", help="Folder of clean training images (targets when --data-lq is given)."
    ),
    data_lq: Optional[str] = typer.Option(
        None, "--data-lq", help="Folder of degraded inputs paired by file name with --data."
    ),
    val: Optional[str] = typer.Option(None, "--val", help="Validation folder (clean; degraded with a fixed seed)."),
    val_lq: Optional[str] = typer.Option(None, "--val-lq", help="Degraded validation inputs paired with --val."),
    iters: Optional[int] = typer.Option(
        None, "--iters", help="Training iterations of the whole run; a resumed run trains up to it (default: the "
        "recipe's)."
    ),
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", help="Patches per step and process (default: the recipe's, lowered to what fits in "
        "memory)."
    ),
    patch_size: Optional[int] = typer.Option(
        None, "--patch-size", help="Side of the training patches in pixels, of the input (default: the recipe's)."
    ),
    memory_limit: Optional[str] = typer.Option(
        None, "--memory-limit", metavar="SIZE", help="Memory the run may use, e.g. 2GB or 512MB (GB = 2^30 bytes; "
        "default: 90% of the free RAM, or GPU memory on CUDA). Estimated before the first step: a run that needs "
        "more stops and says what fits, or trains at a batch size that fits if --batch-size is not given."
    ),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (default: the recipe's)."),
    synthesis: Optional[str] = typer.Option(
        None, "--synthesis", help="Degradation generators: default, wide (every registered generator: other "
        "noises, blurs, hazes, darkenings, double JPEG), or unseen (only those outside the default draw: with "
        "--fit-vote --keep-vote, a confidence calibrated on degradations the detector never trained on)."
    ),
    unclipped_noise: Optional[float] = typer.Option(
        None, "--unclipped-noise", help="Fraction of noise samples left unclipped, as denoising benchmarks add noise "
        "(default 0: clipped, as in a photo)."
    ),
    workers: Optional[int] = typer.Option(
        None, "--workers", help="Data-loading worker processes (0: in the training process; default: the recipe's)."
    ),
    name: Optional[str] = typer.Option(None, "--name", help="Run name: outputs go to OUT/NAME."),
    out: Optional[str] = typer.Option(None, "--out", help="Runs folder (default runs/)."),
    resume: Optional[str] = typer.Option(
        None, "--resume", help="Checkpoint file to resume, or 'auto' for the run's latest."
    ),
    init_weights: Optional[str] = typer.Option(
        None, "--init-weights", help="Start from these weights (fine-tuning); for --task detect, a trained Res-HAIR "
        "of --preset starts the detector's GIV path."
    ),
    device: Optional[str] = typer.Option(None, "--device", help=DEVICE_HELP),
    seed: Optional[int] = typer.Option(
        None, "--seed", help="Seed of the patches, degradations and initial weights (default 0)."
    ),
    time_limit: Optional[float] = typer.Option(
        None, "--time-limit", help="Stop (with a checkpoint) after this many seconds."
    ),
    export: Optional[str] = typer.Option(
        None, "--export", help="Add/replace this weights.toml entry with the final weights."
    ),
    export_checkpoint: Optional[str] = typer.Option(
        None, "--export-checkpoint", help="final (default) or best: the weights of the best validation score."
    ),
    export_dtype: Optional[str] = typer.Option(
        None, "--export-dtype", help="float32 (default) or float16: half the size, loads back as float32."
    ),
    fit_vote: bool = typer.Option(
        False, "--fit-vote", help="With --task detect: keep the --init-weights detector's network and fit its "
        "image-level vote on the crops' probabilities (on --data, cross-validated over its photos)."
    ),
    vote_clean_target: Optional[float] = typer.Option(
        None, "--vote-clean-target", metavar="P", help="With --fit-vote: raise the clean decision until this share "
        "of clean photos (0-1) is called clean in cross-validation (default 0: off)."
    ),
    vote_samples: Optional[str] = typer.Option(
        None, "--vote-samples", metavar="FILE", help="With --fit-vote: reuse the vote_samples.pt an earlier fit of "
        "the same network saved, instead of reading the photos again."
    ),
    keep_vote: bool = typer.Option(
        False, "--keep-vote", help="With --fit-vote: keep the --init-weights detector's own vote and only calibrate "
        "its confidence (a temperature fitted on its own logits on the samples, e.g. of --synthesis wide): the same "
        "decisions."
    ),
    calibrate_calls: bool = typer.Option(
        False, "--calibrate-calls", help="With --fit-vote: also give each called type its own confidence map, "
        "fitted on the samples (a noise call right more often than its probability rises, a blur call that is often "
        "fog falls): the same decisions."
    ),
    quiet: Quiet = False,
) -> None:
    """Train or fine-tune a zoo model; checkpoints, metrics and final weights go to runs/NAME/."""
    options = dict(locals())
    given = {k: v for k, v in options.items() if v is not None and v is not False}  # keep 0 (e.g. --workers 0)
    import dataclasses

    from rich.console import Console
    from rich.markup import escape

    from irtool.errors import UsageError
    from irtool.train import TrainConfig, load_config
    from irtool.train import train as run_training
    from irtool.train.config import explicit_keys
    from irtool.train.export import EXPORT_CHECKPOINTS, EXPORT_DTYPES
    from irtool.train.memory import TrainingMemoryError

    if export_checkpoint is not None and export_checkpoint not in EXPORT_CHECKPOINTS:
        raise UsageError(f"--export-checkpoint must be {' or '.join(EXPORT_CHECKPOINTS)}, not {export_checkpoint!r}")
    if fit_vote and export_checkpoint == "best":
        raise UsageError("--fit-vote has no validation checkpoints: drop --export-checkpoint best")
    if export_dtype is not None and export_dtype not in EXPORT_DTYPES:
        raise UsageError(f"--export-dtype must be one of {', '.join(EXPORT_DTYPES)}, not {export_dtype!r}")
    if preset is None and arch is not None:
        from irtool.models import family_preset

        preset = family_preset(arch, task or "denoise").name
    # Every option named like a TrainConfig field overrides it (None: not given).
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides = {k: v for k, v in options.items() if k in fields}
    overrides.update(preset=preset, name=name or None)
    cfg = load_config(preset=preset, task=task, recipe_name=recipe, config_file=config, overrides=overrides)
    if export and export_checkpoint == "best" and not cfg.val:
        raise UsageError("--export-checkpoint best needs a validation set (--val): without one a run has no best "
                         "checkpoint")
    if name is None and cfg.name == "run":
        cfg = cfg.replace(name=f"{cfg.preset}_{cfg.task}")
    console = Console(stderr=True, quiet=quiet)
    # What the user has to act on (a warning, the command that resumes) is printed under --quiet too.
    loud = Console(stderr=True)
    console.print(f"[bold]irtool train[/] {cfg.preset} on {cfg.task} -> {escape(str(Path(cfg.out) / cfg.name))}",
                  highlight=False, soft_wrap=True)
    # A batch size nobody chose (the recipe's) is lowered to what fits in memory; a chosen one is refused instead.
    lower_batch = "batch_size" not in explicit_keys(config, {"batch_size": batch_size})

    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TextColumn("{task.fields[status]}"), TimeRemainingColumn(), console=console, disable=quiet)
    # Shown from the first progress report, at the iteration the run starts from (a resumed run is not at 0; a
    # run that stops before its first step, or has nothing left to train, shows none).
    tid: TaskID | None = None

    def on_progress(done: int, total: int) -> None:
        nonlocal tid
        if tid is None:
            bar.start()
            tid = bar.add_task("training", total=total, completed=done, status="")
        bar.update(tid, completed=done, total=total)

    def on_log(rec: dict) -> None:
        bits = [f"loss {rec['loss']:.4f}" if "loss" in rec else "",
                f"{rec['it_s']:.2f} it/s" if "it_s" in rec else ""]
        bits += [f"{k[4:]} {v:.3f}" for k, v in rec.items() if k.startswith("val_")]
        on_progress(rec["iter"], rec["total"])
        if tid is not None:
            bar.update(tid, status="  ".join(b for b in bits if b))

    def on_note(line: str) -> None:
        console.print(escape(line), highlight=False, soft_wrap=True)

    try:
        if fit_vote:
            from irtool.train.vote import fit_vote_run

            bar.start()
            vote_task = bar.add_task("fitting the vote (photos)", total=None, status="")
            result = fit_vote_run(cfg, progress=lambda done, total: bar.update(vote_task, completed=done, total=total))
        else:
            try:
                result = run_training(cfg, on_log=on_log, on_note=on_note, on_progress=on_progress,
                                      lower_batch_to_fit=lower_batch)
            except TrainingMemoryError as exc:
                raise UsageError(exc.advice(_FIX_OPTIONS)) from None
    finally:
        if bar.live.is_started:  # stopping a display that never started prints an empty line
            bar.stop()
    for warning in result.warnings:
        loud.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if result.stopped == "complete":
        console.print(f"already complete at iteration {result.iteration}; raise --iters above {result.iteration} to "
                      f"train further (run folder {result.run_dir})", highlight=False, soft_wrap=True)
    else:
        console.print(f"{result.stopped} at iteration {result.iteration}; run folder {result.run_dir}",
                      highlight=False, soft_wrap=True)
    if result.stopped in ("interrupted", "time-limit"):
        command = _command_line({**{k: v for k, v in given.items() if k != "resume"}, "resume": "auto"})
        loud.print(f"resume with: {escape(command)}", highlight=False, soft_wrap=True)
    if result.stopped == "interrupted":
        raise typer.Exit(130)
    if export and result.final_weights is not None:
        from irtool.train.export import export_training
        from irtool.weights import catalog

        path = export_training(result, cfg, name=export, command=_command_line(given),
                               weights_dir=catalog.ASSET_WEIGHTS_DIR, checkpoint=export_checkpoint or "final",
                               dtype=export_dtype or "float32")
        console.print(f"exported {export} into {path}")
