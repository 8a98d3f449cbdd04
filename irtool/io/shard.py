"""Splitting one input list across processes (several GPUs, several machines) with no coordination.

Every process expands the same inputs into the same sorted list and keeps items i with i % count == index, so
each file is handled by exactly one shard and the split does not depend on which process starts first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple, TypeVar

from irtool.errors import UsageError

__all__ = ["Shard", "parse_shard", "select_shard", "shard_from_env"]

T = TypeVar("T")
_SHARD_TEXT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class Shard(NamedTuple):
    """Zero-based shard `index` out of `count`; printed the way users type it, 1-based ("2/4")."""

    # The fields shadow tuple's index() and count() methods; the names are the public API, and at runtime the
    # attributes are the fields.
    index: int  # type: ignore[assignment]
    count: int  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"


def _validated(index: int, count: int) -> Shard:
    if count < 1:
        raise UsageError(f"shard count must be at least 1, got {count}")
    if not 0 <= index < count:
        raise UsageError(f"shard index must be in 0..{count - 1} (0-based), got {index}")
    return Shard(index, count)


def select_shard(items: Sequence[T], index: int, count: int) -> list[T]:
    """Items whose position i in `items` satisfies i % count == index (index is 0-based)."""
    _validated(index, count)
    return list(items[index::count])


def parse_shard(text: str) -> Shard:
    """Parse the user's "i/n" with 1-based i (like jest and Playwright: "1/4" ... "4/4")."""
    match = _SHARD_TEXT.match(text)
    if match is None:
        raise UsageError(f"shard must look like 'i/n' with 1 <= i <= n (e.g. 2/4), got {text!r}")
    number, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= number <= count:
        raise UsageError(f"shard {text!r} is out of range: need 1 <= i <= n (shards are numbered from 1)")
    return Shard(number - 1, count)


def _read_int(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"environment variable {name}={value!r} is not an integer") from None


def shard_from_env(environ: Mapping[str, str] | None = None) -> Shard | None:
    """The shard of this process under torchrun (or any launcher setting RANK/WORLD_SIZE), else None.

    Uses the global RANK and WORLD_SIZE; if RANK is absent, LOCAL_RANK with LOCAL_WORLD_SIZE (or WORLD_SIZE)
    for single-node launches. Returns None when not launched as a group (no WORLD_SIZE or a world of 1).
    """
    env = os.environ if environ is None else environ
    world_size = _read_int(env, "WORLD_SIZE")
    rank = _read_int(env, "RANK")
    if rank is None:
        rank = _read_int(env, "LOCAL_RANK")
        local_world = _read_int(env, "LOCAL_WORLD_SIZE")
        world_size = local_world if local_world is not None else world_size
    if world_size is None or world_size <= 1:
        return None
    if rank is None:
        raise UsageError(f"WORLD_SIZE={world_size} is set but neither RANK nor LOCAL_RANK is")
    return _validated(rank, world_size)
