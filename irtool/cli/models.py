"""``irtool models``: architectures, presets, parameter counts and which weights are present."""

from __future__ import annotations

import typer


def models(
    weights: bool = typer.Option(True, "--weights/--no-weights", help="Also list weights.toml entries and whether they are present."),
) -> None:
    """List architecture presets with parameter counts, and the weights entries."""
    from rich.console import Console
    from rich.table import Table

    from irtool.models import get_preset, parameter_count, preset_names

    console = Console()
    table = Table(title="Architecture presets")
    for col in ("preset", "family", "params", "paper", "scale", "tasks", "description"):
        table.add_column(col, justify="right" if col in {"params", "paper", "scale"} else "left")
    for name in preset_names():
        p = get_preset(name)
        paper = f"{p.paper_params / 1e6:.2f}M" if p.paper_params else ""
        table.add_row(name, p.family.__name__, f"{parameter_count(name) / 1e6:.2f}M", paper, f"x{p.scale}",
                      ",".join(p.tasks), p.description)
    console.print(table)
    if not weights:
        return
    from irtool.weights import is_present, load_catalog

    catalog = load_catalog()
    wt = Table(title=f"Weights ({catalog.path})")
    for col in ("entry", "preset", "tasks", "source", "present"):
        wt.add_column(col)
    for entry in catalog.entries.values():
        source = "bundled" if entry.bundled else f"hub: {entry.repo_id}"
        wt.add_row(entry.name, entry.preset, ",".join(entry.tasks), source, "yes" if is_present(entry) else "no")
    console.print(wt)
