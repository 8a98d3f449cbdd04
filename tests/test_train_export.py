"""Exporting a finished run: which weights and scores ship, and the folder the file goes to."""

from __future__ import annotations

import pytest
import torch

from irtool.errors import UsageError
from irtool.train import TrainConfig, TrainResult
from irtool.train.export import export_training, exported_weights
from irtool.weights.catalog import ASSET_WEIGHTS_DIR, parse_catalog
from irtool.weights.checkpoints import save_safetensors
from irtool.weights.hashing import sha256_file


@pytest.fixture
def finished_run(tmp_path):
    from irtool.models import build

    run = tmp_path / "run"
    torch.manual_seed(0)
    for name in ("final", "best"):
        save_safetensors(build("restormer_lite").state_dict(), run / f"{name}.safetensors",
                         metadata={"preset": "restormer_lite", "kind": "restorer"})
    history = [{"iter": 2, "loss": 0.4, "val_psnr": 20.123456, "val_ssim": 0.61},
               {"iter": 4, "loss": 0.3, "val_psnr": 21.0, "val_ssim": 0.7},
               {"iter": 6, "loss": 0.2, "val_psnr": 21.0, "val_ssim": 0.71},
               {"iter": 8, "loss": 0.1, "val_psnr": 19.987654, "val_ssim": 0.69}]
    return TrainResult(run, 8, run / "final.safetensors", 21.0, "finished", history)


def test_the_final_or_the_best_weights_ship_with_their_own_scores(finished_run):
    cfg = TrainConfig(preset="restormer_lite", task="denoise", val="val")
    run = finished_run.run_dir
    assert exported_weights(finished_run, cfg) == (run / "final.safetensors", {"val_psnr": 19.9877, "val_ssim": 0.69})
    # The first of the equal best scores: the one training kept as best.safetensors.
    assert exported_weights(finished_run, cfg, checkpoint="best") == (
        run / "best.safetensors", {"val_psnr": 21.0, "val_ssim": 0.7, "val_iteration": 4})
    with pytest.raises(UsageError, match="checkpoint must be one of final, best"):
        exported_weights(finished_run, cfg, checkpoint="latest")
    (run / "best.safetensors").unlink()
    with pytest.raises(UsageError, match="no best checkpoint"):
        exported_weights(finished_run, cfg, checkpoint="best")


def test_export_writes_the_weights_into_the_folder_it_is_given(finished_run, tmp_path):
    catalog = tmp_path / "weights.toml"
    catalog.write_text("# test catalog\n")
    cfg = TrainConfig(preset="restormer_lite", task="denoise", val="val")
    written = export_training(finished_run, cfg, name="exported_here", command="irtool train", checkpoint="best",
                              weights_dir=tmp_path / "shipped", catalog_path=catalog)
    shipped = tmp_path / "shipped" / "exported_here.safetensors"
    assert written == catalog and shipped.read_bytes() == (finished_run.run_dir / "best.safetensors").read_bytes()
    assert not (ASSET_WEIGHTS_DIR / "exported_here.safetensors").exists()
    entry = parse_catalog(catalog.read_text(), path=catalog).get("exported_here")
    assert (entry.file, entry.sha256, entry.kind) == ("exported_here.safetensors", sha256_file(shipped), "restorer")
    assert entry.measured["val_iteration"] == 4 and entry.tasks == ("denoise",)


def test_the_same_weights_are_written_as_the_same_bytes(tmp_path):
    """safetensors orders its header from a hash map; irtool sorts it, so a re-export reproduces weights.toml's
    sha256 (without the sort, ten saves here gave ten different files)."""
    from safetensors import safe_open

    state = {"b": torch.zeros(3), "a": torch.ones(2, dtype=torch.float16), "c": torch.arange(4)}
    metadata = {"task": "all", "stored_dtype": "float16", "iterations": "3000", "preset": "p", "kind": "restorer"}
    digests = {save_safetensors(state, tmp_path / f"w{i}.safetensors", metadata=metadata) for i in range(10)}
    assert len(digests) == 1
    assert digests == {sha256_file(tmp_path / "w0.safetensors")}
    with safe_open(str(tmp_path / "w0.safetensors"), framework="pt") as fh:
        assert fh.metadata() == metadata
        assert {k: fh.get_tensor(k).tolist() for k in fh.keys()} == {k: v.tolist() for k, v in state.items()}
