"""Checkpoint files in other projects' official layouts, and the check that ``--weights FILE`` (no ``--arch``) restores
images exactly as the network they hold does.

Test files import these functions (``from checkpoint_files import ...``), as they import ``synthetic``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from synthetic import photo, write_images
from torch import nn
from typer.testing import CliRunner

from irtool.cli import app
from irtool.restore import RestoreRequest, restore_paths
from irtool.zoo import EngineSettings, ModelZoo


def save_official(module: nn.Module, path: Path, *, wrapper: str = "params", prefix: str = "") -> Path:
    """``torch.save({wrapper: state_dict})`` as the official repositories do (``params`` / ``params_ema`` for
    BasicSR-style code, ``state_dict`` with the ``net.`` prefix for Lightning), with no irtool metadata."""
    sd = {prefix + k: v for k, v in module.state_dict().items()}
    torch.save({wrapper: sd, "epoch": 3} if wrapper == "state_dict" else {wrapper: sd}, path)
    return path


def forward(module: nn.Module, pixels: np.ndarray) -> np.ndarray:
    """The network itself on one HxWx3 float image: HxWx3 float in [0, 1] (the engine clamps as spandrel does)."""
    with torch.inference_mode():
        out = module.eval()(torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None].float())
    return out[0].clamp(0, 1).numpy().transpose(1, 2, 0)


def check_restores_like_the_network(weights: Path, module: nn.Module, tmp_path: Path, *, expect_preset: str) -> None:
    """``weights`` without a preset: the API and the CLI restore a folder as ``module`` does (8-bit files), the
    engine's whole-image pass equals the network's forward, and two overlapping 64 px tiles agree with one pass
    within 1/255 on average."""
    images = {"a.png": photo(16, 24), "odd.png": photo(13, 18, seed=1)}
    folder = write_images(tmp_path / "in", images)
    summary = restore_paths([str(folder)], tmp_path / "api", RestoreRequest(weights=weights))
    assert summary.exit_code == 0 and summary.counts["ok"] == 2
    assert {r.model for r in summary.records} == {weights.name}
    for name, pixels in images.items():
        written = np.asarray(Image.open(tmp_path / "api" / name), dtype=np.int16)
        expected = np.round(forward(module, pixels.astype(np.float32) / 255) * 255).astype(np.int16)
        assert written.shape == expected.shape
        assert np.abs(written - expected).max() <= 1 and (written == expected).mean() > 0.99

    result = CliRunner().invoke(app, ["restore", str(folder), "-o", str(tmp_path / "cli"), "--weights", str(weights),
                                      "-q"])
    assert result.exit_code == 0, result.output
    for name in images:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()

    pixels = photo(64, 72, seed=2).astype(np.float32) / 255
    whole_model = ModelZoo(EngineSettings(device="cpu")).from_file(weights)
    assert whole_model.preset.name == expect_preset
    whole = whole_model.run_image(pixels)
    np.testing.assert_allclose(whole, forward(module, pixels), atol=1e-5)
    tiled_model = ModelZoo(EngineSettings(device="cpu", tile=64, overlap=32)).from_file(weights)
    tiled = tiled_model.run_image(pixels)
    assert tiled_model.engine.last_run is not None and tiled_model.engine.last_run.tiles == 2
    assert np.abs(tiled - whole).mean() < 1 / 255
