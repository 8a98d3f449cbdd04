"""Restormer, Res-HAIR and the GIV head: official checkpoint layout and outputs, shapes, batching, training.

The official-output fixture ``tests/data/hair_official_b2_32x48.pt`` holds the output and GIV of the official
HAIR code (toummHus/HAIR @ 2a7af06) for :func:`fixture_input` with the weights of
:func:`official_manifest_weights`; ``tests/data/hair_official_fixture_recipe.py`` says exactly how it was made.
"""

from __future__ import annotations

import json
import math
import zlib
from functools import lru_cache
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from irtool.degradations import detector_types
from irtool.errors import InvalidArgumentError
from irtool.models import build, get_preset, parameter_count
from irtool.models.giv_head import GIVHead, build_giv_head

DEGRADATION_TYPES = detector_types()

DATA = Path(__file__).resolve().parent / "data"
MANIFEST_PATH = DATA / "hair_official_state_dict.json"  # copy of shared/reference/hair_official_state_dict.json
FIXTURE_PATH = DATA / "hair_official_b2_32x48.pt"
OFFICIAL_PARAMS = 28_559_846


@lru_cache(maxsize=1)
def official_manifest() -> dict[str, list[int]]:
    return json.loads(MANIFEST_PATH.read_text())["tensors"]


def official_manifest_weights() -> dict[str, torch.Tensor]:
    """Every tensor of the official manifest, filled deterministically (one generator per name, seeded by its
    CRC32, so the order does not matter), with magnitudes that keep activations O(1)."""
    state: dict[str, torch.Tensor] = {}
    for name, shape in official_manifest().items():
        gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        values = torch.randn(shape, generator=gen, dtype=torch.float32)
        parts = name.split(".")
        if parts[-1] == "temperature":
            values = 1.0 + 0.1 * values
        elif any(p.startswith("norm") for p in parts[:-1]):
            values = (1.0 + 0.1 * values) if parts[-1] == "weight" else 0.1 * values
        elif parts[-1] == "kernel_box":
            values = 0.05 * values
        elif len(shape) == 1:
            values = 0.02 * values
        else:
            values = values / math.sqrt(math.prod(shape[1:]))
        state[name] = values
    return state


def fixture_input() -> torch.Tensor:
    return torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(7))


@pytest.fixture(scope="module")
def official_model() -> torch.nn.Module:
    """The full ``res_hair`` network with the manifest weights, built once for the module."""
    model = build("res_hair").eval()
    model.load_state_dict(official_manifest_weights(), strict=True)
    return model


def _close(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-5) -> None:
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual, expected, rtol=0, atol=rel * max(scale, 1.0))


# ------------------------------------------------------------------------------------ official layout
def test_parameter_counts() -> None:
    assert parameter_count("res_hair") == OFFICIAL_PARAMS
    assert abs(parameter_count("restormer") - 26_130_000) / 26_130_000 < 0.01
    for name in ("res_hair_lite", "restormer_lite"):
        assert parameter_count(name) <= 2_000_000, name
    assert get_preset("res_hair").has_giv and get_preset("res_hair_lite").has_giv
    assert get_preset("res_hair_lite").size_multiple == 8


def test_state_dict_matches_official_manifest_names_and_shapes() -> None:
    with torch.device("meta"):
        ours = {k: list(v.shape) for k, v in build("res_hair").state_dict().items()}
    assert ours == official_manifest()
    assert sum(math.prod(s) for s in ours.values()) == OFFICIAL_PARAMS


