"""``irtool download``: fetch weights (and benchmarks) from the Hugging Face Hub, verified."""

from __future__ import annotations

from typing import List, Optional

import typer


def download(
    names: Optional[List[str]] = typer.Argument(None, help="weights.toml entries to fetch."),
    all_: bool = typer.Option(
        False, "--all", help="Every entry in weights.toml: hub entries are downloaded (once; cached after), bundled "
        "ones ship inside irtool and are only checked against their sha256."
    ),
    routes: bool = typer.Option(
        False, "--routes", help="The hub entries `restore --auto`'s routes prefer to the bundled models (see "
        "`irtool models`): download once, and --auto uses them from then on."
    ),
    bench: Optional[List[str]] = typer.Option(
        None, "--bench", help="Benchmark data set(s) to fetch (see `irtool eval --list`)."
    ),
) -> None:
    """Download pinned files into the standard Hugging Face cache and check their sha256."""
    from rich.console import Console

    from irtool.errors import IrtoolError, UsageError
    from irtool.foreign_names import FOREIGN_PREFIX, INSTALL_HINT, is_foreign, spandrel_installed
    from irtool.weights import entry_path, load_catalog

    console = Console(stderr=True)
    catalog = load_catalog()
    entries = list(catalog.entries.values()) if all_ else [catalog.get(n) for n in names or []]
    if routes and not all_:
        from irtool.weights.routes import preferred_downloads

        entries += [e for e in preferred_downloads(catalog) if e not in entries]
    if not entries and not bench and not routes:
        raise UsageError("name weights entries to download, or use --all / --routes / --bench (see `irtool models`)")
    failed = 0
    for entry in entries:
        try:
            path = entry_path(entry, download=True)
            how = " (bundled; sha256 checked)" if entry.bundled else ""
            console.print(f"[green]ok[/] {entry.name}{how} -> {path}", highlight=False, soft_wrap=True)
            if is_foreign(entry.preset) and not spandrel_installed():
                console.print(f"note: {entry.name} is a {entry.preset.removeprefix(FOREIGN_PREFIX)} network: running "
                              f"it needs spandrel ({INSTALL_HINT}); until then --auto passes it over",
                              highlight=False, soft_wrap=True)
        except IrtoolError as exc:
            failed = failed or exc.exit_code
            console.print(f"[red]failed[/] {entry.name}: {exc}", highlight=False, soft_wrap=True)
    for name in bench or []:
        from irtool.evaluate.benchmarks import fetch_benchmark

        try:
            root = fetch_benchmark(name)
            console.print(f"[green]ok[/] benchmark {name} -> {root}")
        except IrtoolError as exc:
            failed = failed or exc.exit_code
            console.print(f"[red]failed[/] benchmark {name}: {exc}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(failed)
