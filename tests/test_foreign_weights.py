"""Other projects' checkpoints through spandrel (the "spandrel" extra): for each architecture family a weights.toml
entry uses (SwinIR, HAT, NAFNet), a tiny random-weight network built with spandrel's own classes and saved in the
official layout restores a folder with ``--weights FILE`` and no ``--arch`` exactly as the network does, tiled or
whole; a hub entry of such a family downloads through the loopback hub, serves ``--auto``'s route, and is scored by
``irtool eval`` beside a bundled model."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json

import numpy as np
import pytest
import torch
from checkpoint_files import check_restores_like_the_network, forward, save_official
from hub_server import HubServer
from synthetic import photo, write_catalog, write_detector_saying, write_images
from typer.testing import CliRunner

from irtool.cli import app
from irtool.degrade import downscale
from irtool.errors import InvalidArgumentError
from irtool.metrics import psnr
from irtool.models import build
from irtool.restore import RestoreRequest, restore_paths
from irtool.weights.checkpoints import save_safetensors
from irtool.zoo import build_from_checkpoint

# Found, not imported: spandrel's import pulls torchvision and torch._dynamo (3.8 s), which every test process would
# pay while collecting; the tests that build its networks import it when they run.
if importlib.util.find_spec("spandrel") is None:
    pytest.skip('the "spandrel" extra is not installed (pip install "irtool[spandrel]")', allow_module_level=True)


def _spandrel_class(name: str) -> type[torch.nn.Module]:
    """spandrel's own network class ``name`` (``spandrel.architectures.<name>.<name>``)."""
    return getattr(importlib.import_module(f"spandrel.architectures.{name}"), name)


pytestmark = [pytest.mark.usefixtures("one_thread"),
              # spandrel's HAT and SwinIR call torch.meshgrid without indexing=; nothing irtool can change.
              pytest.mark.filterwarnings("ignore:torch.meshgrid:UserWarning")]

REV = "89abcdef0123456789abcdef0123456789abcdef"


def _swinir(scale: int) -> torch.nn.Module:
    return _spandrel_class("SwinIR")(upscale=scale, img_size=16, window_size=8, embed_dim=12, depths=[2],
                                     num_heads=[2], mlp_ratio=2, upsampler="pixelshuffle", resi_connection="1conv")


