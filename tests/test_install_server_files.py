"""scripts/install-server-files.sh: checks the build's nginx files, `nginx -t`, reload.

Runs the real script against Debian's nginx (`nginx -t -c` on a temporary
configuration that includes the installed files as the sample site does).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
from pathlib import Path

import pytest

from tests.browser import require_program
from tests.conftest import ROOT
from tests.nginx import NGINX, free_port

SCRIPT = ROOT / "scripts" / "install-server-files.sh"
CSP = "add_header Content-Security-Policy \"default-src 'self'\" always;\n"
MAP = "# redirects\n/cu/ /moi/;\n~^/tin/(\\d+)$ /tin-tuc/$1/;\n"


def nginx_conf(tmp: Path, target: Path) -> Path:
    """Write a main configuration that includes the installed files."""
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 16; }}
http {{
    access_log off;
    map $uri $dvk_redirect {{ default ""; include {target}/redirects.map; }}
    server {{
        listen 127.0.0.1:{free_port()};
        include {target}/csp.conf;
    }}
}}
""",
        "utf-8",
    )
    return conf


def install(tmp: Path, files: dict[str, str]) -> subprocess.CompletedProcess:
    """Upload files and run the script; return its result."""
    require_program(NGINX, "nginx")
    upload, target = tmp / "upload", tmp / "target"
    upload.mkdir(exist_ok=True)
    for old in upload.iterdir():
        old.unlink()
    for name, text in files.items():
        (upload / name).write_text(text, "utf-8")
    conf = nginx_conf(tmp, target)
    env = {
        **os.environ,
        "NGINX_TEST": f"{NGINX} -t -q -p {tmp} -c {conf}",
        "NGINX_RELOAD": f"touch {tmp}/reloaded",
    }
    return subprocess.run(
        ["bash", str(SCRIPT), str(upload), str(target)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_valid_files_are_installed_and_nginx_reloaded(tmp_path: Path) -> None:
    done = install(tmp_path, {"csp.conf": CSP, "redirects.map": MAP})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "target" / "csp.conf").read_text() == CSP
    assert (tmp_path / "target" / "redirects.map").read_text() == MAP
    assert (tmp_path / "reloaded").exists()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("csp.conf", CSP + "location /x { alias /etc/; }\n"),
        ("csp.conf", CSP + "include /etc/passwd;\n"),
        ("csp.conf", 'add_header X-A "a" always; add_header X-B "$host";\n'),
        ("csp.conf", 'add_header Content-Security-Policy "x\\" always;\n'),
        ("redirects.map", "include /etc/passwd;\n"),
        ("redirects.map", "/a/ /b/; } server { listen 80; }\n"),
        ("Bad Name.conf", CSP),
    ],
)
def test_dangerous_files_are_refused(tmp_path: Path, name: str, text: str) -> None:
    assert install(tmp_path, {"csp.conf": CSP, "redirects.map": MAP}).returncode == 0
    (tmp_path / "reloaded").unlink()
    done = install(tmp_path, {name: text})
    assert done.returncode == 1
    assert "install-server-files:" in done.stderr
    assert (tmp_path / "target" / "csp.conf").read_text() == CSP
    assert not (tmp_path / "reloaded").exists()


def test_a_file_nginx_refuses_is_rolled_back(tmp_path: Path) -> None:
    assert install(tmp_path, {"csp.conf": CSP, "redirects.map": MAP}).returncode == 0
    (tmp_path / "reloaded").unlink()
    done = install(tmp_path, {"redirects.map": "~^/(unclosed /x/;\n"})
    assert done.returncode == 1
    assert "nginx -t refused" in done.stderr
    assert (tmp_path / "target" / "redirects.map").read_text() == MAP
    assert not (tmp_path / "reloaded").exists()


def test_a_symlink_is_refused(tmp_path: Path) -> None:
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "csp.conf").symlink_to("/etc/passwd")
    env = {**os.environ, "NGINX_TEST": "true", "NGINX_RELOAD": "true"}
    done = subprocess.run(
        ["bash", str(SCRIPT), str(upload), str(tmp_path / "target")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1 and "not a regular file" in done.stderr


def test_what_is_checked_is_what_is_installed(tmp_path: Path) -> None:
    """The deploy key may swap a file after its check: the checked copy is installed."""
    upload, target = tmp_path / "upload", tmp_path / "target"
    upload.mkdir()
    bad = 'add_header X "y" always;\nlocation /x { alias /etc/; }\n'
    env = {**os.environ, "NGINX_TEST": "true", "NGINX_RELOAD": "true"}
    stop = threading.Event()

    def swap() -> None:
        """Replace csp.conf, good and bad in turn, as fast as the disk allows."""
        for n in itertools.count():
            if stop.is_set():
                return
            part = upload / f".part{n % 2}"
            part.write_text(bad if n % 2 else CSP, "utf-8")
            os.replace(part, upload / "csp.conf")

    (upload / "csp.conf").write_text(CSP, "utf-8")
    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        for _ in range(20):
            subprocess.run(
                ["bash", str(SCRIPT), str(upload), str(target)],
                capture_output=True,
                env=env,
                timeout=60,
            )
            installed = target / "csp.conf"
            assert not installed.exists() or installed.read_text() == CSP
    finally:
        stop.set()
        swapper.join()
