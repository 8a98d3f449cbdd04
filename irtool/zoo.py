"""Load restoration networks by weights entry, by task, or from a local checkpoint.

One :class:`ModelZoo` per run caches each loaded network with its inference engine, so an
``--auto`` batch that routes 5,000 images to three models loads each of them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
from torch import nn

from irtool.errors import InvalidArgumentError, WeightsNotFoundError
from irtool.weights import Catalog, WeightsEntry, entry_path, load_catalog

if TYPE_CHECKING:
    from irtool.engine import InferenceEngine
    from irtool.models import Preset


@dataclass(frozen=True)
class EngineSettings:
    device: str = "auto"
    precision: str = "auto"
    tile: int | None = None
    overlap: int = 32
    tile_batch: int | None = None
    #: Run the networks through ``torch.compile`` (``irtool.engine.compiled``).
    compile: bool = False


@dataclass
class LoadedModel:
    """A network ready to run: its name (entry or file), preset, module and engine."""

    name: str
    preset: Preset
    module: nn.Module
    engine: InferenceEngine

    @property
    def scale(self) -> int:
        return self.preset.scale

    def run_image(self, pixels: np.ndarray, *, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Restore one HxWxC float image in [0, 1]; returns HxWxC float32 (H and W times :attr:`scale`) with the
        input's channel count, so a gray photo in gives a gray photo out.

        A gray image (C=1) goes to an RGB network as three equal channels and its output's channel mean is kept; a
        colour image goes to a gray network one channel at a time. ``progress(done, total)`` counts tiles.
        """
        want, have = self.preset.in_channels, pixels.shape[2]
        if have == want:
            planes = [pixels]
        elif want == 3 and have == 1:
            planes = [np.repeat(pixels, 3, axis=2)]
        elif want == 1 and have == 3:
            planes = [pixels[:, :, c : c + 1] for c in range(3)]
        else:
            raise InvalidArgumentError(f"{self.name} takes {want}-channel images (or gray/RGB ones); "
                                       f"got {have} channels")
        outs = []
        for plane in planes:
            tensor = torch.from_numpy(np.ascontiguousarray(plane.transpose(2, 0, 1)))
            outs.append(self.engine.run(tensor, progress=progress).numpy().transpose(1, 2, 0))
        result = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=2)
        if have == 1 and result.shape[2] == 3:
            result = result.mean(axis=2, keepdims=True)
        return result


def build_from_checkpoint(path: str | Path, preset_name: str | None) -> tuple[Preset, nn.Module]:
    """(preset, module) from a checkpoint file, its weights loaded.

    The architecture is, in this order: ``preset_name`` (an irtool preset, or ``spandrel:ARCH`` for another
    project's architecture); the preset our safetensors name in their metadata; the irtool preset whose tensors the
    file has exactly (official HAIR and Restormer files: :mod:`irtool.models.recognise`); else whatever spandrel
    recognises (:mod:`irtool.models.foreign`, an optional dependency).
    """
    from irtool.foreign_names import FOREIGN_PREFIX, is_foreign
    from irtool.models import get_preset
    from irtool.models.foreign import load_foreign
    from irtool.models.recognise import recognise_preset
    from irtool.weights.checkpoints import load_into, read_checkpoint, strip_prefixes

    source = Path(path).name
    foreign = is_foreign(preset_name)
    given = get_preset(preset_name) if preset_name and not foreign else None  # a misspelt name fails before reading
    raw, meta = read_checkpoint(path, strip=False)
    if foreign:
        return load_foreign(raw, source=source, arch=str(preset_name)[len(FOREIGN_PREFIX):])
    sd = strip_prefixes(raw)
    preset = given or (get_preset(meta["preset"]) if meta.get("preset") else recognise_preset(sd))
    if preset is None:
        return load_foreign(raw, source=source)
    return preset, load_into(preset.build(), sd, source=source)


class ModelZoo:
    def __init__(self, settings: EngineSettings, *, catalog: Catalog | None = None):
        self.settings = settings
        self._catalog = catalog
        self._loaded: dict[str, LoadedModel] = {}

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog()
        return self._catalog

    def _engine(self, module: nn.Module, preset: Preset) -> InferenceEngine:
        from irtool.engine import InferenceEngine

        s = self.settings
        return InferenceEngine(module, preset, device=s.device, precision=s.precision, tile=s.tile,
                               overlap=s.overlap, tile_batch=s.tile_batch, compile=s.compile)

    def from_file(self, path: str | Path, preset_name: str | None = None) -> LoadedModel:
        key = f"file:{Path(path).resolve()}:{preset_name}"
        if key not in self._loaded:
            preset, module = build_from_checkpoint(path, preset_name)
            self._loaded[key] = LoadedModel(Path(path).name, preset, module, self._engine(module, preset))
        return self._loaded[key]

    def from_entry(self, name: str) -> LoadedModel:
        if name not in self._loaded:
            entry = self.catalog.get(name)
            if entry.kind != "restorer":
                raise InvalidArgumentError(f"{name!r} is a {entry.kind}, not a restoration model")
            path = entry_path(entry)
            preset, module = build_from_checkpoint(path, entry.preset)
            self._loaded[name] = LoadedModel(name, preset, module, self._engine(module, preset))
        return self._loaded[name]

    def for_task(self, task: str) -> LoadedModel:
        candidates = self.catalog.for_task(task)
        if not candidates:
            raise WeightsNotFoundError(f"weights.toml has no model for task {task!r}")
        from irtool.weights.routes import why_unusable

        for entry in candidates:  # one that can run here: downloaded, and spandrel installed if it needs it
            if why_unusable(entry) is None:
                return self.from_entry(entry.name)
        names = " ".join(e.name for e in candidates[:1])
        raise WeightsNotFoundError(f"no weights for task {task!r} are available here; run `irtool download {names}`")

    def detector_entry(self) -> WeightsEntry:
        if not self.catalog.detector:
            raise WeightsNotFoundError(
                "automatic detection needs a GIV degradation detector and weights.toml names none "
                "(`detector = ...`); choose a task instead, e.g. all"
            )
        return self.catalog.get(self.catalog.detector)
