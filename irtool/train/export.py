"""``--export NAME``: ship a run's final or best weights as a bundled file with its weights.toml entry.

:func:`export_training` picks the weights and the scores measured for them (:func:`exported_weights`) and
writes them with :func:`export_run`. The entry's TOML block (``[models.NAME]`` and its sub-tables) is replaced
in place, so the rest of weights.toml — comments, routes, other entries — is left exactly as it was.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irtool.errors import UsageError
from irtool.io.atomic import atomic_output
from irtool.tomlio import dumps, format_key
from irtool.weights.catalog import default_catalog_path, parse_catalog
from irtool.weights.hashing import sha256_file

from .config import TrainConfig

if TYPE_CHECKING:
    from .loop import TrainResult

#: How ``--export-dtype`` may store a run's weights.
EXPORT_DTYPES = ("float32", "float16")
#: Which of a run's weights ``--export-checkpoint`` ships: the last iteration's, or the best validation score's.
EXPORT_CHECKPOINTS = ("final", "best")


def entry_block(name: str, fields: Mapping[str, Any]) -> str:
    """``[models.NAME]`` with ``fields`` (mappings become its sub-tables; ``None`` values are left out)."""
    return dumps(fields, table=f"models.{format_key(name)}")


def replace_block(text: str, name: str, block: str) -> str:
    """Replace ``[models.NAME]`` (and ``[models.NAME.*]``) in ``text`` by ``block``, or append it."""
    header = re.compile(r"^\[([^\]]+)\]\s*$", re.M)
    spans = [(m.start(), m.group(1).strip()) for m in header.finditer(text)] + [(len(text), "")]
    start: int | None = None
    end = len(text)  # assigned with start below; only read once start is set
    for (pos, table), (nxt, _) in zip(spans, spans[1:]):
        if table == f"models.{name}" or table.startswith(f"models.{name}."):
            start = pos if start is None else start
            end = nxt
        elif start is not None:
            break
    if start is None:
        return text.rstrip("\n") + "\n\n" + block
    return text[:start] + block + ("\n" if end < len(text) else "") + text[end:]


def exported_weights(result: TrainResult, cfg: TrainConfig, *, checkpoint: str = "final"
                     ) -> tuple[Path, dict[str, Any]]:
    """The weights file of a finished run to ship and the scores measured for it (rounded, for weights.toml).

    ``checkpoint="final"``: the last iteration's weights and its last record's scores; ``"best"``: the weights of
    the best validation score (``best.safetensors``) and that validation's scores, with its iteration.
    """
    from .objectives import objective_for

    if checkpoint not in EXPORT_CHECKPOINTS:
        raise UsageError(f"checkpoint must be one of {', '.join(EXPORT_CHECKPOINTS)}, not {checkpoint!r}")
    if result.final_weights is None:
        raise UsageError(f"the run in {result.run_dir} stopped ({result.stopped}) before its final weights")
    if checkpoint == "final":
        record: Mapping[str, Any] = result.history[-1] if result.history else {}
        return result.final_weights, _measured(record)
    weights_file = result.run_dir / "best.safetensors"
    best = objective_for(cfg).best_record(result.history)
    if not weights_file.is_file() or best is None:
        raise UsageError(f"the run in {result.run_dir} has no best checkpoint: the best needs validation (val)")
    return weights_file, {**_measured(best), "val_iteration": best["iter"]}


def _measured(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) for k, v in record.items() if k.startswith(("val_", "cv_"))}


def export_training(
    result: TrainResult,
    cfg: TrainConfig,
    *,
    name: str,
    command: str,
    weights_dir: Path,
    checkpoint: str = "final",
    catalog_path: Path | None = None,
    dtype: str = "float32",
) -> Path:
    """Ship a finished run's final or best weights (see :func:`exported_weights`) as catalog entry ``name``, the
    file in ``weights_dir``; returns the catalog path."""
    from .objectives import objective_for

    weights_file, measured = exported_weights(result, cfg, checkpoint=checkpoint)
    return export_run(name=name, weights_file=weights_file, cfg=cfg, tasks=(cfg.task,), command=command,
                      measured=measured, kind=objective_for(cfg).kind, catalog_path=catalog_path,
                      weights_dir=weights_dir, dtype=dtype)


def export_run(
    *,
    name: str,
    weights_file: Path,
    cfg: TrainConfig,
    tasks: tuple[str, ...],
    command: str,
    weights_dir: Path,
    measured: Mapping[str, Any] | None = None,
    kind: str = "restorer",
    catalog_path: Path | None = None,
    description: str = "",
    dtype: str = "float32",
) -> Path:
    """Copy ``weights_file`` into ``weights_dir`` and write its catalog entry; returns the catalog path.

    ``weights_dir`` is the folder the catalog reads its bundled files from (the package's ``irtool/assets/weights``
    for the package's catalog): the entry names the file only.

    ``dtype="float16"`` stores floating-point tensors at half precision (half the bytes of the package's 20 MB
    budget); loading casts them back to the model's float32, so only the weights' rounding changes and the
    metrics must be measured on the exported file.
    """
    from irtool.models import parameter_count

    if dtype not in EXPORT_DTYPES:
        raise UsageError(f"export dtype must be one of {', '.join(EXPORT_DTYPES)}, not {dtype!r}")
    catalog_path = catalog_path or default_catalog_path()
    target = Path(weights_dir) / f"{name}.safetensors"
    if dtype == "float32":
        with open(weights_file, "rb") as source, atomic_output(target) as handle:
            shutil.copyfileobj(source, handle)
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
    with atomic_output(catalog_path) as handle:
        handle.write(new_text.encode("utf-8"))
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
        vote_size = fh.get_slice("vote.linear.weight").get_shape()[1] if "vote.linear.weight" in fh.keys() else None
    return sum(p.numel() for p in build_giv_detector(preset, vote_size=vote_size).parameters())
