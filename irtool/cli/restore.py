"""``irtool restore``: batch restoration with GIV auto-detection, over the tiled engine."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from irtool.cli.options import (
    RESTORE_TASK_HELP,
    Arch,
    CompileOption,
    Device,
    JsonReport,
    PrecisionOption,
    Quiet,
    RouteOption,
    Tile,
    WeightsFile,
)


def restore(
    inputs: List[str] = typer.Argument(..., help="Image files, folders (recursive; the tree is mirrored) or globs."),
    output: Path = typer.Option(Path("restored"), "--output", "-o", help="Output folder (never an input's folder); "
                                "for one input, an output file (-o restored.png)."),
    auto: bool = typer.Option(False, "--auto", help="Detect each image's degradation from the HAIR GIV and route it."),
    task: Optional[str] = typer.Option(None, "--task", help=RESTORE_TASK_HELP),
    model: Optional[str] = typer.Option(None, "--model", help="A weights.toml entry (see `irtool models`)."),
    weights: WeightsFile = None,
    arch: Arch = None,
    detect_only: bool = typer.Option(False, "--detect-only", help="Report detections; restore nothing."),
    min_confidence: float = typer.Option(
        0.0, "--min-confidence", help="With --auto: copy images whose detection is less confident than this (0-1; "
        "default 0, never) instead of restoring them."
    ),
    detector: Optional[str] = typer.Option(
        None, "--detector", help="With --auto: a detector entry or checkpoint file (default: weights.toml's detector)."
    ),
    route: RouteOption = None,
    device: Device = "auto",
    precision: PrecisionOption = "auto",
    compile: CompileOption = False,
    tile: Tile = None,
    overlap: int = typer.Option(32, "--overlap", help="Tile overlap in input pixels (blended)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="png, jpg, webp or tiff (default: the input's)."),
    quality: Optional[int] = typer.Option(None, "--quality", help="JPEG/WebP quality (default 95)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo outputs that already exist (default: skip them)."),
    shard: Optional[str] = typer.Option(None, "--shard", help="i/n: process only shard i of n (1-based)."),
    json_report: JsonReport = None,
    quiet: Quiet = False,
) -> None:
    """Restore images in batches; bad files are reported and skipped, and the exit code says so."""
    from irtool import io

    # Plan the batch and start decoding its first photo before importing the network code (PyTorch takes a second
    # or two to import): io needs no PyTorch, so the decode runs meanwhile.
    fmt = io.file_output_format(output, fmt) or fmt  # -o restored.jpg: one file, in the format its name says
    jobs = io.plan_jobs(inputs, output, fmt=fmt, shard=shard)
    if not compile:  # --compile leaves Inductor's workers, which the normal exit shuts down
        from irtool.cli import skip_teardown

        skip_teardown()  # main() acts on it once this command has returned: every output and the reader closed
    with io.ReadAhead(jobs, will_read=lambda job: io.will_decode(job, overwrite=overwrite,
                                                                  detect_only=detect_only)) as reader:
        from irtool.restore import BatchRestorer, OutputSettings, RestoreRequest, parse_route
        from irtool.zoo import EngineSettings

        request = RestoreRequest(auto=auto, task=task, model=model, weights=weights, arch=arch,
                                 detect_only=detect_only, min_confidence=min_confidence, detector=detector,
                                 routes=tuple(parse_route(r) for r in route or ()))
        request.validate()
        left_out = io.other_files(list(inputs), exclude=(output,))
        restorer = BatchRestorer(
            request,
            engine=EngineSettings(device=device, precision=precision, tile=tile, overlap=overlap, compile=compile),
            output=OutputSettings(format=fmt, quality=quality, overwrite=overwrite),
        )
        _run(restorer, jobs, output=output, json_report=json_report, quiet=quiet, left_out=left_out, reader=reader)


def _left_out_line(paths: list[Path]) -> str:
    """"left out 3 files of the input folders that are not images irtool reads (.gif 2, no extension 1)"."""
    from irtool.io import count_kinds

    files = "file" if len(paths) == 1 else "files"
    return f"left out {len(paths)} {files} of the input folders that are not images irtool reads ({count_kinds(paths)})"


def _run(restorer, jobs, *, output: Path, json_report: Path | None, quiet: bool,
         left_out: list[Path] | None = None, reader=None) -> None:
    """Run the batch with a progress display, then print the table and write the report."""
    import json
    import time

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from irtool.restore import BatchSummary
    from irtool.restore import Progress as Callbacks

    restorer.prepare()  # a missing model fails here, before any progress display
    # Results (the table and the summary line) go to stdout; progress and per-file errors to stderr. Piped into a
    # file or another program, nothing wraps: long names stay on one line.
    out = Console(quiet=quiet) if sys.stdout.isatty() else Console(quiet=quiet, width=_UNWRAPPED)
    err = Console(stderr=True)
    summary = BatchSummary()
    started = time.perf_counter()
    megapixels = 0.0
    interrupted = False
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn(elapsed_when_finished=True),
                  console=Console(stderr=True), disable=quiet, transient=False) as bar:
        files = bar.add_task("files", total=len(jobs), rate="")
        tiles = bar.add_task("tiles", total=1, rate="", visible=False)

        def on_start(job) -> None:
            bar.update(files, description=f"files  {job.source.name[:40]}")
            bar.reset(tiles, total=1, visible=False)

        def on_tiles(done: int, total: int) -> None:
            bar.update(tiles, completed=done, total=total, visible=total > 1)

        def on_done(rec) -> None:
            nonlocal megapixels
            megapixels += rec.megapixels if rec.status == "ok" else 0.0
            bar.update(files, advance=1, rate=_rate(megapixels, time.perf_counter() - started))
            if rec.status == "error":
                err.print(f"[red]error[/] {escape(rec.input)}: {escape(rec.error or '')}", highlight=False,
                          soft_wrap=True)

        try:
            for rec in restorer.run(jobs, Callbacks(on_start=on_start, on_tiles=on_tiles, on_done=on_done), reader):
                summary.records.append(rec)
        except KeyboardInterrupt:
            interrupted = True
    if not quiet:
        out.print(_table(summary.records, total=len(jobs), wrap=sys.stdout.isatty()))
        c = summary.counts
        detect_only = restorer.request.detect_only
        where = "(detections only, nothing written)" if detect_only else f"-> {output}"
        done = "judged" if detect_only else "ok"
        out.print(f"{c['ok']} {done}, {c['skipped']} skipped, {c['error']} failed {where}", highlight=False,
                  soft_wrap=True)
        if left_out:
            out.print(_left_out_line(left_out), highlight=False, soft_wrap=True)
    if json_report is not None:
        from irtool.io import atomic_write_text

        report = summary.to_json()
        for row in report["results"]:
            row["reason"] = _cli_reason(row["reason"])
        atomic_write_text(json_report, json.dumps({**report, "interrupted": interrupted,
                                                   "left_out": [str(path) for path in left_out or ()]}, indent=2))
    if interrupted:
        err.print("interrupted: finished outputs are kept; run the same command again to resume")
        raise typer.Exit(130)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


#: Console width for results written to a file or a pipe: wide enough that no table cell ever wraps.
_UNWRAPPED = 100_000


def _cli_reason(reason: str | None) -> str | None:
    """A record's reason in the command line's words."""
    from irtool.restore import OUTPUT_EXISTS

    return "output exists; --overwrite to redo" if reason == OUTPUT_EXISTS else reason


def _rate(megapixels: float, seconds: float) -> str:
    """Throughput with three significant digits (a small SR input reads 0.0123 MP/s, not 0.00)."""
    rate = megapixels / max(seconds, 1e-9)
    return f"{rate:.3g} MP/s"


def _table(records, *, total: int, wrap: bool):
    """The end-of-batch table: one row per file; why a file was skipped or failed, or what --auto noted."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"irtool restore: {len(records)} of {total} files")
    notes = [_cli_reason(rec.reason) or rec.note or "" for rec in records]
    # Model names must stay whole (which specialist ran is the point); on a terminal long file names fold, never
    # "…"; in a file nothing wraps.
    columns = ["file", "detection", "model", "time", "status"] + (["note"] if any(notes) else [])
    for col in columns:
        table.add_column(col, no_wrap=not wrap or col in {"model", "time", "status"}, overflow="fold")
    names = _short_names([rec.input for rec in records])
    for rec, name, note in zip(records, names, notes):
        det = rec.detected
        detection = f"{det.type} {det.severity:.2f} ({det.confidence:.0%})" if det else ""
        status = {"ok": "[green]ok[/]", "skipped": "[yellow]skipped[/]", "error": "[red]error[/]"}[rec.status]
        cells = [escape(name), detection, rec.model or "", f"{rec.seconds:.2f}s", status, escape(note)]
        table.add_row(*cells[:len(columns)])
    return table


def _short_names(inputs: list[str]) -> list[str]:
    """Input paths relative to the folder they share, so a narrow table keeps the part that differs."""
    if not inputs:
        return []
    folders = [os.path.dirname(os.path.abspath(p)) for p in inputs]
    try:
        common = os.path.commonpath(folders)
    except ValueError:  # different drives (Windows)
        return [os.path.relpath(p) for p in inputs]
    return [os.path.relpath(os.path.abspath(p), common) for p in inputs]
