"""Training end to end on tiny generated images: loss falls, exact resume, DDP on 2 CPU processes, export."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from irtool.train import TrainConfig, train
from irtool.weights.checkpoints import read_checkpoint

TINY = dict(preset="restormer_lite", task="denoise", iters=12, batch_size=2, patch_size=32, lr=2e-3,
            warmup_iters=0, schedule="cosine", workers=0, log_every=1, val_every=6, ckpt_every=6, ema_decay=0.9,
            val_crop=48, amp=False)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("val", 2)):
        (root / split).mkdir()
        for i in range(n):
            y, x = np.mgrid[0:64, 0:80]
            img = 0.5 + 0.35 * np.stack([np.sin(x / (4 + i)), np.cos(y / (5 + i)), np.sin((x - y) / 6)], -1)
            img = np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1)
            Image.fromarray((img * 255).astype(np.uint8)).save(root / split / f"{i}.png")
    return root


def _cfg(photos: Path, out: Path, **kw) -> TrainConfig:
    return TrainConfig(**{**TINY, "data": str(photos / "train"), "val": str(photos / "val"), "out": str(out), **kw})


def test_loss_falls_and_the_run_folder_is_complete(photos, tmp_path):
    cfg = _cfg(photos, tmp_path, iters=40, val_every=20, ckpt_every=20, name="fall")
    result = train(cfg)
    assert result.stopped == "finished" and result.iteration == 40
    losses = [r["loss"] for r in result.history if "loss" in r]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    run = tmp_path / "fall"
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"loss", "lr", "it_s"} <= set(lines[0]) and any("val_psnr" in r for r in lines)
    assert (run / "config.toml").is_file() and (run / "curves.png").is_file()
    sd, meta = read_checkpoint(run / "final.safetensors")
    assert meta["preset"] == "restormer_lite" and sd
    assert len(list((run / "checkpoints").glob("iter_*.pt"))) <= cfg.keep_last
    # A training checkpoint is a weights file like any other: safe loading, and its EMA weights (what validation
    # measured and --export writes), not the raw ones.
    last = sorted((run / "checkpoints").glob("iter_*.pt"))[-1]
    raw = torch.load(last, map_location="cpu", weights_only=True)
    weights, _ = read_checkpoint(last)
    assert all(torch.equal(weights[k], raw["ema"][k]) for k in raw["ema"]) and weights.keys() == sd.keys()
    assert not all(torch.equal(weights[k], raw["model"][k]) for k in raw["model"])


def test_resume_gives_the_same_weights_as_a_straight_run(photos, tmp_path):
    straight = train(_cfg(photos, tmp_path, name="straight"))
    first = train(_cfg(photos, tmp_path, name="resumed", time_limit=1e-9))  # stops after one iteration
    assert first.stopped == "time-limit" and 0 < first.iteration < 12
    second = train(_cfg(photos, tmp_path, name="resumed", resume="auto"))
    assert second.iteration == 12
    a, _ = read_checkpoint(straight.final_weights)
    b, _ = read_checkpoint(second.final_weights)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


class _TouchOnLoad:
    """Unpickling this creates ``marker``: shows whether loading a checkpoint ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_resume_refuses_a_checkpoint_holding_a_pickled_object(photos, tmp_path):
    from irtool.errors import UsageError
    from irtool.train import Trainer

    trainer = Trainer(_cfg(photos, tmp_path, name="unsafe"))
    trainer.iteration = 5
    state = trainer.checkpoint_state()
    marker = tmp_path / "code-ran"
    torch.save({**state, "note": _TouchOnLoad(marker)}, tmp_path / "unsafe.pt")
    with pytest.raises(UsageError, match="only tensors and plain values"):
        trainer.resume(tmp_path / "unsafe.pt")
    assert not marker.exists() and trainer.iteration == 5
    torch.save(state, tmp_path / "plain.pt")
    fresh = Trainer(_cfg(photos, tmp_path, name="plain"))
    fresh.resume(tmp_path / "plain.pt")  # the same state without the object loads
    assert fresh.iteration == 5
    torch.load(tmp_path / "unsafe.pt", weights_only=False)  # the object really runs code when unpickled unsafely
    assert marker.exists()


