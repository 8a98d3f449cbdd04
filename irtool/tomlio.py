"""TOML in and out: the one place irtool parses TOML and the one writer for the TOML files it makes.

Reading uses the standard library's ``tomllib`` (``tomli``, the same parser, before Python 3.11). Writing covers
what irtool's own files hold (``runs/NAME/config.toml``, ``weights.toml`` entries): strings, booleans, integers,
floats, arrays of those and tables; values written here read back equal. No imports beyond the standard library
(and ``tomli``), so the cheapest modules can use it.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["TOMLDecodeError", "dumps", "format_key", "format_value", "loads", "read_toml"]

TOMLDecodeError = tomllib.TOMLDecodeError

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def loads(text: str) -> dict[str, Any]:
    """Parse TOML text; raises :data:`TOMLDecodeError` on invalid TOML."""
    return tomllib.loads(text)


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a UTF-8 TOML file; raises ``OSError`` (unreadable) or :data:`TOMLDecodeError` (invalid)."""
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def _string(text: str) -> str:
    # A basic string: TOML forbids raw control characters (tab aside, which is escaped too for readability).
    out = []
    for ch in text:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_key(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def format_value(value: Any) -> str:
    """One value as TOML text: bool, int, float (exactly, as ``repr``), str or path, arrays (list/tuple) and
    inline tables (mappings) of those. ``TypeError`` for anything else, ``None`` included (TOML has no null)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (str, os.PathLike)):
        return _string(os.fspath(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{format_key(str(k))} = {format_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write a {type(value).__name__} as TOML")


def dumps(data: Mapping[str, Any], *, table: str | None = None) -> str:
    """``data`` as a TOML document: its plain values as ``key = value`` lines, then each mapping value as a
    ``[table]`` section (nested mappings as nested sections), in the mapping's order. ``None`` values are left
    out. ``table`` (a dotted name, e.g. ``"models.my_model"``) puts everything under that table's header (left out
    when the table holds only sub-tables)."""
    lines: list[str] = []
    sections: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            name = format_key(str(key))
            sections.append((f"{table}.{name}" if table is not None else name, value))
        else:
            lines.append(f"{format_key(str(key))} = {format_value(value)}")
    if table is not None and (lines or not sections):
        lines.insert(0, f"[{table}]")
    text = "\n".join(lines) + "\n" if lines else ""
    for name, section in sections:
        text += ("\n" if text else "") + dumps(section, table=name)
    return text
