"""``irtool eval``: benchmarks with the field's metrics and named, pinned protocols."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from irtool.cli.options import (
    EVAL_TASK_HELP,
    Arch,
    CompileOption,
    Device,
    JsonReport,
    PrecisionOption,
    Quiet,
    RouteOption,
    Tile,
    WeightsFiles,
)


def evaluate(
    bench: Optional[List[str]] = typer.Option(None, "--bench", help="Benchmark name(s), e.g. urban100, set5, cbsd68."),
    task: Optional[str] = typer.Option(None, "--task", help=EVAL_TASK_HELP),
    model: Optional[List[str]] = typer.Option(
        None, "--model", help="weights.toml entries (several allowed); with --task detect or auto one detector "
        "entry (default: weights.toml's detector)."
    ),
    weights: WeightsFiles = None,
    arch: Arch = None,
    data: Optional[Path] = typer.Option(None, "--data", help="Evaluate a local folder (HR only, or with --data-lq)."),
    data_lq: Optional[Path] = typer.Option(
        None, "--data-lq", help="Degraded inputs paired by file name with --data (default: degrade --data as the "
        "protocol says)."
    ),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="Named evaluation protocol (default per task)."),
    sigma: Optional[float] = typer.Option(None, "--sigma", help="Noise level for denoise protocols."),
    quality: Optional[int] = typer.Option(None, "--quality", help="JPEG quality for jpeg protocols."),
    route: RouteOption = None,
    device: Device = "auto",
    precision: PrecisionOption = "auto",
    compile: CompileOption = False,
    tile: Tile = None,
    csv: Optional[Path] = typer.Option(None, "--csv", help="Per-image results as CSV."),
    json_report: JsonReport = None,
    save_images: Optional[Path] = typer.Option(
        None, "--save-images", help="Also write every output as PNG under DIR/BENCHMARK/MODEL/."
    ),
    classical: bool = typer.Option(
        False, "--classical", help="Denoise only: add scikit-image's NLM, wavelet and TV denoisers as baseline rows."
    ),
    markdown: bool = typer.Option(False, "--markdown", help="--task detect: also print the results as Markdown."),
    synthesis: str = typer.Option("default", "--synthesis", help="--task detect: degrade with the default generators, "
                                  "every registered one (wide) or only those outside the default draw (unseen)."),
    labelled: bool = typer.Option(False, "--labelled", help="--task detect: --data holds degraded images made "
                                  "elsewhere, in subfolders named by their type (clean, noise, haze, ...)."),
    baseline_only: bool = typer.Option(
        False, "--baseline-only", help="Score only the input (and --classical rows); without it and without "
        "--model/--weights, the model `irtool restore --task TASK` uses is scored too."
    ),
    list_: bool = typer.Option(False, "--list", help="List benchmarks and protocols."),
    quiet: Quiet = False,
) -> None:
    """Evaluate models on benchmarks or a local folder; the input (or bicubic) baseline is always a row.

    --task detect measures the degradation detector on a folder of clean photos (--data) instead; --task auto runs
    restore --auto on a labelled folder (--data DIR with DIR/clean/ and DIR/<type>/) and scores it against the
    clean originals.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    from irtool.cli.eval_render import chosen_datasets, chosen_models, render_list, render_reports, run_detect
    from irtool.errors import UsageError
    from irtool.evaluate import classical_denoisers, evaluate, get_protocol, write_csv, write_json

    out = Console(quiet=quiet)
    if list_:
        render_list(Console())
        return
    if task is None:
        raise UsageError(f"--task is required ({EVAL_TASK_HELP.split(';')[0]})")
    if task == "auto":
        from irtool.cli.eval_render import run_auto

        run_auto(out, bench=bench, model=model, weights=weights, arch=arch, data=data, device=device,
                 precision=precision, tile=tile, routes=route or [],
                 json_report=json_report, quiet=quiet,
                 unused={"data_lq": data_lq, "protocol": protocol, "sigma": sigma, "quality": quality, "csv": csv,
                         "save_images": save_images, "classical": classical, "synthesis": synthesis != "default",
                         "compile": compile})
        return
    if task == "detect":
        run_detect(out, bench=bench, model=model, weights=weights, arch=arch, data=data, device=device,
                   json_report=json_report, markdown=markdown, quiet=quiet, synthesis=synthesis, labelled=labelled,
                        unused={"data_lq": data_lq, "protocol": protocol, "route": route,
                                "precision": None if precision == "auto" else precision,
                                "sigma": sigma, "quality": quality, "tile": tile, "csv": csv,
                                "save_images": save_images, "classical": classical, "compile": compile})
        return
    if route:
        raise UsageError("--route is for --task auto")
    if markdown or labelled or synthesis != "default":
        raise UsageError("--markdown, --labelled and --synthesis are for --task detect")
    if classical and task != "denoise":
        raise UsageError(f"--classical adds classical Gaussian denoisers and needs --task denoise, not {task!r}")
    chosen = get_protocol(protocol, task=task)
    datasets = chosen_datasets(bench=bench, task=task, data=data, data_lq=data_lq)
    # The baseline rows always come first: the input, then the classical denoisers at the run's noise level.
    baselines: list[Any] = [None]
    if classical:
        classical_sigma = chosen.default_sigma if sigma is None else sigma
        if classical_sigma is None:  # not so far: every denoising protocol adds Gaussian noise with a default sigma
            raise UsageError(f"protocol {chosen.name!r} adds no Gaussian noise for --classical to remove")
        baselines += classical_denoisers(sigma=classical_sigma)
    if baseline_only and (model or weights):
        raise UsageError("--baseline-only scores no model; drop it or drop --model/--weights")
    models: list[Any] = [*baselines, *([] if baseline_only else chosen_models(
        model=model, weights=weights, arch=arch, device=device, precision=precision, compile=compile, tile=tile,
        task=task, console=Console(stderr=True)))]
    reports = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True, quiet=quiet), transient=True) as bar:
        for dataset in datasets:
            job = bar.add_task(f"{dataset.name}", total=len(dataset) * len(models))

            def advance(done: int, total: int, job: TaskID = job) -> None:
                bar.update(job, completed=done)

            reports.append(evaluate(models, dataset, chosen, task=task, sigma=sigma, quality=quality,
                                    save_images=save_images, progress=advance))
    render_reports(out, reports)
    if csv is not None:
        out.print(f"per-image results: {write_csv(reports, csv)}")
    if json_report is not None:
        out.print(f"JSON report: {write_json(reports, json_report)}")
