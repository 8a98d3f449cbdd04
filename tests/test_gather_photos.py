"""scripts/gather_photos.py: the allow-list's collections and the extra collection's bundle reader."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image
from script_modules import load_script


@pytest.fixture(scope="module")
def gather():
    return load_script("gather_photos")


def _webp(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="WEBP", quality=80)
    return buffer.getvalue()


def test_base_collection_is_the_photos_the_bundled_models_learnt_from(gather) -> None:
    base = gather.selected("base")
    assert len(base) == 47
    assert sum(p.split == "val" for p in base) == 10
    extra = gather.selected("extra")
    # Added photos are for training only, so every held-out measurement keeps its meaning.
    assert extra and all(p.split == "train" and p.reduce >= 2 for p in extra)
    assert len(gather.selected("all")) == len(base) + len(extra)
    gather.validate_allow_list()


def test_webp_in_bundle_finds_the_image_by_its_hash(gather) -> None:
    first, second = _webp(0), _webp(1)
    # A Qt resource bundle stores files back to back between other bytes; a stray "RIFF" must not confuse it.
    bundle = b"qres\x00RIFF\x04\x00\x00\x00WAVE" + first + b"\x00\x01padding" + second + b"tail"
    found = gather.webp_in_bundle(bundle, hashlib.sha256(second).hexdigest())
    assert found == second
    with Image.open(io.BytesIO(found)) as image:
        assert image.size == (60, 40)
    with pytest.raises(gather.GatherError, match="no WebP image"):
        gather.webp_in_bundle(bundle, hashlib.sha256(b"other").hexdigest())


def test_downscale_halves_at_least_when_asked(gather) -> None:
    image = Image.new("RGB", (800, 600))
    assert gather.downscale(image, max_side=1024).size == (800, 600)
    assert gather.downscale(image, max_side=1024, reduce=2).size == (400, 300)
    assert gather.downscale(image, max_side=300, reduce=2).size == (300, 225)


def test_a_folder_of_one_collection_is_not_emptied_by_another(gather, tmp_path) -> None:
    gather.check_out_dir(tmp_path, "extra")  # a new folder is fine
    (tmp_path / "manifest.json").write_text('{"images": []}')  # written before collections existed: base
    gather.check_out_dir(tmp_path, "base")
    with pytest.raises(gather.GatherError, match="holds the 'base' collection"):
        gather.check_out_dir(tmp_path, "extra")
    gather.check_out_dir(tmp_path, "all")  # every photo of the base collection is among those
    (tmp_path / "manifest.json").write_text('{"collection": "all", "images": []}')
    with pytest.raises(gather.GatherError, match="holds the 'all' collection"):
        gather.check_out_dir(tmp_path, "base")
