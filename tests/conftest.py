"""Fixtures shared by the test files (the synthetic data they are made of is in ``synthetic.py``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The suite runs in one process per CPU core (pytest-xdist, `-n auto` in pyproject's addopts): a second intra-op
# thread in each process, or in each subprocess a test starts, would only contend for the same cores (measured on
# 2 cores: 101 s this way against 183-201 s in one process with two threads, docs/ci-history.md).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


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


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``): its tensors are
    small, and on a shared 2-core machine a second thread mostly spins."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def count_giv_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[[object], list[int]]:
    """``calls = count_giv_calls(model)``: ``calls[0]`` counts the model's ``giv`` passes for the rest of the test
    (each one runs the whole encoder, so tests check the engine makes no more than it needs)."""

    def install(model: object) -> list[int]:
        calls = [0]
        original = model.giv  # type: ignore[attr-defined]

        def counting_giv(x: object) -> object:
            calls[0] += 1
            return original(x)

        monkeypatch.setattr(model, "giv", counting_giv)
        return calls

    return install
