"""[routes] preference lists: --auto uses the first present entry and says what it passed over, `irtool models` shows
each route's choice, `irtool download --routes` fetches the preferred entries (through the loopback hub); the
shipped hub entries' pins and licences; official HAIR and Restormer files read without --arch; one clear line when a
file needs spandrel and it is missing. Needs no spandrel."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch
from checkpoint_files import check_restores_like_the_network, save_official
from hub_server import HubServer
from synthetic import photo, write_catalog, write_detector_saying, write_images
from typer.testing import CliRunner

from irtool.cli import app
from irtool.models import build, preset_names
from irtool.models.recognise import preset_signature, recognise_preset
from irtool.restore import RestoreRequest, restore_paths
from irtool.weights import load_catalog, parse_catalog
from irtool.weights.checkpoints import save_safetensors, strip_prefixes
from irtool.weights.routes import choose_route, preferred_downloads

pytestmark = pytest.mark.usefixtures("one_thread")

REV = "0123456789abcdef0123456789abcdef01234567"
DATA = Path(__file__).resolve().parent / "data"


def _weights_bytes(preset: str, seed: int, path: Path) -> bytes:
    torch.manual_seed(seed)
    save_safetensors(build(preset).state_dict(), path, metadata={"preset": preset})
    return path.read_bytes()


@pytest.fixture
def routed(tmp_path, use_catalog, monkeypatch):
    """A catalog whose detector always says "low-resolution", routed to ["big" (a hub entry), "sr2" (bundled)], with
    an empty hub cache; returns the hub file's bytes (for the loopback hub) and an input folder."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    big = _weights_bytes("hi_ir_sr2_lite", 1, tmp_path / "big.safetensors")
    _weights_bytes("hi_ir_sr2_lite", 2, tmp_path / "sr2.safetensors")
    _weights_bytes("res_hair_lite", 3, tmp_path / "aio.safetensors")
    models = {
        "big": {"preset": "hi_ir_sr2_lite", "tasks": ["sr2"], "repo_id": "irtool-test/big",
                "filename": "big.safetensors", "revision": REV, "sha256": hashlib.sha256(big).hexdigest(),
                "license": "MIT"},
        "sr2": {"preset": "hi_ir_sr2_lite", "tasks": ["sr2"], "file": tmp_path / "sr2.safetensors"},
        "aio": {"preset": "res_hair_lite", "tasks": ["all"], "file": tmp_path / "aio.safetensors"},
        "head": {"preset": "res_hair_lite", "kind": "detector", "tasks": ["detect"],
                 "file": write_detector_saying("low-resolution", tmp_path / "head.safetensors")},
    }
    use_catalog(write_catalog(tmp_path / "weights.toml", models, routes={"low-resolution": ["big", "sr2"],
                                                                         "fallback": "aio"}, detector="head"))
    return big, write_images(tmp_path / "in", {"soft.png": photo(40, 48)})


def _auto(folder: Path, out: Path):
    summary = restore_paths([str(folder)], out, RestoreRequest(auto=True))
    assert summary.exit_code == 0
    return summary.records[0]


def test_a_bundled_model_whose_bytes_changed_is_called_damaged_not_missing_and_is_kept(routed, tmp_path):
    import dataclasses

    from irtool.weights.routes import why_unusable

    entry = load_catalog().get("sr2")
    assert why_unusable(entry) is None
    pinned_elsewhere = dataclasses.replace(entry, sha256=hashlib.sha256(b"other bytes").hexdigest())
    assert why_unusable(pinned_elsewhere) == "damaged (its sha256 differs from weights.toml)"
    assert (tmp_path / "sr2.safetensors").is_file()


def test_a_missing_preferred_model_falls_back_and_the_report_and_models_say_so(routed, tmp_path, monkeypatch):
    _, folder = routed
    choice = choose_route(load_catalog(), "low-resolution")
    assert (choice.used, choice.missing, choice.preferences) == ("sr2", ("big",), ("big", "sr2", "aio"))
    record = _auto(folder, tmp_path / "out")
    assert record.detected.type == "low-resolution" and record.model == "sr2"
    assert record.note == "big not downloaded; used sr2"

    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["models", "--no-weights"])
    assert result.exit_code == 0 and "Routes" not in result.output
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if " low-resolution " in line)
    assert row.split()[1:6] == ["low-resolution", "│", "sr2", "│", "big"] and "big (not downloaded) > sr2 > aio" in row


