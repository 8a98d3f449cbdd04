"""Rendering for ``irtool eval``: argument checks, progress bar, rich tables and report files.

All the work is :func:`irtool.evaluate.evaluate`; this module only turns CLI options into its arguments and its
reports into a table (stdout), CSV and JSON.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence


def _fmt(value: float, digits: int) -> str:
    if math.isinf(value):
        return "inf"
    if math.isnan(value):
        return "-"
    return f"{value:.{digits}f}"


def _params(count: int) -> str:
    if count == 0:
        return "-"
    return f"{count / 1e6:.2f} M" if count >= 1e5 else f"{count / 1e3:.1f} k"


def render_list(console) -> None:
    """``--list``: every benchmark (with its hub location or note) and every protocol."""
    from rich.table import Table

    from irtool.evaluate import DEFAULT_PROTOCOL, PROTOCOLS, load_benchmarks

    benches = Table(title="Benchmarks", show_lines=False)
    for column in ("name", "tasks", "source", "note"):
        benches.add_column(column, overflow="fold")
    for bench in load_benchmarks().values():
        hub_copy = bench.hub and bench.revision
        source = f"{bench.repo_id}@{bench.revision[:12]}" if hub_copy else "no hub copy (--data DIR)"
        benches.add_row(bench.name, " ".join(bench.tasks), source, bench.note)
    console.print(benches)
    protocols = Table(title="Protocols")
    for column in ("name", "tasks", "default for", "description", "reproduces"):
        protocols.add_column(column, overflow="fold")
    for proto in PROTOCOLS.values():
        defaults = " ".join(t for t, n in DEFAULT_PROTOCOL.items() if n == proto.name)
        protocols.add_row(proto.name, " ".join(proto.tasks), defaults, proto.description, proto.reproduces)
    console.print(protocols)


def render_reports(console, reports: Sequence[Any]) -> None:
    """One table per run: a row per (benchmark, model), the baseline first; the protocol in title and caption."""
    from rich.table import Table

    if not reports:
        return
    first = reports[0]
    table = Table(title=f"irtool eval - task {first.task} - protocol {first.protocol_label}",
                  caption=f"protocol {first.protocol.name}: {first.protocol.description}")
    for column, justify in (("benchmark", "left"), ("model", "left"), ("images", "right"), ("PSNR (dB)", "right"),
                            ("SSIM", "right"), ("params", "right"), ("s/MP", "right")):
        table.add_column(column, justify=justify, overflow="fold")
    for report in reports:
        for s in report.summaries:
            style = "dim" if s.baseline else None
            table.add_row(s.benchmark, s.model, str(s.images), _fmt(s.psnr, 2), _fmt(s.ssim, 4), _params(s.parameters),
                          _fmt(s.seconds_per_megapixel, 3), style=style)
        if report.lq_source != "synthesised":
            table.add_row(report.benchmark, f"[italic]inputs from {report.lq_source}[/]", "", "", "", "", "")
    console.print(table)


def _datasets(*, bench, task, data, data_lq):
    from irtool.errors import UsageError
    from irtool.evaluate import benchmark_dataset, folder_dataset

    if not bench and data is None:
        raise UsageError("name a benchmark with --bench NAME or a local folder with --data DIR "
                         "(see `irtool eval --list`)")
    if data_lq is not None and data is None:
        raise UsageError("--data-lq needs --data (the folder of ground-truth images)")
    datasets = [benchmark_dataset(name, task) for name in bench or []]
    if data is not None:
        datasets.append(folder_dataset(data, data_lq))
    return datasets


def _models(*, model, weights, arch, device, tile):
    from irtool.zoo import EngineSettings, ModelZoo

    zoo = ModelZoo(EngineSettings(device=device, tile=tile))
    loaded = [zoo.from_entry(name) for name in model or []]
    loaded += [zoo.from_file(path, arch) for path in weights or []]
    return loaded


def run_eval_cli(*, bench: list[str] | None, task: str | None, model: list[str] | None, weights: list[Path] | None,
                 arch: str | None, data: Path | None, data_lq: Path | None, protocol: str | None,
                 sigma: float | None, quality: int | None, device: str, tile: int | None, csv: Path | None,
                 json_report: Path | None, save_images: Path | None, list_: bool, quiet: bool) -> None:
    """Entry point called by ``irtool/cli/evaluate.py`` with exactly its options."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from irtool.evaluate import evaluate, get_protocol, write_csv, write_json

    out = Console(quiet=quiet)
    if list_:
        render_list(Console())
        return
    if task is None:
        from irtool.errors import UsageError

        raise UsageError("--task is required (denoise, jpeg, deblur, derain, dehaze, lowlight, sr2, sr3, sr4)")
    chosen = get_protocol(protocol, task=task)
    datasets = _datasets(bench=bench, task=task, data=data, data_lq=data_lq)
    # The baseline row always comes first.
    models: list[Any] = [None, *_models(model=model, weights=weights, arch=arch, device=device, tile=tile)]
    reports = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True, quiet=quiet), transient=True) as bar:
        for dataset in datasets:
            job = bar.add_task(f"{dataset.name}", total=len(dataset) * len(models))
            reports.append(evaluate(models, dataset, chosen, task=task, sigma=sigma, quality=quality,
                                    save_images=save_images,
                                    progress=lambda done, total, job=job: bar.update(job, completed=done)))
    render_reports(out, reports)
    if csv is not None:
        out.print(f"per-image results: {write_csv(reports, csv)}")
    if json_report is not None:
        out.print(f"JSON report: {write_json(reports, json_report)}")
