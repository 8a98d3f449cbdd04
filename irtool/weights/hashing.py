"""File hashing (no torch import, so catalog and hub checks stay cheap)."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

__all__ = ["sha256_file", "sha256_file_cached"]

#: resolved path -> (size, mtime_ns, sha256) of the last time the file was hashed in this process.
_DIGESTS: dict[str, tuple[int, int, str]] = {}
_LOCK = threading.Lock()


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_file_cached(path: str | Path) -> str:
    """:func:`sha256_file`, hashed once per process while the file keeps its size and modification time.

    A run looks the same weights file up several times (every ``for_task``, every entry ``irtool models`` lists);
    hashing a large file each time costs seconds. A file that changes on disk is hashed again.
    """
    resolved = str(Path(path).resolve())
    before = os.stat(resolved)
    with _LOCK:
        known = _DIGESTS.get(resolved)
    if known is not None and known[:2] == (before.st_size, before.st_mtime_ns):
        return known[2]
    digest = sha256_file(resolved)
    after = os.stat(resolved)
    if (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns):  # not changed while hashed
        with _LOCK:
            _DIGESTS[resolved] = (after.st_size, after.st_mtime_ns, digest)
    return digest
