"""Degradation auto-detection for ``irtool restore --auto``.

A :class:`~irtool.models.giv_detector.GIVDetector` (Res-HAIR's GIV path fine-tuned with a type/severity
head, ``irtool train --task detect``) names the degradation type and a severity in [0, 1].

It reads the image at native resolution (a downscaled copy would average noise, JPEG blocks and blur
away) as a grid of up to :data:`DETECT_MAX_CROPS` crops of :data:`DETECT_CROP` px spread evenly over the
image, classifies each crop and averages their probabilities. Crops of the training patch size show the
head GIVs like those it was trained on, the grid covers the whole photo (haze and low light are global,
rain or blur may be local), and on the CPU a batch of small crops is several times faster than one
whole-image pass of the same pixel count.

``irtool eval --task detect --data runs/photos/val --model giv_detector_lite`` (the bundled detector, 360
held-out samples, type / clean accuracy): 83.4% / 80% this way; 78.0% / 80% reading 16 crops of 256 px and
classifying their mean GIV, as irtool did until commit 15efbf1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch

from irtool.errors import UsageError

#: Side of the native-resolution crops the detector reads (images smaller than this are read whole): the
#: lite detect recipe's training patch size.
DETECT_CROP = 96
#: At most this many crops per image (an 8 x 8 grid): bounded cost for any photo size.
DETECT_MAX_CROPS = 64
#: Crops per forward pass.
DETECT_BATCH = 16
#: Crops start at multiples of this (from the image origin): JPEG's 8 x 8 blocks and the 2-, 3- and 4-pixel
#: periods of an image enlarged x2/x3/x4 then fall where they fell in the training patches, which were
#: degraded after cropping. The network's stride-8 encoder sees them in the same phase.
DETECT_ALIGN = 24


@dataclass(frozen=True)
class Detection:
    type: str
    severity: float
    confidence: float
    probabilities: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"type": self.type, "severity": round(self.severity, 4), "confidence": round(self.confidence, 4)}


class Detector:
    def __init__(self, model: torch.nn.Module, *, device: str | torch.device = "cpu",
                 crop: int = DETECT_CROP, max_crops: int = DETECT_MAX_CROPS, name: str = "detector"):
        """``model``: a :class:`~irtool.models.giv_detector.GIVDetector`."""
        from irtool.engine import select_device
        from irtool.models.giv_head import DEGRADATION_TYPES

        if model.head.num_types != len(DEGRADATION_TYPES):
            raise UsageError(f"detector {name!r} predicts {model.head.num_types} types, irtool knows "
                             f"{len(DEGRADATION_TYPES)}")
        self.name = name
        self.device = device if isinstance(device, torch.device) else select_device(device)
        self.model = model.eval().to(self.device)
        self.crop = crop
        self.max_crops = max_crops
        self.types = DEGRADATION_TYPES

    @torch.inference_mode()
    def detect(self, image: torch.Tensor) -> Detection:
        """``image``: CHW float in [0, 1], RGB (a gray image is repeated to three channels)."""
        if image.dim() != 3:
            raise UsageError(f"expected a [C, H, W] image, got {tuple(image.shape)}")
        if image.shape[0] == 1:
            image = image.expand(3, -1, -1)
        from irtool.engine import grid_crops

        crops = grid_crops(image, self.crop, self.max_crops, align=DETECT_ALIGN)
        givs = torch.cat([self.model.giv(batch.to(self.device)).float() for batch in crops.split(DETECT_BATCH)])
        return self.classify(givs)

    @torch.inference_mode()
    def classify(self, givs: torch.Tensor) -> Detection:
        """One detection from the GIVs ``[N, giv_dim]`` of an image's crops: the type with the highest mean
        probability, and the crops' severities weighted by their probability of that type."""
        logits, severity = self.model.head(givs.to(self.device))
        crop_probs = torch.softmax(logits.float(), dim=-1).cpu()
        probs = crop_probs.mean(dim=0)
        idx = int(probs.argmax())
        kind = self.types[idx]
        weights = crop_probs[:, idx]
        severities = severity.float().reshape(-1).cpu().clamp(0, 1)
        sev = 0.0 if kind == "clean" else float((weights * severities).sum() / weights.sum().clamp_min(1e-12))
        return Detection(kind, sev, float(probs[idx]), {t: float(p) for t, p in zip(self.types, probs)})


def load_detector(zoo, name: str | None = None) -> Detector:
    """The detector entry ``name`` (kind "detector"), by default the one weights.toml's ``detector = ...`` names."""
    from irtool.models.giv_detector import build_giv_detector
    from irtool.weights import entry_path
    from irtool.weights.checkpoints import load_into, read_checkpoint

    entry = zoo.detector_entry() if name is None else zoo.catalog.get(name)
    if entry.kind != "detector":
        raise UsageError(f"{entry.name!r} is a {entry.kind}, not a degradation detector")
    sd, meta = read_checkpoint(entry_path(entry))
    model = build_giv_detector(entry.preset, hidden=int(meta.get("hidden", 0)) or _infer_hidden(sd))
    load_into(model, sd, source=entry.name)
    return Detector(model, device=zoo.settings.device, name=entry.name)


def _infer_hidden(sd: Mapping[str, torch.Tensor]) -> int:
    # GIVHead's trunk is LayerNorm(giv_dim) -> Linear(giv_dim, hidden).
    return int(sd["head.trunk.1.weight"].shape[0])
