"""`irtool download` against a loopback Hub: the real huggingface_hub code path, no internet."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import HubServer
from synthetic import write_catalog

REV = "0123456789abcdef0123456789abcdef01234567"
BODY = b"irtool test weights " * 1000


def _catalog(tmp_path: Path, sha: str) -> Path:
    tiny = {"preset": "res_hair_lite", "tasks": ["all"], "repo_id": "irtool-test/tiny", "filename": "tiny.safetensors",
            "revision": REV, "sha256": sha, "license": "MIT"}
    return write_catalog(tmp_path / "weights.toml", {"tiny": tiny})


def _run(args: list[str], tmp_path: Path, endpoint: str, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=endpoint, IRTOOL_WEIGHTS_TOML=str(tmp_path / "weights.toml"),
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_ETAG_TIMEOUT="5", HF_HUB_DOWNLOAD_TIMEOUT="5", **extra)
    return subprocess.run([sys.executable, "-m", "irtool", *args], capture_output=True, text=True, env=env, timeout=120)


def _cached_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "hf").rglob("tiny.safetensors")] if (tmp_path / "hf").exists() else []


def test_download_good_file_lands_in_the_hf_cache(tmp_path):
    _catalog(tmp_path, hashlib.sha256(BODY).hexdigest())
    with HubServer() as hub:
        hub.add("irtool-test/tiny", REV, "tiny.safetensors", BODY)
        proc = _run(["download", "tiny"], tmp_path, hub.url)
        assert proc.returncode == 0, proc.stderr
        files = _cached_files(tmp_path)
        assert files and files[0].read_bytes() == BODY
        assert any(method == "GET" for method, _ in hub.requests)
        # Second run: already cached, no new GET of the body.
        gets = sum(m == "GET" for m, _ in hub.requests)
        proc = _run(["download", "tiny"], tmp_path, hub.url)
        assert proc.returncode == 0, proc.stderr
        assert sum(m == "GET" for m, _ in hub.requests) == gets


LOOKUP = """
import sys
from pathlib import Path
from huggingface_hub import hf_hub_download
from irtool.errors import WeightsNotFoundError
from irtool.weights.hub import hub_download
for revision in (sys.argv[1], sys.argv[2]):
    try:
        found = hub_download("irtool-test/tiny", "tiny.safetensors", revision=revision, sha256=sys.argv[3],
                             local_only=True)
    except WeightsNotFoundError as exc:
        print("missing:", exc)
        continue
    print(found == Path(hf_hub_download("irtool-test/tiny", "tiny.safetensors", revision=revision,
                                        local_files_only=True)))
"""


def test_a_cached_pinned_file_is_found_where_huggingface_hub_finds_it(tmp_path):
    """After a download through the loopback Hub, the local lookup of a pinned commit (a path in the cache, without
    huggingface_hub's download code) returns the file huggingface_hub itself returns; another commit is missing."""
    sha = hashlib.sha256(BODY).hexdigest()
    _catalog(tmp_path, sha)
    with HubServer() as hub:
        hub.add("irtool-test/tiny", REV, "tiny.safetensors", BODY)
        assert _run(["download", "tiny"], tmp_path, hub.url).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    other = "f" * 40
    proc = subprocess.run([sys.executable, "-c", LOOKUP, REV, other, sha], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["True", f"missing: irtool-test/tiny/tiny.safetensors@{other[:12]} is not in "
                                        "the local cache"]


def test_tampered_file_is_deleted_and_fails_loudly(tmp_path):
    _catalog(tmp_path, hashlib.sha256(BODY).hexdigest())
    with HubServer() as hub:
        hub.add("irtool-test/tiny", REV, "tiny.safetensors", BODY[:-1] + b"X")
        proc = _run(["download", "tiny"], tmp_path, hub.url)
    assert proc.returncode == 5
    assert "sha256 mismatch" in proc.stderr
    assert not any(p.exists() for p in _cached_files(tmp_path))


def test_unreachable_hub_gives_one_clear_line(tmp_path):
    _catalog(tmp_path, hashlib.sha256(BODY).hexdigest())
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = _run(["download", "tiny"], tmp_path, f"http://127.0.0.1:{port}")
    assert proc.returncode == 4
    assert "Traceback" not in proc.stderr
    failed_lines = [line for line in proc.stderr.splitlines() if "tiny" in line]
    assert failed_lines and "hub" in failed_lines[0].lower()


def test_offline_mode_is_respected(tmp_path):
    _catalog(tmp_path, hashlib.sha256(BODY).hexdigest())
    with HubServer() as hub:
        hub.add("irtool-test/tiny", REV, "tiny.safetensors", BODY)
        proc = _run(["download", "tiny"], tmp_path, hub.url, HF_HUB_OFFLINE="1")
        assert hub.requests == []
    assert proc.returncode == 3
    assert "HF_HUB_OFFLINE" in proc.stderr


def test_missing_file_on_the_hub(tmp_path):
    _catalog(tmp_path, hashlib.sha256(BODY).hexdigest())
    with HubServer() as hub:
        proc = _run(["download", "tiny"], tmp_path, hub.url)
    assert proc.returncode == 4
    assert "does not exist" in proc.stderr or "failed" in proc.stderr


@pytest.mark.parametrize("args", [["download"], ["download", "nope"]])
def test_usage_errors(tmp_path, monkeypatch, capsys, args):
    # In this process, through the console entry point: a usage error never reaches the Hub, so no environment
    # has to be set before huggingface_hub is imported (and no second interpreter has to start).
    from irtool.cli import main

    _catalog(tmp_path, hashlib.sha256(BODY).hexdigest())
    monkeypatch.setenv("IRTOOL_WEIGHTS_TOML", str(tmp_path / "weights.toml"))
    monkeypatch.setattr(sys, "argv", ["irtool", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() and "Traceback" not in err
