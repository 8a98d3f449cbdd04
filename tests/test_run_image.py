"""One way to run an image through a loaded model (``LoadedModel.run_image``), the same for restore and evaluate:
a gray photo in gives a gray photo out, an RGB network sees it as three equal channels; a gray network restores a
colour photo one channel at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from irtool.engine import InferenceEngine
from irtool.errors import InvalidArgumentError
from irtool.models.registry import Preset
from irtool.zoo import EngineSettings, LoadedModel, ModelZoo

#: The RGB test network scales each channel by its own factor: a gray image's output is their mean times the input.
RGB_FACTORS = (0.1, 0.3, 0.8)
GRAY_MEAN_FACTOR = sum(RGB_FACTORS) / 3


def _loaded(in_channels: int) -> LoadedModel:
    conv = nn.Conv2d(in_channels, in_channels, 1)
    with torch.no_grad():
        if in_channels == 3:  # channel c times RGB_FACTORS[c]
            conv.weight.copy_(torch.diag(torch.tensor(RGB_FACTORS))[:, :, None, None])
            conv.bias.zero_()
        else:  # 1 - x
            conv.weight.fill_(-1.0)
            conv.bias.fill_(1.0)
    preset = Preset(name=f"toy{in_channels}", network=nn.Conv2d, family="toy", kwargs={}, description="test",
                    tasks=("denoise",), recipe="lite", size_multiple=1, min_input_side=1, supports_fp16=True,
                    supports_bf16=True, in_channels=in_channels)
    return LoadedModel(f"toy{in_channels}", preset, conv, InferenceEngine(conv, preset, device="cpu"))


def _expected(pixels: np.ndarray, model_channels: int) -> np.ndarray:
    if model_channels == 3:
        return pixels * (GRAY_MEAN_FACTOR if pixels.shape[2] == 1 else np.array(RGB_FACTORS))
    return 1.0 - pixels


def _pixels(channels: int, seed: int = 0) -> np.ndarray:
    levels = np.random.default_rng(seed).integers(0, 256, size=(32, 48, channels))
    return (levels / 255.0).astype(np.float32)


@pytest.mark.parametrize(("image_channels", "model_channels"), [(1, 3), (3, 1), (3, 3), (1, 1)])
def test_output_has_the_inputs_channels(image_channels, model_channels):
    pixels = _pixels(image_channels)
    out = _loaded(model_channels).run_image(pixels)
    assert out.shape == pixels.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, _expected(pixels, model_channels), atol=1e-6)


def test_other_channel_counts_are_refused():
    with pytest.raises(InvalidArgumentError, match="2 channels"):
        _loaded(3).run_image(np.zeros((8, 8, 2), np.float32))


class _OneModelZoo(ModelZoo):
    def __init__(self, loaded: LoadedModel) -> None:
        super().__init__(EngineSettings(device="cpu"))
        self.loaded = loaded

    def from_entry(self, name: str) -> LoadedModel:
        return self.loaded


def _through_restore(loaded: LoadedModel, source: Path, tmp_path: Path) -> np.ndarray:
    from irtool.restore import BatchRestorer, RestoreRequest, plan_jobs

    jobs = plan_jobs([str(source)], tmp_path / "restored")
    [record] = BatchRestorer(RestoreRequest(model="any"), zoo=_OneModelZoo(loaded)).run(jobs)
    assert record.status == "ok", record.error
    return np.asarray(Image.open(jobs[0].output))


def _through_evaluate(loaded: LoadedModel, source: Path, tmp_path: Path) -> np.ndarray:
    from irtool.evaluate import evaluate, folder_dataset

    # The file is both the target and the given input, so the model sees exactly its pixels.
    gray = Image.open(source).mode == "L"
    dataset = folder_dataset(source.parent, source.parent, name="set", gray=gray)
    evaluate([loaded], dataset, None, task="denoise", save_images=tmp_path / "saved")
    return np.asarray(Image.open(tmp_path / "saved" / "set" / loaded.name / f"{source.stem}.png"))


@pytest.mark.parametrize("path", [_through_restore, _through_evaluate], ids=["restore", "evaluate"])
@pytest.mark.parametrize(("image_channels", "model_channels"), [(1, 3), (3, 1)])
def test_restore_and_evaluate_treat_gray_and_colour_alike(path, image_channels, model_channels, tmp_path):
    pixels = _pixels(image_channels, seed=1)
    source = tmp_path / "in" / "photo.png"
    source.parent.mkdir()
    levels = np.rint(pixels * 255).astype(np.uint8)
    Image.fromarray(levels[:, :, 0] if image_channels == 1 else levels).save(source)
    written = path(_loaded(model_channels), source, tmp_path)
    assert written.ndim == (2 if image_channels == 1 else 3)  # gray in, gray out
    expected = _expected(pixels, model_channels).reshape(written.shape)
    np.testing.assert_allclose(written / 255.0, expected, atol=0.5 / 255 + 1e-6)
