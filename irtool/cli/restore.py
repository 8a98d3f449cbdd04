"""``irtool restore``: batch restoration with GIV auto-detection, over the tiled engine."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def restore(
    inputs: List[str] = typer.Argument(..., help="Image files, folders (recursive; the tree is mirrored) or globs."),
    output: Path = typer.Option(Path("restored"), "--output", "-o", help="Output folder (never an input's folder)."),
    auto: bool = typer.Option(False, "--auto", help="Detect each image's degradation from the HAIR GIV and route it."),
    task: Optional[str] = typer.Option(None, "--task", help="denoise, jpeg, deblur, derain, dehaze, lowlight, sr2, sr3, sr4, all."),
    model: Optional[str] = typer.Option(None, "--model", help="A weights.toml entry (see `irtool models`)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="A local checkpoint: .safetensors, official .pth/.ckpt."),
    arch: Optional[str] = typer.Option(None, "--arch", help="Preset of --weights (needed unless the file names it)."),
    detect_only: bool = typer.Option(False, "--detect-only", help="Report detections; restore nothing."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N, mps."),
    precision: str = typer.Option("auto", "--precision", help="auto (fp16 on CUDA, fp32 elsewhere), fp32, fp16, bf16."),
    tile: Optional[int] = typer.Option(None, "--tile", help="Tile size in input pixels (default: from free memory)."),
    overlap: int = typer.Option(32, "--overlap", help="Tile overlap in input pixels (blended)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="png, jpg, webp or tiff (default: the input's)."),
    quality: Optional[int] = typer.Option(None, "--quality", help="JPEG/WebP quality (default 95)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo outputs that already exist (default: skip them)."),
    shard: Optional[str] = typer.Option(None, "--shard", help="i/n: process only shard i of n (1-based)."),
    json_report: Optional[Path] = typer.Option(None, "--json", help="Write a JSON report of every input."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or table; errors still go to stderr."),
) -> None:
    """Restore images in batches; bad files are reported and skipped, and the exit code says so."""
    _run(
        inputs=inputs, output=output, auto=auto, task=task, model=model, weights=weights, arch=arch,
        detect_only=detect_only, device=device, precision=precision, tile=tile, overlap=overlap, fmt=fmt,
        quality=quality, overwrite=overwrite, shard=shard, json_report=json_report, quiet=quiet,
    )
