"""What a training run learns: restoration (a restorer maps degraded images to clean ones) or detection (a GIV
detector names an image's degradation type and severity).

The :class:`~irtool.train.loop.Trainer` owns what every run shares: optimiser, EMA, AMP, the schedule,
checkpoints, exact resume and DDP. An objective owns what differs: the model it builds and how it starts from
``init_weights``, its data, its loss, its validation metrics, which of them picks the best checkpoint, and the
metadata of the weights it exports.

Adding an objective: subclass :class:`TrainingObjective` here, return it from :func:`objective_for` for its
task, and add the task to ``TRAIN_TASKS`` (``irtool/train/config.py``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from irtool.degradations import SINGLE_TASKS
from irtool.errors import InvalidArgumentError, UsageError

from .config import TrainConfig

if TYPE_CHECKING:
    from irtool.data import DegradedFolderDataset, PairedFolderDataset, ValidationSet
    from irtool.data.transforms import PatchTransform
    from irtool.models.giv_detector import GIVDetector

__all__ = [
    "DetectionObjective",
    "RestorationObjective",
    "TrainingObjective",
    "objective_for",
    "patch_transforms",
    "restoration_loss",
]

Record = Mapping[str, Any]


def patch_transforms(cfg: TrainConfig) -> list[PatchTransform]:
    """The optional patch-making steps (:mod:`irtool.data.transforms`) ``cfg`` switches on."""
    from irtool.data.transforms import DegradeMargin, Downscale, GrayPhotos, QuantizeInput, ToneJitter

    steps: list[PatchTransform] = [DegradeMargin(cfg.degrade_margin)] if cfg.degrade_margin else []
    steps += [Downscale(cfg.downscale)] if min(cfg.downscale) < 1.0 else []
    steps += [ToneJitter(cfg.tone_jitter)] if cfg.tone_jitter else []
    # Before the margin is cut and the input rounded: it converts the degraded region as a whole.
    steps += [GrayPhotos(cfg.gray_photos)] if cfg.gray_photos else []
    steps += [QuantizeInput()] if cfg.quantize_lq else []
    return steps


class TrainingObjective(ABC):
    """The contract between the Trainer and what it trains; one instance per run."""

    #: The exported weights' ``kind`` (metadata and weights.toml): "restorer" or "detector".
    kind: ClassVar[str]
    #: The history key (``val_`` + a validation metric) that picks the best checkpoint.
    best_key: ClassVar[str]
    #: Whether a larger ``best_key`` is better.
    higher_is_better: ClassVar[bool] = True
    #: The history key of the same score for the input itself (where the objective measures one): the model should
    #: beat it, and ``curves.png`` draws it as a reference line.
    reference_key: ClassVar[str | None] = None
    #: Validated on every degradation of every validation photo (else one per photo, in turn).
    validates_every_type: ClassVar[bool] = False

    def __init__(self, cfg: TrainConfig) -> None:
        from irtool.models import get_preset

        self.cfg = cfg
        self.preset = get_preset(cfg.preset)

    # ................................................................. model
    @abstractmethod
    def build_model(self) -> nn.Module:
        """A freshly initialised model (draws from torch's global generator, which the Trainer has seeded)."""

    @abstractmethod
    def load_init_weights(self, model: nn.Module, path: str) -> None:
        """Start ``model`` from the weights file ``path`` (``cfg.init_weights``)."""

    # ................................................................. data
    def datasets(self) -> tuple[DegradedFolderDataset | PairedFolderDataset, ValidationSet | None]:
        """(training set, validation set or None); training items are keyed ``(epoch, index)``."""
        from irtool import data

        cfg = self.cfg
        scale = self.preset.scale
        if not cfg.data:
            raise InvalidArgumentError("data is required: a folder of clean training images (or the targets of "
                                       "data_lq)", argument="data")
        # Paired items are labelled with the task only when the run trains one.
        label = cfg.task if cfg.task in SINGLE_TASKS else None
        train: DegradedFolderDataset | PairedFolderDataset
        if cfg.data_lq:
            train = data.PairedFolderDataset(cfg.data_lq, cfg.data, patch_size=cfg.patch_size, scale=scale,
                                             augment=True, seed=cfg.seed, task=label)
        else:
            train = data.DegradedFolderDataset(
                cfg.data, task_mix=cfg.mixture, patch_size=cfg.patch_size, scale=scale, augment=True,
                seed=cfg.seed, sr_as_same_size=scale == 1, unclipped_noise=cfg.unclipped_noise,
                transforms=patch_transforms(cfg), synthesis=cfg.synthesis, generators=cfg.generators,
                clean_candidates=cfg.clean_candidates, clean_pick=cfg.clean_pick,
            )
        val = None
        if cfg.val:
            paired = bool(cfg.val_lq)
            val = data.ValidationSet(
                cfg.val, lq_folder=cfg.val_lq or None, task_mix=None if paired and label is None else cfg.mixture,
                scale=scale, seed=cfg.seed + 1, crop_size=cfg.val_crop, max_images=cfg.val_max_images,
                sr_as_same_size=scale == 1, all_tasks=self.validates_every_type and not paired,
                quantize_lq=cfg.quantize_lq, synthesis=cfg.synthesis, generators=cfg.generators,
            )
        return train, val

    # ................................................................. training
    @abstractmethod
    def loss(self, model: nn.Module, batch: Mapping[str, Any], device: torch.device) -> torch.Tensor:
        """The loss of one batch; ``batch["lq"]`` is already on ``device``."""

    # ................................................................. validation
    @property
    @abstractmethod
    def metrics(self) -> tuple[str, ...]:
        """The validation metrics, in the order they are reported (recorded as ``val_`` + name)."""

    @abstractmethod
    def validation_scores(self, model: nn.Module, items: Iterable[Record], device: torch.device
                          ) -> dict[str, list[float]]:
        """Per-item scores of ``model`` (in eval mode, EMA weights) on ``items``, one list per metric."""

    def improves(self, score: float, best: float | None) -> bool:
        """Whether ``score`` beats ``best`` (the first of equal scores stays best)."""
        if best is None:
            return True
        return score > best if self.higher_is_better else score < best

    def best_record(self, history: Sequence[Record]) -> Record | None:
        """The history record of the best validation score: the one whose weights ``best.safetensors`` holds."""
        best: Record | None = None
        for record in history:
            score = record.get(self.best_key)
            if score is not None and self.improves(score, None if best is None else best[self.best_key]):
                best = record
        return best

    # ................................................................. export
    def export_metadata(self, model: nn.Module, *, iterations: int) -> dict[str, str]:
        """The metadata of the exported ``.safetensors`` (what loading it needs)."""
        cfg = self.cfg
        return {"preset": cfg.preset, "kind": self.kind, "task": cfg.task, "iterations": str(iterations)}


def restoration_loss(kind: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if kind == "charbonnier":
        return torch.sqrt((pred - target) ** 2 + 1e-6).mean()
    return F.l1_loss(pred, target)


def _uint8(image: np.ndarray) -> np.ndarray:
    # Metrics are computed on 8-bit images, as published results are.
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


class RestorationObjective(TrainingObjective):
    """A restorer (any registered preset) learns the clean target: L1 or Charbonnier loss, PSNR/SSIM validation."""

    kind = "restorer"
    best_key = "val_psnr"
    # Measured where input and target have the same size (see ``metrics``).
    reference_key = "val_psnr_in"

    def build_model(self) -> nn.Module:
        from irtool.models import build

        return build(self.cfg.preset)

    def load_init_weights(self, model: nn.Module, path: str) -> None:
        from irtool.weights.checkpoints import load_into, read_checkpoint

        state, _ = read_checkpoint(path)
        load_into(model, state, source=path, grown=True)

    def loss(self, model: nn.Module, batch: Mapping[str, Any], device: torch.device) -> torch.Tensor:
        gt = batch["gt"].to(device, non_blocking=True)
        return restoration_loss(self.cfg.loss, model(batch["lq"]).float(), gt)

    @property
    def metrics(self) -> tuple[str, ...]:
        # The input's own PSNR only where input and target have the same size.
        return ("psnr", "ssim", "psnr_in") if self.preset.scale == 1 else ("psnr", "ssim")

    def validation_scores(self, model: nn.Module, items: Iterable[Record], device: torch.device
                          ) -> dict[str, list[float]]:
        from irtool.metrics import psnr, ssim

        scale = self.preset.scale
        border = scale if scale > 1 else 0
        scores: dict[str, list[float]] = {name: [] for name in self.metrics}
        for item in items:
            lq = item["lq"].unsqueeze(0).to(device)
            out = _uint8(model(lq).clamp(0, 1)[0].float().cpu().permute(1, 2, 0).numpy())
            gt_float = item["gt"].permute(1, 2, 0).numpy()
            gt = _uint8(gt_float)
            y_channel = scale > 1 and gt_float.shape[2] == 3
            scores["psnr"].append(psnr(out, gt, crop_border=border, y_channel=y_channel))
            scores["ssim"].append(ssim(out, gt, crop_border=border, y_channel=y_channel))
            if "psnr_in" in scores:
                scores["psnr_in"].append(psnr(_uint8(item["lq"].permute(1, 2, 0).numpy()), gt))
        return scores


class DetectionObjective(TrainingObjective):
    """A GIV detector (``task = "detect"``) learns the degradation type (cross-entropy) and severity (L1);
    validated by the type accuracy of whole validation images read as ``irtool restore --auto`` reads them."""

    kind = "detector"
    best_key = "val_accuracy"
    # One type per photo is too few samples: every photo is shown with every type.
    validates_every_type = True

    def build_model(self) -> nn.Module:
        from irtool.models.giv_detector import build_giv_detector

        return build_giv_detector(self.cfg.preset)

    def load_init_weights(self, model: nn.Module, path: str) -> None:
        from irtool.weights.checkpoints import load_into, read_checkpoint

        state, meta = read_checkpoint(path)
        if not any(k.startswith("head.") for k in state):
            cast("GIVDetector", model).load_restorer_weights(state)  # a restorer: its GIV path starts the detector's
        else:
            from irtool.degradations import detector_types
            from irtool.detect import types_from_metadata

            # The head's outputs are labels by position: fine-tuning one trained with other labels would mislabel.
            if types_from_metadata(meta) != detector_types():
                raise UsageError(f"{path} was trained to name {', '.join(types_from_metadata(meta))}; a detector "
                                 f"trained now names {', '.join(detector_types())}: start from a restorer instead")
            # A detector with a fitted vote: the vote read the old network's probabilities, so training the
            # network voids it (refit with --fit-vote); only the network is trained.
            load_into(model, {k: v for k, v in state.items() if not k.startswith("vote.")}, source=path)

    def loss(self, model: nn.Module, batch: Mapping[str, Any], device: torch.device) -> torch.Tensor:
        logits, severity = model(batch["lq"])
        true_type = batch["kind"].to(device)
        true_severity = batch["severity"].to(device).float()
        return F.cross_entropy(logits.float(), true_type) + F.l1_loss(severity.float().squeeze(-1), true_severity)

    @property
    def metrics(self) -> tuple[str, ...]:
        return ("accuracy",)

    def validation_scores(self, model: nn.Module, items: Iterable[Record], device: torch.device
                          ) -> dict[str, list[float]]:
        from irtool.detect import Detector

        # Read each validation image the way `irtool restore --auto` reads a photo: training-size crops (the model
        # is build_model's GIVDetector).
        detector = Detector(cast("GIVDetector", model), device=device, crop=self.cfg.patch_size)
        correct = []
        for item in items:
            found = detector.detect(item["lq"])
            correct.append(float(detector.types.index(found.type) == int(item["kind"])))
        return {"accuracy": correct}

    def export_metadata(self, model: nn.Module, *, iterations: int) -> dict[str, str]:
        from irtool.degradations import detector_types

        # The head's width, which building the detector to load the file needs, and the labels of its outputs in
        # order, so a later registry can never relabel them.
        return {**super().export_metadata(model, iterations=iterations),
                "hidden": str(cast("GIVDetector", model).head.type_logits.in_features),
                "types": json.dumps(list(detector_types()))}


def objective_for(cfg: TrainConfig) -> TrainingObjective:
    """The objective ``cfg`` trains: detection for task "detect", restoration for every restoration task."""
    if cfg.task == "detect":
        return DetectionObjective(cfg)
    return RestorationObjective(cfg)
