"""Host-memory allocator settings for CPU inference.

PyTorch's CPU tensors come from the C library's ``malloc``. With glibc's defaults a freed block of more than a
few MiB goes back to the kernel (``munmap``, or trimming the heap top), so the next tile's activations of the
same size fault their pages in and have them zeroed again; that costs more the larger the tile. Keeping freed
memory in the process (fixed mmap threshold, no trimming) made SR x4 to 8 MP in 256 px tiles 1.46x faster on 2
cores (``python scripts/bench_restore.py --presets hi_ir_sr4_lite --megapixels 8 --modes tiled --allocator
default retained``, README "Speed and memory"). Peak memory is unchanged; memory freed after the peak is kept
until the process ends, which is right for a command-line run and why this is called by the ``irtool`` command,
not on import.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES", "retain_freed_host_memory"]

#: Blocks below this come from the heap and are reused; glibc's largest allowed value on 64-bit (32 MiB).
MMAP_THRESHOLD_BYTES = 32 * 2**20
#: Free memory at the heap top is returned to the kernel only above this (1 GiB; the value is a C ``int``).
TRIM_THRESHOLD_BYTES = 2**30
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def retain_freed_host_memory() -> bool:
    """Set glibc's mmap and trim thresholds (see the module docstring); False where that is not possible
    (not Linux, not glibc, or glibc refused), in which case nothing changed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt  # musl has no mallopt: AttributeError
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # Order matters: setting either threshold also switches off glibc's dynamic adjustment of both.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD,
                                                                                TRIM_THRESHOLD_BYTES))
