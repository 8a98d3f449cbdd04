"""Rendering for ``irtool eval``: argument checks, progress bar, rich tables and report files.

All the work is :func:`irtool.evaluate.evaluate` (or :func:`irtool.evaluate.evaluate_detector` for ``--task detect``);
this module only turns CLI options into its arguments and its reports into tables (stdout), CSV, JSON and Markdown.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from rich.console import JustifyMethod


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
    """``--list``: every benchmark (tasks, hub location or note) and every protocol, one entry per paragraph so a
    narrow terminal wraps prose, never a name."""
    import textwrap

    from rich.markup import escape

    from irtool.evaluate import DEFAULT_PROTOCOL, PROTOCOLS, load_benchmarks

    width = max(40, min(console.width, 100))

    def entry(name: str, facts: str, text: str) -> None:
        head = textwrap.wrap(f"{name}  {facts}", width=width - 2, subsequent_indent="      ")
        console.print(f"  [bold]{escape(name)}[/]{escape(head[0][len(name):])}", highlight=False, soft_wrap=True)
        for line in head[1:]:
            console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
        for line in textwrap.wrap(text, width=width - 6):
            console.print(f"      {escape(line)}", highlight=False, soft_wrap=True)

    console.print("[bold]Benchmarks[/] (irtool download --bench NAME fetches those with a hub copy)")
    for bench in load_benchmarks().values():
        source = f"hub {bench.repo_id}@{bench.revision[:12]}" if bench.hub and bench.revision else "no hub copy"
        entry(bench.name, f"{' '.join(bench.tasks)}; {source}", bench.note)
    console.print()
    console.print("[bold]Protocols[/] (--protocol NAME; each task has a default)")
    for proto in PROTOCOLS.values():
        defaults = " ".join(t for t, n in DEFAULT_PROTOCOL.items() if n == proto.name)
        facts = " ".join(proto.tasks) + (f"; default for {defaults}" if defaults else "")
        description = proto.description.rstrip(".") + "."
        entry(proto.name, facts, f"{description} Reproduces: {proto.reproduces.rstrip('.')}." if proto.reproduces
              else description)


def render_reports(console, reports: Sequence[Any]) -> None:
    """One table per run: a row per (benchmark, model), the baseline first; the protocol in title and caption."""
    from rich.table import Table

    if not reports:
        return
    first = reports[0]
    table = Table(title=f"irtool eval - task {first.task} - protocol {first.protocol_label}",
                  caption=f"protocol {first.protocol.name}: {first.protocol.description}")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("benchmark", "left"), ("model", "left"), ("images", "right"), ("PSNR (dB)", "right"), ("SSIM", "right"),
        ("params", "right"), ("precision", "left"), ("s/MP", "right"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="fold")
    for report in reports:
        for s in report.summaries:
            style = "dim" if s.baseline else None
            table.add_row(s.benchmark, s.model, str(s.images), _fmt(s.psnr, 2), _fmt(s.ssim, 4), _params(s.parameters),
                          s.precision, _fmt(s.seconds_per_megapixel, 3), style=style)
        if report.lq_source != "synthesised":
            table.add_row(report.benchmark, f"[italic]inputs from {report.lq_source}[/]", "", "", "", "", "", "")
    console.print(table)


def chosen_datasets(*, bench, task, data, data_lq):
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


def chosen_models(*, model, weights, arch, device, tile, precision: str = "auto", compile: bool = False,
                  task: str | None = None, console=None):
    """The models to score: those named, or with none named the model ``irtool restore --task TASK`` would use
    (said on ``console``), so ``eval --task denoise --data DIR`` measures the tool, not only its input."""
    from irtool.zoo import EngineSettings, ModelZoo

    zoo = ModelZoo(EngineSettings(device=device, precision=precision, tile=tile, compile=compile))
    loaded = [zoo.from_entry(name) for name in model or []]
    loaded += [zoo.from_file(path, arch) for path in weights or []]
    if not loaded and task is not None:
        default = zoo.for_task(task)
        if console is not None:
            console.print(f"no --model given: evaluating {default.name}, the model `irtool restore --task {task}` "
                          "uses", highlight=False, soft_wrap=True)
        loaded.append(default)
    return loaded


def render_detection(console, report: Any, *, markdown: bool) -> None:
    """``--task detect``: the confusion matrix (rows true, columns predicted), per-severity accuracy, summary."""
    from rich.table import Table

    matrix = report.confusion()
    accuracy = report.kind_accuracy()
    table = Table(title=f"irtool eval - task detect - detector {report.detector}",
                  caption="rows: true type, columns: predicted type")
    table.add_column("true \\ predicted")
    for name in report.types:
        table.add_column(name, justify="right")
    table.add_column("accuracy", justify="right")
    for name, row in zip(report.types, matrix):
        cells = [f"[bold]{n}[/]" if name == col else (str(n) if n else "[dim]0[/]")
                 for col, n in zip(report.types, row)]
        table.add_row(name, *cells, f"{100 * accuracy[name]:.1f}%")
    console.print(table)
    by_severity = Table(title="accuracy per severity")
    by_severity.add_column("type")
    for value in report.severities:
        by_severity.add_column(f"{value:g}", justify="right")
    for name, row in report.kind_severity_accuracy().items():
        by_severity.add_row(name, *(f"{100 * v:.0f}%" for v in row.values()))
    console.print(by_severity)
    degraded = report.degraded
    clean_total = len(report.samples) - len(degraded)
    console.print(f"type accuracy (degraded samples): {100 * report.type_accuracy:.1f}% "
                  f"({sum(s.correct for s in degraded)}/{len(degraded)})")
    console.print(f"clean accuracy: {100 * report.clean_accuracy:.1f}% "
                  f"({sum(s.correct for s in report.samples if s.true_type == 'clean')}/{clean_total})")
    console.print(f"{report.images} images, {len(report.samples)} samples, {report.seconds:.1f} s, seed {report.seed}")
    if markdown:
        console.print(report.to_markdown(), markup=False, highlight=False, soft_wrap=True)


def run_detect(out, *, bench, model, weights, arch, data, device, json_report, markdown, quiet, synthesis: str,
               labelled: bool, unused: dict[str, Any]) -> None:
    import json

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from irtool.degradations import SYNTHESES
    from irtool.detect import load_detector, load_detector_file
    from irtool.errors import UsageError
    from irtool.evaluate import evaluate_detector, evaluate_detector_on_files
    from irtool.zoo import EngineSettings, ModelZoo

    if bench:
        raise UsageError("--task detect measures the detector on a folder of clean photos: use --data DIR, "
                         "not --bench")
    given = [f"--{name.replace('_', '-')}" for name, value in unused.items() if value not in (None, False, [])]
    if given:
        raise UsageError(f"{', '.join(given)} do not apply to --task detect")
    if data is None:
        raise UsageError("--task detect needs a folder of clean photos: --data DIR")
    if synthesis not in SYNTHESES:
        raise UsageError(f"--synthesis must be one of {', '.join(SYNTHESES)}, not {synthesis!r}")
    if labelled and synthesis != "default":
        raise UsageError("--labelled reads degraded files as they are: drop --synthesis")
    chosen = [*(model or []), *(str(w) for w in weights or [])]
    if len(chosen) > 1:
        raise UsageError(f"--task detect evaluates one detector, got {' '.join(chosen)}")
    if arch and not weights:
        raise UsageError("--arch goes with --weights")
    zoo = ModelZoo(EngineSettings(device=device))
    detector = load_detector_file(zoo, weights[0], arch) if weights else load_detector(zoo, model[0] if model else None)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True, quiet=quiet), transient=True) as bar:
        job = bar.add_task(f"detect {data.name}", total=None)
        def progress(done: int, total: int) -> None:
            bar.update(job, completed=done, total=total)

        if labelled:
            report = evaluate_detector_on_files(detector, data, progress=progress)
        else:
            report = evaluate_detector(detector, data, synthesis=synthesis, progress=progress)
    render_detection(out, report, markdown=markdown)
    if json_report is not None:
        from irtool.io import atomic_write_text

        payload = {"tool": "irtool eval", "detection": report.to_dict(), "markdown": report.to_markdown()}
        atomic_write_text(json_report, json.dumps(payload, indent=2))
        out.print(f"JSON report: {json_report}")


def run_auto(out, *, bench, model, weights, arch, data, device, tile, json_report, quiet, precision: str = "auto",
             routes: Sequence[str] = (), unused: dict[str, Any]) -> None:
    """``--task auto``: :func:`irtool.evaluate.auto.evaluate_auto` with the CLI's detector choice."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from irtool.errors import UsageError
    from irtool.evaluate.auto import evaluate_auto
    from irtool.restore import BatchRestorer, RestoreRequest, parse_route
    from irtool.zoo import EngineSettings

    if bench:
        raise UsageError("--task auto reads a labelled folder with clean originals: use --data DIR, not --bench")
    given = [f"--{name.replace('_', '-')}" for name, value in unused.items() if value not in (None, False, [])]
    if given:
        raise UsageError(f"{', '.join(given)} do not apply to --task auto")
    if data is None:
        raise UsageError("--task auto needs a labelled folder: --data DIR with DIR/clean/ and DIR/<type>/")
    chosen = [*(model or []), *(str(w) for w in weights or [])]
    if len(chosen) > 1:
        raise UsageError(f"--task auto runs one detector, got {' '.join(chosen)}")
    if arch:
        raise UsageError("--arch does not apply to --task auto (a detector file names its preset)")
    restorer = BatchRestorer(RestoreRequest(auto=True, detector=chosen[0] if chosen else None,
                                            routes=tuple(parse_route(r) for r in routes)),
                             engine=EngineSettings(device=device, precision=precision, tile=tile))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True, quiet=quiet), transient=True) as bar:
        job = bar.add_task(f"--auto {data.name}", total=None)
        report = evaluate_auto(restorer, data, progress=lambda done, total: bar.update(job, completed=done,
                                                                                       total=total))
    out.print(report.to_markdown(), markup=False)
    if json_report is not None:
        report.save(json_report)
        out.print(f"JSON report: {json_report}")