# The official files' layouts: SwinIR's classical SR and NAFNet's hold {'params': sd}, HAT's {'params_ema': sd}.
FAMILIES = {
    "SwinIR": (lambda: _swinir(4), "params"),
    "HAT": (lambda: _spandrel_class("HAT")(upscale=4, img_size=16, window_size=8, embed_dim=12, depths=[2],
                                          num_heads=[2], mlp_ratio=2, upsampler="pixelshuffle",
                                          resi_connection="1conv", compress_ratio=3, squeeze_factor=3),
            "params_ema"),
    "NAFNet": (lambda: _spandrel_class("NAFNet")(img_channel=3, width=8, middle_blk_num=1, enc_blk_nums=[1, 1],
                                                 dec_blk_nums=[1, 1]),
               "params"),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_an_official_file_restores_without_arch_as_its_network_does(tmp_path, family):
    make, wrapper = FAMILIES[family]
    torch.manual_seed(0)
    module = make().eval()
    weights = save_official(module, tmp_path / f"{family}.pth", wrapper=wrapper)
    check_restores_like_the_network(weights, module, tmp_path, expect_preset=f"spandrel:{family}")


def test_a_file_must_hold_the_architecture_its_entry_names_and_unknown_tensors_are_one_line(tmp_path):
    torch.manual_seed(0)
    weights = save_official(_swinir(2), tmp_path / "x2.pth")
    preset, _ = build_from_checkpoint(weights, "spandrel:SwinIR")
    assert (preset.scale, preset.tasks, preset.recipe) == (2, ("sr2",), None)
    with pytest.raises(InvalidArgumentError, match="x2.pth holds a SwinIR network, not HAT"):
        build_from_checkpoint(weights, "spandrel:HAT")

    unknown = tmp_path / "unknown.pth"
    torch.save({"params": {"trunk.weight": torch.zeros(8, 3, 3, 3)}}, unknown)
    folder = write_images(tmp_path / "in", {"a.png": photo(16, 16)})
    result = CliRunner().invoke(app, ["restore", str(folder), "-o", str(tmp_path / "out"), "--weights", str(unknown)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown.pth: neither irtool nor spandrel" in lines[0], result.output
    assert "'trunk.weight'" in lines[0] and lines[0].endswith("(option --arch)")


def test_a_hub_entry_of_another_family_downloads_serves_its_route_and_is_scored_beside_a_bundled_model(
        tmp_path, use_catalog, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    torch.manual_seed(0)
    swinir = _swinir(4).eval()
    body = save_official(swinir, tmp_path / "swinir.pth").read_bytes()
    lite = build("hi_ir_sr4_lite")
    save_safetensors(lite.state_dict(), tmp_path / "lite.safetensors", metadata={"preset": "hi_ir_sr4_lite"})
    save_safetensors(build("res_hair_lite").state_dict(), tmp_path / "aio.safetensors",
                     metadata={"preset": "res_hair_lite"})
    models = {
        "swinir_x4": {"preset": "spandrel:SwinIR", "tasks": ["sr4"], "repo_id": "irtool-test/swinir",
                      "filename": "SwinIR/x4.pth", "revision": REV, "sha256": hashlib.sha256(body).hexdigest(),
                      "license": "Apache-2.0"},
        "lite4": {"preset": "hi_ir_sr4_lite", "tasks": ["sr4"], "file": tmp_path / "lite.safetensors"},
        "aio": {"preset": "res_hair_lite", "tasks": ["all"], "file": tmp_path / "aio.safetensors"},
        "head": {"preset": "res_hair_lite", "kind": "detector", "tasks": ["detect"],
                 "file": write_detector_saying("low-resolution", tmp_path / "head.safetensors")},
    }
    use_catalog(write_catalog(tmp_path / "weights.toml", models, detector="head",
                              routes={"low-resolution": ["swinir_x4", "lite4"], "fallback": "aio"}))
    folder = write_images(tmp_path / "in", {"soft.png": photo(64, 80)})

    before = restore_paths([str(folder)], tmp_path / "before", RestoreRequest(auto=True)).records[0]
    assert (before.model, before.note) == ("lite4", "swinir_x4 not downloaded; used lite4")
    with HubServer() as hub:
        hub.add("irtool-test/swinir", REV, "SwinIR/x4.pth", body)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = CliRunner().invoke(app, ["download", "--routes"])
        assert result.exit_code == 0 and "ok swinir_x4" in result.output, result.output
    after = restore_paths([str(folder)], tmp_path / "after", RestoreRequest(auto=True)).records[0]
    assert (after.status, after.model, after.note) == ("ok", "swinir_x4", None)

    gt = photo(64, 80, seed=5)  # its x4 LR, 16 x 20, needs no padding to SwinIR's 16 px minimum
    hr = write_images(tmp_path / "hr", {"x.png": gt})
    report_path = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["eval", "--task", "sr4", "--data", str(hr), "--model", "swinir_x4", "--model",
                                      "lite4", "--json", str(report_path)])
    assert result.exit_code == 0, result.output
    rows = {row["model"]: row for row in json.loads(report_path.read_text())["reports"][0]["summary"]}
    assert {"bicubic", "swinir_x4", "lite4"} <= set(rows)
    lr = downscale(gt.astype(np.float32) / 255, scale=4)  # 64 x 80 is already a multiple of 4
    sr = np.rint(forward(swinir, lr) * 255).astype(np.uint8)
    assert rows["swinir_x4"]["psnr"] == pytest.approx(psnr(sr, gt, crop_border=4, y_channel=True), abs=1e-6)
    assert rows["swinir_x4"]["psnr"] != rows["lite4"]["psnr"]


def test_every_family_a_shipped_entry_uses_is_one_spandrel_knows_and_is_tested_here():
    from spandrel import MAIN_REGISTRY

    from irtool.weights import load_catalog

    foreign = {e.preset.removeprefix("spandrel:") for e in load_catalog().entries.values()
               if e.preset.startswith("spandrel:")}
    assert foreign and foreign <= set(FAMILIES)
    assert all(family in MAIN_REGISTRY for family in foreign)
