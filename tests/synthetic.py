"""Synthetic test data shared by the test files: photo-like images, image folders and weights catalogs.

Test files import these functions (``from synthetic import photo``), as they import ``hub_server``; the fixtures
built on them are in ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from irtool.tomlio import dumps


def photo(height: int, width: int, seed: int = 0, *, noise: float = 4.0) -> np.ndarray:
    """A photo-like uint8 RGB image: smooth colour waves (something a restorer can work on) plus Gaussian noise of
    ``noise`` levels (the seed draws the noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([np.sin(xx / 7.0), np.cos(yy / 5.0), np.sin((xx + yy) / 9.0)], axis=2) * 90 + 128
    return np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)


def write_images(folder: Path, images: Mapping[str, np.ndarray]) -> Path:
    """Save uint8 arrays (HxW or HxWx3) under ``folder`` by file name, the format from the extension."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, pixels in images.items():
        Image.fromarray(pixels).save(folder / name)
    return folder


def write_catalog(path: Path, models: Mapping[str, Mapping[str, Any]], *,
                  routes: Mapping[str, str | list[str]] | None = None, detector: str | None = None) -> Path:
    """A weights.toml: ``[models.NAME]`` entries (fields as weights.toml spells them), ``[routes]`` (an entry or a
    preference list per type) and ``detector``."""
    path.write_text(dumps({"detector": detector, "models": models, "routes": routes}), encoding="utf-8")
    return path


def write_detector_saying(kind: str, path: Path, *, logit: float = 10.0, severity: float = 0.5) -> Path:
    """A res_hair_lite GIV detector whose head always answers ``kind`` (with the confidence ``e**logit / (e**logit +
    7)``: the other seven types have logit 0) and ``severity``, saved as a detector weights file."""
    import math

    import torch

    from irtool.degradations import detector_types
    from irtool.models.giv_detector import build_giv_detector
    from irtool.weights.checkpoints import save_safetensors

    detector = build_giv_detector("res_hair_lite")
    with torch.no_grad():
        for p in detector.head.parameters():
            p.zero_()
        detector.head.type_logits.bias[detector_types().index(kind)] = logit
        detector.head.severity.bias.fill_(math.log(severity / (1 - severity)))  # sigmoid(bias) = severity
    save_safetensors(detector.state_dict(), path, metadata={"kind": "detector"})
    return path
