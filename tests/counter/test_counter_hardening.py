"""The counter as deployed: hard to inflate, private at rest, robust HTTP (issue 15).

Real `python -m counter` subprocesses over real HTTP; clients bind to several
loopback addresses (127.0.0.2, .3, …) or come through a trusted proxy.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from counter.identity import address_key
from tests.counter.counter_helpers import (
    BROWSER_UA,
    HOST,
    PAGES,
    ROOT,
    StartServer,
    launch_server,
    wait_healthy,
)

PROXY = {"COUNTER_TRUSTED_PROXIES": "127.0.0.1"}


def ua(number: int) -> str:
    """Return a distinct browser User-Agent."""
    return f"{BROWSER_UA} Rotated/{number}"


def test_user_agent_rotation_from_one_address_is_capped(
    start_server: StartServer,
) -> None:
    """One address makes at most COUNTER_NEW_VISITORS_PER_ADDRESS visitors a page."""
    server = start_server(COUNTER_RATE_LIMIT="off")
    counted = [server.hit("/tin-tuc/a/", ua=ua(n)).json["counted"] for n in range(30)]
    assert counted == [True] * 20 + [False] * 10
    assert server.hit("/tin-tuc/a/", ua=ua(3)).json["counted"] is False  # a repeat
    assert server.hit("/tin-tuc/b/", ua=ua(25)).json["counted"] is True
    other = server.hit("/tin-tuc/a/", ua=ua(25), source="127.0.0.2")
    assert other.json == {"page": 21, "site": 22, "counted": True}


def test_the_cap_is_configurable(start_server: StartServer) -> None:
    """COUNTER_NEW_VISITORS_PER_ADDRESS=3 allows three identities per page and day."""
    server = start_server(COUNTER_NEW_VISITORS_PER_ADDRESS="3")
    counted = [server.hit("/", ua=ua(n)).json["counted"] for n in range(5)]
    assert counted == [True, True, True, False, False]


def test_ipv6_addresses_share_one_bucket_per_64(start_server: StartServer) -> None:
    """The rate limit and the cap apply to an IPv6 /64, not to each address in it."""
    server = start_server(COUNTER_RATE_LIMIT="4/60", **PROXY)

    def hit(address: str) -> int:
        return server.hit("/", headers={"X-Forwarded-For": address}).status

    same_64 = [hit(f"2001:db8:1:1::{n:x}") for n in range(1, 7)]
    assert same_64 == [200, 200, 200, 200, 429, 429]
    assert hit("2001:db8:1:2::1") == 200
    assert address_key("2001:db8:1:1::5") == address_key("2001:db8:1:1:ffff::9")
    assert address_key("198.51.100.7") != address_key("198.51.100.8")


def test_ipv4_peers_of_a_dual_stack_socket_have_a_bucket_each() -> None:
    """Served on "::", IPv4 peers are ::ffff:a.b.c.d: not one /64 for all of them."""
    assert address_key("::ffff:198.51.100.7") != address_key("::ffff:198.51.100.8")
    assert address_key("::ffff:198.51.100.7") == address_key("198.51.100.7")


def test_many_repeated_headers_are_parsed_in_linear_time(
    start_server: StartServer,
) -> None:
    """30,000 repeated headers (6 s with the quadratic join) take well under 2 s."""
    server = start_server()
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: aaaaaaaa\r\n" * 30_000
    with socket.create_connection((HOST, server.port), timeout=30) as sock:
        started = time.monotonic()
        sock.sendall(request + b"\r\n")
        answer = sock.recv(4096)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert elapsed < 2.0, elapsed


@pytest.mark.parametrize("secret", ["", "short-secret"], ids=["missing", "short"])
def test_production_refuses_to_start_without_a_long_secret(
    tmp_path: Path, pages_path: Path, secret: str
) -> None:
    """Without a 32-byte COUNTER_SECRET the service exits 2 and says what to do."""
    server = launch_server(
        tmp_path,
        f"sqlite:///{tmp_path}/counter.sqlite3",
        pages_path,
        tmp_path / "server.log",
        COUNTER_SECRET=secret,
    )
    assert server.proc.wait(timeout=30) == 2
    assert "COUNTER_SECRET must be at least 32 bytes" in server.log_text()
    assert not (tmp_path / "counter.sqlite3").exists()


def test_development_mode_makes_a_private_secret(
    start_server: StartServer, tmp_path: Path
) -> None:
    """COUNTER_MODE=development keeps a generated secret beside the database, 0600."""
    server = start_server(COUNTER_SECRET="", COUNTER_MODE="development")
    assert server.hit("/").status == 200
    secret = tmp_path / "counter.sqlite3.secret"
    assert len(secret.read_text().strip()) == 64
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def mode(path: Path) -> int:
    """Return a file's permission bits."""
    return stat.S_IMODE(path.stat().st_mode)


def counter_command(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `python -m counter ARGS` in folder with its default database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTER_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "counter", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_database_backup_and_restore_are_private(
    tmp_path: Path, pages_path: Path
) -> None:
    """Files are 0600; a dated backup in var/backups/ has no salt or hash; restore."""
    old_umask = os.umask(0o022)  # a login shell's: the service must not rely on it
    try:
        server = launch_server(
            tmp_path, "sqlite:///var/counter.sqlite3", pages_path, tmp_path / "log"
        )
    finally:
        os.umask(old_umask)
    wait_healthy(server)
    for page in PAGES[:5]:
        assert server.hit(page).json["counted"] is True
    files = sorted((tmp_path / "var").glob("counter.sqlite3*"))
    assert {f.name for f in files} >= {"counter.sqlite3", "counter.sqlite3-wal"}
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}

    done = counter_command(tmp_path, "backup", "var/backups/")
    assert done.returncode == 0, done.stderr
    (backup,) = (tmp_path / "var" / "backups").iterdir()
    assert backup.name.startswith("counter-20") and backup.suffix == ".sqlite3"
    assert mode(backup) == 0o600 and mode(backup.parent) == 0o700
    with sqlite3.connect(backup) as conn:
        assert conn.execute("SELECT count(*) FROM counter_salts").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM counter_seen").fetchone() == (0,)
        assert conn.execute("SELECT visits FROM counter_site_total").fetchone() == (5,)
    live_salt = sqlite3.connect(tmp_path / "var" / "counter.sqlite3").execute(
        "SELECT salt FROM counter_salts"
    )
    salt = live_salt.fetchone()[0]
    assert salt not in backup.read_bytes()

    assert server.hit(PAGES[6]).json["site"] == 6
    refused = counter_command(tmp_path, "restore", str(backup))
    assert refused.returncode == 1 and "stop the service first" in refused.stderr
    server.stop()
    restored = counter_command(tmp_path, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    database = tmp_path / "var" / "counter.sqlite3"
    assert mode(database) == 0o600
    assert not database.with_name("counter.sqlite3-wal").exists()
    again = launch_server(
        tmp_path, "sqlite:///var/counter.sqlite3", pages_path, tmp_path / "log2"
    )
    try:
        wait_healthy(again)
        assert again.count("/").json["site"] == 5
    finally:
        again.stop()
