"""weights.toml catalog validation, checkpoint reading/conversion, export into the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from irtool.errors import InvalidArgumentError, UsageError
from irtool.train.export import entry_block, replace_block
from irtool.weights.catalog import load_catalog, parse_catalog
from irtool.weights.checkpoints import load_into, read_checkpoint, save_safetensors

GOOD = """
[models.a]
preset = "res_hair_lite"
tasks = ["all", "denoise"]
file = "a.safetensors"

[models.b]
preset = "hi_ir_sr2_lite"
tasks = ["sr2"]
repo_id = "x/y"
filename = "b.safetensors"
revision = "0123456789abcdef0123456789abcdef01234567"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
license = "MIT"

[routes]
noise = "a"
fallback = "a"
"""


def test_the_shipped_catalog_loads():
    catalog = load_catalog()
    assert catalog.entries, "weights.toml lists no entries"
    from irtool.models import preset_names

    for entry in catalog.entries.values():
        assert entry.bundled or (entry.revision and len(entry.revision) == 40)
        assert entry.preset in preset_names() or entry.preset.startswith("spandrel:"), entry.name


def test_catalog_parses_and_orders_specialists_first():
    cat = parse_catalog(GOOD, path=Path("w.toml"))
    assert cat.routes["noise"] == ("a",)
    assert [e.name for e in cat.for_task("sr2")] == ["b"]
    assert [e.name for e in cat.for_task("denoise")] == ["a"]


@pytest.mark.parametrize(
    "bad, message",
    [
        (GOOD.replace('tasks = ["sr2"]', 'tasks = ["sr5"]'), "unknown task"),
        (GOOD.replace('file = "a.safetensors"', 'file = "a.safetensors"\nrepo_id = "q/r"'), "exactly one"),
        (GOOD.replace('revision = "0123456789abcdef0123456789abcdef01234567"\n', ""), "pinned 'revision'"),
        (GOOD.replace('noise = "a"', 'noise = "zzz"'), "unknown entry"),
        (GOOD.replace('preset = "res_hair_lite"', 'preset = "res_hair_lite"\nsha = "1"'), "unknown field"),
        ("[models.a\n", "invalid TOML"),
    ],
)
def test_catalog_rejects_mistakes_with_a_clear_message(bad, message):
    with pytest.raises(UsageError, match=message):
        parse_catalog(bad, path=Path("w.toml"))


def test_unknown_entry_suggests_close_names():
    cat = parse_catalog(GOOD, path=Path("w.toml"))
    with pytest.raises(UsageError, match="did you mean a"):
        cat.get("aa")


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.norm = nn.LayerNorm(3)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,
        lambda sd: {"params": sd},  # official Restormer .pth
        lambda sd: {"params_ema": sd, "params": {k: v * 0 for k, v in sd.items()}},  # EMA preferred
        lambda sd: {"state_dict": {f"net.{k}": v for k, v in sd.items()}, "epoch": 3},  # HAIR Lightning .ckpt
        lambda sd: {f"module.{k}": v for k, v in sd.items()},  # DDP
    ],
)
def test_official_checkpoint_layouts_load(tmp_path, wrap):
    torch.manual_seed(0)
    src = Tiny()
    path = tmp_path / "w.pth"
    torch.save(wrap(src.state_dict()), path)
    sd, _ = read_checkpoint(path)
    dst = load_into(Tiny(), sd, source=path.name)
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)


def test_safetensors_round_trip_keeps_metadata(tmp_path):
    src = Tiny()
    sha = save_safetensors(src.state_dict(), tmp_path / "w.safetensors", metadata={"preset": "tiny"})
    assert len(sha) == 64
    sd, meta = read_checkpoint(tmp_path / "w.safetensors")
    assert meta["preset"] == "tiny"
    assert all(torch.equal(sd[k], v) for k, v in src.state_dict().items())
    assert not list(tmp_path.glob(".*tmp"))


def test_mismatched_checkpoint_error_names_the_problem(tmp_path):
    sd = Tiny().state_dict()
    sd["conv.weight"] = torch.zeros(4, 3, 3, 3)
    sd["extra"] = torch.zeros(1)
    del sd["norm.bias"]
    with pytest.raises(InvalidArgumentError, match=r"1 missing \(e.g. norm.bias\).*1 unexpected.*1 shape mismatches"):
        load_into(Tiny(), sd, source="x.pth")


def test_garbage_checkpoint_is_an_invalid_argument(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(InvalidArgumentError, match="cannot read checkpoint"):
        read_checkpoint(bad)
    bad2 = tmp_path / "bad.safetensors"
    bad2.write_bytes(b"\x00" * 3)
    with pytest.raises(InvalidArgumentError, match="safetensors"):
        read_checkpoint(bad2)


def test_export_block_replacement_keeps_the_rest_of_the_file():
    text = "# header comment\n" + GOOD
    block = entry_block("a", {"preset": "res_hair_lite", "tasks": ["all"], "file": "a2.safetensors",
                              "measured": {"psnr sigma25": 30.5, "command": "irtool eval ..."}})
    new = replace_block(text, "a", block)
    cat = parse_catalog(new, path=Path("w.toml"))
    assert cat.get("a").file == "a2.safetensors"
    assert cat.get("a").measured["psnr sigma25"] == 30.5
    assert cat.get("b").repo_id == "x/y" and cat.routes["noise"] == ("a",)
    assert new.startswith("# header comment")
    appended = replace_block(new, "c", entry_block("c", {"preset": "p", "tasks": ["jpeg"], "file": "c.safetensors"}))
    assert parse_catalog(appended, path=Path("w.toml")).get("c").tasks == ("jpeg",)


def test_models_shows_every_name_whole_on_an_80_column_terminal(monkeypatch):
    # Names are what users type after --model / --preset: a table must never cut them.
    from typer.testing import CliRunner

    from irtool.cli import app
    from irtool.models import preset_names

    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in [*load_catalog().entries, *preset_names()]:
        assert any(f" {name} " in line for line in lines), name


def test_export_block_keeps_small_numbers_exactly():
    # A learning rate of 2e-5 must not be written as 0.0000.
    block = entry_block("a", {"preset": "p", "tasks": ["all"], "file": "a.safetensors",
                              "training": {"recipe_lr": 2e-5, "command": 'irtool train --name "x"'}})
    entry = parse_catalog(block, path=Path("w.toml")).get("a")
    assert entry.training["recipe_lr"] == 2e-5 and entry.training["command"] == 'irtool train --name "x"'


def _entry_for(tmp_path: Path, body: bytes):
    import hashlib

    from irtool.weights import WeightsEntry

    weights = tmp_path / "w.safetensors"
    weights.write_bytes(body)
    return WeightsEntry(name="w", preset="res_hair_lite", tasks=("all",), file=str(weights),
                        sha256=hashlib.sha256(body).hexdigest()), weights


def test_a_weights_file_is_hashed_once_per_process_until_it_changes(tmp_path, monkeypatch):
    import os

    from irtool.errors import ChecksumError
    from irtool.weights import entry_path, hashing, is_present

    hashed: list[str] = []
    real = hashing.sha256_file
    monkeypatch.setattr(hashing, "sha256_file", lambda path: hashed.append(str(path)) or real(path))
    entry, weights = _entry_for(tmp_path, b"weights " * 1000)
    assert is_present(entry) and entry_path(entry) == weights and is_present(entry)
    assert hashed == [str(weights.resolve())]
    # Same size, other bytes, a new modification time: hashed again, and the mismatch is caught.
    stat = weights.stat()
    weights.write_bytes(b"WEIGHTS " * 1000)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(ChecksumError, match="sha256 mismatch.*differs from weights.toml; reinstall irtool"):
        entry_path(entry)
    assert not is_present(entry) and len(hashed) == 2
    assert weights.read_bytes() == b"WEIGHTS " * 1000  # a bundled file is reported, never deleted
