"""Helpers of the counter tests: a client for a real server, constants."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.nginx import free_port

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PAGES = ["/", "/tin-tuc/a/", "/tin-tuc/b/", "/gioi-thieu/"] + [
    f"/tin-tuc/bai-{i}/" for i in range(40)
]
TEST_SECRET = "test-secret-of-at-least-32-bytes-for-the-counter"
PG_PACKAGE_HINT = (
    "PostgreSQL is not installed: install the Debian package `postgresql` "
    "(apt-get install postgresql) to run the PostgreSQL backend tests"
)


def write_pages(path: Path, pages: list[str]) -> None:
    """Write the page list the way the Pelican plugin does, bumping the mtime."""
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(json.dumps({"pages": pages}), encoding="utf-8")
    if path.stat().st_mtime_ns <= old:  # coarse clocks: make the change visible
        os.utime(path, ns=(old + 1_000_000, old + 1_000_000))


@dataclass
class Reply:
    """One HTTP answer: status, lower-cased headers, parsed JSON (or None)."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body) if self.body else None


@dataclass
class Server:
    """A running `python -m counter` subprocess and helpers to talk to it."""

    port: int
    proc: subprocess.Popen
    log_path: Path
    env: dict[str, str]
    _connections: dict[int, http.client.HTTPConnection] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        chunked: bool = False,
        source: str = HOST,
    ) -> Reply:
        """Send one request from a loopback address on a fresh connection."""
        conn = http.client.HTTPConnection(
            HOST, self.port, timeout=30, source_address=(source, 0)
        )
        try:
            conn.request(
                method, path, body=body, headers=headers or {}, encode_chunked=chunked
            )
            response = conn.getresponse()
            data = response.read()
            return Reply(
                response.status, {k.lower(): v for k, v in response.getheaders()}, data
            )
        finally:
            conn.close()

    def hit(
        self,
        page: object,
        ua: str = BROWSER_UA,
        headers: dict[str, str] | None = None,
        content_type: str = "text/plain;charset=UTF-8",
        source: str = HOST,
    ) -> Reply:
        """POST /api/hit for page as a browser's sendBeacon/fetch would."""
        all_headers = {
            "Content-Type": content_type,
            "User-Agent": ua,
            **(headers or {}),
        }
        body = json.dumps({"page": page}).encode()
        return self.request("POST", "/api/hit", body, all_headers, source=source)

    def count(self, page: str, ua: str = BROWSER_UA, source: str = HOST) -> Reply:
        """GET /api/count for page."""
        path = "/api/count?page=" + quote(page, safe="")
        return self.request("GET", path, headers={"User-Agent": ua}, source=source)

    def log_text(self) -> str:
        """Return what the server logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """Stop with SIGTERM (graceful) and return the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError):  # a writer left behind, if any
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode

    def kill(self, writer_too: bool = True) -> None:
        """SIGKILL the service (and its writer process at once), wherever they are."""
        if writer_too:
            os.killpg(self.proc.pid, signal.SIGKILL)  # it leads its own process group
        else:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


StartServer = Callable[..., Server]


def launch_server(
    folder: Path, database_url: str, pages_path: Path, log_path: Path, **env: str
) -> Server:
    """Start `python -m counter` on a free port, logging to log_path."""
    port = free_port()
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COUNTER_")},
        "PYTHONPATH": str(ROOT),
        "COUNTER_HOST": HOST,
        "COUNTER_PORT": str(port),
        "COUNTER_PAGES": str(pages_path),
        "COUNTER_DATABASE_URL": database_url,
        "COUNTER_SECRET": TEST_SECRET,
        **env,
    }
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "counter"],
            cwd=folder,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(port, proc, log_path, full_env)


def wait_healthy(server: Server, timeout: float = 30.0) -> None:
    """Wait until /healthz answers 200, failing with the log if the server dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"server exited {server.proc.returncode}:\n{server.log_text()}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if server.request("GET", "/healthz").status == 200:
                return
        time.sleep(0.03)
    pytest.fail(f"server not healthy after {timeout} s:\n{server.log_text()}")


def lost_port(server: Server, timeout: float = 30.0) -> bool:
    """Tell whether the server exited because its port was taken meanwhile."""
    deadline = time.monotonic() + timeout
    while server.proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            if server.request("GET", "/healthz").status == 200:
                return False
        time.sleep(0.03)
    return server.proc.poll() is not None and "address already in use" in (
        server.log_text()
    )


@contextlib.contextmanager
def run_server(
    folder: Path, database_url: str | None = None, **env: str
) -> Iterator[Server]:
    """Run a server with the default pages in folder for the with block."""
    pages_path = folder / "counter-pages.json"
    if not pages_path.exists():
        write_pages(pages_path, PAGES)
    for _ in range(3):  # another program may bind the chosen port first
        server = launch_server(
            folder,
            database_url or f"sqlite:///{folder}/counter.sqlite3",
            pages_path,
            folder / "server.log",
            **env,
        )
        if not lost_port(server):
            break
    try:
        wait_healthy(server)
        yield server
    finally:
        server.stop()
