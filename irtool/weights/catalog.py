"""The ``weights.toml`` catalog: one validated, frozen entry per set of weights.

An entry names a preset (``irtool.models``) plus a file, which is either shipped inside the
package (``irtool/assets/weights``) or lives on the Hugging Face Hub at a pinned revision.
``[routes]`` maps a detected degradation type to the entries ``--auto`` may send it to, in order of preference (a
string or a list): the first one present is used (:mod:`irtool.weights.routes`), so a full-size model from the hub
comes first once downloaded and a bundled lite model after it always works. ``"keep"`` copies the image unchanged,
for a degradation no available model measurably improves.

This module reads TOML only; it does not import torch.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from irtool.degradations import RESTORE_TASKS
from irtool.errors import UsageError
from irtool.tomlio import TOMLDecodeError, loads

PACKAGE_DIR = Path(__file__).resolve().parents[1]
ASSET_WEIGHTS_DIR = PACKAGE_DIR / "assets" / "weights"

ENTRY_KINDS = ("restorer", "detector")
#: A ``[routes]`` value: leave images of that degradation as they are (no bundled model improves them yet).
KEEP_ROUTE = "keep"

_ENTRY_FIELDS = {
    "preset", "kind", "tasks", "description", "license", "params", "file", "repo_id", "repo_type",
    "filename", "revision", "sha256", "size", "format", "paper", "measured", "training", "notes", "non_commercial",
}


@dataclass(frozen=True)
class WeightsEntry:
    name: str
    preset: str
    tasks: tuple[str, ...]
    description: str = ""
    kind: str = "restorer"
    license: str = "unknown"
    #: The licence forbids commercial use (e.g. Restormer's Academic Public License); shown by ``irtool models``.
    non_commercial: bool = False
    params: int | None = None
    #: Bundled file, relative to ``irtool/assets/weights``.
    file: str | None = None
    #: Hub location (pinned revision).
    repo_id: str | None = None
    repo_type: str = "model"
    filename: str | None = None
    revision: str | None = None
    sha256: str | None = None
    size: int | None = None
    #: "safetensors", or "official-pth"/"lightning-ckpt" for upstream checkpoints (informative: files are
    #: recognised by their contents).
    format: str = "safetensors"
    paper: Mapping[str, Any] = field(default_factory=dict)
    measured: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""

    @property
    def bundled(self) -> bool:
        return self.file is not None

    @property
    def bundled_path(self) -> Path | None:
        return ASSET_WEIGHTS_DIR / self.file if self.file else None


@dataclass(frozen=True)
class Catalog:
    entries: Mapping[str, WeightsEntry]
    #: degradation type -> entry names in order of preference (``--auto`` routing, :mod:`irtool.weights.routes`);
    #: "fallback" -> the entries for types without a route of their own (and after a route's own entries).
    routes: Mapping[str, tuple[str, ...]]
    #: entry name of the degradation detector (kind "detector") used by ``--auto``.
    detector: str | None
    path: Path

    def get(self, name: str) -> WeightsEntry:
        try:
            return self.entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.entries, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"no weights entry {name!r} in {self.path.name}{hint}") from None

    def for_task(self, task: str) -> list[WeightsEntry]:
        """Restorer entries that serve ``task``, specialists before all-in-one models."""
        hits = [e for e in self.entries.values() if e.kind == "restorer" and task in e.tasks]
        return sorted(hits, key=lambda e: ("all" in e.tasks, e.name))


def default_catalog_path() -> Path:
    """``$IRTOOL_WEIGHTS_TOML``, else the packaged copy (wheel) or the repository's file (checkout)."""
    override = os.environ.get("IRTOOL_WEIGHTS_TOML")
    if override:
        return Path(override)
    for candidate in (PACKAGE_DIR / "weights.toml", PACKAGE_DIR.parent / "weights.toml"):
        if candidate.is_file():
            return candidate
    raise UsageError("weights.toml not found next to the irtool package")


