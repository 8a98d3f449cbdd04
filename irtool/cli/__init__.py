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
from .help import IrtoolCommand, IrtoolGroup, examples

app = typer.Typer(
    name="irtool",
    help="Restore, train and evaluate image-restoration networks (Res-HAIR, Hi-IR, Restormer).",
    epilog=examples("irtool restore photos/ --auto -o restored/", "irtool eval --bench urban100 --task sr4",
                    "irtool train --arch hi_ir --task jpeg --data photos/", "irtool models"),
    cls=IrtoolGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    # Plain Click messages: a usage error is one line, not a box.
    rich_markup_mode=None,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from irtool import __version__

        typer.echo(f"irtool {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", "-V", help="Print irtool's version and exit.",
                                 callback=_print_version, is_eager=True),
) -> None:
    """Restore, train and evaluate image-restoration networks (Res-HAIR, Hi-IR, Restormer)."""

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
    "batch_size": "--batch-size",
    "memory_limit": "--memory-limit",
    "warmup_iters": "warmup_iters (in --config)",
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


# Each command's help ends with these examples (the README's commands among them).
app.command("restore", cls=IrtoolCommand, epilog=examples(
    "irtool restore photos/ --auto -o restored/",
    "irtool restore scans/*.png --task denoise -o out/",
    "irtool restore photos/ --auto --detect-only --json detections.json",
    "irtool restore img.jpg --weights hair3d.ckpt -o out/",
))(_reported(_restore.restore))
app.command("train", cls=IrtoolCommand, epilog=examples(
    "irtool train --arch hi_ir --task jpeg --data photos/ --val val/",
    "irtool train --preset res_hair_lite --task all --data photos/ --name aio",
    "irtool train --arch hi_ir --task jpeg --data photos/ --resume auto",
))(_reported(_train.train))
app.command("eval", cls=IrtoolCommand, epilog=examples(
    "irtool eval --bench urban100 --task sr4",
    "irtool eval --data photos/ --task denoise --sigma 25 --classical",
    "irtool eval --task detect --data photos/",
    "irtool eval --list",
))(_reported(_evaluate.evaluate))
app.command("download", cls=IrtoolCommand, epilog=examples(
    "irtool download swinir_x4",
    "irtool download --routes",
    "irtool download --bench set5 --bench urban100",
))(_reported(_download.download))
app.command("models", cls=IrtoolCommand, epilog=examples(
    "irtool models",
    "irtool models --no-weights",
))(_reported(_models.models))


_skip_teardown = False


def skip_teardown() -> None:
    """Called by a command whose outputs are all written and closed by the time it returns (``irtool restore``):
    :func:`main` then ends the process without the interpreter's teardown, which for a process that imported
    PyTorch takes a few tenths of a second of what the user waits for (README "Speed and memory")."""
    global _skip_teardown
    _skip_teardown = True


def _exit_now(code: object) -> None:
    """``sys.exit(code)`` without the interpreter's teardown: streams flushed, logging shut down, then
    ``os._exit`` (no atexit handlers, no module or C++ static destructors)."""
    import logging
    import os

    if code is not None and not isinstance(code, int):  # sys.exit("message") prints it and exits 1
        sys.stderr.write(f"{code}\n")
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(code or 0)


def main() -> None:
    """Console-script entry point: library errors become one red line and their exit code."""
    from irtool.engine.host import retain_freed_host_memory

    global _skip_teardown
    retain_freed_host_memory()  # a command-line run: keep freed tile buffers (faster CPU tiles, same peak)
    _skip_teardown = False  # only a command this call runs may ask (not one run before in the same process)
    try:
        _run_app()
    except SystemExit as exc:
        # Not under a profiler, tracer or coverage tool: they write their results in the teardown.
        if _skip_teardown and sys.getprofile() is None and sys.gettrace() is None:
            _exit_now(exc.code)
        raise


def _run_app() -> None:
    try:
        app()
    except IrtoolError as exc:
        _print_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
