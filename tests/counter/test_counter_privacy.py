"""No address and no User-Agent string ends up in the database or the logs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.counter.counter_helpers import Server, StartServer

ADDRESSES = ["198.51.100.77", "2001:db8:dead:beef::77"]
UA_MARK = "PrivacyProbe-Zq7xK"
UAS = [
    f"Mozilla/5.0 (X11; Linux x86_64) {UA_MARK}/1.0",
    f"Googlebot/2.1 {UA_MARK}-bot",
    f"Mozilla/5.0 {UA_MARK}-prefetch",
]


def needles() -> list[bytes]:
    """Return every form of the addresses and User-Agents that must not leak."""
    found = [UA_MARK.encode(), UA_MARK.encode("utf-16-le")]
    for address in ADDRESSES:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        found += [address.encode(), address.encode("utf-16-le")]
        found.append(socket.inet_pton(family, address))
    found.append(b"dead:beef")
    return found


def exercise(server: Server) -> None:
    """Send every kind of request, good and bad, from the marked visitors."""
    for address in ADDRESSES:
        forwarded = {"X-Forwarded-For": address}
        for ua in UAS:
            headers = dict(forwarded)
            if "prefetch" in ua:
                headers["Sec-Purpose"] = "prefetch"
            assert server.hit("/tin-tuc/a/", ua=ua, headers=headers).status == 200
            assert server.hit("/khong-co/", ua=ua, headers=headers).status == 404
            assert server.hit("tin-tuc", ua=ua, headers=headers).status == 400
            body, text = b"x" * 3000, {"Content-Type": "text/plain", "User-Agent": ua}
            assert (
                server.request("POST", "/api/hit", body, {**text, **forwarded}).status
                == 413
            )
            assert (
                server.request("GET", "/api/hit", None, {**text, **forwarded}).status
                == 405
            )
        statuses = {
            server.hit("/", ua=UAS[0], headers=forwarded).status for _ in range(6)
        }
        assert 429 in statuses  # the address's limit (12 a minute) was hit, unlogged
    assert server.count("/tin-tuc/a/").json["page"] == 2


def test_no_address_or_user_agent_in_sqlite_file_or_logs(
    start_server: StartServer, tmp_path: Path
) -> None:
    """Scan the database files (with WAL) and the DEBUG log for any trace."""
    server = start_server(
        COUNTER_TRUSTED_PROXIES="127.0.0.1",
        COUNTER_RATE_LIMIT="12/60",
        COUNTER_LOG_LEVEL="DEBUG",
    )
    exercise(server)
    server.kill()  # keep the WAL file as it is, not checkpointed away
    database_files = sorted(tmp_path.glob("counter.sqlite3*"))
    assert any(path.name.endswith("-wal") for path in database_files)
    blobs = {path.name: path.read_bytes() for path in database_files}
    blobs["server log"] = server.log_path.read_bytes()
    assert b"counter: " in blobs["server log"]  # the log is there to be scanned
    assert b"POST /api/hit" not in blobs["server log"]  # no access log at all
    for name, blob in blobs.items():
        for needle in needles():
            assert needle not in blob, f"{needle!r} found in {name}"


@pytest.mark.postgres
def test_no_address_or_user_agent_in_postgres(
    start_server: StartServer, postgres_url: str
) -> None:
    """Every row of every counter table, as text, holds no trace either."""
    import psycopg

    server = start_server(
        postgres_url, COUNTER_TRUSTED_PROXIES="127.0.0.1", COUNTER_RATE_LIMIT="12/60"
    )
    exercise(server)
    server.stop()
    dump = []
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'counter%'"
        ).fetchall()
        assert len(tables) >= 5
        for (table,) in tables:
            dump += [str(row) for row in conn.execute(f"SELECT * FROM {table}")]
            dump += [
                bytes(value).hex()
                for row in conn.execute(f"SELECT * FROM {table}")
                for value in row
                if isinstance(value, bytes | memoryview)
            ]
    text = "\n".join(dump)
    assert "/tin-tuc/a/" in text
    for needle in [UA_MARK, *ADDRESSES, "dead:beef"]:
        assert needle not in text
    for address in ADDRESSES:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        assert socket.inet_pton(family, address).hex() not in text
    assert UA_MARK not in server.log_text()
