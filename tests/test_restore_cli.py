"""`irtool restore` end to end on generated images with tiny random-weight models."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic import write_catalog, write_detector_saying
from typer.testing import CliRunner

from irtool.cli import app
from irtool.degradations import detector_types
from irtool.models import build
from irtool.models.giv_detector import build_giv_detector
from irtool.weights.checkpoints import save_safetensors

DEGRADATION_TYPES = detector_types()

runner = CliRunner()


#: --auto's routes in the test catalog: low resolution to the x2 model, every other degradation to the all-in-one.
ROUTES = {t: "sr2" if t == "low-resolution" else "aio" for t in DEGRADATION_TYPES if t != "clean"} | {"fallback": "aio"}


def _zoo_models(folder: Path, *, head: Path | None = None) -> dict[str, dict]:
    return {
        "aio": {"preset": "res_hair_lite", "tasks": ["all", "denoise", "jpeg"], "file": folder / "aio.safetensors"},
        "sr2": {"preset": "hi_ir_sr2_lite", "tasks": ["sr2"], "file": folder / "sr2.safetensors"},
        "head": {"preset": "res_hair_lite", "kind": "detector", "tasks": ["detect"],
                 "file": head or folder / "head.safetensors"},
    }


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """A catalog with an all-in-one lite Res-HAIR, an x2 SR model and a degradation detector, all random weights."""
    d = tmp_path_factory.mktemp("zoo")
    torch.manual_seed(0)
    aio = build("res_hair_lite")
    save_safetensors(aio.state_dict(), d / "aio.safetensors", metadata={"preset": "res_hair_lite"})
    sr = build("hi_ir_sr2_lite")
    save_safetensors(sr.state_dict(), d / "sr2.safetensors", metadata={"preset": "hi_ir_sr2_lite"})
    detector = build_giv_detector("res_hair_lite")
    save_safetensors(detector.state_dict(), d / "head.safetensors", metadata={"kind": "detector"})
    write_catalog(d / "weights.toml", _zoo_models(d), routes=ROUTES, detector="head")
    return d


@pytest.fixture(autouse=True)
def _catalog_env(zoo, use_catalog):
    use_catalog(zoo / "weights.toml")


def _photo(h: int = 40, w: int = 56, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([np.sin(x / 7.0), np.cos(y / 5.0), np.sin((x + y) / 9.0)], axis=-1) * 0.4 + 0.5
    return np.clip(base + rng.normal(0, 0.03, base.shape), 0, 1)


def _save(path: Path, mode: str, *, fmt: str | None = None, bits16: bool = False, seed: int = 0) -> Path:
    arr = _photo(seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if bits16 and mode == "L":
        Image.fromarray((arr[..., 0] * 65535).astype(np.uint16)).save(path)
        return path
    if bits16 and path.suffix == ".tif":
        import tifffile

        tifffile.imwrite(path, (arr * 65535).round().astype(np.uint16), photometric="rgb")
        return path
    if bits16:  # Pillow cannot write 16-bit RGB PNG; irtool.io's own PNG writer (tested in test_io) can
        from irtool.io import write_image

        write_image(path, arr.astype(np.float32), bit_depth=16, format="png")
        return path
    rgb = (arr * 255).round().astype(np.uint8)
    img = Image.fromarray(rgb)
    if mode == "L":
        img = img.convert("L")
    elif mode == "RGBA":
        alpha = Image.fromarray(np.tile(np.linspace(0, 255, rgb.shape[1]).astype(np.uint8), (rgb.shape[0], 1)))
        img.putalpha(alpha)
    img.save(path, format=fmt)
    return path


def _digest(paths) -> dict[str, str]:
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


def _invoke(*args: str):
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.mark.parametrize(
    "name, mode, bits16",
    [("g.png", "L", False), ("c.png", "RGB", False), ("a.png", "RGBA", False), ("g16.png", "L", True),
     ("c16.png", "RGB", True), ("c.jpg", "RGB", False), ("g.jpg", "L", False), ("c.webp", "RGB", False),
     ("a.webp", "RGBA", False), ("c.tif", "RGB", False), ("c16.tif", "RGB", True), ("c.bmp", "RGB", False),
     ("c.ppm", "RGB", False), ("g.pgm", "L", False)],
)
def test_every_format_and_mode_round_trips(tmp_path, name, mode, bits16):
    src = _save(tmp_path / "in" / name, mode, bits16=bits16)
    before = _digest([src])
    result = _invoke("restore", str(src), "-o", str(tmp_path / "out"), "--model", "aio", "--quiet")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / name
    assert out.is_file()
    assert _digest([src]) == before, "the input was modified"
    with Image.open(src) as a, Image.open(out) as b:
        assert b.size == a.size
        assert b.format == a.format
        assert (b.mode in ("L", "I;16", "I;16B", "I")) == (a.mode in ("L", "I;16", "I;16B", "I"))
        if "A" in a.mode:
            assert "A" in b.mode
            assert np.array_equal(np.asarray(a)[..., 3], np.asarray(b)[..., 3]), "alpha must be carried through"
    if bits16:
        from irtool.io import read_image

        assert read_image(out).bit_depth == 16


def test_sr_output_is_scaled_and_alpha_resized(tmp_path):
    src = _save(tmp_path / "in" / "a.png", "RGBA")
    result = _invoke("restore", str(src), "-o", str(tmp_path / "out"), "--model", "sr2", "--quiet")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "out" / "a.png") as out:
        assert out.size == (56 * 2, 40 * 2) and out.mode == "RGBA"


def test_folder_tree_is_mirrored_with_any_file_name(tmp_path):
    a = _save(tmp_path / "in" / "sub dir" / "ünïcode photo.png", "RGB")
    b = _save(tmp_path / "in" / "top.jpg", "RGB")
    result = _invoke("restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "aio", "--quiet",
                     "--format", "png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "sub dir" / "ünïcode photo.png").is_file()
    assert (tmp_path / "out" / "top.png").is_file()
    assert a.exists() and b.exists()


def test_end_of_run_table_names_files_below_the_folder_they_share(tmp_path):
    _save(tmp_path / "in" / "sub" / "deep.png", "RGB")
    _save(tmp_path / "in" / "top.png", "RGB")
    result = runner.invoke(app, ["restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "aio"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "ok" in line and ".png" in line]
    assert [row.split()[1] for row in rows] == [os.path.join("sub", "deep.png"), "top.png"]


def test_bad_files_are_reported_and_the_batch_goes_on(tmp_path):
    good = [_save(tmp_path / "in" / f"{i}.png", "RGB", seed=i) for i in range(3)]
    (tmp_path / "in" / "empty.png").write_bytes(b"")
    (tmp_path / "in" / "text.jpg").write_text("this is not an image")
    truncated = tmp_path / "in" / "truncated.png"
    truncated.write_bytes(good[0].read_bytes()[:200])
    before = _digest(sorted((tmp_path / "in").iterdir()))
    report = tmp_path / "report.json"
    result = _invoke("restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "aio", "--json",
                     str(report), "--quiet")
    assert result.exit_code == 1
    data = json.loads(report.read_text())
    status = {Path(r["input"]).name: r["status"] for r in data["results"]}
    assert status == {"0.png": "ok", "1.png": "ok", "2.png": "ok", "empty.png": "error", "text.jpg": "error",
                      "truncated.png": "error"}
    errors = [r for r in data["results"] if r["status"] == "error"]
    assert all(r["error"] and "\n" not in r["error"] for r in errors)
    assert _digest(sorted((tmp_path / "in").iterdir())) == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "1.png", "2.png"]


def test_rerun_skips_existing_outputs_and_overwrite_redoes_them(tmp_path):
    for i in range(3):
        _save(tmp_path / "in" / f"{i}.png", "RGB", seed=i)
    out = tmp_path / "out"
    assert _invoke("restore", str(tmp_path / "in"), "-o", str(out), "--model", "aio", "-q").exit_code == 0
    (out / "1.png").unlink()
    report = tmp_path / "r.json"
    result = _invoke("restore", str(tmp_path / "in"), "-o", str(out), "--model", "aio", "-q", "--json", str(report))
    assert result.exit_code == 0
    status = {Path(r["input"]).name: r["status"] for r in json.loads(report.read_text())["results"]}
    assert status == {"0.png": "skipped", "1.png": "ok", "2.png": "skipped"}
    assert _invoke("restore", str(tmp_path / "in"), "-o", str(out), "--model", "aio", "-q", "--json", str(report),
                   "--overwrite").exit_code == 0
    assert {r["status"] for r in json.loads(report.read_text())["results"]} == {"ok"}


def test_output_over_input_is_refused(tmp_path):
    _save(tmp_path / "in" / "x.png", "RGB")
    result = _invoke("restore", str(tmp_path / "in"), "-o", str(tmp_path / "in"), "--model", "aio", "-q")
    assert result.exit_code == 2


def test_one_input_and_an_output_file_name_writes_that_file_in_its_format(tmp_path):
    source = _save(tmp_path / "photo.png", "RGB")
    target = tmp_path / "fixed" / "restored.jpg"
    result = _invoke("restore", str(source), "-o", str(target), "--model", "aio", "-q")
    assert result.exit_code == 0, result.output
    assert target.is_file() and Image.open(target).format == "JPEG"
    assert sorted(p.name for p in target.parent.iterdir()) == ["restored.jpg"]


def test_an_output_file_name_for_several_inputs_or_another_format_is_refused_up_front(tmp_path):
    for i in range(2):
        _save(tmp_path / "in" / f"{i}.png", "RGB", seed=i)
    several = _invoke("restore", str(tmp_path / "in"), "-o", str(tmp_path / "out.png"), "--model", "aio", "-q")
    assert several.exit_code == 2 and "names one file, but 2 inputs" in several.output
    clash = _invoke("restore", str(tmp_path / "in" / "0.png"), "-o", str(tmp_path / "out.png"), "--format", "jpg",
                    "--model", "aio", "-q")
    assert clash.exit_code == 2 and "--format asks for jpeg" in clash.output
    assert not (tmp_path / "out.png").exists()


def test_an_existing_folder_named_like_an_image_stays_a_folder(tmp_path):
    source = _save(tmp_path / "photo.png", "RGB")
    folder = tmp_path / "results.png"
    folder.mkdir()
    assert _invoke("restore", str(source), "-o", str(folder), "--model", "aio", "-q").exit_code == 0
    assert (folder / "photo.png").is_file()


def test_shards_cover_every_file_exactly_once(tmp_path):
    for i in range(7):
        _save(tmp_path / "in" / f"{i}.png", "RGB", seed=i)
    seen: list[str] = []
    for k in (1, 2, 3):
        report = tmp_path / f"r{k}.json"
        assert _invoke("restore", str(tmp_path / "in"), "-o", str(tmp_path / f"out{k}"), "--model", "aio", "-q",
                       "--shard", f"{k}/3", "--json", str(report)).exit_code == 0
        seen += [Path(r["input"]).name for r in json.loads(report.read_text())["results"]]
    assert sorted(seen) == sorted(f"{i}.png" for i in range(7))


def test_auto_routes_by_the_detection_and_detect_only_writes_nothing(tmp_path, zoo):
    for i in range(4):
        _save(tmp_path / "in" / f"{i}.png", "RGB", seed=i)
    report = tmp_path / "detect.json"
    result = _invoke("restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--detect-only", "--json",
                     str(report), "-q")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    detect_only = json.loads(report.read_text())["results"]
    detections = {Path(r["input"]).name: r["detected"] for r in detect_only}
    assert all(d["type"] in DEGRADATION_TYPES and 0 <= d["confidence"] <= 1 for d in detections.values())
    planned = {Path(r["input"]).name: r["model"] for r in detect_only}  # the route --auto would take

    report2 = tmp_path / "auto.json"
    result = _invoke("restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--auto", "--json", str(report2),
                     "-q")
    assert result.exit_code == 0, result.output
    for rec in json.loads(report2.read_text())["results"]:
        kind = rec["detected"]["type"]
        expected = "copy" if kind == "clean" else ("sr2" if kind == "low-resolution" else "aio")
        assert rec["model"] == expected == planned[Path(rec["input"]).name]
        assert rec["detected"] == detections[Path(rec["input"]).name]
        assert Path(rec["output"]).is_file()


def test_missing_weights_name_the_download_command(tmp_path, zoo, use_catalog, monkeypatch):
    far = {"preset": "res_hair_lite", "tasks": ["derain"], "repo_id": "a/b", "filename": "f",
           "revision": "0123456789abcdef0123456789abcdef01234567", "sha256": "0" * 64, "license": "MIT"}
    use_catalog(write_catalog(tmp_path / "w.toml", {"far": far}))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    _save(tmp_path / "in" / "x.png", "RGB")
    result = runner.invoke(app, ["restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--task", "derain"])
    assert result.exit_code == 3
    assert "irtool download far" in result.output


def test_interrupted_run_leaves_no_partial_files_and_resumes(tmp_path, zoo):
    # Sorted by name the inputs are a small image, one with 20 times its pixels and a small one: the interrupt, sent
    # as soon as the first output appears, lands while the large one is being restored.
    (tmp_path / "in").mkdir()
    for i, (height, width) in enumerate([(40, 56), (192, 256), (40, 56)]):
        pixels = (_photo(height, width, seed=i) * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / "in" / f"{i}.png")
    out = tmp_path / "out"
    args = ["restore", str(tmp_path / "in"), "-o", str(out), "--model", "aio", "-q"]
    env = {**os.environ, "IRTOOL_WEIGHTS_TOML": str(zoo / "weights.toml")}
    # Ctrl-C as in a terminal: a suite started in the background by a shell ignores SIGINT, and a child inherits
    # that (Python then installs no KeyboardInterrupt handler), so the child gets the default disposition back.
    proc = subprocess.Popen([sys.executable, "-m", "irtool", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not (out / "0.png").exists():
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    written = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert proc.returncode == 130, (written, stderr.decode()[-2000:])
    leftovers = [p.name for p in out.iterdir() if not p.name.endswith(".png") or p.name.startswith(".")]
    assert leftovers == [], leftovers
    done = sorted(p.name for p in out.glob("*.png"))
    assert done and len(done) < 3
    for p in out.glob("*.png"):
        with Image.open(p) as im:
            im.load()  # every file that exists is complete
    before = _digest(out / name for name in done)

    # The same command again finishes the batch and leaves the finished outputs as they are.
    report = tmp_path / "again.json"
    again = _invoke(*args, "--json", str(report))
    assert again.exit_code == 0, again.output
    statuses = {Path(r["input"]).name: r["status"] for r in json.loads(report.read_text())["results"]}
    assert statuses == {name: "skipped" if name in done else "ok" for name in ("0.png", "1.png", "2.png")}
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png", "2.png"]
    assert _digest(out / name for name in done) == before


def _catalog_with_detector_saying(kind: str, tmp_path: Path, zoo: Path, use_catalog, *, routes=None,
                                  logit: float = 10.0, severity: float = 0.5) -> None:
    """Use a copy of the zoo's catalog whose detector always answers ``kind`` (with the confidence
    ``e**logit / (e**logit + 7)``: its other seven types have logit 0) and ``severity``, and whose ``routes``
    replace the zoo's. The noise route is "keep" unless ``routes`` names one: the noise test reads what the noise
    route's model removes (irtool.detect.removed_noise), which a model of random weights does everywhere."""
    head = write_detector_saying(kind, tmp_path / f"{kind}_head.safetensors", logit=logit, severity=severity)
    models = _zoo_models(zoo, head=head)
    use_catalog(write_catalog(tmp_path / "weights.toml", models, routes=ROUTES | {"noise": "keep"} | (routes or {}),
                              detector="head"))


