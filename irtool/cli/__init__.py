"""The ``irtool`` command: a thin Typer layer over the Python API.

Only this package imports rich. Command modules import torch and the library inside their
functions, so ``irtool --help`` answers without importing torch.
"""

from __future__ import annotations

import functools
import sys

import typer

from irtool.errors import IrtoolError

app = typer.Typer(
    name="irtool",
    help="Restore, train and evaluate image-restoration networks (Res-HAIR, Hi-IR, Restormer).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

from . import download as _download, evaluate as _evaluate, models as _models, restore as _restore, train as _train  # noqa: E402



def _reported(command):
    """Library errors end a command with one red line and their exit code (also under CliRunner)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except IrtoolError as exc:
            from rich.console import Console

            Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return run


app.command("restore")(_reported(_restore.restore))
app.command("train")(_reported(_train.train))
app.command("eval")(_reported(_evaluate.evaluate))
app.command("download")(_reported(_download.download))
app.command("models")(_reported(_models.models))


def main() -> None:
    """Console-script entry point: library errors become one red line and their exit code."""
    try:
        app()
    except IrtoolError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
