"""Benchmark registry (``benchmarks.toml``), local copies, verified fetching and safe archive extraction.

A benchmark is fetched once with :func:`fetch_benchmark` (``irtool download --bench NAME``): its pinned files come
through :func:`irtool.weights.hub.hub_download` (the Hugging Face cache, sha256 checked where the registry knows
it), archives are extracted into ``$IRTOOL_DATA/NAME/REVISION`` (default: ``irtool-benchmarks`` inside the HF hub
cache) through a temporary folder renamed into place (``irtool.io.atomic_directory``), so a half-extracted copy
is never used. Members that would land outside the folder (absolute paths, ``..``, links, devices) are refused.

:func:`benchmark_dataset` and :func:`folder_dataset` turn a local copy (or any folder) into an
:class:`EvalDataset`: the ordered list of (ground truth, optional degraded input) image pairs the runner scores.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from irtool.errors import InputError, UsageError, WeightsNotFoundError
from irtool.io import IMAGE_EXTENSIONS, list_images
from irtool.io.atomic import atomic_directory
from irtool.tomlio import TOMLDecodeError, read_toml

__all__ = [
    "Benchmark",
    "BenchmarkFile",
    "EvalDataset",
    "EvalSample",
    "benchmark_dataset",
    "benchmark_root",
    "data_root",
    "extract_archive",
    "fetch_benchmark",
    "folder_dataset",
    "get_benchmark",
    "load_benchmarks",
]

_COMPLETE_MARKER = ".irtool-benchmark.json"
# Refuse archives that would expand beyond this (the largest listed benchmark is well under 1 GB).
_MAX_EXTRACTED_BYTES = 16 * 1024**3


@dataclass(frozen=True, kw_only=True)
class BenchmarkFile:
    path: str
    sha256: str | None = None


@dataclass(frozen=True, kw_only=True)
class Benchmark:
    """One registry entry: where the data lives and how the extracted folder is laid out."""

    name: str
    title: str
    tasks: tuple[str, ...]
    hub: bool
    note: str = ""
    repo_id: str | None = None
    revision: str | None = None
    files: tuple[BenchmarkFile, ...] = ()
    gt: str = "."
    lr: Mapping[str, str] = field(default_factory=dict)
    lq: str | None = None
    pairing: str = "stem"
    gray: bool = False


def _registry_path() -> Path:
    override = os.environ.get("IRTOOL_BENCHMARKS_TOML")
    return Path(override) if override else Path(__file__).with_name("benchmarks.toml")


def _parse_entry(name: str, raw: Mapping[str, Any]) -> Benchmark:
    try:
        files = tuple(BenchmarkFile(path=f["path"], sha256=f.get("sha256")) for f in raw.get("files", []))
        bench = Benchmark(
            name=name, title=raw.get("title", name), tasks=tuple(raw["tasks"]), hub=bool(raw["hub"]),
            note=raw.get("note", ""), repo_id=raw.get("repo_id"), revision=raw.get("revision"), files=files,
            gt=raw.get("gt", "."), lr=dict(raw.get("lr", {})), lq=raw.get("lq"), pairing=raw.get("pairing", "stem"),
            gray=bool(raw.get("gray", False)),
        )
    except (KeyError, TypeError) as exc:
        raise UsageError(f"benchmark registry entry {name!r} is malformed ({exc})") from None
    if bench.hub and not (bench.repo_id and bench.revision and bench.files):
        raise UsageError(f"benchmark {name!r} has hub = true but no repo_id/revision/files")
    if bench.pairing not in ("stem", "rain", "sots", "auto"):
        raise UsageError(f"benchmark {name!r}: unknown pairing {bench.pairing!r}")
    return bench


def load_benchmarks(path: str | Path | None = None) -> dict[str, Benchmark]:
    """All registry entries by name (``$IRTOOL_BENCHMARKS_TOML`` replaces the packaged file, e.g. in tests)."""
    where = Path(path) if path else _registry_path()
    try:
        raw = read_toml(where)
    except (OSError, TOMLDecodeError) as exc:
        raise UsageError(f"cannot read the benchmark registry {where}: {exc}") from None
    return {name: _parse_entry(name, entry) for name, entry in raw.get("benchmarks", {}).items()}


def get_benchmark(name: str) -> Benchmark:
    registry = load_benchmarks()
    key = name.lower()
    if key not in registry:
        raise UsageError(f"unknown benchmark {name!r}; known: {', '.join(registry)} (see `irtool eval --list`)")
    return registry[key]


# --------------------------------------------------------------------------------------------- local copies


def data_root() -> Path:
    """Where extracted benchmarks live: ``$IRTOOL_DATA`` or ``<HF hub cache>/irtool-benchmarks``."""
    override = os.environ.get("IRTOOL_DATA")
    if override:
        return Path(override)
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / "irtool-benchmarks"


def _bench_dir(bench: Benchmark) -> Path:
    assert bench.revision is not None
    return data_root() / bench.name / bench.revision


def benchmark_root(name: str) -> Path:
    """The extracted local copy of a hub benchmark; tells the user how to get it when it is absent."""
    bench = get_benchmark(name)
    if not bench.hub:
        raise WeightsNotFoundError(f"benchmark {bench.name!r} has no hub copy: {bench.note}")
    root = _bench_dir(bench)
    if not (root / _COMPLETE_MARKER).is_file():
        raise WeightsNotFoundError(
            f"benchmark {bench.name!r} is not downloaded; run `irtool download --bench {bench.name}`"
        )
    return root


def fetch_benchmark(name: str) -> Path:
    """Download, verify and extract a hub benchmark (once); returns the extracted root."""
    from irtool.weights.hub import hub_download

    bench = get_benchmark(name)
    if not bench.hub:
        raise WeightsNotFoundError(f"benchmark {bench.name!r} has no hub copy: {bench.note}")
    root = _bench_dir(bench)
    if (root / _COMPLETE_MARKER).is_file():
        return root
    assert bench.repo_id and bench.revision
    downloaded = [
        hub_download(bench.repo_id, f.path, revision=bench.revision, repo_type="dataset", sha256=f.sha256)
        for f in bench.files
    ]
    try:
        with atomic_directory(root) as staging:
            for spec, local in zip(bench.files, downloaded):
                if _is_archive(spec.path):
                    extract_archive(local, staging)
                else:  # a loose image file keeps its repository path
                    target = staging / _safe_relative(spec.path)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(local, target)
            manifest = {"name": bench.name, "repo_id": bench.repo_id, "revision": bench.revision,
                        "files": [{"path": f.path, "sha256": f.sha256} for f in bench.files]}
            (staging / _COMPLETE_MARKER).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    except FileExistsError:
        # Another process finished first (the target exists and is complete): keep theirs.
        if not (root / _COMPLETE_MARKER).is_file():
            raise
    return root


def _is_archive(path: str) -> bool:
    return path.endswith((".tar.gz", ".tgz", ".tar", ".zip"))


def _safe_relative(member: str) -> PurePosixPath:
    """A member name as a relative path that stays inside the extraction folder, else InputError."""
    normal = member.replace("\\", "/")
    rel = PurePosixPath(normal)
    if normal.startswith("/") or rel.is_absolute() or (rel.parts and ":" in rel.parts[0]) or ".." in rel.parts:
        raise InputError(f"archive member {member!r} would be written outside the benchmark folder; refused")
    parts = [p for p in rel.parts if p not in ("", ".")]
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def extract_archive(archive: str | Path, dest: str | Path) -> None:
    """Extract a .tar(.gz) or .zip into ``dest``, refusing unsafe members (see module docstring).

    Every member is checked before anything is written, so a refused archive leaves ``dest`` as it was.
    """
    archive, dest = Path(archive), Path(dest)
    total = 0
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                _safe_relative(info.filename)
                mode = info.external_attr >> 16
                if mode and stat.S_ISLNK(mode):
                    raise InputError(f"archive member {info.filename!r} is a symbolic link; refused")
                total += info.file_size
            if total > _MAX_EXTRACTED_BYTES:
                raise InputError(f"{archive.name} would expand to {total} bytes; refused")
            for info in infos:
                rel = _safe_relative(info.filename)
                target = dest / rel
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
        return
    try:
        tf = tarfile.open(archive, "r:*")
    except tarfile.TarError as exc:
        raise InputError(f"{archive.name} is neither a zip nor a tar archive ({exc})") from None
    with tf:
        members = tf.getmembers()
        for m in members:
            _safe_relative(m.name)
            if not (m.isfile() or m.isdir()):
                raise InputError(f"archive member {m.name!r} is a link or special file; refused")
            total += m.size
        if total > _MAX_EXTRACTED_BYTES:
            raise InputError(f"{archive.name} would expand to {total} bytes; refused")
        for m in members:
            target = dest / _safe_relative(m.name)
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            member = tf.extractfile(m)
            assert member is not None
            with member, open(target, "wb") as out:
                shutil.copyfileobj(member, out)


# ------------------------------------------------------------------------------------------------ datasets


@dataclass(frozen=True, kw_only=True)
class EvalSample:
    """One scored image: its name (relative path without suffix), ground truth and optional given input."""

    name: str
    gt: Path
    lq: Path | None = None


@dataclass(frozen=True, kw_only=True)
class EvalDataset:
    """An ordered list of samples; ``lq_source`` says whether inputs come from files or are synthesised."""

    name: str
    samples: tuple[EvalSample, ...]
    lq_source: str  # "files" | "synthesised" | "mixed"
    gray: bool = False
    source: str = ""

    def __len__(self) -> int:
        return len(self.samples)


def _images_under(folder: Path) -> dict[str, Path]:
    """Images below ``folder`` (:func:`irtool.io.list_images`) keyed by relative path without suffix."""
    return {path.relative_to(folder).with_suffix("").as_posix(): path for path in list_images(folder, recursive=True)}


def _named_folder_images(folder: Path, option: str) -> dict[str, Path]:
    """:func:`_images_under` a folder the user named with ``option``: it must be a folder and hold images."""
    if not folder.is_dir():
        raise UsageError(f"{option} {folder} is not a folder")
    images = _images_under(folder)
    if not images:
        raise InputError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) under {folder}")
    return images


def _resolve_folder(root: Path, folder: str) -> Path:
    """``root/folder`` if it exists, else the unique directory below root whose path ends with ``folder``."""
    direct = root / folder
    if direct.is_dir():
        return direct
    suffix = PurePosixPath(folder).parts
    hits = [p for p in root.rglob(suffix[-1]) if p.is_dir() and p.relative_to(root).parts[-len(suffix):] == suffix]
    if len(hits) != 1:
        what = "no" if not hits else f"{len(hits)}"
        raise InputError(
            f"{what} folder matching {folder!r} under {root}; the archive layout differs from the registry"
        )
    return hits[0]


def _gt_key_for(lq_key: str, pairing: str) -> list[str]:
    """Ground-truth keys to try for an input key, most specific first (HAIR's naming rules)."""
    parent, _, stem = lq_key.rpartition("/")
    prefix = f"{parent}/" if parent else ""
    keys = [lq_key, stem]
    if pairing in ("rain", "auto") and "rain" in stem:
        keys += [prefix + stem.replace("rain", "norain", 1), stem.replace("rain", "norain", 1)]
    if pairing in ("sots", "auto"):
        keys += [prefix + stem.split("_")[0], stem.split("_")[0]]
    return keys


def _pair(gt_images: dict[str, Path], lq_images: dict[str, Path], pairing: str, where: str) -> list[EvalSample]:
    by_stem: dict[str, Path] = {}
    for key, path in gt_images.items():
        by_stem.setdefault(key.rpartition("/")[2], path)
    samples = []
    for key, lq in lq_images.items():
        gt = next((gt_images.get(k) or by_stem.get(k) for k in _gt_key_for(key, pairing)
                   if gt_images.get(k) or by_stem.get(k)), None)
        if gt is None:
            raise InputError(f"{where}: no ground truth for input {lq.name}")
        samples.append(EvalSample(name=key, gt=gt, lq=lq))
    return samples


def folder_dataset(gt_dir: str | Path, lq_dir: str | Path | None = None, *, name: str | None = None,
                   pairing: str = "auto", gray: bool = False) -> EvalDataset:
    """Any local folder: clean images only (inputs synthesised by the protocol) or paired with ``lq_dir``.

    Inputs are matched to ground truth by relative path, then file stem; ``pairing="auto"`` also understands
    HAIR's naming rules (``rain-N`` -> ``norain-N``, SOTS ``NAME_a_b`` -> ``NAME``).
    """
    gt_dir = Path(gt_dir)
    gt_images = _named_folder_images(gt_dir, "--data")
    label = name or gt_dir.name
    if lq_dir is None:
        samples = [EvalSample(name=k, gt=p) for k, p in gt_images.items()]
        return EvalDataset(name=label, samples=tuple(samples), lq_source="synthesised", gray=gray, source=str(gt_dir))
    lq_dir = Path(lq_dir)
    lq_images = _named_folder_images(lq_dir, "--data-lq")
    samples = _pair(gt_images, lq_images, pairing, str(lq_dir))
    return EvalDataset(name=label, samples=tuple(samples), lq_source="files", gray=gray,
                       source=f"{gt_dir} + {lq_dir}")


def benchmark_dataset(name: str, task: str, *, root: str | Path | None = None) -> EvalDataset:
    """A registry benchmark for ``task`` from its local copy (``root`` overrides where that copy is)."""
    bench = get_benchmark(name)
    if task not in bench.tasks:
        raise UsageError(f"benchmark {bench.name!r} is for {', '.join(bench.tasks)}, not {task!r}")
    base = Path(root) if root is not None else benchmark_root(bench.name)
    gt_dir = _resolve_folder(base, bench.gt)
    if bench.lq is not None:
        dataset = folder_dataset(gt_dir, _resolve_folder(base, bench.lq), name=bench.name, pairing=bench.pairing,
                                 gray=bench.gray)
        return EvalDataset(name=bench.name, samples=dataset.samples, lq_source="files", gray=bench.gray,
                           source=f"{bench.repo_id}@{bench.revision}" if bench.hub else str(base))
    gt_images = _images_under(gt_dir)
    if not gt_images:
        raise InputError(f"benchmark {bench.name!r}: no images under {gt_dir}")
    lr_folder = bench.lr.get(task)
    lr_images = _images_under(_resolve_folder(base, lr_folder)) if lr_folder else {}
    samples = [EvalSample(name=k, gt=p, lq=lr_images.get(k)) for k, p in gt_images.items()]
    with_lq = sum(s.lq is not None for s in samples)
    lq_source = "files" if with_lq == len(samples) else ("synthesised" if with_lq == 0 else "mixed")
    return EvalDataset(name=bench.name, samples=tuple(samples), lq_source=lq_source, gray=bench.gray,
                       source=f"{bench.repo_id}@{bench.revision}" if bench.hub else str(base))
