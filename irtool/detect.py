"""Degradation auto-detection from the Res-HAIR classifier's Global Information Vector.

HAIR (sec. 3.1) shows the GIV separates degradation types and levels; a small head trained on
it (``irtool train --task detect``) names the type and a severity in [0, 1]. The GIV comes from
the all-in-one backbone's engine, computed once on the whole (downscaled) image — the same
vector the backbone would use to restore the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch

from irtool.errors import UsageError


@dataclass(frozen=True)
class Detection:
    type: str
    severity: float
    confidence: float
    probabilities: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"type": self.type, "severity": round(self.severity, 4), "confidence": round(self.confidence, 4)}


class Detector:
    def __init__(self, backbone, head: torch.nn.Module):
        """``backbone`` is a :class:`irtool.zoo.LoadedModel` of a GIV model; ``head`` a GIVHead."""
        from irtool.models.giv_head import DEGRADATION_TYPES

        if not backbone.preset.has_giv:
            raise UsageError(f"detector backbone {backbone.name!r} has no GIV (needs a Res-HAIR preset)")
        self.backbone = backbone
        self.head = head.eval()
        self.types = DEGRADATION_TYPES

    @torch.inference_mode()
    def detect(self, image: torch.Tensor) -> tuple[Detection, torch.Tensor]:
        """``image``: CHW float in [0, 1] with the backbone's channel count; returns (detection, GIV).

        The GIV is returned so that, when the image is routed to the backbone itself, the engine reuses
        it instead of computing it a second time.
        """
        giv = self.backbone.engine.giv(image).float().cpu()
        return self.classify(giv), giv

    @torch.inference_mode()
    def classify(self, giv: torch.Tensor) -> Detection:
        logits, severity = self.head(giv)
        probs = torch.softmax(logits.float(), dim=-1)[0]
        idx = int(probs.argmax())
        kind = self.types[idx]
        sev = 0.0 if kind == "clean" else float(severity.reshape(-1)[0].clamp(0, 1))
        return Detection(kind, sev, float(probs[idx]), {t: float(p) for t, p in zip(self.types, probs)})


def load_detector(zoo) -> Detector:
    """The detector named in weights.toml: head entry plus the backbone entry it reads."""
    from irtool.models.giv_head import build_giv_head
    from irtool.weights import entry_path
    from irtool.weights.checkpoints import load_into, read_checkpoint

    head_entry = zoo.head_entry()
    if not head_entry.backbone:
        raise UsageError(f"detector {head_entry.name!r} names no backbone in weights.toml")
    backbone = zoo.from_entry(head_entry.backbone)
    sd, meta = read_checkpoint(entry_path(head_entry))
    giv_dim = int(meta.get("giv_dim", 0)) or _infer_giv_dim(sd)
    head = load_into(build_giv_head(giv_dim), sd, source=head_entry.name)
    return Detector(backbone, head)


def _infer_giv_dim(sd: Mapping[str, torch.Tensor]) -> int:
    # GIVHead starts with LayerNorm(giv_dim); files we export also carry giv_dim in their metadata.
    return int(sd["trunk.0.weight"].shape[0])
