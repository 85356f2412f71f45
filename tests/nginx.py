"""Debian's nginx with the sample configuration in deploy/, started on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.browser import require_program
from tests.conftest import ROOT

NGINX = "/usr/sbin/nginx"
TEMPLATE = ROOT / "deploy" / "nginx" / "dvk-portal.conf"
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")
MAIN = """\
{load_modules}
{user}
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""


# Below Linux's ephemeral range (32768-60999): a port bind(0) hands out can be taken
# by any outgoing connection before the server binds it; these only by a listener.
PORTS = range(20000, 32000)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1, outside the ephemeral range, free right now."""
    for _ in range(200):
        port = random.choice(PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port on 127.0.0.1 between 20000 and 32000")


def has_brotli() -> bool:
    """Tell whether Debian's brotli_static module is installed."""
    return BROTLI_MODULE.is_file()


@dataclass
class Nginx:
    """A running nginx: its port and files."""

    port: int
    tmp: Path
    access_log: Path

    def config(self) -> str:
        """Return the site configuration nginx runs with."""
        return (self.tmp / "site.conf").read_text("utf-8")

    def get(self, path: str, **headers: str) -> tuple[int, dict, bytes]:
        """Fetch a path; return status, lower-cased headers and the raw body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            names = {k.lower(): v for k, v in response.getheaders()}
            return response.status, names, body
        finally:
            connection.close()


def render(
    root: Path,
    site: Path,
    port: int,
    counter: str,
    tmp: Path,
    server_files: Path | None = None,
) -> str:
    """Fill the sample configuration's @NAMES@ for a test server."""
    text = TEMPLATE.read_text("utf-8")
    prefix = "/" + site.relative_to(root).as_posix() if site != root else ""
    if not has_brotli():
        text = "\n".join(
            line for line in text.splitlines() if not line.endswith("# brotli")
        )
    for name, value in {
        "@LISTEN@": f"127.0.0.1:{port}",
        "@SERVER_NAME@": "127.0.0.1",
        "@ROOT@": str(root),
        "@SITE@": str(site),
        "@PREFIX@": prefix,
        "@COUNTER@": counter,
        "@ACCESS_LOG@": str(tmp / "access.log"),
        "@ERROR_LOG@": str(tmp / "site-error.log"),
        "@SERVER_FILES@": str(server_files or tmp / "server-files"),
    }.items():
        text = text.replace(name, value)
    return text


def install_server_files(source: Path | None, target: Path) -> None:
    """Put the build's server files where nginx includes them (as installed)."""
    target.mkdir(parents=True, exist_ok=True)
    if source is not None and source.is_dir():
        for file in source.iterdir():
            (target / file.name).write_bytes(file.read_bytes())
    if not (target / "csp.conf").exists():
        (target / "csp.conf").write_text("# no policy in this test\n", "utf-8")


@contextmanager
def run_nginx(
    root: Path,
    site: Path,
    port: int,
    counter: str,
    tmp: Path,
    server_files: Path | None = None,
    edit: Callable[[str], str] | None = None,
) -> Iterator[Nginx]:
    """Start nginx on 127.0.0.1:port with the build's server files; stop it afterwards.

    edit may change the rendered configuration (e.g. shorter timeouts for a test).
    """
    require_program(NGINX, "nginx")
    tmp.mkdir(parents=True, exist_ok=True)
    install_server_files(server_files, tmp / "server-files")
    text = render(root, site, port, counter, tmp)
    (tmp / "site.conf").write_text(edit(text) if edit else text, "utf-8")
    main = MAIN.format(
        tmp=tmp,
        user="user root root;" if os.geteuid() == 0 else "",
        load_modules=f"load_module {BROTLI_MODULE};" if has_brotli() else "",
    )
    (tmp / "nginx.conf").write_text(main, "utf-8")
    command = [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, process)
        yield Nginx(port, tmp, tmp / "access.log")
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    """Wait until something listens on the port (or the process died)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx stopped: {process.stderr.read()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nginx did not listen on {port}")


@dataclass
class Upstream:
    """A stand-in for the counter service: records the requests it gets."""

    port: int
    requests: list = field(default_factory=list)


@contextmanager
def fake_counter() -> Iterator[Upstream]:
    """Answer /api/… and /healthz with JSON on a free port, as the counter would."""
    upstream = Upstream(0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self._answer()

        def do_POST(self):  # noqa: N802
            self._answer()

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            upstream.requests.append((self.command, self.path, dict(self.headers)))
            body = json.dumps({"path": self.path, "count": 7}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    upstream.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()
