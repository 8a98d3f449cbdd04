"""One exception hierarchy; each class carries the process exit code the CLI uses.

Exit codes (documented in the README):
  0 success, 1 some inputs failed, 2 usage error, 3 weights not available,
  4 hub/network error, 5 checksum mismatch, 130 interrupted.
"""

from __future__ import annotations


class IrtoolError(Exception):
    exit_code = 1


class UsageError(IrtoolError):
    exit_code = 2


class InputError(IrtoolError):
    """One input file cannot be read or is unsafe (corrupt, bomb, unsupported mode)."""

    exit_code = 1


class WeightsNotFoundError(IrtoolError):
    exit_code = 3


class DownloadError(IrtoolError):
    exit_code = 4


class ChecksumError(IrtoolError):
    exit_code = 5
