"""How ``irtool`` prints ``--help``: plain text that fits the terminal (80 columns when piped), every option with
its value's name and its default, flags shown as flags, and each command's examples at the end.

Typer's own rendering tags every parameter with its Python type (``<bool>``, ``<list[str]>``), which read as if
``--auto`` took a value; these classes format help from the same Click parameters instead. Parameters are read by
their attributes, not their classes: recent Typer releases carry their own copy of Click.
"""

from __future__ import annotations

from typing import Any

import typer.core

#: The value's name after an option or for an argument, where the parameter's name does not say it well.
METAVARS = {
    "inputs": "INPUT",
    "names": "NAME",
    "--output": "DIR",
    "--out": "DIR",
    "--data": "DIR",
    "--data-lq": "DIR",
    "--val": "DIR",
    "--val-lq": "DIR",
    "--save-images": "DIR",
    "--json": "FILE",
    "--csv": "FILE",
    "--config": "FILE",
    "--weights": "FILE",
    "--init-weights": "FILE",
    "--resume": "FILE|auto",
    "--shard": "I/N",
    "--model": "NAME",
    "--detector": "NAME|FILE",
    "--bench": "NAME",
    "--export": "NAME",
    "--time-limit": "SECONDS",
    "--protocol": "NAME",
    "--synthesis": "default|wide|unseen",
    "--export-checkpoint": "final|best",
    "--export-dtype": "DTYPE",
    "--recipe": "NAME",
    "--preset": "NAME",
}


def _metavar(param: Any) -> str:
    if param.metavar:
        return param.metavar
    key = (param.name or "") if param.param_type_name == "argument" else max(param.opts, key=len)
    if key in METAVARS:
        return METAVARS[key]
    kind = _value_kind(param)
    if kind == "int":
        return "N"
    if kind == "float":
        return "X"
    return (param.name or "value").upper()


def _value_kind(param: Any) -> str:
    """"int", "float", ... for a parameter of Click (``param.type``) or of Typer >= 0.2x (``type_descriptor``)."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None:
        return getattr(descriptor.annotation, "__name__", "")
    return {"integer": "int", "float": "float"}.get(getattr(param.type, "name", ""), "")


def _default_text(param: Any, ctx: Any) -> str | None:
    """``[default: ...]`` for an option whose default is a value; flags off by default and "not given" show none."""
    if param.show_default is False or param.default is None or param.multiple:
        return None
    if param.is_flag and param.secondary_opts:  # --weights/--no-weights: the default is one of the two spellings
        return param.opts[0] if param.default else param.secondary_opts[0]
    if param.is_flag:
        return None
    default = param.get_default(ctx, call=False)
    return None if default is None or default == "" else str(default)


def help_records(command: Any, ctx: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(arguments, options) as (left column, description) pairs, in declaration order."""
    arguments: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        description = (getattr(param, "help", None) or "").strip()
        if param.param_type_name == "argument":
            name = _metavar(param) + ("..." if param.nargs == -1 else "")
            arguments.append((name, description + ("" if param.required else " (optional)")))
            continue
        spellings = sorted(param.opts, key=len)  # "-o, --output"
        left = ", ".join(spellings)
        if param.secondary_opts:
            left += " / " + ", ".join(param.secondary_opts)
        if not param.is_flag:
            left += " " + _metavar(param)
        default = _default_text(param, ctx)
        if default is not None:
            description = f"{description} [default: {default}]".strip()
        options.append((left, description))
    return arguments, options


def _write_examples(formatter: Any, examples: str | None) -> None:
    lines = [line.strip() for line in (examples or "").splitlines() if line.strip()]
    if not lines:
        return
    with formatter.section("Examples"):
        for line in lines:  # written as given: a command line must not be re-wrapped
            formatter.write(" " * formatter.current_indent + line + "\n")


class IrtoolCommand(typer.core.TyperCommand):
    """A subcommand whose help lists arguments and options plainly and ends with its examples (the ``epilog``:
    one command line per line)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        arguments, options = help_records(self, ctx)
        usage = [self.options_metavar or ""] + [name for name, _ in arguments]
        formatter.write_usage(ctx.command_path, " ".join(u for u in usage if u))
        self.format_help_text(ctx, formatter)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        with formatter.section("Options"):
            formatter.write_dl(options)
        _write_examples(formatter, self.epilog)


class IrtoolGroup(typer.core.TyperGroup):
    """The top-level ``irtool`` command: its commands with their one-line summaries, options, examples."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] COMMAND [ARGS]...")
        self.format_help_text(ctx, formatter)
        commands: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                commands.append((name, command.get_short_help_str(limit=70)))
        with formatter.section("Commands"):
            formatter.write_dl(commands)
        _, options = help_records(self, ctx)
        with formatter.section("Options"):
            formatter.write_dl(options)
        _write_examples(formatter, self.epilog)


def examples(*lines: str) -> str:
    """A command's examples, as the ``epilog`` :class:`IrtoolCommand` prints (one command per line)."""
    return "\n".join(lines)


__all__ = ["IrtoolCommand", "IrtoolGroup", "METAVARS", "examples", "help_records"]
