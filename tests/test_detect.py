"""How the degradation detector reads an image: native-resolution crops on a grid, one decision per image."""

from __future__ import annotations

import pytest
import torch

from irtool.detect import Detector
from irtool.engine import grid_crops
from irtool.models.giv_detector import build_giv_detector
from irtool.models.giv_head import DEGRADATION_TYPES


@pytest.mark.parametrize(("height", "width", "count"), [(640, 1024, 12), (4000, 3000, 16), (100, 3000, 12),
                                                        (200, 200, 1), (256, 512, 2)])
def test_crops_cover_the_image_at_native_resolution(height, width, count):
    image = torch.arange(height * width, dtype=torch.float32).reshape(1, height, width).expand(3, -1, -1)
    crops = grid_crops(image, 256, 16, align=8)
    assert crops.shape == (count, 3, min(256, height), min(256, width))
    # Native resolution: each crop is a verbatim window of the image (values are pixel indices).
    starts = [(int(c[0, 0, 0]) // width, int(c[0, 0, 0]) % width) for c in crops]
    for (top, left), c in zip(starts, crops):
        assert torch.equal(c, image[:, top : top + c.shape[1], left : left + c.shape[2]])
    # Starts sit on the 8-pixel grid (JPEG blocks in training phase); the grid spans the image within a block.
    tops, lefts = {t for t, _ in starts}, {x for _, x in starts}
    assert all(t % 8 == 0 for t in tops) and all(x % 8 == 0 for x in lefts)
    assert min(tops) == 0 and height - crops.shape[2] - 8 < max(tops) <= height - crops.shape[2]
    assert min(lefts) == 0 and width - crops.shape[3] - 8 < max(lefts) <= width - crops.shape[3]


def test_detector_names_one_type_per_image_and_treats_gray_as_rgb():
    torch.manual_seed(0)
    model = build_giv_detector("res_hair_lite")
    with torch.no_grad():
        model.head.type_logits.bias[DEGRADATION_TYPES.index("haze")] = 50.0  # a decisive, known answer
    detector = Detector(model, device="cpu")
    gray = torch.rand(1, 300, 420)
    found = detector.detect(gray)
    assert found.type == "haze" and found.confidence > 0.99 and 0.0 <= found.severity <= 1.0
    assert abs(sum(found.probabilities.values()) - 1.0) < 1e-5
    assert detector.detect(gray.expand(3, -1, -1)) == found


class _LogitsFromGIV(torch.nn.Module):
    """A head that reads its type logits and severity straight from the GIV, so a test can choose them."""

    num_types = len(DEGRADATION_TYPES)

    def forward(self, giv: torch.Tensor):
        return giv[:, : self.num_types], giv[:, self.num_types :]


def test_one_decision_per_image_averages_the_crops_probabilities_not_their_logits():
    model = build_giv_detector("res_hair_lite")
    model.head = _LogitsFromGIV()
    detector = Detector(model, device="cpu")
    blur, noise, clean = (DEGRADATION_TYPES.index(t) for t in ("blur", "noise", "clean"))
    givs = torch.zeros(2, len(DEGRADATION_TYPES) + 1)
    givs[0, blur], givs[0, -1] = 20.0, 0.8  # a crop that is surely blurred, severity 0.8
    givs[1, noise], givs[1, clean], givs[1, -1] = 30.0, 29.5, 0.2  # large logits, but only 62% sure of noise
    found = detector.classify(givs)
    # Mean logits would say noise (15 vs 10); the mean probability says blur (0.50 vs 0.31).
    assert found.type == "blur" and found.confidence == pytest.approx(0.5, abs=1e-3)
    assert found.severity == pytest.approx(0.8, abs=1e-3)  # weighted by each crop's probability of blur
    assert abs(sum(found.probabilities.values()) - 1.0) < 1e-5
