"""Fixtures of the counter tests: a real server over real HTTP, and a real PostgreSQL.

`start_server` runs `python -m counter` as a subprocess on 127.0.0.1 and a free
port, with a per-test database and page list under tmp_path. `database_url` is
parametrized over SQLite and PostgreSQL; the PostgreSQL cluster is a throwaway
one (initdb + pg_ctl as the `postgres` user when we are root) on a Unix socket in
a temporary folder.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.counter.counter_helpers import (
    PAGES,
    PG_PACKAGE_HINT,
    Server,
    StartServer,
    free_port,
    launch_server,
    wait_healthy,
    write_pages,
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers these tests use (the suite runs --strict-markers)."""
    config.addinivalue_line(
        "markers", "postgres: needs Debian's postgresql (skipped, naming it, if absent)"
    )


@pytest.fixture
def pages_path(tmp_path: Path) -> Path:
    """Write the default page list and return its path."""
    path = tmp_path / "counter-pages.json"
    write_pages(path, PAGES)
    return path


@pytest.fixture
def start_server(tmp_path: Path, pages_path: Path) -> Iterator[StartServer]:
    """Return a function that starts a real server; all are stopped afterwards."""
    servers: list[Server] = []

    def start(database_url: str | None = None, wait: bool = True, **env: str) -> Server:
        server = launch_server(
            tmp_path,
            database_url or f"sqlite:///{tmp_path}/counter.sqlite3",
            pages_path,
            tmp_path / f"server-{len(servers)}.log",
            **env,
        )
        servers.append(server)
        if wait:
            wait_healthy(server)
        return server

    yield start
    for server in servers:
        server.stop()


# -- PostgreSQL ---------------------------------------------------------------


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster reachable on a Unix socket."""

    socket_dir: str
    port: int

    def url(self, dbname: str) -> str:
        """Return the psycopg URL of a database of this cluster."""
        return (
            f"postgresql://postgres@/{dbname}?host={self.socket_dir}&port={self.port}"
        )


def _pg_bindir() -> Path | None:
    """Return the newest /usr/lib/postgresql/*/bin that has initdb and pg_ctl."""
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(f"{bindir}/initdb", os.X_OK) and os.access(
            f"{bindir}/pg_ctl", os.X_OK
        ):
            return Path(bindir)
    return None


def _install_postgresql() -> None:
    """Install Debian's postgresql (we are root)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=300)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
        check=True,
        env=env,
        timeout=600,
    )


def _as_postgres(args: list[str]) -> list[str]:
    """Return args run as the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return args
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *args]
    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(args)]


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """Start a throwaway PostgreSQL cluster for the session."""
    pytest.importorskip("psycopg", reason="pip package psycopg is not installed")
    bindir = _pg_bindir()
    if bindir is None and os.geteuid() == 0 and shutil.which("apt-get"):
        _install_postgresql()
        bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(PG_PACKAGE_HINT)
    base = Path(tempfile.mkdtemp(prefix="counter-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", free_port()
    subprocess.run(
        _as_postgres(
            [
                f"{bindir}/initdb",
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = (
        f"-k {base} -p {port} -c listen_addresses='' -c fsync=off "
        "-c full_page_writes=off -c max_connections=60"
    )
    subprocess.run(
        _as_postgres(
            [
                f"{bindir}/pg_ctl",
                "-D",
                str(data),
                "-l",
                str(base / "log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=90,
    )
    try:
        yield Cluster(str(base), port)
    finally:
        subprocess.run(
            _as_postgres(
                [f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"]
            ),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """Create a fresh database for one test and return its URL."""
    import psycopg

    name = f"counter_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_cluster.url(name)
    with psycopg.connect(postgres_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a fresh database URL of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/counter.sqlite3"
    return request.getfixturevalue("postgres_url")
