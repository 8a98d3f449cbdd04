"""One exception hierarchy; each class carries the process exit code the CLI uses.

Exit codes (documented in the README):
  0 success, 1 some inputs failed, 2 usage error, 3 weights not available,
  4 hub/network error, 5 checksum mismatch, 130 interrupted.
"""

from __future__ import annotations


class IrtoolError(Exception):
    exit_code = 1


class UsageError(IrtoolError):
    """The command line asks for something irtool cannot do (CLI-level checks)."""

    exit_code = 2


class InvalidArgumentError(IrtoolError, ValueError):
    """A library function got a value it cannot use: an unknown name, an impossible setting, a file that does
    not fit.

    Messages speak of arguments and values, never of command-line options; ``argument`` names the argument at
    fault where there is one, so the CLI can name its own option for it. Exit code 2, as a usage error.
    """

    exit_code = 2

    def __init__(self, message: str, *, argument: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument


class InputError(IrtoolError):
    """One input file cannot be read or is unsafe (corrupt, bomb, unsupported mode).

    With ``path`` the message reads "<path>: <reason>"; ``reason`` alone is what a report that already shows the
    file prints beside it.
    """

    exit_code = 1

    def __init__(self, reason: str, *, path: object = None) -> None:
        super().__init__(f"{path}: {reason}" if path is not None else reason)
        self.path = path
        self.reason = reason


class WeightsNotFoundError(IrtoolError):
    exit_code = 3


class DownloadError(IrtoolError):
    exit_code = 4


class ChecksumError(IrtoolError):
    exit_code = 5
