"""Imports stay cheap: the CLI's help never imports torch; the model zoo imports no I/O or UI libraries."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return set(out.stdout.split())


def test_cli_help_does_not_import_torch():
    loaded = _modules_after(
        "from typer.testing import CliRunner\nfrom irtool.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0, r.output\n"
        "assert 'restore' in r.output and 'train' in r.output\n"
        "for cmd in ('restore', 'train', 'eval', 'download', 'models'):\n"
        "    r = CliRunner().invoke(app, [cmd, '--help'])\n    assert r.exit_code == 0, (cmd, r.output)"
    )
    assert "torch" not in loaded
    assert "numpy" not in loaded


def test_models_import_pulls_no_io_or_ui_libraries():
    loaded = _modules_after("import irtool.models\nirtool.models.build('res_hair_lite')")
    assert "torch" in loaded
    for heavy in ("PIL", "rich", "huggingface_hub", "imageio", "skimage", "typer"):
        assert heavy not in loaded, heavy


def test_console_script_help_runs():
    out = subprocess.run([sys.executable, "-m", "irtool", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for cmd in ("restore", "train", "eval", "download", "models"):
        assert cmd in out.stdout
