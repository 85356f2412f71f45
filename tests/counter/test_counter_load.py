"""Concurrency and crashes: counts equal acknowledged visits, kill -9 loses none."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.counter.counter_helpers import HOST, PAGES, Server, StartServer

THREADS = 32
VISITS = 100
PROXY = {"COUNTER_TRUSTED_PROXIES": "127.0.0.1", "COUNTER_RATE_LIMIT": "off"}


class Visitor:
    """One keep-alive connection that posts hits and keeps the score."""

    def __init__(self, port: int) -> None:
        """Open the connection lazily."""
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def hit(self, page: str, address: str, ua: str) -> dict:
        """Post one visit forwarded by the trusted proxy; return the JSON answer."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        body = json.dumps({"page": page}).encode()
        headers = {
            "Content-Type": "text/plain",
            "User-Agent": ua,
            "X-Forwarded-For": address,
        }
        self.conn.request("POST", "/api/hit", body, headers)
        response = self.conn.getresponse()
        data = response.read()
        assert response.status == 200, data
        return json.loads(data)

    def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            self.conn.close()


def identity(thread: int, visit: int) -> tuple[str, str]:
    """Return a distinct (address, User-Agent) for one simulated visitor."""
    address = f"2001:db8:{thread:x}:{visit:x}::1"  # one /64 each
    return address, f"Mozilla/5.0 (TestBrowser {thread}.{visit % 7})"


def page_of(thread: int, visit: int) -> str:
    """Spread the visits over all pages."""
    return PAGES[(thread * 31 + visit) % len(PAGES)]


def stored_counts(server: Server) -> tuple[dict[str, int], int]:
    """Return every page's stored visits and the site total, via /api/count."""
    pages = {page: server.count(page).json["page"] for page in PAGES}
    return pages, server.count("/").json["site"]


def test_concurrent_visitors_count_exactly(
    start_server: StartServer, database_url: str
) -> None:
    """32 threads x 100 visitors: counts equal the acknowledged visits, exactly."""
    server = start_server(database_url, **PROXY)
    counted: Counter[str] = Counter()
    repeats_counted: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(thread: int) -> None:
        visitor, mine = Visitor(server.port), Counter()
        try:
            for visit in range(VISITS):
                page = page_of(thread, visit)
                if visitor.hit(page, *identity(thread, visit))["counted"]:
                    mine[page] += 1
                if visit % 10 == 0:  # the same visitor again, same page and day
                    again = visitor.hit(page, *identity(thread, visit))
                    if again["counted"]:
                        repeats_counted.append(page)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            visitor.close()
            with lock:
                counted.update(mine)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    assert repeats_counted == []
    assert sum(counted.values()) == THREADS * VISITS
    pages, site = stored_counts(server)
    assert pages == {page: counted[page] for page in PAGES}
    assert site == sum(pages.values()) == THREADS * VISITS


class Load:
    """Threads that post distinct visitors until the server goes away."""

    def __init__(self, port: int, threads: int = 12) -> None:
        """Prepare the threads and their tallies."""
        self.port = port
        self.acked: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(t,)) for t in range(threads)
        ]

    def _run(self, thread: int) -> None:
        """Post until an error (the kill) or the stop event; tally outcomes."""
        visitor = Visitor(self.port)
        visit = 0
        deadline = time.monotonic() + 30
        while not self.stop.is_set() and time.monotonic() < deadline:
            page = page_of(thread, visit)
            try:
                answer = visitor.hit(page, *identity(thread + 1000, visit))
            except (OSError, http.client.HTTPException, AssertionError):
                with self.lock:  # sent, never acknowledged: it may or may not count
                    self.in_flight[page] += 1
                break
            with self.lock:
                self.acked[page] += answer["counted"]
            visit += 1
        visitor.close()

    def total(self) -> int:
        """Return the acknowledged counted visits so far."""
        with self.lock:
            return sum(self.acked.values())


@pytest.mark.parametrize(
    ("sync", "writer_too"),
    [
        pytest.param("FULL", True, id="synchronous-full"),
        pytest.param("NORMAL", True, id="synchronous-normal"),
        pytest.param("FULL", False, id="http-process-only"),
    ],
)
def test_kill_9_loses_no_acknowledged_sqlite_hit(
    start_server: StartServer, tmp_path: Path, sync: str, writer_too: bool
) -> None:
    """SIGKILL mid-load, restart on the same file: every acknowledged hit is there.

    Both processes die at once, or only the HTTP one (its writer then finishes
    its batch and exits, and the restarted service waits for the file lock).
    """
    check_kill_9(
        start_server,
        f"sqlite:///{tmp_path}/crash.sqlite3",
        writer_too,
        COUNTER_SQLITE_SYNCHRONOUS=sync,
    )


@pytest.mark.postgres
def test_kill_9_loses_no_acknowledged_postgres_hit(
    start_server: StartServer, postgres_url: str
) -> None:
    """The same with the PostgreSQL backend (the service dies, not the database)."""
    check_kill_9(start_server, postgres_url, True)


def check_kill_9(
    start_server: StartServer, database_url: str, writer_too: bool, **env: str
) -> None:
    """Kill the server under load and compare stored to acknowledged counts."""
    server = start_server(database_url, **PROXY, **env)
    load = Load(server.port)
    for thread in load.threads:
        thread.start()
    deadline = time.monotonic() + 20
    while load.total() < 400 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill(writer_too)  # SIGKILL: no shutdown code runs
    load.stop.set()
    for thread in load.threads:
        thread.join()
    assert load.total() >= 400, "the load never got going"
    assert load.acked[page_of(0, 0)] >= 1

    restarted = start_server(database_url, **PROXY, **env)
    pages, site = stored_counts(restarted)
    acked, in_flight = load.acked, load.in_flight
    for page in PAGES:
        assert acked[page] <= pages[page] <= acked[page] + in_flight[page], page
    assert sum(acked.values()) <= site <= sum(acked.values()) + sum(in_flight.values())
    assert site == sum(pages.values())
    # the restarted service still knows today's visitors, and counts new ones
    page, (address, ua) = page_of(0, 0), identity(1000, 0)
    again = restarted.hit(page, ua=ua, headers={"X-Forwarded-For": address})
    assert again.json["counted"] is False
    new = restarted.hit(page, ua=ua, headers={"X-Forwarded-For": "2001:db8::ffff:1"})
    assert new.json["counted"] is True
