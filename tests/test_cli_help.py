"""What a new user reads first: ``-h``/``--help``, ``--version``, every option described with its default, flags
shown as flags, each command's help ending with examples, and listings that fit an 80-column terminal."""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.testing import CliRunner

import irtool
from irtool.cli import app
from irtool.cli.help import help_records

COMMANDS = ("restore", "train", "eval", "download", "models")
runner = CliRunner()


def _help(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_help_answers_to_h_fits_80_columns_and_has_no_type_tags(command):
    text = _help(command, "--help")
    assert _help(command, "-h") == text
    assert not re.search(r"<(bool|str|int|float|path|list\[\w+\])>", text, re.IGNORECASE), text
    assert max(len(line) for line in text.splitlines()) <= 80


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_is_described_and_shows_its_default(command):
    group = typer.main.get_command(app)
    cmd = group.commands[command]
    ctx = cmd.make_context(command, [], resilient_parsing=True)
    _, options = help_records(cmd, ctx)
    for left, description in options:
        assert description, f"{command} {left} has no description"
    for param in cmd.get_params(ctx):
        if param.param_type_name != "option":
            continue
        left = next(opts for opts, _ in options if max(param.opts, key=len) in opts)
        if param.is_flag:  # flags take no value, so their line names none
            assert left.split()[-1].startswith("-"), left
        has_value_default = param.default not in (None, False, "") and not param.multiple
        if has_value_default and not param.is_flag:
            described = dict(options)[left]
            assert "[default:" in described, f"{command} {left}: {described}"


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_ends_with_two_to_four_examples(command):
    text = _help(command, "--help")
    examples = text.split("Examples:")[-1].strip().splitlines()
    assert "Examples:" in text and 2 <= len(examples) <= 4
    assert all(line.strip().startswith(f"irtool {command}") for line in examples), examples


def test_readme_commands_are_among_the_examples():
    assert "irtool restore photos/ --auto" in _help("restore", "-h")
    assert "irtool eval --bench urban100 --task sr4" in _help("eval", "-h")
    assert "irtool train --arch hi_ir --task jpeg" in _help("train", "-h")


def test_version_and_top_level_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"irtool {irtool.__version__}"
    text = _help("-h")
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", text, re.MULTILINE), text


def test_download_help_says_what_all_does_to_bundled_entries():
    text = " ".join(_help("download", "-h").split())
    assert "--all" in text and "bundled ones ship inside irtool and are only checked" in text


def test_eval_list_fits_80_columns():
    result = runner.invoke(app, ["eval", "--list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) > 20 and max(len(line) for line in lines) <= 80
    assert any(line.startswith("  urban100  ") for line in lines)
