"""``irtool eval``: benchmarks with the field's metrics and named, pinned protocols."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def evaluate(
    bench: Optional[List[str]] = typer.Option(None, "--bench", help="Benchmark name(s), e.g. urban100, set5, cbsd68."),
    task: Optional[str] = typer.Option(
        None, "--task",
        help="denoise, jpeg, deblur, derain, dehaze, lowlight, sr2, sr3, sr4, or detect (the degradation detector); "
        "required unless --list.",
    ),
    model: Optional[List[str]] = typer.Option(
        None, "--model", help="weights.toml entries (several allowed); with --task detect one detector entry "
        "(default: weights.toml's detector)."
    ),
    weights: Optional[List[Path]] = typer.Option(
        None, "--weights", help="Local checkpoint(s); with --arch. With --task detect one detector checkpoint "
        "(e.g. irtool train's final.safetensors)."),
    arch: Optional[str] = typer.Option(None, "--arch", help="Preset of --weights (needed unless the file names it)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Evaluate a local folder (HR only, or with --data-lq)."),
    data_lq: Optional[Path] = typer.Option(None, "--data-lq"),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="Named evaluation protocol (default per task)."),
    sigma: Optional[float] = typer.Option(None, "--sigma", help="Noise level for denoise protocols."),
    quality: Optional[int] = typer.Option(None, "--quality", help="JPEG quality for jpeg protocols."),
    device: str = typer.Option("auto", "--device"),
    tile: Optional[int] = typer.Option(None, "--tile"),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Per-image results as CSV."),
    json_report: Optional[Path] = typer.Option(None, "--json", help="Per-image and mean results as JSON."),
    save_images: Optional[Path] = typer.Option(None, "--save-images"),
    classical: bool = typer.Option(
        False, "--classical", help="Denoise only: add scikit-image's NLM, wavelet and TV denoisers as baseline rows."
    ),
    markdown: bool = typer.Option(False, "--markdown", help="--task detect: also print the results as Markdown."),
    list_: bool = typer.Option(False, "--list", help="List benchmarks and protocols."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Evaluate models on benchmarks or a local folder; the input (or bicubic) baseline is always a row.

    --task detect measures the degradation detector on a folder of clean photos (--data) instead.
    """
    options = dict(locals())  # taken before the import below adds a local name
    from irtool.cli.eval_render import run_eval_cli

    run_eval_cli(**options)