def test_two_process_ddp_on_gloo_ends_with_identical_weights(photos, tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "IRTOOL_TEST_PHOTOS": str(photos), "IRTOOL_TEST_OUT": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(worker)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert w0.keys() == w1.keys()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    # Only rank 0 wrote the run folder.
    assert (tmp_path / "ddp" / "final.safetensors").is_file()
    assert json.loads((tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()[-1])["iter"] == 6


@pytest.fixture
def scratch_catalog(tmp_path, monkeypatch, use_catalog):
    """An empty weights.toml and asset folder under tmp_path, so --export never touches the package's own."""
    from irtool.weights import catalog as catalog_module

    cat = tmp_path / "weights.toml"
    cat.write_text("# test catalog\n")
    use_catalog(cat)
    monkeypatch.setattr(catalog_module, "ASSET_WEIGHTS_DIR", tmp_path / "assets")
    return cat


def _exported_entry(cat, name):
    from irtool.weights import catalog as catalog_module
    from irtool.weights.catalog import load_catalog

    catalog_module._load_cached.cache_clear()
    return load_catalog(cat).get(name)


def test_cli_train_exports_into_a_catalog(photos, tmp_path, scratch_catalog):
    from typer.testing import CliRunner

    from irtool.cli import app

    result = CliRunner().invoke(app, [
        "train", "--preset", "restormer_lite", "--task", "denoise", "--data", str(photos / "train"), "--val",
        str(photos / "val"), "--iters", "4", "--batch-size", "2", "--patch-size", "32", "--workers", "0",
        "--out", str(tmp_path / "runs"), "--name", "cli", "--export", "my_denoiser", "-q",
    ])
    assert result.exit_code == 0, result.output
    entry = _exported_entry(scratch_catalog, "my_denoiser")
    assert entry.tasks == ("denoise",) and entry.sha256 and entry.training["command"].startswith("irtool train")
    assert (tmp_path / "assets" / "my_denoiser.safetensors").is_file()


def test_export_checkpoint_best_ships_the_best_validation_weights(photos, tmp_path, scratch_catalog):
    from typer.testing import CliRunner

    from irtool.cli import app
    from irtool.weights.checkpoints import read_checkpoint

    args = ["train", "--preset", "restormer_lite", "--task", "denoise", "--data", str(photos / "train"), "--val",
            str(photos / "val"), "--iters", "6", "--batch-size", "1", "--patch-size", "32", "--workers", "0",
            "--lr", "0.05", "--out", str(tmp_path / "runs"), "--name", "best", "--config", str(tmp_path / "c.toml"),
            "--export", "best_denoiser", "--export-checkpoint", "best", "-q"]
    (tmp_path / "c.toml").write_text("val_every = 2\nckpt_every = 2\n")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "best"
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    scored = [r for r in history if "val_psnr" in r]
    top = max(scored, key=lambda r: r["val_psnr"])
    entry = _exported_entry(scratch_catalog, "best_denoiser")
    assert entry.measured["val_iteration"] == top["iter"] and entry.measured["val_psnr"] == round(top["val_psnr"], 4)
    exported, _ = read_checkpoint(tmp_path / "assets" / "best_denoiser.safetensors")
    best, meta = read_checkpoint(run / "best.safetensors")
    assert all(torch.equal(exported[k], best[k]) for k in best) and meta["iterations"] == str(top["iter"])
    # The EMA weights validation measured at that iteration (its checkpoint is kept when it is among the last two).
    kept = run / "checkpoints" / f"iter_{top['iter']:08d}.pt"
    if kept.is_file():
        assert all(torch.equal(best[k], v) for k, v in read_checkpoint(kept)[0].items())
    bad = CliRunner().invoke(app, [*args[:-2], "latest", "-q"])
    assert bad.exit_code != 0 and "--export-checkpoint" in bad.output


def test_export_as_float16_halves_the_file_and_loads_back_into_the_float32_model(photos, tmp_path, scratch_catalog):
    from safetensors.torch import load_file
    from typer.testing import CliRunner

    from irtool.cli import app
    from irtool.models import build
    from irtool.weights.checkpoints import load_into, read_checkpoint

    args = ["train", "--preset", "restormer_lite", "--task", "denoise", "--data", str(photos / "train"), "--iters",
            "2", "--batch-size", "1", "--patch-size", "32", "--workers", "0", "--out", str(tmp_path / "runs"),
            "--name", "half", "--export", "half_denoiser", "--export-dtype", "float16", "-q"]
    bad = CliRunner().invoke(app, [*args[:-3], "--export-dtype", "int8"])
    assert bad.exit_code != 0 and "--export-dtype" in bad.output and not (tmp_path / "runs" / "half").exists()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    entry = _exported_entry(scratch_catalog, "half_denoiser")
    exported = tmp_path / "assets" / "half_denoiser.safetensors"
    final = load_file(str(tmp_path / "runs" / "half" / "final.safetensors"))
    half = load_file(str(exported))
    assert "--export-dtype float16" in entry.training["command"] and entry.size == exported.stat().st_size
    assert {t.dtype for t in half.values()} == {torch.float16}
    assert exported.stat().st_size < 0.6 * (tmp_path / "runs" / "half" / "final.safetensors").stat().st_size
    for key, value in final.items():
        torch.testing.assert_close(half[key].float(), value, rtol=1e-3, atol=1e-4)
    sd, meta = read_checkpoint(exported)
    model = load_into(build("restormer_lite"), sd, source="half")
    assert meta.get("preset") == "restormer_lite"
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_sigint_saves_a_checkpoint_and_the_run_resumes(photos, tmp_path):
    import signal
    import time

    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text("log_every = 1\nckpt_every = 100000\nwarmup_iters = 0\n")
    base = [sys.executable, "-m", "irtool", "train", "--config", str(cfg_file), "--preset", "restormer_lite",
            "--task", "denoise", "--data", str(photos / "train"), "--batch-size", "1", "--patch-size", "32",
            "--workers", "0", "--out", str(tmp_path), "--name", "sig", "-q"]
    proc = subprocess.Popen([*base, "--iters", "100000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    metrics = tmp_path / "sig" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert b"Traceback" not in err
    ckpts = list((tmp_path / "sig" / "checkpoints").glob("iter_*.pt"))
    assert len(ckpts) == 1
    stopped_at = int(ckpts[0].stem.split("_")[1])
    assert stopped_at >= 3
    done = subprocess.run([*base, "--iters", str(stopped_at + 2), "--resume", "auto"], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    last = json.loads(metrics.read_text().splitlines()[-1])
    assert last["iter"] == stopped_at + 2


def test_detect_task_fine_tunes_a_detector_started_from_the_restorer(photos, tmp_path):
    from irtool.models import build
    from irtool.models.giv_detector import build_giv_detector
    from irtool.weights.checkpoints import load_into, save_safetensors

    torch.manual_seed(0)
    restorer = build("res_hair_lite")
    save_safetensors(restorer.state_dict(), tmp_path / "aio.safetensors", metadata={"preset": "res_hair_lite"})
    result = train(_cfg(photos, tmp_path, name="det", preset="res_hair_lite", task="detect", iters=6,
                        init_weights=str(tmp_path / "aio.safetensors"), patch_size=24))
    assert result.stopped == "finished"
    sd, meta = read_checkpoint(result.final_weights)
    assert meta["kind"] == "detector" and meta["preset"] == "res_hair_lite"
    assert any("val_accuracy" in r for r in result.history)
    detector = load_into(build_giv_detector("res_hair_lite"), sd, source="final")  # strict: loads as exported
    # The GIV path was trained too (not frozen), starting from the restorer's weights.
    first_conv = "patch_embed.proj.weight"
    assert first_conv in sd and not torch.equal(sd[first_conv], restorer.state_dict()[first_conv])
    assert (sd[first_conv] - restorer.state_dict()[first_conv]).abs().max() < 0.05
    assert not any(k.startswith(("latent.", "decoder_level")) for k in sd)  # the decoder is not carried
    logits, severity = detector(torch.rand(2, 3, 40, 48))
    assert logits.shape == (2, 8) and severity.shape == (2, 1)


def test_fit_vote_keeps_the_detector_network_and_ships_its_vote(tmp_path, scratch_catalog, monkeypatch):
    import functools

    from typer.testing import CliRunner

    from irtool.cli import app
    from irtool.detect import read_detector
    from irtool.models.giv_detector import build_giv_detector
    from irtool.train import vote
    from irtool.weights.checkpoints import save_safetensors

    # The command's own fit on a small scale: 3 photos, 2 clean and 1 of each of the 7 degradations per photo,
    # two candidate fits, 2-fold cross-validation (the defaults: 5 photos at least, 40 per photo, 8 fits, 5 folds).
    photos, clean_per_photo, per_kind = 3, 2, 1
    monkeypatch.setattr(vote, "fit_vote_run", functools.partial(
        vote.fit_vote_run, clean_per_photo=clean_per_photo, per_kind=per_kind, l2_choices=(1e-2,),
        clean_weights=(1.0, 4.0), folds=2))
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(photos):
        y, x = np.mgrid[0:96, 0:120]
        img = 0.5 + 0.3 * np.stack([np.sin(x / (3 + i)), np.cos(y / (4 + i)), np.sin((x + y) / 7)], -1)
        Image.fromarray((np.clip(img + rng.normal(0, 0.01, img.shape), 0, 1) * 255).astype(np.uint8)).save(
            folder / f"{i}.png")
    torch.manual_seed(0)
    network = build_giv_detector("res_hair_lite")
    save_safetensors(network.state_dict(), tmp_path / "det.safetensors",
                     metadata={"preset": "res_hair_lite", "kind": "detector"})
    base = ["train", "--task", "detect", "--preset", "res_hair_lite", "--data", str(folder), "--workers", "0",
            "--out", str(tmp_path / "runs"), "--name", "vote", "-q"]

    missing = CliRunner().invoke(app, [*base, "--fit-vote"])
    assert missing.exit_code != 0 and "--init-weights" in missing.output

    result = CliRunner().invoke(app, [*base, "--fit-vote", "--init-weights", str(tmp_path / "det.safetensors"),
                                      "--export", "my_detector"])
    assert result.exit_code == 0, result.output
    entry = _exported_entry(scratch_catalog, "my_detector")
    assert entry.kind == "detector" and "--fit-vote" in entry.training["command"]
    assert 0.0 <= entry.measured["cv_type_accuracy"] <= 1.0 and 0.0 <= entry.measured["cv_clean_accuracy"] <= 1.0
    record = json.loads((tmp_path / "runs" / "vote" / "metrics.jsonl").read_text().splitlines()[-1])
    samples = photos * (clean_per_photo + 7 * per_kind)
    assert record["samples"] == samples and record["photos"] == photos and record["clean_weight"] in (1.0, 4.0)
    saved = torch.load(tmp_path / "runs" / "vote" / "vote_samples.pt", weights_only=True)
    from irtool.detect import summary_size

    assert saved["summaries"].shape == (samples, summary_size(network.head.num_types))
    assert saved["labels"].tolist().count(0) == photos * clean_per_photo
    model, _ = read_detector(tmp_path / "assets" / "my_detector.safetensors", "res_hair_lite")
    assert model.vote is not None and float(model.vote.summary_std.min()) > 0
    for key, value in network.state_dict().items():  # the crop network is the one it was given
        assert torch.equal(model.state_dict()[key], value), key

    # Training the network further from the detector with its vote trains the network only: the vote read the old
    # network's probabilities, so it is dropped (refit with --fit-vote).
    tuned = CliRunner().invoke(app, ["train", "--task", "detect", "--preset", "res_hair_lite", "--data", str(folder),
                                     "--workers", "0", "--out", str(tmp_path / "runs"), "--name", "tuned", "-q",
                                     "--iters", "1", "--batch-size", "2",
                                     "--init-weights", str(tmp_path / "assets" / "my_detector.safetensors")])
    assert tuned.exit_code == 0, tuned.output
    tuned_model, _ = read_detector(tmp_path / "runs" / "tuned" / "final.safetensors", "res_hair_lite")
    assert tuned_model.vote is None

    # A refit from the saved summaries reads no photo, and a clean target of 1 makes the vote call every clean
    # sample of the cross-validation clean.
    refit = CliRunner().invoke(app, [*base[:-3], "--name", "vote_all_clean", "-q", "--fit-vote", "--init-weights",
                                     str(tmp_path / "det.safetensors"), "--vote-clean-target", "1", "--vote-samples",
                                     str(tmp_path / "runs" / "vote" / "vote_samples.pt"), "--data", str(tmp_path)])
    assert refit.exit_code == 0, refit.output
    again = json.loads((tmp_path / "runs" / "vote_all_clean" / "metrics.jsonl").read_text().splitlines()[-1])
    assert again["samples"] == samples and again["cv_clean_accuracy"] == 1.0 and again["clean_target"] == 1.0
    assert again["clean_margin"] >= 0.0

    # --keep-vote keeps the fitted detector's vote and folds in only a temperature: every decision on the samples
    # stays, the logits are divided by the temperature the run reports, and the crop network is untouched.
    fitted = tmp_path / "assets" / "my_detector.safetensors"
    samples_file = str(tmp_path / "runs" / "vote" / "vote_samples.pt")
    kept = CliRunner().invoke(app, [*base[:-3], "--name", "kept", "-q", "--fit-vote", "--keep-vote", "--init-weights",
                                    str(fitted), "--vote-samples", samples_file, "--data", str(tmp_path)])
    assert kept.exit_code == 0, kept.output
    record = json.loads((tmp_path / "runs" / "kept" / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["kept_vote"] is True and record["clean_margin"] == 0.0
    kept_model, _ = read_detector(tmp_path / "runs" / "kept" / "final.safetensors", "res_hair_lite")
    assert kept_model.vote is not None and model.vote is not None
    with torch.no_grad():
        before = model.vote(saved["summaries"].float())
        after = kept_model.vote(saved["summaries"].float())
    assert torch.equal(after.argmax(dim=1), before.argmax(dim=1))
    torch.testing.assert_close(after, before / record["temperature"], rtol=1e-4, atol=1e-5)
    # The temperature is the kept vote's own (fitted on its logits on these samples), so its likelihood there is
    # at least as good as the vote's as it was.
    from irtool.train.vote import fit_temperature

    assert record["temperature"] == pytest.approx(fit_temperature(before.double(), saved["labels"]), rel=1e-4)
    nll = torch.nn.functional.cross_entropy
    assert float(nll(after.double(), saved["labels"])) <= float(nll(before.double(), saved["labels"])) + 1e-9
    for key, value in network.state_dict().items():
        assert torch.equal(kept_model.state_dict()[key], value), key
    # The bundled detector's vote predates the scene statistics: it reads the summary's first entries, and so does
    # the temperature's cross-validation; its decisions stay.
    bundled = Path(__file__).resolve().parents[1] / "irtool" / "assets" / "weights" / "giv_detector_lite.safetensors"
    old_vote = CliRunner().invoke(app, [*base[:-3], "--name", "kept_old", "-q", "--fit-vote", "--keep-vote",
                                        "--init-weights", str(bundled), "--vote-samples", samples_file,
                                        "--data", str(tmp_path)])
    assert old_vote.exit_code == 0, old_vote.output
    shipped, _ = read_detector(bundled, "res_hair_lite")
    recalibrated, _ = read_detector(tmp_path / "runs" / "kept_old" / "final.safetensors", "res_hair_lite")
    assert shipped.vote is not None and recalibrated.vote is not None
    size = shipped.vote.summary_mean.numel()
    assert size < saved["summaries"].shape[1]
    with torch.no_grad():
        before = shipped.vote(saved["summaries"][:, :size].float())
        after = recalibrated.vote(saved["summaries"][:, :size].float())
    assert torch.equal(after.argmax(dim=1), before.argmax(dim=1))
    # --calibrate-calls adds a confidence map per called type: the same decisions and temperature, the map saved
    # with the vote, and a detection through the file shows the mapped confidence of its call.
    mapped = CliRunner().invoke(app, [*base[:-3], "--name", "mapped", "-q", "--fit-vote", "--keep-vote",
                                      "--calibrate-calls", "--init-weights", str(fitted), "--vote-samples",
                                      samples_file, "--data", str(tmp_path)])
    assert mapped.exit_code == 0, mapped.output
    record = json.loads((tmp_path / "runs" / "mapped" / "metrics.jsonl").read_text().splitlines()[-1])
    mapped_model, _ = read_detector(tmp_path / "runs" / "mapped" / "final.safetensors", "res_hair_lite")
    assert mapped_model.vote is not None and mapped_model.vote.calls_calibrated and not kept_model.vote.calls_calibrated
    assert mapped_model.vote.call_scale.tolist() == pytest.approx(record["call_scale"], abs=1e-4)
    with torch.no_grad():
        torch.testing.assert_close(mapped_model.vote(saved["summaries"].float()), kept_model.vote(
            saved["summaries"].float()))
    from irtool.detect import Detector
    from irtool.models.image_vote import call_confidence

    image = torch.rand(3, 96, 128, generator=torch.Generator().manual_seed(3))
    plain, shown = Detector(kept_model).detect(image), Detector(mapped_model).detect(image)
    assert shown.type == plain.type and shown.probabilities == plain.probabilities
    k = list(shown.probabilities).index(shown.type)
    expected = call_confidence(torch.tensor(plain.confidence), torch.tensor(record["call_scale"][k]),
                               torch.tensor(record["call_shift"][k]))
    assert shown.confidence == pytest.approx(float(expected), abs=1e-3)
    # Refitting that file without --calibrate-calls drops its maps (they mapped the probabilities of another
    # temperature).
    unmapped = CliRunner().invoke(app, [*base[:-3], "--name", "unmapped", "-q", "--fit-vote", "--keep-vote",
                                        "--init-weights", str(tmp_path / "runs" / "mapped" / "final.safetensors"),
                                        "--vote-samples", samples_file, "--data", str(tmp_path)])
    assert unmapped.exit_code == 0, unmapped.output
    unmapped_model, _ = read_detector(tmp_path / "runs" / "unmapped" / "final.safetensors", "res_hair_lite")
    assert unmapped_model.vote is not None and not unmapped_model.vote.calls_calibrated
    # It needs a vote to keep, and a clean target would change decisions.
    for extra, message in (([], "no vote to keep"), (["--vote-clean-target", "0.9"], "no --vote-clean-target")):
        weights = str(tmp_path / "det.safetensors") if not extra else str(fitted)
        refused = CliRunner().invoke(app, [*base[:-3], "--name", "refused", "-q", "--fit-vote", "--keep-vote",
                                           "--init-weights", weights, "--vote-samples", samples_file, *extra,
                                           "--data", str(tmp_path)])
        assert refused.exit_code != 0 and message in refused.output, refused.output


def test_call_maps_bring_each_called_types_confidence_to_how_often_its_calls_are_right():
    from irtool.train.vote import calibration_error, call_map_error, fit_call_maps, mapped_confidence

    # Two types called at the same probabilities (0.55-0.95): type 1's calls are all right, type 2's right one time
    # in four. One temperature moves both alike; a map per called type separates them.
    generator = torch.Generator().manual_seed(0)
    n = 400
    p = 0.55 + 0.4 * torch.rand(n, generator=generator, dtype=torch.float64)
    called = torch.tensor([1, 2] * (n // 2))
    logits = torch.full((n, 3), 0.0, dtype=torch.float64)
    logits[torch.arange(n), called] = torch.log(p / (1 - p)) + math.log(2)  # softmax gives the call p
    right_2 = torch.rand(n, generator=generator) < 0.25
    labels = torch.where((called == 1) | right_2, called, torch.zeros_like(called))
    scale, shift = fit_call_maps(logits, labels)
    shown, decided = mapped_confidence(logits, scale, shift)
    assert torch.equal(decided, called) and bool((scale > 0).all())
    assert float(shown[called == 1].mean()) > 0.9 and float(shown[called == 2].mean()) < 0.4
    assert call_map_error(logits, labels, scale, shift) < calibration_error(logits, labels) / 3
    # Type 0 was never called: its map is the identity.
    assert float(scale[0]) == 1.0 and float(shift[0]) == 0.0


def test_clean_margin_is_the_smallest_lift_that_calls_the_target_share_of_clean_samples_clean():
    from irtool.train.vote import clean_margin

    # Clean samples (label 0) whose best other type beats clean by 0 (already clean), 1, 2 and 3.
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 0.5], [0.0, 0.5, 2.0], [0.0, 3.0, 1.0], [0.0, 9.0, 0.0]])
    labels = torch.tensor([0, 0, 0, 0, 1])
    assert clean_margin(logits, labels, target=0.0) == 0.0
    assert clean_margin(logits, labels, target=0.25) == 0.0
    for target, lift in ((0.5, 1.0), (0.75, 2.0), (1.0, 3.0)):
        margin = clean_margin(logits, labels, target=target)
        assert margin == pytest.approx(lift, abs=1e-5)
        shifted = logits.clone()
        shifted[:, 0] += margin
        assert (shifted[:4].argmax(dim=1) == 0).float().mean() >= target
