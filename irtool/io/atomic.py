"""Atomic file output: write to a hidden temporary file beside the target, fsync, then rename.

Every file irtool writes goes through here: :func:`atomic_output` (a binary handle), :func:`atomic_write_bytes`
and :func:`atomic_write_text` (a whole payload), and :func:`atomic_directory` (a folder filled, then renamed).

A batch of thousands of files can be interrupted at any moment (Ctrl-C, a killed job, a full disk). The skip
logic of a resumed run treats "the output exists" as "this input is done", so an output file must either be
complete or absent. Temporary files are named `.<name>.tmp-<pid>-<hex>`: hidden (input expansion skips hidden
files) and recognisable by `is_temp_name`, so neither a re-run nor a later read mistakes them for outputs.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "atomic_directory",
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "is_temp_name",
    "temp_name_for",
]

_TEMP_NAME = re.compile(r"^\..+\.tmp-\d+-[0-9a-f]{8}$")


def temp_name_for(target: Path) -> Path:
    """A fresh temporary path in the target's directory (same filesystem, so os.replace is atomic)."""
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def is_temp_name(name: str) -> bool:
    """True for names produced by `temp_name_for` (left behind only if the process was killed)."""
    return _TEMP_NAME.match(name) is not None


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform/filesystem, so best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_output(target: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file; on normal exit it becomes `target` in one step, on an exception it vanishes.

    Parent directories are created as needed. The temporary file is created with the usual 0o666 & ~umask
    permissions (unlike mkstemp's 0o600) so outputs are as readable as any other file the user writes.
    """
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    temp_path = temp_name_for(target_path)
    fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    committed = False
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_path, target_path)
        committed = True
        _fsync_directory(target_path.parent)
    finally:
        if not committed:
            try:
                temp_path.unlink()
            except FileNotFoundError:
                pass


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_output`); returns the path."""
    with atomic_output(target) as handle:
        handle.write(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` atomically, encoded as given, line endings as they are in ``text``."""
    return atomic_write_bytes(target, text.encode(encoding))


@contextmanager
def atomic_directory(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``target``; on normal exit it is renamed to ``target`` in one step,
    on an exception it is removed with everything in it.

    ``FileExistsError`` when ``target`` exists, non-empty, by the time of the rename (e.g. another process
    finished the same folder first); the staged folder is removed then too.
    """
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    staging = temp_name_for(target_path)
    staging.mkdir()
    try:
        yield staging
        try:
            os.rename(staging, target_path)
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise FileExistsError(errno.EEXIST, "folder exists", str(target_path)) from None
            raise
        _fsync_directory(target_path.parent)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
