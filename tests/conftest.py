"""Fixtures shared by the test files (the synthetic data they are made of is in ``synthetic.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def use_catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], Path]]:
    """``use_catalog(path)``: irtool reads the weights catalog at ``path`` for the rest of the test
    (``IRTOOL_WEIGHTS_TOML``), never a copy it loaded before; the package's own is read again afterwards."""
    from irtool.weights import catalog

    def use(path: Path) -> Path:
        monkeypatch.setenv("IRTOOL_WEIGHTS_TOML", str(path))
        catalog._load_cached.cache_clear()
        return path

    yield use
    catalog._load_cached.cache_clear()