def test_official_checkpoint_loads_strictly_with_lightning_prefix_stripped(official_model) -> None:
    # hair3d.ckpt stores {'state_dict': {'net.<name>': ...}}; after stripping 'net.' it must load strictly.
    lightning = {f"net.{k}": v for k, v in official_manifest_weights().items()}
    stripped = {k.removeprefix("net."): v for k, v in lightning.items()}
    result = official_model.load_state_dict(stripped, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    with pytest.raises(RuntimeError):
        official_model.load_state_dict({**stripped, "latent.kernel_box": torch.zeros(8, 3)}, strict=True)
    official_model.load_state_dict(stripped, strict=True)


def test_outputs_equal_official_implementation(official_model) -> None:
    expected = torch.load(FIXTURE_PATH, weights_only=True)
    x = fixture_input()
    with torch.no_grad():
        giv = official_model.giv(x)
        out = official_model(x)
    _close(giv, expected["giv"])
    _close(out, expected["output"])
    assert out.shape == (2, 3, 32, 48)


# ------------------------------------------------------------------------------------ GIV and batching
def test_batched_output_equals_per_image_output(official_model) -> None:
    x = fixture_input()
    with torch.no_grad():
        batched = official_model(x)
        singles = torch.cat([official_model(x[i : i + 1]) for i in range(x.shape[0])])
        givs = official_model.giv(x)
    assert not torch.allclose(givs[0], givs[1])  # two images really get different weights
    _close(batched, singles)


def test_supplied_giv_equals_computed_giv(official_model) -> None:
    x = fixture_input()
    with torch.no_grad():
        computed = official_model(x)
        giv = official_model.giv(x)
        supplied = official_model(x, giv=giv)
        # one GIV (e.g. of the whole photo) broadcast over a batch of tiles == that GIV repeated
        broadcast = official_model(x, giv=giv[:1])
        repeated = official_model(x, giv=giv[:1].expand(2, -1))
    assert giv.shape == (2, official_model.giv_dim)
    _close(supplied, computed)
    _close(broadcast, repeated)
    with pytest.raises(InvalidArgumentError):
        official_model(x, giv=torch.zeros(2, official_model.giv_dim + 1))


# ------------------------------------------------------------------------------------ shapes
@pytest.mark.parametrize("preset", ["res_hair_lite", "restormer_lite"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(37, 53), (5, 7), (64, 16)])
def test_any_size_gray_and_color(preset: str, channels: int, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = build(preset, in_channels=channels, out_channels=channels).eval()
    x = torch.rand(2, channels, *size)
    with torch.no_grad():
        out = model(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    if get_preset(preset).has_giv:
        assert model.giv(x).shape == (2, 2 * get_preset(preset).kwargs["dim"])


def test_wrong_channel_count_is_an_invalid_argument() -> None:
    model = build("res_hair_lite")
    with pytest.raises(InvalidArgumentError):
        model(torch.rand(1, 1, 16, 16))


def test_lite_flops_per_pixel_budget() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    for name in ("res_hair_lite", "restormer_lite"):
        model = build(name).eval()
        x = torch.rand(1, 3, 64, 64)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
        assert counter.get_total_flops() / (64 * 64) <= 110_000, name  # ~100 kFLOPs/px budget


# ------------------------------------------------------------------------------------ training
@pytest.mark.parametrize("preset", ["res_hair_lite", "restormer_lite"])
def test_tiny_model_overfits_one_image(preset: str) -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    clean = torch.rand(1, 3, 32, 32, generator=gen)
    noisy = (clean + 0.2 * torch.randn(clean.shape, generator=gen)).clamp(0, 1)
    model = build(preset)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(30):
        loss = F.l1_loss(model(noisy), clean)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


# ------------------------------------------------------------------------------------ GIV head
def test_giv_head_outputs_logits_and_severity() -> None:
    assert len(DEGRADATION_TYPES) == 8 and DEGRADATION_TYPES[0] == "clean"
    head = build_giv_head(32, num_types=len(DEGRADATION_TYPES))
    assert isinstance(head, GIVHead) and head.giv_dim == 32
    logits, severity = head(torch.randn(4, 32) * 10)
    assert logits.shape == (4, len(DEGRADATION_TYPES))
    assert severity.shape == (4, 1) and ((severity >= 0) & (severity <= 1)).all()
    assert sum(p.numel() for p in head.parameters()) < 20_000
    with pytest.raises(TypeError):
        GIVHead(32)  # type: ignore[misc]  # keyword-only


def test_giv_head_learns_to_separate_givs_of_a_lite_backbone() -> None:
    torch.manual_seed(0)
    backbone = build("res_hair_lite").eval()
    gen = torch.Generator().manual_seed(3)
    clean = torch.rand(4, 3, 32, 32, generator=gen)
    noisy = (clean + 0.3 * torch.randn(clean.shape, generator=gen)).clamp(0, 1)
    with torch.no_grad():
        givs = torch.cat([backbone.giv(clean), backbone.giv(noisy)])
    labels = torch.tensor([0] * 4 + [1] * 4)
    head = build_giv_head(backbone.giv_dim, num_types=2)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(60):
        logits, _ = head(givs)
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert (head(givs)[0].argmax(1) == labels).all()


def test_detector_starts_as_the_restorers_giv_path() -> None:
    """Restorer weights load into the detector's GIV path, which then computes the restorer's exact GIV."""
    from irtool.models.giv_detector import build_giv_detector

    torch.manual_seed(0)
    restorer = build("res_hair_lite").eval()
    detector = build_giv_detector("res_hair_lite").eval()
    detector.load_restorer_weights(restorer.state_dict())
    x = torch.rand(2, 3, 44, 52)  # not a multiple of 8: both pad the same way
    with torch.no_grad():
        assert torch.equal(detector.giv(x), restorer.giv(x))
        logits, severity = detector(x)
    assert logits.shape == (2, len(DEGRADATION_TYPES)) and severity.shape == (2, 1)
    # Only the GIV path and the head: a fraction of the restorer.
    assert sum(p.numel() for p in detector.parameters()) < 0.25 * sum(p.numel() for p in restorer.parameters())
    with pytest.raises(InvalidArgumentError, match="GIV-path tensors"):
        detector.load_restorer_weights(build("res_hair_lite", dim=16).state_dict())
