"""Degradation head on HAIR's Global Information Vector (GIV, HAIR section 3.1).

The GIV summarises an image's degradation; a tiny MLP on it predicts which degradation is present (logits over the
``num_types`` labels of :func:`irtool.degradations.detector_types`, stored with trained weights) and how strong it
is (a severity in [0, 1]). The restore pipeline uses it to pick the right weights automatically. It is not an
image-to-image network, so it is not a registry preset: build it with :func:`build_giv_head`.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["GIVHead", "build_giv_head"]


class GIVHead(nn.Module):
    """``forward(giv [B, giv_dim]) -> (logits [B, num_types], severity [B, 1] in [0, 1])``."""

    def __init__(self, *, giv_dim: int, num_types: int, hidden: int = 64) -> None:
        super().__init__()
        self.giv_dim = giv_dim
        self.num_types = num_types
        # LayerNorm first: GIV magnitudes depend on the backbone's weights, the head should not.
        self.trunk = nn.Sequential(nn.LayerNorm(giv_dim), nn.Linear(giv_dim, hidden), nn.GELU())
        self.type_logits = nn.Linear(hidden, num_types)
        self.severity = nn.Linear(hidden, 1)

    def forward(self, giv: Tensor) -> tuple[Tensor, Tensor]:
        features = self.trunk(giv)
        return self.type_logits(features), self.severity(features).sigmoid()


def build_giv_head(giv_dim: int, *, num_types: int, hidden: int = 64) -> GIVHead:
    """A :class:`GIVHead` for a backbone whose GIV has ``giv_dim`` entries (``2 * dim`` for Res-HAIR)."""
    return GIVHead(giv_dim=giv_dim, num_types=num_types, hidden=hidden)
