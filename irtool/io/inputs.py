"""Which files are images, listing them in folders, turning INPUT arguments into files and mapping them to outputs.

:data:`IMAGE_EXTENSIONS` and :func:`list_images` are the one definition of "the images in a folder" for restoring,
training and evaluation. Files are taken as given (any extension: a wrong file then gets a clear read error);
folders and glob patterns contribute image files only, and the tree below the folder (or below the pattern's fixed
leading part) is mirrored under the output folder.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path, PurePath

from irtool.errors import UsageError
from irtool.io.atomic import is_temp_name
from irtool.io.images import normalize_format

__all__ = [
    "IMAGE_EXTENSIONS",
    "InputItem",
    "count_kinds",
    "expand_inputs",
    "find_inputs",
    "is_image_name",
    "list_images",
    "other_files",
    "output_path",
    "plan_outputs",
]

#: Extensions (lower case) of the files a folder contributes: every format ``read_image`` decodes.
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".ppm", ".pgm"})
_CANONICAL_EXTENSION = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp", "ppm": ".ppm"}
_GLOB_CHARACTERS = frozenset("*?[")
_FLAG_VALUES = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0"})


@dataclass(frozen=True, kw_only=True, order=True)
class InputItem:
    """One input file and the relative path under which its output is mirrored."""

    source: Path  # absolute (symlinks not resolved, so names stay the user's)
    relative: PurePath  # e.g. "trip/day 1/img.jpg" for a file found inside the folder "photos"


def is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def _is_skipped_name(name: str) -> bool:
    return name.startswith(".") or is_temp_name(name)


def _has_glob(text: str) -> bool:
    return any(character in _GLOB_CHARACTERS for character in text)


def list_images(folder: str | os.PathLike[str], *, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (by extension, case-insensitive), as ``folder / relative path``, sorted by that
    relative path (a folder's files together).

    Hidden files and folders (".git", ".thumbnails", temporary files of an interrupted write) are skipped and links
    to folders are not followed. ``UsageError`` if ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"image folder {root} does not exist or is not a folder")
    found = [path for path in _visible_files(root, recursive=recursive) if is_image_name(path.name)]
    return sorted(found, key=lambda path: path.relative_to(root).parts)


def _visible_files(root: Path, *, recursive: bool) -> list[Path]:
    """Regular files under ``root`` that are not hidden and not in a hidden folder (links to folders not followed)."""
    found: list[Path] = []
    for current, directories, files in os.walk(root, followlinks=False):
        # Pruning in place stops os.walk descending into hidden folders.
        directories[:] = [d for d in directories if not _is_skipped_name(d)] if recursive else []
        here = Path(current)
        found += [here / name for name in files if not _is_skipped_name(name) and (here / name).is_file()]
    return found


def count_kinds(paths: list[Path]) -> str:
    """How many files of each extension, most first: ".gif 2, .heic 1, no extension 1"."""
    from collections import Counter

    kinds = Counter(path.suffix.lower() or "no extension" for path in paths)
    return ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items(), key=lambda item: (-item[1], item[0])))


def other_files(inputs: list[str], *, recursive: bool = True,
                exclude: tuple[str | os.PathLike[str], ...] = ()) -> list[Path]:
    """The files that folders among ``inputs`` hold but that are not images irtool reads (by extension: a GIF, a
    HEIC, a raw file, notes), outside the ``exclude`` folders: a batch leaves them out, and says how many."""
    excluded = tuple(Path(folder).resolve() for folder in exclude)
    found: set[Path] = set()
    for argument in inputs:
        folder = Path(argument).expanduser()
        if folder.is_dir():
            found.update(path.absolute() for path in _visible_files(folder, recursive=recursive)
                         if not is_image_name(path.name) and not (excluded and _inside(path, excluded)))
    return sorted(found)


def _walk_folder(folder: Path, *, recursive: bool, prefix: PurePath) -> list[InputItem]:
    return [InputItem(source=source.absolute(), relative=prefix / source.relative_to(folder))
            for source in list_images(folder, recursive=recursive)]


def _inside(path: Path, folders: tuple[Path, ...]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(folder) for folder in folders)


def _glob_base(pattern: str) -> Path:
    """The leading part of a pattern with no glob characters: 'photos/2024/*/x*.jpg' -> 'photos/2024'."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts[:-1]:
        if _has_glob(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _expand_one(argument: str, *, recursive: bool) -> list[InputItem]:
    path = Path(argument).expanduser()
    if path.is_dir():
        return _walk_folder(path, recursive=recursive, prefix=PurePath())
    if path.is_file():
        return [InputItem(source=path.absolute(), relative=PurePath(path.name))]
    if _has_glob(argument):
        base = _glob_base(str(path))
        items: list[InputItem] = []
        for match in glob.glob(str(path), recursive=True):
            match_path = Path(match)
            relative = match_path.relative_to(base)
            if any(_is_skipped_name(part) for part in relative.parts):
                continue
            if match_path.is_dir():
                items.extend(_walk_folder(match_path, recursive=recursive, prefix=relative))
            elif match_path.is_file() and is_image_name(match_path.name):
                items.append(InputItem(source=match_path.absolute(), relative=relative))
        if not items:
            raise UsageError("no image files match this pattern")
        return items
    if path.exists():
        raise UsageError("not a regular file or folder")
    if argument.lower() in _FLAG_VALUES:  # "--auto true": the flag took no value, so "true" became an input
        raise UsageError("no such file or folder (flags such as --auto take no value)")
    raise UsageError("no such file or folder")


def find_inputs(inputs: list[str], *, recursive: bool = True,
                exclude: tuple[str | os.PathLike[str], ...] = ()) -> tuple[list[InputItem], list[tuple[str, str]]]:
    """Expand files, folders and glob patterns into a sorted, duplicate-free list of InputItems, and list the
    arguments that gave nothing as ``(argument, reason)`` instead of stopping at the first (the reason does not
    repeat the argument).

    Order is by source path, so every process of a sharded run sees the same list. A file reached twice (e.g.
    named and also inside a named folder) is kept once, with the first mapping. Files that folders and patterns
    find inside an ``exclude`` folder (the output folder, when it lies inside an input folder) are left out, so a
    re-run never takes the previous run's outputs for inputs; a file named on its own is always kept.
    """
    excluded = tuple(Path(folder).resolve() for folder in exclude)
    seen: dict[Path, InputItem] = {}
    problems: list[tuple[str, str]] = []
    for argument in inputs:
        try:
            found = _expand_one(argument, recursive=recursive)
        except UsageError as exc:
            problems.append((argument, str(exc)))
            continue
        named = Path(argument).expanduser().is_file()
        for item in found:
            if excluded and not named and _inside(item.source, excluded):
                continue
            seen.setdefault(Path(os.path.normpath(item.source)), item)
    return sorted(seen.values(), key=lambda item: str(item.source)), problems


def expand_inputs(inputs: list[str], *, recursive: bool = True) -> list[InputItem]:
    """:func:`find_inputs`, raising UsageError for a path that does not exist, a pattern that matches no image, or
    an empty input list (training and evaluation data must be complete)."""
    if not inputs:
        raise UsageError("no inputs given")
    items, problems = find_inputs(inputs, recursive=recursive)
    if problems:
        argument, reason = problems[0]
        raise UsageError(f"{argument}: {reason}")
    return items


def output_path(item: InputItem, out_dir: str | Path, *, format: str | None = None, suffix: str = "") -> Path:
    """Where the output for `item` goes: out_dir / mirrored folders / stem + suffix + extension.

    The extension follows the output format; the input's own spelling (".JPEG", ".tiff") is kept when it
    already names that format, otherwise the canonical one (.png .jpg .webp .tif .bmp) is used.
    """
    relative = item.relative
    extension = relative.suffix
    if format is not None:
        wanted = normalize_format(format)
        current = _format_of_extension(extension)
        if current != wanted:
            extension = _CANONICAL_EXTENSION[wanted]
    return Path(out_dir) / relative.parent / f"{relative.stem}{suffix}{extension}"


def _format_of_extension(extension: str) -> str | None:
    try:
        return normalize_format(extension) if extension else None
    except UsageError:
        return None


def file_output_format(output: str | Path, format: str | None = None) -> str | None:
    """The format to write when ``-o`` names one output file rather than a folder (``-o restored.png``): its
    extension names a format irtool writes and no folder of that name exists. None: ``output`` is a folder (the
    default). UsageError when ``format`` (``--format``) names another format than the extension does."""
    path = Path(output)
    named = _format_of_extension(path.suffix)
    if named is None or path.is_dir():
        return None
    if format is not None and normalize_format(format) != named:
        raise UsageError(f"--output {path} names a {named} file, but --format asks for {normalize_format(format)}")
    return named


def plan_outputs(
    items: list[InputItem], out_dir: str | Path, *, format: str | None = None, suffix: str = ""
) -> list[tuple[InputItem, Path]]:
    """Pair each item with its output path; UsageError if two inputs would write the same file.

    Collisions happen e.g. with 'a.png' and 'a.jpg' converted to one format, or two folders holding the same
    file name; silently overwriting one photographer's picture with another is the failure this prevents.
    Names are compared case-insensitively because macOS and Windows file systems are.
    """
    planned: list[tuple[InputItem, Path]] = []
    claimed: dict[str, InputItem] = {}
    for item in items:
        target = output_path(item, out_dir, format=format, suffix=suffix)
        key = os.path.normcase(str(target)).casefold()
        if key in claimed:
            raise UsageError(
                f"{claimed[key].source} and {item.source} would both be written to {target}; "
                "pass them separately or choose an output suffix"
            )
        claimed[key] = item
        planned.append((item, target))
    return planned
