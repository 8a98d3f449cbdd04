"""Benchmark fetching through the loopback Hub: pinned revision, sha256 check, safe atomic extraction."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hub_server import HubServer
from PIL import Image

from irtool.errors import InputError
from irtool.evaluate import benchmark_dataset, evaluate, extract_archive

REPO = "irtool-test/tinybench"
REV = "fedcba9876543210fedcba9876543210fedcba98"


def _png(seed: int, h: int, w: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
    return buf.getvalue()


HR_TAR = _tar_gz({"Tiny_HR/a.png": _png(0, 32, 32), "Tiny_HR/b.png": _png(1, 24, 32)})
LR_TAR = _tar_gz({"Tiny_LR_x2/a.png": _png(2, 16, 16), "Tiny_LR_x2/b.png": _png(3, 12, 16)})


def _registry(tmp_path: Path, hr_sha: str) -> Path:
    path = tmp_path / "benchmarks.toml"
    path.write_text(
        f"""
[benchmarks.tinybench]
title = "Tiny"
tasks = ["sr2", "denoise"]
hub = true
repo_id = "{REPO}"
revision = "{REV}"
gt = "Tiny_HR"
lr = {{ sr2 = "Tiny_LR_x2" }}
files = [
  {{ path = "data/Tiny_HR.tar.gz", sha256 = "{hr_sha}" }},
  {{ path = "data/Tiny_LR_x2.tar.gz" }},
]
""",
        encoding="utf-8",
    )
    return path


def _env(tmp_path: Path, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE", "IRTOOL_"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=endpoint, IRTOOL_DATA=str(tmp_path / "data"),
               IRTOOL_BENCHMARKS_TOML=str(tmp_path / "benchmarks.toml"), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_ETAG_TIMEOUT="5", HF_HUB_DOWNLOAD_TIMEOUT="5")
    return env


def _download(tmp_path: Path, endpoint: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "irtool", "download", "--bench", "tinybench"], capture_output=True,
                          text=True, env=_env(tmp_path, endpoint), timeout=120)


def test_fetch_extracts_the_registry_layout_and_eval_uses_it(tmp_path, monkeypatch):
    _registry(tmp_path, hashlib.sha256(HR_TAR).hexdigest())
    with HubServer() as hub:
        hub.add(REPO, REV, "data/Tiny_HR.tar.gz", HR_TAR)
        hub.add(REPO, REV, "data/Tiny_LR_x2.tar.gz", LR_TAR)
        proc = _download(tmp_path, hub.url)
        assert proc.returncode == 0, proc.stderr
        root = tmp_path / "data" / "tinybench" / REV
        assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png")) == [
            "Tiny_HR/a.png", "Tiny_HR/b.png", "Tiny_LR_x2/a.png", "Tiny_LR_x2/b.png"]
        manifest = json.loads((root / ".irtool-benchmark.json").read_text())
        assert manifest["revision"] == REV
        assert all(f"/resolve/{REV}/" in path for _, path in hub.requests)  # only the pinned revision is asked for
        assert not [p for p in root.parent.iterdir() if p.name != REV]  # no leftover staging folder
        # A second fetch finds the complete copy and does not touch the network.
        count = len(hub.requests)
        assert _download(tmp_path, hub.url).returncode == 0
        assert len(hub.requests) == count

    # Eval reads the local copy (in-process; the registry and data folder come from the environment).
    monkeypatch.setenv("IRTOOL_BENCHMARKS_TOML", str(tmp_path / "benchmarks.toml"))
    monkeypatch.setenv("IRTOOL_DATA", str(tmp_path / "data"))
    dataset = benchmark_dataset("tinybench", "sr2")
    assert dataset.lq_source == "files" and len(dataset) == 2
    report = evaluate([None], dataset, None, task="sr2")
    assert report.source == f"{REPO}@{REV}" and len(report.images) == 2
    assert benchmark_dataset("tinybench", "denoise").lq_source == "synthesised"


def test_tampered_archive_fails_with_the_checksum_error_and_extracts_nothing(tmp_path):
    _registry(tmp_path, hashlib.sha256(HR_TAR).hexdigest())
    tampered = bytearray(HR_TAR)
    tampered[-5] ^= 0xFF
    with HubServer() as hub:
        hub.add(REPO, REV, "data/Tiny_HR.tar.gz", bytes(tampered))
        hub.add(REPO, REV, "data/Tiny_LR_x2.tar.gz", LR_TAR)
        proc = _download(tmp_path, hub.url)
    assert proc.returncode == 5, proc.stderr
    assert "sha256 mismatch" in proc.stderr
    assert not (tmp_path / "data" / "tinybench" / REV).exists()


def test_eval_before_download_says_how_to_get_it(tmp_path):
    _registry(tmp_path, "0" * 64)
    env = _env(tmp_path, "http://127.0.0.1:9")
    proc = subprocess.run([sys.executable, "-m", "irtool", "eval", "--bench", "tinybench", "--task", "sr2"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 3
    assert "irtool download --bench tinybench" in proc.stderr


@pytest.mark.parametrize("member", ["../evil.png", "/tmp/evil.png", "ok/../../evil.png"])
def test_path_traversal_members_are_refused(tmp_path, member):
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tar_gz({"fine/a.png": b"x", member: b"evil"}))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InputError, match="outside"):
        extract_archive(archive, dest)
    assert list(dest.iterdir()) == []  # checked before anything is written
    assert not (tmp_path / "evil.png").exists()

    zipped = tmp_path / "bad.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("fine/a.png", b"x")
        zf.writestr(member, b"evil")
    with pytest.raises(InputError, match="outside"):
        extract_archive(zipped, dest)
    assert list(dest.iterdir()) == []


def test_links_in_archives_are_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        link = tarfile.TarInfo("data/link.png")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    archive = tmp_path / "link.tar.gz"
    archive.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="link"):
        extract_archive(archive, tmp_path / "out")


def test_zip_archives_extract_with_nested_folders(tmp_path):
    zipped = tmp_path / "lol.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("lol_dataset/eval15/low/1.png", _png(5, 16, 16))
        zf.writestr("lol_dataset/eval15/high/1.png", _png(6, 16, 16))
    extract_archive(zipped, tmp_path / "root")
    registry = tmp_path / "b.toml"
    registry.write_text('[benchmarks.lol]\ntitle = "LOL"\ntasks = ["lowlight"]\nhub = false\n'
                        'gt = "eval15/high"\nlq = "eval15/low"\n', encoding="utf-8")
    os.environ["IRTOOL_BENCHMARKS_TOML"] = str(registry)
    try:
        dataset = benchmark_dataset("lol", "lowlight", root=tmp_path / "root")  # folders found by suffix
    finally:
        del os.environ["IRTOOL_BENCHMARKS_TOML"]
    assert [(s.gt.parent.name, s.lq.parent.name) for s in dataset.samples] == [("high", "low")]
