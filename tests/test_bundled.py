"""The weights and samples shipped in the package: intact, loadable, and the README's first command works."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from irtool.restore import BatchRestorer, RestoreRequest, restore_paths
from irtool.weights import entry_path, load_catalog
from irtool.weights.catalog import KEEP_ROUTE
from irtool.weights.routes import route_preferences
from irtool.zoo import build_from_checkpoint

SAMPLES = Path(__file__).resolve().parents[1] / "irtool" / "assets" / "samples"
BUNDLED = [e for e in load_catalog().entries.values() if e.bundled]
MANIFEST = json.loads((SAMPLES / "SAMPLES.json").read_text())
#: Samples the bundled detector is known to get wrong (README "Detection"); strict, so a fix shows up.
DETECTOR_MISSES: dict[str, str] = {}  # empty since the detector's image-level vote (lowres_dune.png was called blur)


@pytest.mark.parametrize("entry", BUNDLED, ids=[e.name for e in BUNDLED])
def test_bundled_weights_match_their_sha256_and_load_strictly(entry):
    path = entry_path(entry)  # raises ChecksumError on a mismatch
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
    if entry.kind == "restorer":
        preset, module = build_from_checkpoint(path, entry.preset)
        assert preset.name == entry.preset and sum(p.numel() for p in module.parameters()) == entry.params


def test_bundled_weights_stay_within_the_20_mb_the_package_allows():
    files = list((SAMPLES.parent / "weights").glob("*"))
    assert sorted(f.name for f in files) == sorted(e.file for e in BUNDLED)  # nothing shipped unlisted
    assert sum(f.stat().st_size for f in files) <= 20_000_000


def test_samples_match_their_manifest():
    manifest = json.loads((SAMPLES / "SAMPLES.json").read_text())
    for name, info in manifest.items():
        assert hashlib.sha256((SAMPLES / name).read_bytes()).hexdigest() == info["sha256"], name


@pytest.fixture(scope="module")
def detected_samples():
    """`irtool restore irtool/assets/samples --auto --detect-only`: the bundled detector on every sample."""
    out = SAMPLES.parent / "never-written"
    summary = restore_paths([str(SAMPLES)], out, RestoreRequest(auto=True, detect_only=True))
    assert summary.exit_code == 0 and not out.exists()
    return {Path(r.input).name: r.detected for r in summary.records}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason=DETECTOR_MISSES[n], strict=True)) if n in DETECTOR_MISSES else n
    for n in sorted(MANIFEST)])
def test_auto_detects_the_samples_degradation_and_takes_its_route(detected_samples, name):
    catalog = load_catalog()
    assert catalog.detector, "weights.toml must name the bundled detector"
    assert set(detected_samples) == set(MANIFEST)
    detection = detected_samples[name]
    assert detection.type == MANIFEST[name]["degradation"]["kind"]
    loaded = BatchRestorer(RestoreRequest(auto=True)).route(detection)
    # The route's first bundled entry: hub entries before it are not downloaded here.
    expected = next(n for n in route_preferences(catalog, detection.type)
                    if n == KEEP_ROUTE or catalog.get(n).bundled) if detection.type != "clean" else None
    if detection.type == "clean" or expected == KEEP_ROUTE:
        assert loaded is None  # copied unchanged
    else:
        assert loaded.name == expected


def test_readme_first_command_restores_the_samples(tmp_path):
    """`irtool restore irtool/assets/samples --auto` (two of the samples, to stay fast)."""
    summary = restore_paths([str(SAMPLES / "noisy_ladybird.png"), str(SAMPLES / "rainy_friends.png")], tmp_path,
                            RestoreRequest(auto=True))
    assert summary.exit_code == 0 and summary.counts["ok"] == 2
    assert [r.detected.type for r in summary.records] == ["noise", "rain"]
    assert [r.model for r in summary.records] == ["hi_ir_unet_lite_denoise_real", "res_hair_lite_aio"]
    for name in ("noisy_ladybird.png", "rainy_friends.png"):
        before = np.asarray(Image.open(SAMPLES / name), dtype=np.float32)
        after = np.asarray(Image.open(tmp_path / name), dtype=np.float32)
        assert after.shape == before.shape
        assert np.abs(after - before).mean() > 2.0  # the model changed the image, not a copy
    # Noise: the restored image is smoother (less high-frequency energy) than the noisy input.
    noisy = np.asarray(Image.open(SAMPLES / "noisy_ladybird.png"), dtype=np.float32)
    clean = np.asarray(Image.open(tmp_path / "noisy_ladybird.png"), dtype=np.float32)
    assert np.abs(np.diff(clean, axis=1)).mean() < 0.7 * np.abs(np.diff(noisy, axis=1)).mean()


def test_restore_table_names_the_model_whole_on_an_80_column_terminal(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from irtool.cli import app

    # A long file name squeezes the table; the model column must still say which specialist ran.
    photo = tmp_path / "in" / "holiday_2026_camera_roll_IMG_20260814_183502_compressed_for_sharing.jpg"
    photo.parent.mkdir()
    photo.write_bytes((SAMPLES / "jpeg_coffee.jpg").read_bytes())
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, ["restore", str(photo), "--auto", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert any("hi_ir_unet_lite_jpeg" in row for row in rows), result.output
    assert "…" not in result.output  # long file names fold onto more lines instead
