"""``--export NAME``: ship a run's final weights as a bundled file with its weights.toml entry.

The entry's TOML block (``[models.NAME]`` and its sub-tables) is replaced in place, so the
rest of weights.toml — comments, routes, other entries — is left exactly as it was.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Mapping

from irtool.errors import UsageError
from irtool.tomlio import dumps, format_key
from irtool.weights.catalog import ASSET_WEIGHTS_DIR, default_catalog_path, parse_catalog
from irtool.weights.hashing import sha256_file

from .config import TrainConfig

#: How ``--export-dtype`` may store a run's weights.
EXPORT_DTYPES = ("float32", "float16")


def entry_block(name: str, fields: Mapping[str, Any]) -> str:
    """``[models.NAME]`` with ``fields`` (mappings become its sub-tables; ``None`` values are left out)."""
    return dumps(fields, table=f"models.{format_key(name)}")


def replace_block(text: str, name: str, block: str) -> str:
    """Replace ``[models.NAME]`` (and ``[models.NAME.*]``) in ``text`` by ``block``, or append it."""
    header = re.compile(r"^\[([^\]]+)\]\s*$", re.M)
    spans = [(m.start(), m.group(1).strip()) for m in header.finditer(text)] + [(len(text), "")]
    start = end = None
    for (pos, table), (nxt, _) in zip(spans, spans[1:]):
        if table == f"models.{name}" or table.startswith(f"models.{name}."):
            start = pos if start is None else start
            end = nxt
        elif start is not None:
            break
    if start is None:
        return text.rstrip("\n") + "\n\n" + block
    return text[:start] + block + ("\n" if end < len(text) else "") + text[end:]


def export_run(
    *,
    name: str,
    weights_file: Path,
    cfg: TrainConfig,
    tasks: tuple[str, ...],
    command: str,
    measured: Mapping[str, Any] | None = None,
    kind: str = "restorer",
    catalog_path: Path | None = None,
    description: str = "",
    dtype: str = "float32",
) -> Path:
    """Copy ``weights_file`` into the package and write its catalog entry; returns the catalog path.

    ``dtype="float16"`` stores floating-point tensors at half precision (half the bytes of the package's 20 MB
    budget); loading casts them back to the model's float32, so only the weights' rounding changes and the
    metrics must be measured on the exported file.
    """
    from irtool.models import parameter_count

    if dtype not in EXPORT_DTYPES:
        raise UsageError(f"export dtype must be one of {', '.join(EXPORT_DTYPES)}, not {dtype!r}")
    catalog_path = catalog_path or default_catalog_path()
    ASSET_WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    target = ASSET_WEIGHTS_DIR / f"{name}.safetensors"
    if dtype == "float32":
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(weights_file, tmp)
        os.replace(tmp, target)
    else:
        _write_half(weights_file, target)
    fields: dict[str, Any] = {
        "preset": cfg.preset,
        "kind": kind,
        "tasks": list(tasks),
        "description": description or f"{cfg.preset} trained by irtool train ({cfg.task})",
        "license": "MIT",
        "params": parameter_count(cfg.preset) if kind == "restorer" else _detector_parameters(cfg.preset, weights_file),
        "file": target.name,
        "sha256": sha256_file(target),
        "size": target.stat().st_size,
        "training": {"command": command, "iterations": cfg.iters, "recipe_lr": cfg.lr, "data": cfg.data},
    }
    if measured:
        fields["measured"] = dict(measured)
    text = catalog_path.read_text(encoding="utf-8") if catalog_path.exists() else ""
    new_text = replace_block(text, name, entry_block(name, fields))
    parse_catalog(new_text, path=catalog_path)  # never write a catalog that does not load
    tmp_cat = catalog_path.with_name(f".{catalog_path.name}.tmp")
    tmp_cat.write_text(new_text, encoding="utf-8")
    os.replace(tmp_cat, catalog_path)
    return catalog_path


def _write_half(source: Path, target: Path) -> None:
    import torch
    from safetensors import safe_open

    from irtool.weights.checkpoints import save_safetensors

    with safe_open(str(source), framework="pt") as fh:
        metadata = fh.metadata() or {}
        tensors = {key: fh.get_tensor(key) for key in fh.keys()}
    limit = torch.finfo(torch.float16).max
    half = {}
    for key, tensor in tensors.items():
        if tensor.is_floating_point():
            if tensor.abs().max() > limit:
                raise UsageError(f"{key} holds values beyond float16's range; export it as float32")
            tensor = tensor.to(torch.float16)
        half[key] = tensor
    save_safetensors(half, target, metadata={**metadata, "stored_dtype": "float16"})


def _detector_parameters(preset: str, weights_file: Path) -> int:
    from safetensors import safe_open

    from irtool.models.giv_detector import build_giv_detector

    with safe_open(str(weights_file), framework="pt") as fh:
        vote = "vote.linear.weight" in fh.keys()
    return sum(p.numel() for p in build_giv_detector(preset, vote=vote).parameters())
