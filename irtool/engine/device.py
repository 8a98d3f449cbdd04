"""Device selection and free-memory queries.

GPU-only code is kept to a few obvious branches (``device.type == "cuda"``) so the CPU path,
which is the one the tests exercise, stays plain.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from irtool.errors import InvalidArgumentError

__all__ = ["available_memory_bytes", "release_cached_memory", "select_device"]

#: Used when free memory cannot be read (no /proc/meminfo, e.g. macOS without psutil).
DEFAULT_AVAILABLE_BYTES = 4 * 1024**3

_CUDA_SPEC = re.compile(r"^cuda(?::(\d+))?$")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _cuda_unavailable_reason() -> str:
    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) is a CPU-only build"
    return "no CUDA GPU is visible (check the driver and CUDA_VISIBLE_DEVICES)"


def select_device(spec: str = "auto") -> torch.device:
    """Turn a user device string into a ``torch.device``.

    ``auto`` picks cuda, then mps, then cpu. ``cpu``, ``cuda``, ``cuda:N`` and ``mps`` are checked
    against what this machine has, and an unavailable or malformed choice raises
    :class:`~irtool.errors.InvalidArgumentError` with the reason, so the CLI exits with code 2 instead of
    failing later inside the first convolution.
    """
    normalized = spec.strip().lower()
    if normalized == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if normalized == "cpu":
        return torch.device("cpu")
    if normalized == "mps":
        if not _mps_available():
            raise InvalidArgumentError("device 'mps' is not available (it needs Apple silicon and a torch build with "
                                       "MPS); use 'cpu' or 'auto'", argument="device")
        return torch.device("mps")
    match = _CUDA_SPEC.match(normalized)
    if match is None:
        raise InvalidArgumentError(f"unknown device {spec!r}; expected auto, cpu, cuda, cuda:N or mps",
                                   argument="device")
    if not torch.cuda.is_available():
        raise InvalidArgumentError(f"device {spec!r} is not available: {_cuda_unavailable_reason()}; "
                                   "use 'cpu' or 'auto'", argument="device")
    if match.group(1) is None:
        return torch.device("cuda")
    index = int(match.group(1))
    count = torch.cuda.device_count()
    if index >= count:
        raise InvalidArgumentError(f"device {spec!r} does not exist: this machine has {count} CUDA device(s) "
                                   f"(cuda:0..cuda:{count - 1})", argument="device")
    return torch.device("cuda", index)


def _mem_available_from_proc(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    try:
        text = meminfo.read_text()
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+)\s+kB", text, flags=re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def available_memory_bytes(device: torch.device) -> int:
    """Memory the next allocations on ``device`` can use right now.

    CUDA: ``torch.cuda.mem_get_info`` (free bytes on that GPU). CPU and MPS (unified memory):
    ``MemAvailable`` from /proc/meminfo, else :data:`DEFAULT_AVAILABLE_BYTES`.
    """
    if device.type == "cuda":
        free_bytes, _total = torch.cuda.mem_get_info(device)
        return int(free_bytes)
    available = _mem_available_from_proc()
    return available if available is not None else DEFAULT_AVAILABLE_BYTES


def release_cached_memory(device: torch.device) -> None:
    """Return cached blocks to the driver after an out-of-memory error, before retrying smaller."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()
