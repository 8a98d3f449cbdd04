"""Fetch weights files (bundled or from the Hugging Face Hub) and verify their sha256.

The Hub path is huggingface_hub's own ``hf_hub_download``: the standard cache (``HF_HOME``),
resumable downloads, ``HF_HUB_OFFLINE`` and ``HF_ENDPOINT`` all behave as users know them.
A file whose sha256 differs from ``weights.toml`` is deleted and the call fails loudly.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from irtool.errors import ChecksumError, DownloadError, WeightsNotFoundError

from .catalog import WeightsEntry, is_hex
from .hashing import sha256_file_cached


def _verify(path: Path, expected: str | None, *, what: str, delete: bool) -> Path:
    if expected is None:
        return path
    actual = sha256_file_cached(path)
    if actual != expected:
        if delete:  # a download: the next run fetches it again
            _delete_cached(path)
            consequence = "file removed"
        else:  # a bundled file is part of the installation and stays where it is
            consequence = f"{path} differs from weights.toml; reinstall irtool"
        raise ChecksumError(f"{what}: sha256 mismatch (expected {expected[:12]}…, got {actual[:12]}…); {consequence}")
    return path


def _delete_cached(path: Path) -> None:
    # In the HF cache the snapshot file is a symlink to a blob: remove both so a retry downloads again.
    target = path.resolve()
    for p in {path, target}:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def pinned_snapshot(repo_id: str, filename: str, *, revision: str, repo_type: str = "model") -> Path | None:
    """Where huggingface_hub's cache keeps ``filename`` of a repository at a pinned commit
    (``HF_HUB_CACHE/{type}s--{owner}--{name}/snapshots/{commit}/{filename}``), or None when ``revision`` is a branch
    or tag (those resolve through the cache's refs, which huggingface_hub reads). Looking there needs only
    ``huggingface_hub.constants``, a fifth of a second less than importing its download code, which every ``--auto``
    run whose routes start with a hub entry used to pay."""
    if not is_hex(revision, 40):  # a commit, as weights.toml pins them: its files sit at a fixed place
        return None
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / "--".join([f"{repo_type}s", *repo_id.split("/")]) / "snapshots" / revision \
        / filename


def hub_download(
    repo_id: str,
    filename: str,
    *,
    revision: str,
    repo_type: str = "model",
    sha256: str | None = None,
    local_only: bool = False,
) -> Path:
    """Download (or find in the cache) one pinned file and check its hash."""
    what = f"{repo_id}/{filename}@{revision[:12]}"
    snapshot = pinned_snapshot(repo_id, filename, revision=revision, repo_type=repo_type) if local_only else None
    if snapshot is not None:
        if not snapshot.is_file():
            raise WeightsNotFoundError(f"{what} is not in the local cache")
        return _verify(snapshot, sha256, what=what, delete=True)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

    endpoint = os.environ.get("HF_ENDPOINT") or None
    _quiet_hub_logging()
    if not local_only:
        _check_reachable(endpoint or "https://huggingface.co", what=what)
    try:
        # HF_ENDPOINT read at call time (huggingface_hub reads it once at import).
        local = hf_hub_download(
            repo_id, filename, revision=revision, repo_type=repo_type, local_files_only=local_only,
            endpoint=endpoint,
        )
    except LocalEntryNotFoundError as exc:
        if local_only:
            raise WeightsNotFoundError(f"{what} is not in the local cache") from None
        raise DownloadError(f"cannot reach the Hugging Face Hub for {what} ({_reason(exc)})") from None
    except (EntryNotFoundError, RepositoryNotFoundError) as exc:
        raise DownloadError(f"{what} does not exist on the hub ({type(exc).__name__})") from None
    except OSError as exc:  # connection errors, HTTP errors (subclasses of OSError in requests/httpx wrappers)
        raise DownloadError(f"download of {what} failed: {_reason(exc)}") from None
    return _verify(Path(local), sha256, what=what, delete=True)


def _quiet_hub_logging() -> None:
    # huggingface_hub logs every retry as a warning; the CLI reports one line per file instead.
    from huggingface_hub.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


def _check_reachable(endpoint: str, *, what: str, timeout: float = 3.0) -> None:
    """Fail in seconds, not after the hub client's minute of retries, when nothing answers.

    Skipped behind a proxy, where a direct connection says nothing about reachability.
    """
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")):
        return
    url = urlsplit(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise DownloadError(f"cannot reach the Hugging Face Hub at {url.hostname}:{port} for {what} "
                            f"({exc.strerror or exc})") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def entry_path(entry: WeightsEntry, *, download: bool = False) -> Path:
    """Local path of an entry's file; with ``download`` fetch it from the hub when missing."""
    if entry.bundled:
        path = entry.bundled_path
        assert path is not None
        if not path.is_file():
            raise WeightsNotFoundError(f"bundled weights {entry.file} are missing from the installation")
        return _verify(path, entry.sha256, what=entry.name, delete=False)
    assert entry.repo_id and entry.filename and entry.revision
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    try:
        return hub_download(
            entry.repo_id,
            entry.filename,
            revision=entry.revision,
            repo_type=entry.repo_type,
            sha256=entry.sha256,
            local_only=not download or offline,
        )
    except WeightsNotFoundError:
        if download and offline:
            raise WeightsNotFoundError(f"HF_HUB_OFFLINE is set and {entry.name!r} is not in the cache") from None
        raise WeightsNotFoundError(
            f"weights {entry.name!r} are not downloaded; run `irtool download {entry.name}`"
        ) from None


def is_present(entry: WeightsEntry) -> bool:
    try:
        entry_path(entry)
        return True
    except (WeightsNotFoundError, ChecksumError, DownloadError):
        return False
