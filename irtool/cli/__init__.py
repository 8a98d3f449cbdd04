"""The ``irtool`` command: a thin Typer layer over the Python API.

Only this package imports rich. Command modules import torch and the library inside their
functions, so ``irtool --help`` answers without importing torch.
"""

from __future__ import annotations

import functools
import sys

import typer

from irtool.errors import InvalidArgumentError, IrtoolError

from . import download as _download
from . import evaluate as _evaluate
from . import models as _models
from . import restore as _restore
from . import train as _train

app = typer.Typer(
    name="irtool",
    help="Restore, train and evaluate image-restoration networks (Res-HAIR, Hi-IR, Restormer).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: The option that sets each library argument an error may name (library messages never name options).
OPTION_FOR_ARGUMENT = {
    "what": "--auto, --task, --model or --weights",
    "task": "--task",
    "arch": "--arch",
    "min_confidence": "--min-confidence",
    "detector": "--detector",
    "output": "--output",
    "data": "--data",
    "init_weights": "--init-weights",
    "lr": "--lr",
    "preset_name": "--arch",
    "family": "--arch",
    "restorer": "--preset",
    "device": "--device",
    "precision": "--precision",
    "tile": "--tile",
    "overlap": "--overlap",
}


def error_line(exc: IrtoolError) -> str:
    """The one line a library error prints as, naming the option to change when the error names an argument."""
    option = OPTION_FOR_ARGUMENT.get(exc.argument or "") if isinstance(exc, InvalidArgumentError) else None
    return f"{exc} (option {option})" if option else str(exc)


def _print_error(exc: IrtoolError) -> None:
    from rich.console import Console
    from rich.markup import escape

    # Escaped: messages hold shapes such as [B, 3, H, W], which rich would read as markup.
    Console(stderr=True).print(f"[bold red]error:[/] {escape(error_line(exc))}", highlight=False, soft_wrap=True)


def _reported(command):
    """Library errors end a command with one red line and their exit code (also under CliRunner)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except IrtoolError as exc:
            _print_error(exc)
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
        _print_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