def test_a_downloaded_model_of_another_architecture_is_passed_over_while_spandrel_is_missing(routed, tmp_path,
                                                                                            use_catalog, monkeypatch):
    import irtool.foreign_names

    monkeypatch.setattr(irtool.foreign_names, "spandrel_installed", lambda: False)
    weights = save_official(torch.nn.Conv2d(3, 3, 3), tmp_path / "other.pth")
    catalog = load_catalog()
    models = {name: {"preset": e.preset, "tasks": list(e.tasks), "kind": e.kind, "file": e.bundled_path}
              for name, e in catalog.entries.items() if e.bundled}
    models["other"] = {"preset": "spandrel:SwinIR", "tasks": ["sr2"], "file": weights}
    use_catalog(write_catalog(tmp_path / "w2.toml", models, routes={"low-resolution": ["other", "sr2"],
                                                                     "fallback": "aio"}, detector="head"))
    choice = choose_route(load_catalog(), "low-resolution")
    assert (choice.used, choice.missing, choice.reasons) == ("sr2", ("other",), ("needs spandrel",))
    record = _auto(routed[1], tmp_path / "out")
    assert (record.model, record.note) == ("sr2", "other needs spandrel; used sr2")


def test_download_routes_fetches_the_preferred_models_and_auto_then_uses_them(routed, tmp_path, monkeypatch):
    big, folder = routed
    assert [e.name for e in preferred_downloads(load_catalog())] == ["big"]
    with HubServer() as hub:
        hub.add("irtool-test/big", REV, "big.safetensors", big)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = CliRunner().invoke(app, ["download", "--routes"])
        assert result.exit_code == 0, result.output
        assert "ok big" in result.output and [p for m, p in hub.requests if m == "GET"]
    cached = list((tmp_path / "hf").rglob("big.safetensors"))
    assert cached and cached[0].read_bytes() == big
    choice = choose_route(load_catalog(), "low-resolution")
    assert (choice.used, choice.missing, choice.note) == ("big", (), None)
    record = _auto(folder, tmp_path / "out")
    assert record.model == "big" and record.note is None


def test_the_shipped_hub_entries_are_pinned_hashed_licensed_and_every_route_works_offline():
    catalog = load_catalog()
    hub = [e for e in catalog.entries.values() if not e.bundled]
    assert {"swinir_x2", "swinir_x4", "nafnet_sidd_width64", "nafnet_gopro_width64"} <= {e.name for e in hub}
    for entry in hub:
        assert entry.revision and len(entry.revision) == 40 and int(entry.revision, 16) >= 0, entry.name
        assert entry.sha256 and len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0, entry.name
        assert entry.license and entry.license != "unknown", entry.name
        assert entry.non_commercial == ("non-commercial" in entry.license.lower()), entry.name
        assert entry.preset in preset_names() or entry.preset.startswith("spandrel:"), entry.name
    assert catalog.get("restormer_real_denoise").non_commercial
    for kind in catalog.routes:  # with no hub file downloaded, every route still has a bundled model (or "keep")
        choice = choose_route(catalog, kind, unusable=lambda entry: None if entry.bundled else "not downloaded")
        assert choice.used is not None, kind
        assert all(not catalog.get(name).bundled for name in choice.missing), kind
    assert [catalog.get(n).bundled for n in catalog.routes["noise"]] == [False, True, True]  # the hub model first


_HUB = """
[models.a]
preset = "hi_ir_sr2_lite"
tasks = ["sr2"]
file = "a.safetensors"

[models.b]
preset = "spandrel:SwinIR"
tasks = ["sr2"]
repo_id = "x/y"
filename = "b.pth"
revision = "0123456789abcdef0123456789abcdef01234567"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
license = "Apache-2.0"

[routes]
"low-resolution" = ["b", "a"]
"""


