"""The training recipes in ``scripts/*.toml`` that the README and weights.toml name: each loads with the preset
(and task) of its usage line and builds its training and validation data the way ``irtool train`` does, so a
misspelt key or task, or a mixture that does not fit the preset, fails here rather than in someone's run."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from irtool.models.registry import get_preset
from irtool.train.config import load_config
from irtool.train.objectives import objective_for

RECIPES = sorted((Path(__file__).resolve().parents[1] / "scripts").glob("*.toml"))


def _usage(path: Path) -> dict[str, str]:
    """``--preset`` and ``--task`` from the recipe's first line (``# irtool train ...``)."""
    first = path.read_text().splitlines()[0]
    assert first.startswith("# irtool train "), f"{path.name}: its first line should be its irtool train command"
    return dict(re.findall(r"--(preset|task) (\S+)", first))


def test_every_recipe_is_found():
    assert {"deblur_wide.toml", "deblur_enlarged.toml", "global_lite.toml"} <= {p.name for p in RECIPES}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_loads_and_builds_its_data(path: Path, tmp_path: Path):
    usage = _usage(path)
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (200, 240, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    cfg = load_config(preset=usage["preset"], task=usage.get("task"), config_file=path,
                      overrides={"data": str(photos), "val": str(photos)})
    assert cfg.preset == usage["preset"]
    train, val = objective_for(cfg).datasets()
    item = train[(0, 0)]
    scale = get_preset(cfg.preset).scale  # an SR recipe's input is the small image
    assert (item["lq"].shape[0], *(side * scale for side in item["lq"].shape[1:])) == tuple(item["gt"].shape)
    assert item["task"] in cfg.mixture
    assert val is not None and len(val) > 0
