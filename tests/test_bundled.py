"""The weights and samples shipped in the package: intact, loadable, and the README's first command works."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from irtool.restore import RestoreRequest, restore_paths
from irtool.weights import entry_path, load_catalog
from irtool.zoo import build_from_checkpoint

SAMPLES = Path(__file__).resolve().parents[1] / "irtool" / "assets" / "samples"
BUNDLED = [e for e in load_catalog().entries.values() if e.bundled]


@pytest.mark.parametrize("entry", BUNDLED, ids=[e.name for e in BUNDLED])
def test_bundled_weights_match_their_sha256_and_load_strictly(entry):
    path = entry_path(entry)  # raises ChecksumError on a mismatch
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
    if entry.kind == "restorer":
        preset, module = build_from_checkpoint(path, entry.preset)
        assert preset.name == entry.preset and sum(p.numel() for p in module.parameters()) == entry.params


def test_samples_match_their_manifest():
    manifest = json.loads((SAMPLES / "SAMPLES.json").read_text())
    for name, info in manifest.items():
        assert hashlib.sha256((SAMPLES / name).read_bytes()).hexdigest() == info["sha256"], name


def test_readme_first_command_restores_the_samples(tmp_path):
    summary = restore_paths([str(SAMPLES / "noisy_ladybird.png"), str(SAMPLES / "rainy_friends.png")], tmp_path,
                            RestoreRequest(task="all"))
    assert summary.exit_code == 0 and summary.counts["ok"] == 2
    for name in ("noisy_ladybird.png", "rainy_friends.png"):
        before = np.asarray(Image.open(SAMPLES / name), dtype=np.float32)
        after = np.asarray(Image.open(tmp_path / name), dtype=np.float32)
        assert after.shape == before.shape
        assert np.abs(after - before).mean() > 2.0  # the model changed the image, not a copy
    # Noise: the restored image is smoother (less high-frequency energy) than the noisy input.
    noisy = np.asarray(Image.open(SAMPLES / "noisy_ladybird.png"), dtype=np.float32)
    clean = np.asarray(Image.open(tmp_path / "noisy_ladybird.png"), dtype=np.float32)
    assert np.abs(np.diff(clean, axis=1)).mean() < 0.7 * np.abs(np.diff(noisy, axis=1)).mean()
