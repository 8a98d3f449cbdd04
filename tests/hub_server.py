"""A loopback HTTP server that answers the Hugging Face Hub's file-resolve requests.

It serves ``/{repo}/resolve/{revision}/{filename}`` (and ``/datasets/{repo}/...``) with the
headers huggingface_hub reads (X-Repo-Commit, ETag, Content-Length), so the real
``hf_hub_download`` code path runs against it with ``HF_ENDPOINT=http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


class HubServer:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.requests: list[tuple[str, str]] = []
        files, requests = self.files, self.requests

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _lookup(self):
                path = unquote(self.path.split("?")[0]).lstrip("/")
                if path.startswith("datasets/"):
                    path = path[len("datasets/"):]
                if "/resolve/" not in path:
                    return None
                repo, rest = path.split("/resolve/", 1)
                revision, filename = rest.split("/", 1)
                return revision, files.get((repo, revision, filename))

            def _respond(self, with_body: bool) -> None:
                requests.append((self.command, self.path))
                found = self._lookup()
                if found is None or found[1] is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                revision, body = found
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0] or 0)
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", revision)
                self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest() + '"')
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if with_body:
                    self.wfile.write(body[start:])

            def do_HEAD(self) -> None:  # noqa: N802
                self._respond(False)

            def do_GET(self) -> None:  # noqa: N802
                self._respond(True)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add(self, repo: str, revision: str, filename: str, body: bytes) -> None:
        self.files[(repo, revision, filename)] = body

    def __enter__(self) -> "HubServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