@pytest.mark.parametrize("change, message", [
    (('revision = "0123456789abcdef0123456789abcdef01234567"', 'revision = "main"'), "full commit hash"),
    (('sha256 = "' + "0" * 64 + '"\n', ""), "needs its 'sha256' and its 'license'"),
    (('license = "Apache-2.0"\n', ""), "needs its 'sha256' and its 'license'"),
    (('sha256 = "' + "0" * 64, 'sha256 = "' + "0" * 63), "64 lowercase hex"),
    (('license = "Apache-2.0"', 'license = "x"\nnon_commercial = "yes"'), "non_commercial must be true or false"),
    (('["b", "a"]', '["keep", "a"]'), "can only be last"),
    (('["b", "a"]', '["b", "b"]'), "distinct entry names"),
    (('["b", "a"]', "[]"), "distinct entry names"),
    (('["b", "a"]', '["b", "zzz"]'), "unknown entry 'zzz'"),
])
def test_catalog_rejects_unpinned_unhashed_unlicensed_entries_and_bad_route_lists(change, message):
    from irtool.errors import UsageError

    good = parse_catalog(_HUB, path=Path("w.toml"))
    assert good.routes["low-resolution"] == ("b", "a") and good.get("b").license == "Apache-2.0"
    assert _HUB.count(change[0]) == 1
    with pytest.raises(UsageError, match=message):
        parse_catalog(_HUB.replace(*change), path=Path("w.toml"))


def test_official_hair_and_restormer_layouts_are_recognised_by_their_tensors():
    """Every preset has its own tensor signature; the official HAIR manifest (toummHus/HAIR's names and shapes)
    is res_hair, Restormer's with-bias and bias-free LayerNorm files are told apart."""
    assert len({preset_signature(name) for name in preset_names()}) == len(preset_names())
    manifest = json.loads((DATA / "hair_official_state_dict.json").read_text())["tensors"]
    hair_ckpt = {f"net.{k}": torch.empty(shape, device="meta") for k, shape in manifest.items()}
    assert recognise_preset(strip_prefixes(hair_ckpt)).name == "res_hair"
    for name in ("restormer", "restormer_biasfree", "hi_ir_sr4_lite"):
        with torch.device("meta"):
            sd = build(name).state_dict()
        assert recognise_preset(sd).name == name
        assert recognise_preset(dict(list(sd.items())[:-1])) is None  # one tensor short: no preset's


@pytest.mark.parametrize("preset, wrapper, prefix, suffix", [
    ("restormer_lite", "params", "", ".pth"),  # Restormer's release layout: {'params': sd}
    ("res_hair_lite", "state_dict", "net.", ".ckpt"),  # HAIR's Lightning checkpoint: {'state_dict': {'net.…': …}}
])
def test_official_zoo_layouts_restore_without_arch_as_their_network_does(tmp_path, preset, wrapper, prefix, suffix):
    """The lite presets in the official files' layouts take the same path as the full-size files (recognised by
    their tensors, above) at a fraction of the time."""
    torch.manual_seed(0)
    module = build(preset).eval()
    weights = save_official(module, tmp_path / f"official{suffix}", wrapper=wrapper, prefix=prefix)
    check_restores_like_the_network(weights, module, tmp_path, expect_preset=preset)


def test_a_file_of_another_architecture_without_spandrel_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "spandrel", None)  # `import spandrel` now fails as if it were not installed
    weights = tmp_path / "x.pth"
    torch.save({"params": {"conv_first.weight": torch.zeros(8, 3, 3, 3)}}, weights)
    folder = write_images(tmp_path / "in", {"a.png": photo(16, 16)})
    result = CliRunner().invoke(app, ["restore", str(folder), "-o", str(tmp_path / "out"), "--weights", str(weights)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ['error: x.pth is not one of irtool\'s architectures; reading other architectures needs '
                     'spandrel: pip install "irtool[spandrel]"'], result.output
