"""``irtool models``: architectures, presets, parameter counts and which weights are present."""

from __future__ import annotations

import typer


def models(
    weights: bool = typer.Option(
        True, "--weights/--no-weights", help="Also list weights.toml entries and whether they are present."
    ),
) -> None:
    """List architecture presets with parameter counts, the weights entries, and what each --auto route uses."""
    from rich.console import Console
    from rich.table import Table

    from irtool.models import get_preset, parameter_count, preset_names

    console = Console()
    table = Table(title="Architecture presets")
    # On a narrow terminal the family (the preset's prefix says it) and paper size give way to the description.
    wide = console.width >= 120
    columns = ("preset", "family", "params", "paper", "scale", "tasks", "description") if wide else (
        "preset", "params", "scale", "tasks", "description")
    for col in columns:
        # Names are typed after --preset / --model: never cut them; the description wraps instead.
        table.add_column(col, justify="right" if col in {"params", "paper", "scale"} else "left",
                         no_wrap=col in {"preset", "params", "scale"})
    for name in preset_names():
        p = get_preset(name)
        cells = {"preset": name, "family": p.family, "params": f"{parameter_count(name) / 1e6:.2f}M",
                 "paper": f"{p.paper_params / 1e6:.2f}M" if p.paper_params else "", "scale": f"x{p.scale}",
                 "tasks": ", ".join(p.tasks), "description": p.description}
        table.add_row(*(cells[col] for col in columns))
    console.print(table)
    if not weights:
        return
    from irtool.weights import is_present, load_catalog
    from irtool.weights.routes import choose_route, why_unusable

    catalog = load_catalog()
    wt = Table(title=f"Weights ({catalog.path})", caption="NC: the licence forbids commercial use")
    for col in ("entry", "preset", "tasks", "source", "present"):
        wt.add_column(col, no_wrap=col in {"entry", "preset"}, overflow="fold")
    present = {name: is_present(entry) for name, entry in catalog.entries.items()}
    reasons = {name: why_unusable(entry) for name, entry in catalog.entries.items()}  # hashes are cached per process
    for entry in catalog.entries.values():
        source = "bundled" if entry.bundled else f"hub: {entry.repo_id}"
        if entry.non_commercial:
            source += " (NC)"
        wt.add_row(entry.name, entry.preset, ", ".join(entry.tasks), source, "yes" if present[entry.name] else "no")
    console.print(wt)
    rt = Table(title="Routes of restore --auto (the first present entry is used; "
                     "`irtool download --routes` fetches the others)")
    for col in ("degradation", "uses now", "preference"):
        rt.add_column(col, no_wrap=col != "preference", overflow="fold")
    for kind in catalog.routes:
        choice = choose_route(catalog, kind, unusable=lambda entry: reasons[entry.name])
        why = dict(zip(choice.missing, choice.reasons))
        order = [f"{name} ({why[name]})" if name in why else name for name in choice.preferences]
        rt.add_row(kind, choice.used or "nothing present", " > ".join(order))
    console.print(rt)