def test_auto_low_resolution_is_super_resolved_at_the_same_size(tmp_path, zoo, use_catalog):
    """A detector that always says "low-resolution": --auto brings the image back to native size and super-resolves
    it."""
    _catalog_with_detector_saying("low-resolution", tmp_path, zoo, use_catalog)
    src = _save(tmp_path / "in" / "odd size.png", "RGB")  # 40 x 56: not a multiple of the scale after halving
    report = tmp_path / "r.json"
    result = _invoke("restore", str(src), "-o", str(tmp_path / "out"), "--auto", "--json", str(report), "-q")
    assert result.exit_code == 0, result.output
    rec = json.loads(report.read_text())["results"][0]
    assert rec["detected"]["type"] == "low-resolution" and rec["model"] == "sr2"
    with Image.open(tmp_path / "out" / "odd size.png") as out, Image.open(src) as inp:
        assert out.size == inp.size


def _bilinear_enlargement() -> Image.Image:
    """A detailed 80 x 64 image enlarged x2.5 by Pillow's bilinear filter: an exact enlargement the search finds."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:64, 0:80]
    small = np.clip(0.5 + 0.25 * np.sin(xx / 2.3 + yy / 3.1)[:, :, None] + 0.2 * (rng.random((64, 80, 3)) - 0.5),
                    0, 1)
    return Image.fromarray((small * 255).round().astype(np.uint8)).resize((200, 160), Image.Resampling.BILINEAR)


def _sharp_discs() -> Image.Image:
    """A 128 x 96 colour photo of discs with step edges in every direction (edge sharpness far above
    irtool.detect.EDGE_SHARPNESS_MIN)."""
    yy, xx = np.mgrid[0:96, 0:128]
    discs = np.where(((yy % 32 - 16) ** 2 + (xx % 32 - 16) ** 2) < 100, 50, 200).astype(np.uint8)
    return Image.fromarray(np.stack([discs, discs // 2 + 60, 255 - discs], axis=-1))


def test_auto_sends_an_exact_enlargement_called_blur_to_super_resolution(tmp_path, zoo, use_catalog):
    """A detector that always says "blur": an image that is a bilinear x2.5 enlargement goes to the low-resolution
    route (the pixels decide), a photo that is none to the blur route."""
    _catalog_with_detector_saying("blur", tmp_path, zoo, use_catalog, routes={"blur": "aio"})
    (tmp_path / "in").mkdir()
    _bilinear_enlargement().save(tmp_path / "in" / "enlarged.png")
    _save(tmp_path / "in" / "photo.png", "RGB")
    report = tmp_path / "r.json"
    result = _invoke("restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--auto", "--json", str(report),
                     "-q")
    assert result.exit_code == 0, result.output
    records = {Path(r["input"]).name: r for r in json.loads(report.read_text())["results"]}
    enlarged, photo = records["enlarged.png"], records["photo.png"]
    assert enlarged["detected"]["type"] == "blur" and enlarged["model"] == "sr2"
    assert "exact enlargement x2.50 of 80x64 px (bilinear)" in enlarged["note"]
    assert enlarged["decided"] == "low-resolution" and photo["decided"] == "blur"
    assert photo["model"] == "aio" and not photo["note"]
    with Image.open(tmp_path / "out" / "enlarged.png") as out:
        assert out.size == (200, 160)


def _auto_records_with_and_without_detect_only(tmp_path: Path) -> list[dict[str, dict]]:
    """``restore --auto`` on ``tmp_path/in``, then the same with ``--detect-only``: each run's JSON records by
    file name (both must decide alike)."""
    runs = []
    for extra in ([], ["--detect-only"]):
        report = tmp_path / f"r{len(extra)}.json"
        result = _invoke("restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--auto", "--overwrite",
                         "--json", str(report), "-q", *extra)
        assert result.exit_code == 0, result.output
        runs.append({Path(r["input"]).name: r for r in json.loads(report.read_text())["results"]})
    return runs


def test_auto_leaves_an_image_called_hazy_without_a_veil_and_says_why(tmp_path, zoo, use_catalog):
    """A detector that always says "haze": a photo whose every region reaches black in one colour (blue here) has
    no veil (dark channel prior), so it is copied byte for byte with the reason; the same photo under a grey veil
    goes to the haze route. --detect-only reports the same decision."""
    _catalog_with_detector_saying("haze", tmp_path, zoo, use_catalog, routes={"haze": "aio"})
    photo = _photo(64, 80, seed=5)
    no_veil = photo * np.array([1.0, 1.0, 0.15])
    veiled = 0.4 * photo + 0.6 * 0.9
    (tmp_path / "in").mkdir()
    for name, pixels in (("clear.png", no_veil), ("veiled.png", veiled)):
        Image.fromarray((pixels * 255).round().astype(np.uint8)).save(tmp_path / "in" / name)
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        clear, hazy = records["clear.png"], records["veiled.png"]
        assert clear["detected"]["type"] == "haze" and clear["model"] == "copy (no veil)"
        assert "no veil" in clear["note"]
        assert hazy["model"] == "aio"
    assert (tmp_path / "out" / "clear.png").read_bytes() == (tmp_path / "in" / "clear.png").read_bytes()


def test_auto_copies_an_image_called_jpeg_whose_blocks_are_finely_quantised_and_says_why(tmp_path, zoo, use_catalog):
    """A detector that always says "jpeg": the same photo saved by Pillow at quality 90 (finer than
    FINEST_RESTORED_JPEG_QUALITY, the lightest JPEG damage --auto restores) is copied byte for byte as "copy (fine
    JPEG)" with the quality read from its pixels, while at quality 30 it goes to the JPEG route. --detect-only
    reports the same decisions."""
    from irtool.restore import FINEST_RESTORED_JPEG_QUALITY

    assert FINEST_RESTORED_JPEG_QUALITY == 60  # the registry's severity 0 of JPEG damage
    _catalog_with_detector_saying("jpeg", tmp_path, zoo, use_catalog, routes={"jpeg": "aio"})
    photo = Image.fromarray((_photo(160, 200, seed=3) * 255).round().astype(np.uint8))
    (tmp_path / "in").mkdir()
    photo.save(tmp_path / "in" / "fine.jpg", quality=90)
    photo.save(tmp_path / "in" / "coarse.jpg", quality=30)
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        fine, coarse = records["fine.jpg"], records["coarse.jpg"]
        assert fine["detected"]["type"] == "jpeg" and fine["model"] == "copy (fine JPEG)"
        assert "quality 9" in fine["note"] and "above 60" in fine["note"]
        assert coarse["model"] == "aio"
    assert (tmp_path / "out" / "fine.jpg").read_bytes() == (tmp_path / "in" / "fine.jpg").read_bytes()


@pytest.mark.parametrize("above", [False, True])
def test_auto_leaves_a_gray_photo_called_slightly_hazy_and_dehazes_a_colour_one(tmp_path, zoo, use_catalog, above):
    """A detector that always says "haze" at one severity: below irtool.detect.GRAY_HAZE_SEVERITY_MIN, a veiled gray
    photo (saved as RGB and as one-channel PNG) is copied byte for byte as "copy (gray, slight)" with the reason,
    while the same veiled photo in colour goes to the haze route; at the threshold the gray ones are dehazed too.
    --detect-only reports the same decisions."""
    from irtool.detect import GRAY_HAZE_SEVERITY_MIN, is_gray

    severity = GRAY_HAZE_SEVERITY_MIN + (0.05 if above else -0.05)
    _catalog_with_detector_saying("haze", tmp_path, zoo, use_catalog, routes={"haze": "aio"}, severity=severity)
    veiled = 0.4 * _photo(64, 80, seed=5) + 0.6 * 0.9
    gray = veiled @ np.array([0.299, 0.587, 0.114])
    (tmp_path / "in").mkdir()
    Image.fromarray((veiled * 255).round().astype(np.uint8)).save(tmp_path / "in" / "colour.png")
    gray_levels = (gray * 255).round().astype(np.uint8)
    Image.fromarray(np.repeat(gray_levels[:, :, None], 3, axis=2)).save(tmp_path / "in" / "gray_rgb.png")
    Image.fromarray(gray_levels).save(tmp_path / "in" / "gray_l.png")
    assert is_gray(torch.from_numpy(gray_levels.astype(np.float32) / 255)[None].expand(3, -1, -1))
    assert not is_gray(torch.from_numpy(veiled.astype(np.float32)).permute(2, 0, 1))
    Image.fromarray(np.repeat(gray_levels[:, :, None], 3, axis=2)).save(tmp_path / "gray.jpg", quality=40)
    with Image.open(tmp_path / "gray.jpg") as as_jpeg:  # JPEG's chroma rounding keeps a gray photo gray
        assert is_gray(torch.from_numpy(np.asarray(as_jpeg.convert("RGB"), np.float32) / 255).permute(2, 0, 1))
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        assert records["colour.png"]["model"] == "aio"
        for name in ("gray_rgb.png", "gray_l.png"):
            record = records[name]
            assert record["detected"]["type"] == "haze"
            if above:
                assert record["model"] == "aio" and record["decided"] == "haze"
            else:
                assert record["model"] == "copy (gray, slight)" and record["decided"] == "clean"
                assert "gray photo" in record["note"] and f"({severity:.2f})" in record["note"]
    if not above:
        for name in ("gray_rgb.png", "gray_l.png"):
            assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "in" / name).read_bytes()


@pytest.mark.parametrize("severity", [0.2, 0.3])
def test_auto_leaves_a_colour_photo_called_slightly_hazy_as_it_is(tmp_path, zoo, use_catalog, severity):
    """A detector that always says "haze": a veiled colour photo rated below irtool.detect.SLIGHT_SEVERITY is copied
    byte for byte as "copy (slight haze)" with the severity in the note; rated above it, it goes to the haze route.
    --detect-only reports the same decisions."""
    from irtool.detect import SLIGHT_SEVERITY

    _catalog_with_detector_saying("haze", tmp_path, zoo, use_catalog, routes={"haze": "aio"}, severity=severity)
    veiled = 0.4 * _photo(64, 80, seed=5) + 0.6 * 0.9
    (tmp_path / "in").mkdir()
    Image.fromarray((veiled * 255).round().astype(np.uint8)).save(tmp_path / "in" / "pale.png")
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        record = records["pale.png"]
        assert record["detected"]["type"] == "haze"
        if severity < SLIGHT_SEVERITY:
            assert record["model"] == "copy (slight haze)" and record["decided"] == "clean"
            assert f"rated slight ({severity:.2f})" in record["note"] and "left as it is" in record["note"]
        else:
            assert record["model"] == "aio" and record["decided"] == "haze"
    if severity < SLIGHT_SEVERITY:
        assert (tmp_path / "out" / "pale.png").read_bytes() == (tmp_path / "in" / "pale.png").read_bytes()


@pytest.mark.parametrize("called", ["clean", "jpeg", "blur", "haze"])
def test_auto_denoises_an_image_whose_flattest_regions_are_noisy_whatever_it_is_called(tmp_path, zoo, use_catalog,
                                                                                        called):
    """A detector that always says clean (or JPEG, blur, haze: types no training window of which reads such a
    noise floor): a smooth photo with Gaussian noise of 15/255 (noise floor far above irtool.detect.NOISE_FLOOR_MIN)
    goes to the noise route with the reason; the same photo without it is copied byte for byte (its own route is
    "keep" here). --detect-only reports the same decision."""
    from irtool.detect import NOISE_FLOOR_MIN, noise_floor

    _catalog_with_detector_saying(called, tmp_path, zoo, use_catalog, routes={"noise": "aio", "jpeg": "keep",
                                                                              "blur": "keep", "haze": "keep"})
    yy, xx = np.mgrid[0:96, 0:128]
    smooth = np.stack([0.3 + 0.4 * xx / 128, 0.5 + 0.2 * np.sin(yy / 20), 0.4 + 0.3 * yy / 96], axis=-1)
    noisy = np.clip(smooth + np.random.default_rng(4).normal(0, 15 / 255, smooth.shape), 0, 1)
    (tmp_path / "in").mkdir()
    for name, pixels in (("smooth.png", smooth), ("noisy.png", noisy)):
        Image.fromarray((pixels * 255).round().astype(np.uint8)).save(tmp_path / "in" / name)
    as_tensor = torch.from_numpy(noisy.astype(np.float32)).permute(2, 0, 1)
    assert noise_floor(as_tensor) > NOISE_FLOOR_MIN > noise_floor(torch.from_numpy(smooth.astype(np.float32))
                                                                   .permute(2, 0, 1))
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        clean, noisy_record = records["smooth.png"], records["noisy.png"]
        assert clean["detected"]["type"] == called and clean["model"] == "copy" and not clean["note"]
        assert noisy_record["detected"]["type"] == called and noisy_record["model"] == "aio"
        assert noisy_record["decided"] == "noise" and clean["decided"] == called
        assert f"called {called} (" in noisy_record["note"]
        assert "flattest regions hold noise of" in noisy_record["note"]
    assert (tmp_path / "out" / "smooth.png").read_bytes() == (tmp_path / "in" / "smooth.png").read_bytes()


def test_auto_denoises_a_noisy_photo_saved_as_jpeg_whose_finest_grain_the_jpeg_took(tmp_path, zoo, use_catalog):
    """A detector that always says clean, the bundled noise route model (hi_ir_unet_lite_denoise_real) on the noise
    route: a photo with Gaussian noise of 15/255 saved as JPEG at quality 80 reads a noise floor between
    NOISE_REMOVED_FLOOR_MIN and NOISE_FLOOR_MIN (the JPEG took the finest grain), but the model removes more than
    NOISE_REMOVED_MIN even where it removes least, so it is denoised with that reason; with noise of 10/255 the floor
    is past the first bound but the model removes little, and the clean photo's floor is below it: both are copied
    byte for byte. --detect-only reports the same decisions."""
    from skimage import data

    import irtool
    from irtool.detect import NOISE_FLOOR_MIN, NOISE_REMOVED_FLOOR_MIN, NOISE_REMOVED_MIN, noise_floor, removed_noise
    from irtool.restore import restore_same_size
    from irtool.zoo import EngineSettings, ModelZoo

    bundled = Path(irtool.__file__).parent / "assets" / "weights" / "hi_ir_unet_lite_denoise_real.safetensors"
    head = write_detector_saying("clean", tmp_path / "clean_head.safetensors")
    models = _zoo_models(zoo, head=head) | {"denoiser": {"preset": "hi_ir_unet_lite", "tasks": ["denoise"],
                                                         "file": bundled}}
    use_catalog(write_catalog(tmp_path / "weights.toml", models, routes=ROUTES | {"noise": "denoiser"},
                              detector="head"))
    photo = data.chelsea()[:192, :256]  # a training photo of scripts/gather_photos.py
    (tmp_path / "in").mkdir()
    for name, sigma in (("noisy.jpg", 15), ("faint.jpg", 10), ("clean.jpg", 0)):
        noisy = photo + np.random.default_rng(1).normal(0, sigma, photo.shape)
        Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8)).save(tmp_path / "in" / name, quality=80)
    loaded = ModelZoo(EngineSettings(device="cpu")).from_file(bundled)
    readings = {}
    for name in ("noisy.jpg", "faint.jpg", "clean.jpg"):
        as_read = torch.from_numpy(np.asarray(Image.open(tmp_path / "in" / name), np.float32) / 255).permute(2, 0, 1)
        readings[name] = (noise_floor(as_read),
                          removed_noise(as_read, lambda pixels: restore_same_size(loaded, pixels)).level)
    assert NOISE_REMOVED_FLOOR_MIN <= readings["noisy.jpg"][0] < NOISE_FLOOR_MIN
    assert readings["noisy.jpg"][1] >= NOISE_REMOVED_MIN
    assert NOISE_REMOVED_FLOOR_MIN <= readings["faint.jpg"][0] and readings["faint.jpg"][1] < NOISE_REMOVED_MIN
    assert readings["clean.jpg"][0] < NOISE_REMOVED_FLOOR_MIN
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        noisy_record = records["noisy.jpg"]
        assert noisy_record["model"] == "denoiser" and noisy_record["decided"] == "noise"
        assert "called clean (" in noisy_record["note"] and "noise a JPEG smoothed" in noisy_record["note"]
        for kept in (records["faint.jpg"], records["clean.jpg"]):
            assert kept["model"] == "copy" and kept["decided"] == "clean" and not kept["note"]
    for name in ("faint.jpg", "clean.jpg"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "in" / name).read_bytes()


def test_auto_denoises_an_image_called_rainy_that_has_no_streaks_and_keeps_one_that_has(tmp_path, zoo, use_catalog):
    """A detector that always says "rain": a smooth photo with Gaussian noise of 15/255 has no common direction in
    its fine detail (streak coherence far below irtool.detect.STREAK_COHERENCE_MIN), so it goes to the noise route
    with the reason, and so does the same photo with fainter noise (6/255) whose floor reads below NOISE_FLOOR_MIN
    (no floor is asked of a rain call without streaks: a camera's colour noise leaves the luma floor low); the same
    photo with parallel rain streaks and noise that reads above NOISE_FLOOR_MIN keeps its rain call (its route is
    "keep" here: copied byte for byte), since streaks are what rain is. --detect-only reports the same decisions."""
    from irtool.degrade import synth
    from irtool.detect import NOISE_FLOOR_MIN, STREAK_COHERENCE_MIN, noise_floor, streak_coherence

    _catalog_with_detector_saying("rain", tmp_path, zoo, use_catalog, routes={"noise": "aio", "rain": "keep"})
    yy, xx = np.mgrid[0:96, 0:128]
    smooth = np.stack([0.3 + 0.4 * xx / 128, 0.5 + 0.2 * np.sin(yy / 20), 0.4 + 0.3 * yy / 96], axis=-1)
    noisy = np.clip(smooth + np.random.default_rng(4).normal(0, 15 / 255, smooth.shape), 0, 1)
    rainy = synth.add_rain(smooth, density=0.04, length=20.0, angle_deg=80.0, rng=np.random.default_rng(5))
    rainy = np.clip(rainy + np.random.default_rng(4).normal(0, 12 / 255, smooth.shape), 0, 1)
    faint = np.clip(smooth + np.random.default_rng(6).normal(0, 6 / 255, smooth.shape), 0, 1)
    (tmp_path / "in").mkdir()
    for name, pixels in (("noisy.png", noisy), ("rainy.png", rainy), ("faint.png", faint)):
        levels = (pixels * 255).round().astype(np.uint8)
        Image.fromarray(levels).save(tmp_path / "in" / name)
        as_read = torch.from_numpy(levels.astype(np.float32) / 255).permute(2, 0, 1)
        assert (noise_floor(as_read) > NOISE_FLOOR_MIN) == (name != "faint.png")
        assert (streak_coherence(as_read) > 2 * STREAK_COHERENCE_MIN) == (name == "rainy.png")
        assert (streak_coherence(as_read) < STREAK_COHERENCE_MIN / 2) == (name != "rainy.png")
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        rainy_record = records["rainy.png"]
        for speckled in (records["noisy.png"], records["faint.png"]):
            assert speckled["detected"]["type"] == "rain" and speckled["model"] == "aio"
            assert speckled["decided"] == "noise" and "no streaks" in speckled["note"]
        assert rainy_record["decided"] == "rain" and rainy_record["model"] == "copy" and not rainy_record["note"]
    assert (tmp_path / "out" / "rainy.png").read_bytes() == (tmp_path / "in" / "rainy.png").read_bytes()


def _dark_scenes(folder: Path, **extra: np.ndarray) -> dict[str, torch.Tensor]:
    """Save a darkened photo (``dark.png``: a gain and a gamma curve push its blacks to black) and a low-key scene as
    dim whose blacks are lifted (``low_key.png``: dark by nature), with any ``extra`` images, as 8-bit PNGs in
    ``folder``; return each as read back, ``[C, H, W]`` in [0, 1] (what the pixel tests measure)."""
    photo = 0.1 + 0.85 * _photo(64, 80, seed=6)
    images = {"dark.png": 0.3 * photo ** 2, "low_key.png": 0.08 + 0.25 * photo, **extra}
    folder.mkdir()
    for name, pixels in images.items():
        Image.fromarray((pixels * 255).round().astype(np.uint8)).save(folder / name)
    return {name: torch.from_numpy(np.asarray(Image.open(folder / name), np.float32) / 255).permute(2, 0, 1)
            for name in images}


def test_auto_brightens_an_image_called_blurred_whose_highlights_are_dim(tmp_path, zoo, use_catalog):
    """A detector that always says "blur": a photo darkened by a gain and a gamma curve (its brightest 1% far below
    irtool.detect.HIGHLIGHT_LEVEL_MAX, its darkest near black) goes to the low-light route with the reason; the
    photo itself follows the blur route ("keep" here: copied byte for byte), and so does a low-key scene as dim
    whose blacks are lifted (black point above irtool.detect.DIM_BLACK_POINT_MAX: dark by nature, not darkened).
    --detect-only reports the same decisions."""
    from irtool.detect import DIM_BLACK_POINT_MAX, HIGHLIGHT_LEVEL_MAX, black_point, highlight_level

    _catalog_with_detector_saying("blur", tmp_path, zoo, use_catalog, routes={"blur": "keep", "low-light": "aio"})
    as_read = _dark_scenes(tmp_path / "in", **{"photo.png": 0.1 + 0.85 * _photo(64, 80, seed=6)})
    levels = {name: highlight_level(image) for name, image in as_read.items()}
    blacks = {name: black_point(image) for name, image in as_read.items()}
    assert levels["photo.png"] > HIGHLIGHT_LEVEL_MAX > max(levels["dark.png"], levels["low_key.png"])
    assert blacks["dark.png"] < DIM_BLACK_POINT_MAX / 2 and blacks["low_key.png"] > 2 * DIM_BLACK_POINT_MAX
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        dim = records["dark.png"]
        for name in ("photo.png", "low_key.png"):
            kept = records[name]
            assert kept["detected"]["type"] == "blur" and kept["model"] == "copy" and kept["decided"] == "blur"
        assert not records["photo.png"]["note"]
        assert (f"reaches only {levels['low_key.png']:.0%} of white, but its darkest 1% sits at "
                f"{blacks['low_key.png']:.0%}") in records["low_key.png"]["note"]
        assert "dark by nature" in records["low_key.png"]["note"]
        assert dim["detected"]["type"] == "blur" and dim["model"] == "aio" and dim["decided"] == "low-light"
        assert f"brightest 1% reaches only {levels['dark.png']:.0%} of white: brightened" in dim["note"]
    for name in ("photo.png", "low_key.png"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "in" / name).read_bytes()


@pytest.mark.parametrize("severity", [0.1, 0.6])
def test_auto_brightens_a_slight_low_light_call_only_where_its_pixels_show_a_darkening(
        tmp_path, zoo, use_catalog, severity):
    """A detector that always says "low-light". Rated slight (severity below irtool.detect.SLIGHT_SEVERITY): a
    low-key scene whose blacks are lifted (black point above DIM_BLACK_POINT_MAX) is copied byte for byte as "copy
    (dark by nature)" with that reason; so is a dark scene whose blacks reach black but whose histogram shows no
    darkening curve (its curve applied before the 8-bit rounding, as a camera's is: tone gaps below TONE_GAPS_MIN);
    the same scene darkened by gamma 2.5 after it was stored in 8 bits (its highlight levels skip: tone gaps at or
    above TONE_GAPS_MIN) is brightened. Rated visible, all three are brightened. --detect-only reports the same
    decisions."""
    from irtool.detect import DIM_BLACK_POINT_MAX, SLIGHT_SEVERITY, TONE_GAPS_MIN, black_point, tone_gaps

    _catalog_with_detector_saying("low-light", tmp_path, zoo, use_catalog, routes={"low-light": "aio"},
                                  severity=severity)
    stored = np.round((0.1 + 0.85 * _photo(64, 80, seed=6)) * 255) / 255
    read = _dark_scenes(tmp_path / "in", **{"curved.png": stored ** 2.5})
    blacks = {name: black_point(image) for name, image in read.items()}
    gaps = {name: tone_gaps(image) for name, image in read.items()}
    assert max(blacks["dark.png"], blacks["curved.png"]) < DIM_BLACK_POINT_MAX / 1.5
    assert blacks["low_key.png"] > 2 * DIM_BLACK_POINT_MAX
    assert gaps["curved.png"] >= TONE_GAPS_MIN and not gaps["dark.png"] >= TONE_GAPS_MIN / 2
    slight = severity < SLIGHT_SEVERITY
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        dark, low_key, curved = records["dark.png"], records["low_key.png"], records["curved.png"]
        for record in (dark, low_key, curved):
            assert record["detected"]["type"] == "low-light"
            assert record["detected"]["severity"] == pytest.approx(severity, abs=1e-3)
        assert curved["model"] == "aio" and curved["decided"] == "low-light"
        if slight:
            for record in (dark, low_key):
                assert record["model"] == "copy (dark by nature)" and record["decided"] == "clean"
                assert f"rated slight ({severity:.2f})" in record["note"] and "left as it is" in record["note"]
            assert f"darkest 1% sits at {blacks['low_key.png']:.0%}" in low_key["note"]
            assert "histogram shows no darkening curve" in dark["note"]
        else:
            assert dark["model"] == low_key["model"] == "aio"
            assert dark["decided"] == low_key["decided"] == "low-light"
    for name in ("dark.png", "low_key.png"):
        copied = (tmp_path / "out" / name).read_bytes() == (tmp_path / "in" / name).read_bytes()
        assert copied == slight
    assert (tmp_path / "out" / "curved.png").read_bytes() != (tmp_path / "in" / "curved.png").read_bytes()


def test_auto_leaves_an_image_called_blurred_whose_edges_are_sharp_and_says_why(tmp_path, zoo, use_catalog):
    """A detector that always says "blur": a photo with step edges in every direction (edge sharpness far above
    irtool.detect.EDGE_SHARPNESS_MIN) is copied byte for byte as "copy (sharp)" with the reason; the same photo
    Gaussian-blurred goes to the blur route. --detect-only reports the same decision."""
    from PIL import ImageFilter

    _catalog_with_detector_saying("blur", tmp_path, zoo, use_catalog, routes={"blur": "aio"})
    sharp = _sharp_discs()
    (tmp_path / "in").mkdir()
    sharp.save(tmp_path / "in" / "sharp.png")
    sharp.filter(ImageFilter.GaussianBlur(2.5)).save(tmp_path / "in" / "soft.png")
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        kept, blurred = records["sharp.png"], records["soft.png"]
        assert kept["detected"]["type"] == "blur" and kept["model"] == "copy (sharp)" and kept["decided"] == "clean"
        assert "sharpest edges cross" in kept["note"] and "left as it is" in kept["note"]
        assert blurred["model"] == "aio"
    assert (tmp_path / "out" / "sharp.png").read_bytes() == (tmp_path / "in" / "sharp.png").read_bytes()


@pytest.mark.parametrize("severity", [0.2, 0.3])
def test_auto_leaves_a_photo_called_slightly_blurred_as_it_is(tmp_path, zoo, use_catalog, severity):
    """A detector that always says "blur": a soft photo rated below irtool.detect.SLIGHT_SEVERITY is copied byte for
    byte as "copy (slight blur)" with the severity in the note, rated above it, it goes to the blur route; an exact
    enlargement rated slight is still super-resolved (the enlargement search decides before the slight-call test).
    --detect-only reports the same decisions."""
    from PIL import ImageFilter

    from irtool.detect import SLIGHT_SEVERITY

    _catalog_with_detector_saying("blur", tmp_path, zoo, use_catalog, routes={"blur": "aio"}, severity=severity)
    (tmp_path / "in").mkdir()
    _sharp_discs().filter(ImageFilter.GaussianBlur(2.5)).save(tmp_path / "in" / "soft.png")
    _bilinear_enlargement().save(tmp_path / "in" / "enlarged.png")
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        record, enlarged = records["soft.png"], records["enlarged.png"]
        assert record["detected"]["type"] == "blur" and enlarged["detected"]["type"] == "blur"
        assert enlarged["model"] == "sr2" and enlarged["decided"] == "low-resolution"
        if severity < SLIGHT_SEVERITY:
            assert record["model"] == "copy (slight blur)" and record["decided"] == "clean"
            assert f"rated slight ({severity:.2f})" in record["note"] and "left as it is" in record["note"]
        else:
            assert record["model"] == "aio" and record["decided"] == "blur"
    if severity < SLIGHT_SEVERITY:
        assert (tmp_path / "out" / "soft.png").read_bytes() == (tmp_path / "in" / "soft.png").read_bytes()


@pytest.mark.parametrize("above", [False, True])
def test_auto_leaves_a_gray_photo_called_slightly_blurred_and_deblurs_a_colour_one(tmp_path, zoo, use_catalog, above):
    """A detector that always says "blur" at one severity (0.25 or more): below irtool.detect.GRAY_BLUR_SEVERITY_MIN,
    a soft gray photo is copied byte for byte as "copy (gray, slight blur)" with the reason, while the same soft photo
    in colour goes to the blur route; at the threshold the gray one is deblurred too. --detect-only reports the same
    decisions."""
    from PIL import ImageFilter

    from irtool.detect import GRAY_BLUR_SEVERITY_MIN, SLIGHT_SEVERITY

    severity = GRAY_BLUR_SEVERITY_MIN + (0.03 if above else -0.03)
    assert severity >= SLIGHT_SEVERITY
    _catalog_with_detector_saying("blur", tmp_path, zoo, use_catalog, routes={"blur": "aio"}, severity=severity)
    (tmp_path / "in").mkdir()
    soft = _sharp_discs().filter(ImageFilter.GaussianBlur(2.5))
    soft.save(tmp_path / "in" / "colour.png")
    soft.convert("L").save(tmp_path / "in" / "gray.png")
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        assert records["colour.png"]["model"] == "aio" and records["colour.png"]["decided"] == "blur"
        record = records["gray.png"]
        assert record["detected"]["type"] == "blur"
        if above:
            assert record["model"] == "aio" and record["decided"] == "blur"
        else:
            assert record["model"] == "copy (gray, slight blur)" and record["decided"] == "clean"
            assert "gray photo" in record["note"] and f"rated {severity:.2f}" in record["note"]
    if not above:
        assert (tmp_path / "out" / "gray.png").read_bytes() == (tmp_path / "in" / "gray.png").read_bytes()


@pytest.mark.parametrize(("shift", "kept"), [(0.1, True), (1.0, False)])
def test_auto_copies_an_image_the_routed_model_leaves_within_rounding(tmp_path, zoo, use_catalog, shift, kept):
    """A routed model whose output differs from the photo by less than 8-bit rounding noise (RMS at most
    irtool.restore.UNCHANGED_RMS, 1/sqrt(12) of a level) has found nothing to do: --auto copies the photo byte for
    byte as "copy (unchanged)", decided clean, and names the model and its change; a change of a whole level is
    written. The route is a U-shape Hi-IR whose last convolution adds only its bias to the input."""
    from irtool.restore import UNCHANGED_RMS

    _catalog_with_detector_saying("jpeg", tmp_path, zoo, use_catalog)
    network = build("hi_ir_unet_lite")
    with torch.no_grad():
        network.conv_last.weight.zero_()
        network.conv_last.bias.fill_(shift / 255)
    weights = tmp_path / "shifted.safetensors"
    save_safetensors(network.state_dict(), weights, metadata={"preset": "hi_ir_unet_lite"})
    src = _save(tmp_path / "in" / "photo.png", "RGB")
    report = tmp_path / "r.json"
    result = _invoke("restore", str(src), "-o", str(tmp_path / "out"), "--auto", "--route", f"jpeg={weights}",
                     "--json", str(report), "-q")
    assert result.exit_code == 0, result.output
    record = json.loads(report.read_text())["results"][0]
    assert record["detected"]["type"] == "jpeg"
    copied = (tmp_path / "out" / "photo.png").read_bytes() == src.read_bytes()
    assert copied == kept and (shift / 255 <= UNCHANGED_RMS) == kept
    if kept:
        assert record["model"] == "copy (unchanged)" and record["decided"] == "clean"
        assert f"shifted.safetensors changed it by {shift:.2f}/255 RMS" in record["note"]
    else:
        assert record["model"] == "shifted.safetensors" and record["decided"] == "jpeg"
        written = np.asarray(Image.open(tmp_path / "out" / "photo.png"), np.float32)
        assert np.abs(written - np.asarray(Image.open(src), np.float32)).mean() > 0.5


def test_auto_keeps_images_whose_route_is_keep(tmp_path, zoo, use_catalog):
    """A degradation routed to "keep" (no model improves it) is copied byte for byte, like a clean image."""
    _catalog_with_detector_saying("jpeg", tmp_path, zoo, use_catalog, routes={"jpeg": "keep"})
    src = _save(tmp_path / "in" / "photo.jpg", "RGB", fmt="JPEG")
    report = tmp_path / "r.json"
    result = _invoke("restore", str(src), "-o", str(tmp_path / "out"), "--auto", "--json", str(report), "-q")
    assert result.exit_code == 0, result.output
    rec = json.loads(report.read_text())["results"][0]
    assert rec["detected"]["type"] == "jpeg" and rec["model"] == "copy"
    assert (tmp_path / "out" / "photo.jpg").read_bytes() == src.read_bytes()


def test_min_confidence_copies_unsure_detections_and_restores_sure_ones(tmp_path, zoo, use_catalog):
    """--min-confidence: an image whose detection is below it is copied unchanged, and the report says why."""
    _catalog_with_detector_saying("jpeg", tmp_path, zoo, use_catalog, logit=1.0)  # confidence e / (e + 7) = 0.28
    src = _save(tmp_path / "in" / "photo.jpg", "RGB", fmt="JPEG")
    for threshold, model in (("0.5", "copy (unsure)"), ("0.2", "aio")):
        report = tmp_path / f"r{threshold}.json"
        out = tmp_path / f"out{threshold}"
        result = _invoke("restore", str(src), "-o", str(out), "--auto", "--min-confidence", threshold,
                         "--json", str(report), "-q")
        assert result.exit_code == 0, result.output
        rec = json.loads(report.read_text())["results"][0]
        assert rec["detected"]["type"] == "jpeg" and rec["detected"]["confidence"] == pytest.approx(0.2797, abs=1e-3)
        assert rec["model"] == model
        copied = (out / "photo.jpg").read_bytes() == src.read_bytes()
        assert copied == (model == "copy (unsure)")
    for args, message in ((["--auto", "--min-confidence", "1.5"], "must be in [0, 1]"),
                          (["--task", "denoise", "--min-confidence", "0.5"],
                           "min_confidence goes with auto (option --min-confidence)")):
        result = _invoke("restore", str(src), "-o", str(tmp_path / "bad"), *args, "-q")
        assert result.exit_code != 0 and message in result.output
        assert not (tmp_path / "bad").exists()


def test_detector_option_runs_a_trained_detector_checkpoint(tmp_path, zoo):
    """--detector FILE: --auto uses a detector straight out of `irtool train --task detect` (not in weights.toml)."""
    detector = build_giv_detector("res_hair_lite")
    with torch.no_grad():
        for p in detector.head.parameters():
            p.zero_()
        detector.head.type_logits.bias[DEGRADATION_TYPES.index("rain")] = 10.0
    trained = tmp_path / "final.safetensors"
    save_safetensors(detector.state_dict(), trained, metadata={"kind": "detector", "preset": "res_hair_lite"})
    src = _save(tmp_path / "in" / "photo.png", "RGB")
    report = tmp_path / "r.json"
    result = _invoke("restore", str(src), "-o", str(tmp_path / "out"), "--auto", "--detector", str(trained),
                     "--detect-only", "--json", str(report), "-q")
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["results"][0]["detected"]["type"] == "rain"
    for args, message in ((["--auto", "--detector", str(tmp_path / "missing.safetensors")], "no such file"),
                          (["--task", "denoise", "--detector", str(trained)],
                           "detector goes with auto (option --detector)")):
        result = _invoke("restore", str(src), "-o", str(tmp_path / "bad"), *args, "-q")
        assert result.exit_code != 0 and message in result.output, result.output
        assert not (tmp_path / "bad").exists()


def test_route_option_sends_a_degradation_to_a_weights_file_or_keeps_it(tmp_path, zoo, use_catalog):
    """--route TYPE=MODEL: --auto sends that degradation to a weights file (a model just trained, measured in place
    of the routed one) or an entry, or copies it with TYPE=keep; a bad route fails before any image is written."""
    _catalog_with_detector_saying("jpeg", tmp_path, zoo, use_catalog)
    torch.manual_seed(1)
    candidate = tmp_path / "runs" / "final.safetensors"
    candidate.parent.mkdir()
    save_safetensors(build("hi_ir_unet_lite").state_dict(), candidate, metadata={"preset": "hi_ir_unet_lite"})
    src = _save(tmp_path / "in" / "photo.png", "RGB")
    runs = {}
    for name, route, *extra in (("file", f"jpeg={candidate}"), ("keep", "jpeg=keep"), ("entry", "jpeg=sr2"),
                                ("other", "noise=keep"), ("detect", f"jpeg={candidate}", "--detect-only")):
        report = tmp_path / f"{name}.json"
        result = _invoke("restore", str(src), "-o", str(tmp_path / name), "--auto", "--route", route,
                         "--json", str(report), "-q", *extra)
        assert result.exit_code == 0, result.output
        runs[name] = json.loads(report.read_text())["results"][0]
    assert runs["file"]["model"] == "final.safetensors" and runs["keep"]["model"] == "copy"
    assert runs["detect"]["model"] == "final.safetensors"  # --detect-only names the route as a run would
    assert runs["entry"]["model"] == "sr2" and runs["other"]["model"] == "aio"  # jpeg keeps weights.toml's route
    assert (tmp_path / "keep" / "photo.png").read_bytes() == src.read_bytes()
    from irtool.zoo import EngineSettings, ModelZoo

    expected = ModelZoo(EngineSettings()).from_file(candidate).run_image(np.asarray(Image.open(src), np.float32) / 255)
    written = np.asarray(Image.open(tmp_path / "file" / "photo.png"), np.float32) / 255
    assert np.abs(written - expected).max() <= 0.5 / 255 + 1e-6
    for args, message in ((["--route", f"jpeg={tmp_path / 'missing.safetensors'}"], "no such file"),
                          (["--route", "fog=keep"], "'fog': not a degradation type"),
                          (["--route", "jpeg"], "write TYPE=MODEL"),
                          (["--route", "jpeg=keep", "--route", "jpeg=sr2"], "given twice"),
                          (["--route", "jpeg=nonesuch"], "nonesuch")):
        result = _invoke("restore", str(src), "-o", str(tmp_path / "bad"), "--auto", *args, "-q")
        assert result.exit_code != 0 and message in result.output, result.output
        assert not (tmp_path / "bad").exists()
    result = _invoke("restore", str(src), "-o", str(tmp_path / "bad"), "--task", "denoise", "--route", "jpeg=keep")
    assert result.exit_code != 0 and "route goes with auto" in result.output


def test_auto_brings_an_exact_enlargement_back_to_its_small_original_and_anything_else_by_bicubic():
    from irtool.degrade import imresize, quantize_uint8
    from irtool.restore import native_size

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:48]
    small = quantize_uint8(np.clip(0.5 + 0.3 * np.sin(xx / 3.0 + yy / 4.0)[:, :, None]
                                   + 0.1 * rng.random((40, 48, 3)), 0, 1).astype(np.float32))
    enlarged = quantize_uint8(imresize(small, 2.0))
    back = native_size(enlarged, 2)
    assert back.shape == small.shape and float(np.abs(back - small).mean()) < 0.5 / 255
    # A photo that is no enlargement (here: sharp noise) is downscaled as before.
    sharp = rng.random((80, 96, 3)).astype(np.float32)
    assert np.array_equal(native_size(sharp, 2), np.clip(imresize(sharp, output_shape=(40, 48)), 0, 1))
    # Sides that are not multiples of the factor: bicubic, the size rounded up.
    assert native_size(enlarged[:-1], 2).shape == (40, 48, 3)


@pytest.mark.parametrize("size", [(1, 1), (31, 200), (200, 12)])
def test_auto_copies_an_image_too_small_to_judge_and_says_why(tmp_path, size):
    """A 1x1 px image (or any side under 32 px) is not judged: it is copied byte for byte, with the reason in the
    report, and --detect-only reports the same without writing."""
    src = tmp_path / "in" / "tiny.png"
    src.parent.mkdir()
    Image.fromarray(np.full((size[1], size[0], 3), 77, np.uint8)).save(src)
    report = tmp_path / "r.json"
    result = _invoke("restore", str(src), "-o", str(tmp_path / "out"), "--auto", "--json", str(report), "-q")
    assert result.exit_code == 0, result.output
    rec = json.loads(report.read_text())["results"][0]
    assert rec["model"] == "copy (too small)" and rec["detected"] is None
    assert f"{size[0]}x{size[1]} px" in rec["note"] and "too small to judge" in rec["note"]
    assert (tmp_path / "out" / "tiny.png").read_bytes() == src.read_bytes()
    result = _invoke("restore", str(src), "-o", str(tmp_path / "out2"), "--detect-only", "--json", str(report), "-q")
    assert result.exit_code == 0 and not (tmp_path / "out2" / "tiny.png").exists()
    assert json.loads(report.read_text())["results"][0]["model"] == "copy (too small)"


def _labelled_folder(root: Path) -> Path:
    """clean/a.png and clean/b.png, noise/a__gauss.png (named by the file) and jpeg/x.png (named by a manifest)."""
    clean = {name: _photo(seed=seed) for seed, name in enumerate(("a", "b"))}
    for name, pixels in clean.items():
        (root / "clean").mkdir(parents=True, exist_ok=True)
        Image.fromarray((pixels * 255).round().astype(np.uint8)).save(root / "clean" / f"{name}.png")
    noisy = np.clip(clean["a"] + np.random.default_rng(5).normal(0, 0.1, clean["a"].shape), 0, 1)
    (root / "noise").mkdir()
    Image.fromarray((noisy * 255).round().astype(np.uint8)).save(root / "noise" / "a__gauss.png")
    (root / "jpeg").mkdir()
    Image.fromarray((clean["b"] * 255).round().astype(np.uint8)).save(root / "jpeg" / "x.jpg", quality=20)
    (root / "manifest.json").write_text(json.dumps({"files": [{"file": "jpeg/x.jpg", "photo": "b.png"}]}))
    return root


def test_eval_auto_scores_restore_auto_against_the_clean_originals(tmp_path, zoo, use_catalog):
    """`irtool eval --task auto`: every image goes through --auto; noise is restored (routed to the all-in-one
    model), jpeg is kept; each is scored against its own original (by file name or manifest)."""
    from irtool.evaluate.auto import evaluate_auto
    from irtool.metrics import psnr
    from irtool.restore import BatchRestorer, RestoreRequest

    _catalog_with_detector_saying("noise", tmp_path, zoo, use_catalog, routes={"noise": "aio", "jpeg": "keep"})
    root = _labelled_folder(tmp_path / "set")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    report = evaluate_auto(BatchRestorer(RestoreRequest(auto=True)), root)
    by_image = {s.image: s for s in report.samples}
    assert sorted(by_image) == ["clean/a.png", "clean/b.png", "jpeg/x.jpg", "noise/a__gauss.png"]
    jpeg = by_image["jpeg/x.jpg"]
    clean_b = np.asarray(Image.open(root / "clean" / "b.png"), np.float32) / 255
    decoded = np.asarray(Image.open(root / "jpeg" / "x.jpg").convert("RGB"), np.float32) / 255
    assert jpeg.psnr_input == pytest.approx(psnr(decoded, clean_b), abs=0.05)  # paired by the manifest
    noise = by_image["noise/a__gauss.png"]
    assert noise.detected == "noise" and noise.model == "aio" and not noise.unchanged and noise.setting == "gauss"
    assert noise.psnr_output != noise.psnr_input
    rows = {row["type"]: row for row in report.rows()}
    assert rows["clean"]["images"] == 2 and rows["clean"]["named"] == 0.0  # the detector says noise for all
    assert rows["noise"]["worse"] == int(noise.gain < -0.1)
    # At the best shift too: each image is scored at its own best displacement.
    from irtool.metrics import aligned_psnr

    again = BatchRestorer(RestoreRequest(auto=True))
    again.prepare()
    restored = again.auto_restore(np.asarray(Image.open(root / "noise" / "a__gauss.png"), np.float32) / 255).pixels
    clean_a = np.asarray(Image.open(root / "clean" / "a.png"), np.float32) / 255
    assert noise.psnr_output_aligned == pytest.approx(aligned_psnr(restored, clean_a)[0], abs=1e-6)
    assert rows["noise"]["aligned_worse"] == int(noise.aligned_gain < -0.1)
    assert noise.decided == "noise" and by_image["clean/a.png"].decided == "noise"  # no pixel test overruled it
    assert "| noise | 1 | 100% | 100% | 0% |" in report.to_markdown()
    assert "acted on the right type for 50.0% (1/2) of the degraded images and treated 0/2" in report.to_markdown()
    # The same calls as a confusion matrix: every image was called noise (the detector's labels are its columns).
    detection = report.detection()
    matrix = dict(zip(detection.types, detection.confusion().tolist()))
    noise_column = detection.types.index("noise")
    assert {t: row[noise_column] for t, row in matrix.items() if sum(row)} == {"clean": 2, "noise": 1, "jpeg": 1}
    assert detection.type_accuracy == 0.5 and detection.clean_accuracy == 0.0
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before  # inputs untouched

    result = _invoke("eval", "--task", "auto", "--data", str(root), "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "r.json").read_text())["auto"]
    assert saved["types"][0]["type"] == "clean" and saved["detection"]["type_accuracy"] == 0.5
    # --route: the same set with noise left as it is (how a candidate model is measured in a route's place).
    result = _invoke("eval", "--task", "auto", "--data", str(root), "--route", "noise=keep", "--json",
                     str(tmp_path / "kept.json"))
    assert result.exit_code == 0, result.output
    kept = {s["image"]: s for s in json.loads((tmp_path / "kept.json").read_text())["auto"]["samples"]}
    assert kept["noise/a__gauss.png"]["model"] == "copy" and kept["noise/a__gauss.png"]["unchanged"]
    result = _invoke("eval", "--task", "denoise", "--data", str(root / "clean"), "--route", "noise=keep")
    assert result.exit_code == 2 and "--route is for --task auto" in result.output


def test_eval_auto_refuses_folders_it_cannot_score(tmp_path, zoo, use_catalog):
    _catalog_with_detector_saying("noise", tmp_path, zoo, use_catalog)
    root = _labelled_folder(tmp_path / "set")
    (root / "clean" / "a.png").rename(root / "clean" / "gone.png")
    result = _invoke("eval", "--task", "auto", "--data", str(root))
    assert result.exit_code == 2 and "no clean original a.*" in result.output
    (root / "fog").mkdir()
    result = _invoke("eval", "--task", "auto", "--data", str(root))
    assert result.exit_code == 2 and "got fog" in result.output
    result = _invoke("eval", "--task", "auto", "--data", str(tmp_path / "set" / "noise"))
    assert result.exit_code == 2 and "no clean/ folder" in result.output
    result = _invoke("eval", "--task", "auto", "--data", str(root), "--sigma", "25")
    assert result.exit_code == 2 and "--sigma do not apply to --task auto" in result.output


class _ScriptedDetector:
    """Answers the given types in turn (the routing under test, not the detector, is what these tests check)."""

    name = "scripted"

    def __init__(self, *answers: str) -> None:
        self.answers, self.calls = list(answers), 0

    def detect(self, image):
        from irtool.detect import Detection

        self.calls += 1
        return Detection(type=self.answers.pop(0), severity=0.5, confidence=0.9)


@pytest.mark.parametrize("second, chained", [("noise", True), ("blur", False)])
def test_auto_judges_a_whole_image_correction_again_and_cleans_up_noise_it_revealed(
        tmp_path, zoo, use_catalog, second, chained):
    """Low light goes to a whole-image model; brightening reveals noise and JPEG artefacts, so --auto judges the
    corrected image again and sends those (only those) on to their own route."""
    from irtool.models import build
    from irtool.restore import UNCHANGED_RMS, BatchRestorer, RestoreRequest

    torch.manual_seed(0)
    grid = build("bilateral_grid_lite")
    with torch.no_grad():  # a freshly built grid is the identity, which --auto would copy as "unchanged"
        for parameter in grid.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    save_safetensors(grid.state_dict(), tmp_path / "grid.safetensors", metadata={"preset": "bilateral_grid_lite"})
    models = _zoo_models(zoo) | {"grid": {"preset": "bilateral_grid_lite", "tasks": ["lowlight"],
                                          "file": tmp_path / "grid.safetensors"}}
    use_catalog(write_catalog(tmp_path / "weights.toml", models, routes=ROUTES | {"low-light": "grid"},
                              detector="head"))
    restorer = BatchRestorer(RestoreRequest(auto=True))
    restorer.prepare()
    restorer._detector = scripted = _ScriptedDetector("low-light", second)
    dark = _photo() * 0.2
    outcome = restorer.auto_restore(dark)
    assert outcome.detection is not None and outcome.detection.type == "low-light" and scripted.calls == 2
    grid_only = restorer.zoo.from_entry("grid").run_image(dark)
    assert np.sqrt(np.mean((grid_only - dark) ** 2)) > 10 * UNCHANGED_RMS  # a visible correction
    if chained:
        assert outcome.model == "grid + aio" and outcome.note == f"then {second} (90%)"
        assert outcome.pixels is not None
        assert np.allclose(outcome.pixels, restorer.zoo.from_entry("aio").run_image(grid_only), atol=1e-6)
    else:
        assert outcome.model == "grid" and outcome.note is None
        assert outcome.pixels is not None and np.allclose(outcome.pixels, grid_only, atol=1e-6)

    # A tiled model's route is final: no second look.
    restorer._detector = scripted = _ScriptedDetector("noise", "noise")
    assert restorer.auto_restore(dark).model == "aio" and scripted.calls == 1


def _run_script(name: str, *args: str) -> str:
    """What ``scripts/NAME ARGS --threads 1`` prints, after checking it succeeded."""
    script = Path(__file__).resolve().parents[1] / "scripts" / name
    done = subprocess.run([sys.executable, str(script), *args, "--threads", "1"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _table_rows(printed: str) -> list[list[str]]:
    """The body rows (cells stripped) of the Markdown tables in ``printed``: no header or separator rows."""
    lines = [line for line in printed.splitlines() if line.startswith("|")]
    body = [line for i, line in enumerate(lines)
            if not line.startswith("| ---") and not (i + 1 < len(lines) and lines[i + 1].startswith("| ---"))]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in body]


def test_route_gain_scores_one_model_on_every_image_of_a_labelled_folder(tmp_path, zoo):
    """scripts/route_gain.py: what one model does to each labelled image, whatever the detector would say (the
    README's harm figures for a mis-routed image)."""
    from irtool.metrics import psnr

    root = _labelled_folder(tmp_path / "set")
    printed = _run_script("route_gain.py", "--weights", str(zoo / "aio.safetensors"), "--data", str(root))
    rows = {cells[0] + "/" + cells[1]: cells for cells in _table_rows(printed)}
    assert set(rows) == {"clean/-", "noise/gauss", "jpeg/-"}
    assert rows["clean/-"][2] == "2" and rows["clean/-"][7] == "2 changed"  # random weights change every image
    noisy = np.asarray(Image.open(root / "noise" / "a__gauss.png"), np.float32) / 255
    clean = np.asarray(Image.open(root / "clean" / "a.png"), np.float32) / 255
    assert float(rows["noise/gauss"][3]) == pytest.approx(psnr(noisy, clean), abs=0.01)


def test_enlargement_kernels_gain_scores_a_model_on_every_kernel_the_search_knows(tmp_path, zoo):
    """scripts/enlargement_kernels_gain.py: one crop per photo, shrunk and enlarged back by each kernel of
    ENLARGEMENT_KERNELS, the model's gain on each (docs/auto-history.md "Enlargements by every kernel the search
    knows")."""
    from irtool.degrade.enlargement import ENLARGEMENT_KERNELS

    yy, xx = np.mgrid[0:340, 0:530]
    photo = 0.5 + 0.25 * np.sin(xx / 2.3) * np.cos(yy / 3.1) + 0.1 * np.random.default_rng(0).random((340, 530))
    (tmp_path / "photos").mkdir()
    Image.fromarray(np.uint8(np.clip(photo, 0, 1)[..., None].repeat(3, 2) * 255)).save(tmp_path / "photos" / "a.png")
    crop = ("--crop", "120", "192")  # small crops keep the test fast; the default is 312 x 504
    printed = _run_script("enlargement_kernels_gain.py", "--weights", str(zoo / "aio.safetensors"), "--data",
                          str(tmp_path / "photos"), *crop)
    rows = {cells[0]: cells for cells in _table_rows(printed)}
    assert set(rows) == set(ENLARGEMENT_KERNELS) and all(row[1] == "1" for row in rows.values())
    # Bilinear interpolation is the softest of them: its enlargement lies furthest from the crop.
    assert float(rows["bilinear"][2]) < min(float(rows[k][2]) for k in ("bicubic", "lanczos3", "lanczos4"))

    # --small: an SR model on the small image of each shrinking kernel, against MATLAB-bicubic enlargement.
    printed = _run_script("enlargement_kernels_gain.py", "--weights", str(zoo / "sr2.safetensors"), "--data",
                          str(tmp_path / "photos"), "--small", *crop)
    rows = {cells[0]: cells for cells in _table_rows(printed)}
    assert set(rows) == {"matlab", "area", "bilinear", "bicubic", "lanczos"} and "shrunk x2" in printed
    # Pillow's antialiased bicubic is MATLAB's kernel: the same small image, up to the edges' padding.
    assert float(rows["bicubic"][2]) == pytest.approx(float(rows["matlab"][2]), abs=0.1)


# ------------------------------------------------------------------------- a new user's batch (issue #19)


def test_output_folder_inside_the_input_folder_is_never_read_as_input(tmp_path):
    for i in range(2):
        _save(tmp_path / "in" / f"{i}.png", "RGB", seed=i)
    out = tmp_path / "in" / "restored"
    reports = []
    for run in range(2):  # the second run must see the same two inputs, not the first run's outputs as well
        report = tmp_path / f"r{run}.json"
        result = _invoke("restore", str(tmp_path / "in"), "-o", str(out), "--model", "aio", "-q", "--json",
                         str(report))
        assert result.exit_code == 0, result.output
        reports.append(json.loads(report.read_text())["results"])
    assert [sorted(Path(r["input"]).name for r in rep) for rep in reports] == [["0.png", "1.png"]] * 2
    assert [r["status"] for r in reports[1]] == ["skipped", "skipped"]
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png"]


def test_files_of_the_input_folders_that_are_not_images_are_counted_not_silently_dropped(tmp_path):
    """A folder with a GIF, an iPhone HEIC and notes beside its photo: the batch restores the photo and says which
    files it left out (hidden files and the output folder inside the input folder are not counted); the JSON report
    lists them."""
    from irtool.io import other_files

    _save(tmp_path / "in" / "photo.png", "RGB")
    for name in ("clip.gif", "notes.txt", "sub/IMG_0001.HEIC", ".hidden.gif", "restored/old.txt"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(b"not read")
    out = tmp_path / "in" / "restored"
    expected = [tmp_path / "in" / name for name in ("clip.gif", "notes.txt", "sub/IMG_0001.HEIC")]
    assert other_files([str(tmp_path / "in")], exclude=(out,)) == sorted(p.absolute() for p in expected)
    assert other_files([str(tmp_path / "in" / "photo.png")]) == []  # a file named on its own says nothing
    report = tmp_path / "r.json"
    result = runner.invoke(app, ["restore", str(tmp_path / "in"), "-o", str(out), "--model", "aio", "--json",
                                 str(report)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert ("left out 3 files of the input folders that are not images irtool reads (.gif 1, .heic 1, .txt 1)"
            in result.output)
    saved = json.loads(report.read_text())
    assert [r["status"] for r in saved["results"]] == ["ok"]
    assert sorted(Path(p).name for p in saved["left_out"]) == ["IMG_0001.HEIC", "clip.gif", "notes.txt"]
    # A folder with no image at all says what it holds instead of "no inputs".
    result = _invoke("restore", str(tmp_path / "in" / "sub"), "-o", str(tmp_path / "o2"), "--model", "aio")
    assert result.exit_code == 2
    assert "no image irtool reads, only 1 other file (.heic 1); irtool reads PNG, JPEG" in result.output
    (tmp_path / "empty").mkdir()
    result = _invoke("restore", str(tmp_path / "empty"), "-o", str(tmp_path / "o2"), "--model", "aio")
    assert result.exit_code == 2 and "empty: no image files; irtool reads PNG" in result.output


def test_skipped_files_say_why_in_the_table_and_the_json(tmp_path):
    _save(tmp_path / "in" / "x.png", "RGB")
    out = tmp_path / "out"
    assert _invoke("restore", str(tmp_path / "in"), "-o", str(out), "--model", "aio", "-q").exit_code == 0
    report = tmp_path / "r.json"
    result = runner.invoke(app, ["restore", str(tmp_path / "in"), "-o", str(out), "--model", "aio", "--json",
                                 str(report)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "output exists; --overwrite to redo" in result.output
    (rec,) = json.loads(report.read_text())["results"]
    assert rec["status"] == "skipped" and rec["reason"] == "output exists; --overwrite to redo"


def test_a_missing_input_among_many_is_one_error_record_and_the_rest_run(tmp_path):
    _save(tmp_path / "in" / "a.png", "RGB")
    report = tmp_path / "r.json"
    result = _invoke("restore", str(tmp_path / "in"), str(tmp_path / "nope.png"), "-o", str(tmp_path / "out"),
                     "--model", "aio", "-q", "--json", str(report))
    assert result.exit_code == 1
    records = {Path(r["input"]).name: r for r in json.loads(report.read_text())["results"]}
    assert records["a.png"]["status"] == "ok" and (tmp_path / "out" / "a.png").is_file()
    assert records["nope.png"]["status"] == "error" and records["nope.png"]["reason"] == "no such file or folder"
    # Nothing to restore at all is a usage error, before any work.
    result = _invoke("restore", str(tmp_path / "nope.png"), "-o", str(tmp_path / "out2"), "--model", "aio")
    assert result.exit_code == 2 and "nope.png: no such file or folder" in result.output
    assert not (tmp_path / "out2").exists()


def test_a_value_given_to_a_flag_is_named_as_the_mistake(tmp_path):
    _save(tmp_path / "in" / "a.png", "RGB")
    report = tmp_path / "r.json"
    result = _invoke("restore", str(tmp_path / "in"), "--auto", "true", "-o", str(tmp_path / "out"), "-q",
                     "--json", str(report))
    assert result.exit_code == 1
    records = {Path(r["input"]).name: r for r in json.loads(report.read_text())["results"]}
    assert "take no value" in records["true"]["error"] and records["a.png"]["status"] == "ok"


def test_a_bad_file_is_one_line_with_its_path_once_and_a_plain_reason(tmp_path):
    good = _save(tmp_path / "in" / "good.png", "RGB")
    bad = tmp_path / "in" / "cut.png"
    bad.write_bytes(good.read_bytes()[:-300])
    result = runner.invoke(app, ["restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "aio"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("error ")]
    assert lines == [f"error {bad}: file is truncated"]


def test_results_go_to_stdout_and_do_not_wrap_when_piped(tmp_path, zoo):
    name = "a photo with a long name that would not fit in an eighty column table " * 2 + ".png"
    _save(tmp_path / "in" / name.replace(" .png", ".png"), "RGB")
    env = {**os.environ, "IRTOOL_WEIGHTS_TOML": str(zoo / "weights.toml"), "COLUMNS": "80"}
    proc = subprocess.run([sys.executable, "-m", "irtool", "restore", str(tmp_path / "in"), "-o",
                           str(tmp_path / "out"), "--model", "aio"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert name.replace(" .png", ".png") in proc.stdout  # whole, on one line
    assert "1 ok, 0 skipped, 0 failed" in proc.stdout and "irtool restore:" not in proc.stderr


def test_the_command_skips_teardown_yet_flushes_everything_and_keeps_its_exit_code(tmp_path, zoo):
    # `irtool restore` ends with os._exit once its outputs are closed (irtool.cli.skip_teardown): the piped
    # results, the JSON report, the outputs and the exit code of a batch with a bad file must all still arrive.
    good = _save(tmp_path / "in" / "good.png", "RGB")
    (tmp_path / "in" / "cut.png").write_bytes(good.read_bytes()[:-300])
    report = tmp_path / "r.json"
    env = {**os.environ, "IRTOOL_WEIGHTS_TOML": str(zoo / "weights.toml")}
    proc = subprocess.run([sys.executable, "-m", "irtool", "restore", str(tmp_path / "in"), "-o",
                           str(tmp_path / "out"), "--model", "aio", "--json", str(report)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.rstrip().endswith("1 ok, 0 skipped, 1 failed -> " + str(tmp_path / "out"))
    assert "cut.png: file is truncated" in proc.stderr
    statuses = {Path(r["input"]).name: r["status"] for r in json.loads(report.read_text())["results"]}
    assert statuses == {"good.png": "ok", "cut.png": "error"}
    with Image.open(tmp_path / "out" / "good.png") as im:
        im.load()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png"]


def test_the_command_under_a_profiler_exits_normally_so_the_profile_is_written(tmp_path, zoo):
    # A profiler (cProfile, coverage) writes its results in the interpreter's teardown, which the fast exit skips.
    _save(tmp_path / "in" / "a.png", "RGB")
    profile = tmp_path / "restore.prof"
    env = {**os.environ, "IRTOOL_WEIGHTS_TOML": str(zoo / "weights.toml")}
    proc = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "irtool", "restore",
                           str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "aio", "-q"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "a.png").is_file()
    import pstats

    assert any(function == "main" and filename.endswith("irtool/cli/__init__.py")
               for filename, _, function in pstats.Stats(str(profile)).stats)  # type: ignore[attr-defined]


def test_a_restore_run_in_process_does_not_end_a_later_command_line_run(tmp_path, zoo, monkeypatch):
    # A restore through CliRunner asks for the fast exit; a later call of the console entry point in the same
    # process (another command) must end with SystemExit as usual, not os._exit (which would end this test run).
    from irtool.cli import main

    _save(tmp_path / "in" / "a.png", "RGB")
    assert _invoke("restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "aio", "-q").exit_code == 0
    monkeypatch.setattr(sys, "argv", ["irtool", "download", "no-such-entry-anywhere"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2


def test_detect_only_says_nothing_was_written(tmp_path):
    _save(tmp_path / "in" / "a.png", "RGB")
    result = runner.invoke(app, ["restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--detect-only"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    summary = result.output.strip().splitlines()[-1]
    assert summary == "1 judged, 0 skipped, 0 failed (detections only, nothing written)"
    assert not (tmp_path / "out").exists()


def test_eval_without_a_model_scores_the_model_restore_would_use_and_says_so(tmp_path):
    _save(tmp_path / "hr" / "a.png", "RGB")
    out_json = tmp_path / "e.json"
    result = _invoke("eval", "--task", "denoise", "--data", str(tmp_path / "hr"), "--json", str(out_json))
    assert result.exit_code == 0, result.output
    assert "no --model given: evaluating aio" in result.output
    models = [s["model"] for s in json.loads(out_json.read_text())["reports"][0]["summary"]]
    assert models == ["input", "aio"]
    baseline = _invoke("eval", "--task", "denoise", "--data", str(tmp_path / "hr"), "--baseline-only", "--json",
                       str(out_json))
    assert baseline.exit_code == 0
    assert [s["model"] for s in json.loads(out_json.read_text())["reports"][0]["summary"]] == ["input"]


def test_auto_brightens_an_image_called_clean_whose_highlights_skip_levels_after_a_darkening_curve(
        tmp_path, zoo, use_catalog):
    """A detector that always says "clean": a photo darkened by gamma 2.5 after it was stored in 8 bits (white stays
    white, so its highlights are not dim, but every other highlight level is empty: irtool.detect.tone_gaps) goes to
    the low-light route with the reason; the same scene with the curve applied before the rounding, as a camera
    applies its own, has no gaps and is copied byte for byte. --detect-only reports the same decisions."""
    from irtool.detect import HIGHLIGHT_LEVEL_MAX, TONE_GAPS_MIN, highlight_level, tone_gaps

    _catalog_with_detector_saying("clean", tmp_path, zoo, use_catalog, routes={"low-light": "aio"})
    y, x = np.mgrid[0:120, 0:160] / np.array([119.0, 159.0])[:, None, None]
    scene = np.stack([0.5 * x + 0.5 * y, 0.45 * x + 0.45 * y + 0.05 * np.sin(7 * x), 0.5 * x[:, ::-1] + 0.5 * y], -1)
    stored = np.round(np.clip(scene, 0, 1) * 255) / 255
    (tmp_path / "in").mkdir()
    for name, pixels in {"curved.png": stored ** 2.5, "camera.png": np.clip(scene, 0, 1) ** 2.5}.items():
        Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(tmp_path / "in" / name)
    read = {name: torch.from_numpy(np.asarray(Image.open(tmp_path / "in" / name), np.float32) / 255).permute(2, 0, 1)
            for name in ("curved.png", "camera.png")}
    assert min(highlight_level(image) for image in read.values()) > HIGHLIGHT_LEVEL_MAX
    share = tone_gaps(read["curved.png"])
    assert share >= TONE_GAPS_MIN > 10 * tone_gaps(read["camera.png"])
    for records in _auto_records_with_and_without_detect_only(tmp_path):
        curved, camera = records["curved.png"], records["camera.png"]
        assert curved["detected"]["type"] == camera["detected"]["type"] == "clean"
        assert curved["model"] == "aio" and curved["decided"] == "low-light"
        assert f"{share:.0%} of the levels among its highlights are empty" in curved["note"]
        assert camera["model"] == "copy" and camera["decided"] == "clean"
    assert (tmp_path / "out" / "camera.png").read_bytes() == (tmp_path / "in" / "camera.png").read_bytes()
    assert (tmp_path / "out" / "curved.png").read_bytes() != (tmp_path / "in" / "curved.png").read_bytes()
