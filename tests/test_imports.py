"""Imports stay cheap: the CLI's help never imports torch; the model zoo imports torch only."""

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


def test_every_models_module_imports_torch_only():
    """Every module under irtool/models, imported and used (a detector with a vote included), loads no image, I/O
    or UI library, and none of the parts of irtool that do."""
    import pkgutil

    import irtool.models

    modules = sorted(f"irtool.models.{m.name}" for m in pkgutil.iter_modules(irtool.models.__path__))
    assert {"irtool.models.image_vote", "irtool.models.giv_detector", "irtool.models.layers"} <= set(modules)
    loaded = _modules_after(
        "\n".join(f"import {name}" for name in modules)
        + "\nfor name in irtool.models.preset_names():\n    irtool.models.parameter_count(name)"
        + "\nirtool.models.build('res_hair_lite')"
        + "\nirtool.models.giv_detector.build_giv_detector('res_hair_lite', vote_size=12)"
    )
    assert "torch" in loaded and set(modules) <= loaded
    for heavy in ("PIL", "rich", "huggingface_hub", "imageio", "skimage", "scipy", "typer"):
        assert heavy not in loaded, heavy
    for part in ("irtool.degrade", "irtool.io", "irtool.data", "irtool.detect", "irtool.engine", "irtool.train",
                 "irtool.evaluate", "irtool.weights", "irtool.cli", "irtool.zoo", "irtool.restore"):
        assert part not in loaded, part


def test_console_entry_point_help_does_not_import_torch():
    """The ``irtool`` command's entry point sets up host memory before running the app; that must not pull in
    torch, or every ``--help`` pays a second for it."""
    loaded = _modules_after(
        "sys.argv = ['irtool', '--help']\nfrom irtool.cli import main\ntry:\n    main()\nexcept SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\nimport irtool.engine.host"
    )
    assert "irtool.engine.host" in loaded
    assert "torch" not in loaded


def test_download_of_an_unknown_entry_fails_without_importing_torch():
    """``irtool download`` reads the catalogue and talks to the Hub; it needs no network code, so a typo costs a
    fraction of a second, not the second torch takes to import."""
    loaded = _modules_after(
        "sys.argv = ['irtool', 'download', 'no-such-entry']\nfrom irtool.cli import main\ntry:\n    main()\n"
        "except SystemExit as exc:\n    assert exc.code == 2, exc.code\nelse:\n    raise AssertionError('no exit')"
    )
    assert "irtool.foreign_names" in loaded and "irtool.weights" in loaded
    assert "torch" not in loaded


def test_console_script_help_runs():
    out = subprocess.run([sys.executable, "-m", "irtool", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for cmd in ("restore", "train", "eval", "download", "models"):
        assert cmd in out.stdout
