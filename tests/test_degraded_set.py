"""scripts/make_degraded_set.py: the paired inputs behind the README's deblur/derain/dehaze/low-light figures."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_degraded_set.py"


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_degraded_set_is_reproducible_and_leaves_the_photos_alone(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.jpg"):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(clean / name)
    before = _digest(clean)
    runs = []
    for out in ("one", "two"):
        done = subprocess.run([sys.executable, str(SCRIPT), "--data", str(clean), "--kind", "haze", "--severity",
                               "0.5", "--out", str(tmp_path / out)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        runs.append(_digest(tmp_path / out))
    assert runs[0] == runs[1] and sorted(runs[0]) == ["a.png", "b.png"]
    assert _digest(clean) == before
    hazy = np.asarray(Image.open(tmp_path / "one" / "a.png"), dtype=np.float32)
    original = np.asarray(Image.open(clean / "a.png"), dtype=np.float32)
    assert hazy.shape == original.shape and hazy.mean() > original.mean() + 5  # haze brightens towards airlight
    same = subprocess.run([sys.executable, str(SCRIPT), "--data", str(clean), "--kind", "rain", "--out", str(clean)],
                          capture_output=True, text=True, timeout=120)
    assert same.returncode != 0 and _digest(clean) == before


def test_labelled_set_holds_every_generator_at_the_photos_size(tmp_path):
    """--labelled: clean/PHOTO plus <kind>/PHOTO__<generator> for every registered generator (enlargements by
    other kernels included), each the clean crop's size, listed in manifest.json with its photo."""
    import json

    from irtool.degradations import DEGRADATIONS

    clean = tmp_path / "clean"
    clean.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 62, 3), dtype=np.uint8)).save(clean / "p.png")
    done = subprocess.run([sys.executable, str(SCRIPT), "--data", str(clean), "--labelled", "--out",
                           str(tmp_path / "set")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    files = json.loads((tmp_path / "set" / "manifest.json").read_text())["files"]
    expected = {f"{kind}/p__{g.name}.png" for kind, entry in DEGRADATIONS.items() for g in entry.generators}
    assert {f["file"] for f in files} == expected | {"clean/p.png"}
    assert "low-resolution/p__resampled.png" in expected and {f["photo"] for f in files} == {"p.png"}
    for item in files:
        with Image.open(tmp_path / "set" / item["file"]) as image:
            assert image.size == (60, 48), item  # the photo cropped to a multiple of 12