def _entry(name: str, raw: Mapping[str, Any], where: Path) -> WeightsEntry:
    unknown = set(raw) - _ENTRY_FIELDS
    if unknown:
        raise UsageError(f"{where.name}: entry {name!r} has unknown field(s) {sorted(unknown)}")
    if "preset" not in raw or "tasks" not in raw:
        raise UsageError(f"{where.name}: entry {name!r} needs 'preset' and 'tasks'")
    kind = raw.get("kind", "restorer")
    if kind not in ENTRY_KINDS:
        raise UsageError(f"{where.name}: entry {name!r}: kind must be one of {ENTRY_KINDS}")
    tasks = tuple(raw["tasks"])
    bad = [t for t in tasks if t not in RESTORE_TASKS and kind == "restorer"]
    if bad:
        raise UsageError(f"{where.name}: entry {name!r}: unknown task(s) {bad}; tasks are {', '.join(RESTORE_TASKS)}")
    has_file = "file" in raw
    has_hub = "repo_id" in raw
    if has_file == has_hub:
        raise UsageError(f"{where.name}: entry {name!r} needs exactly one of 'file' (bundled) or 'repo_id' (hub)")
    if has_hub and not ("filename" in raw and "revision" in raw):
        raise UsageError(f"{where.name}: hub entry {name!r} needs 'filename' and a pinned 'revision'")
    sha = raw.get("sha256")
    if sha is not None and not is_hex(sha, 64):
        raise UsageError(f"{where.name}: entry {name!r}: sha256 must be 64 lowercase hex digits")
    if has_hub and not is_hex(raw["revision"], 40):
        raise UsageError(f"{where.name}: hub entry {name!r}: revision must be a full commit hash (40 lowercase hex "
                         "digits), not a branch or tag, so the file cannot change under the pinned sha256")
    if has_hub and (sha is None or not raw.get("license")):
        raise UsageError(f"{where.name}: hub entry {name!r} needs its 'sha256' and its 'license'")
    if not isinstance(raw.get("non_commercial", False), bool):
        raise UsageError(f"{where.name}: entry {name!r}: non_commercial must be true or false")
    frozen = {k: MappingProxyType(dict(raw[k])) for k in ("paper", "measured", "training") if k in raw}
    return WeightsEntry(name=name, **{**raw, "tasks": tasks, **frozen})


def is_hex(value: object, length: int) -> bool:
    """Whether ``value`` is ``length`` lowercase hex digits (a sha256, a pinned commit)."""
    return isinstance(value, str) and len(value) == length and all(c in "0123456789abcdef" for c in value)


def _route(kind: str, value: object, where: Path) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else ()
    if not names or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise UsageError(f"{where.name}: route {kind!r} must be an entry name or a list of distinct entry names")
    if KEEP_ROUTE in names[:-1]:
        raise UsageError(f"{where.name}: route {kind!r}: {KEEP_ROUTE!r} is always available, so it can only be last")
    return names


def parse_catalog(text: str, *, path: Path) -> Catalog:
    try:
        data = loads(text)
    except TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    entries = {name: _entry(name, raw, path) for name, raw in data.get("models", {}).items()}
    routes = {kind: _route(kind, value, path) for kind, value in data.get("routes", {}).items()}
    detector = data.get("detector")
    named = [t for names in routes.values() for t in names if t != KEEP_ROUTE]
    for target in [*named, *([detector] if detector else [])]:
        if target not in entries:
            raise UsageError(f"{path.name}: routes/detector name unknown entry {target!r}")
    if detector and entries[detector].kind != "detector":
        raise UsageError(f"{path.name}: detector {detector!r} is a {entries[detector].kind}, not a detector")
    for kind_name, names in routes.items():
        for target in names:
            if target != KEEP_ROUTE and entries[target].kind != "restorer":
                raise UsageError(f"{path.name}: route {kind_name!r} names {target!r}, which is not a restorer")
    return Catalog(entries=MappingProxyType(entries), routes=MappingProxyType(routes), detector=detector, path=path)


@lru_cache(maxsize=8)
def _load_cached(path: Path, mtime: float) -> Catalog:
    return parse_catalog(path.read_text(encoding="utf-8"), path=path)


def load_catalog(path: str | Path | None = None) -> Catalog:
    p = Path(path) if path is not None else default_catalog_path()
    return _load_cached(p.resolve(), p.stat().st_mtime)
