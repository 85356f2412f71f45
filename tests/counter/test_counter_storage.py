"""Storage without HTTP: days, salts, purging, group commit, failures, backup."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from counter.config import Config
from counter.storage import (
    HIT,
    READ,
    REJECT,
    Counts,
    GroupCommitWriter,
    Op,
    SQLiteStorage,
    Storage,
    StorageError,
    open_storage,
)
from tests.counter.counter_helpers import ROOT, StartServer


class Clock:
    """A settable clock for the writer's idea of "today"."""

    def __init__(self, when: str) -> None:
        """Start at an ISO time (UTC)."""
        self.now = datetime.fromisoformat(when).replace(tzinfo=UTC)

    def __call__(self) -> datetime:
        """Return the current fake time."""
        return self.now


def config_for(database_url: str, **env: str) -> Config:
    """Return the Config of a database URL (and more variables)."""
    return Config.from_env({"COUNTER_DATABASE_URL": database_url, **env})


def hit(page: str, address: str, ua: str = "UA") -> Op:
    """Return a hit operation."""
    return (HIT, page, address, ua, None)


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    """Open the SQL-level storage of a fresh database."""
    opened = open_storage(config_for(database_url))
    opened.open()
    yield opened
    opened.close()


def test_one_count_per_visitor_page_and_day_and_old_days_purged(
    storage: Storage,
) -> None:
    """Dedup per day; salts and dedup rows are kept for today and yesterday only."""
    answers = [
        *storage.apply("2026-03-01", [hit("/a/", "198.51.100.1")] * 2),
        *storage.apply(
            "2026-03-01", [hit("/a/", "198.51.100.1"), hit("/a/", "198.51.100.2")]
        ),
        *storage.apply("2026-03-02", [hit("/a/", "198.51.100.1")]),
        *storage.apply("2026-03-03", [hit("/b/", "198.51.100.1")]),
        *storage.apply(
            "2026-03-04", [hit("/b/", "198.51.100.1"), (READ, "/a/", "", "", None)]
        ),
    ]
    assert [answer[2] for answer in answers] == [
        True,
        False,
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    assert answers[-2] == (2, 5, True) and answers[-1] == (3, 5, False)
    stats = storage.stats()
    assert stats.pages == {"/a/": 3, "/b/": 2} and stats.site == 5
    assert stats.salt_days == ["2026-03-03", "2026-03-04"]
    assert stats.seen_per_day == {"2026-03-03": 1, "2026-03-04": 1}


def test_dedup_survives_reopening(database_url: str) -> None:
    """Today's visitors are still known after a restart (loaded from the database)."""
    first = open_storage(config_for(database_url))
    first.open()
    assert first.apply("2026-03-01", [hit("/a/", "198.51.100.1")])[0][2] is True
    first.close()
    second = open_storage(config_for(database_url))
    second.open()
    again = second.apply(
        "2026-03-01", [hit("/a/", "198.51.100.1"), hit("/a/", "198.51.100.9")]
    )
    second.close()
    assert [answer[2] for answer in again] == [False, True]


def test_rejections_are_tallied_by_reason_and_day(storage: Storage) -> None:
    """Rejected requests are counted apart, per reason and day."""
    reasons = ["bot", "bot", "prefetch", "unknown_page", "rate_limited"]
    storage.apply("2026-03-01", [(REJECT, "", "", "", reason) for reason in reasons])
    storage.apply("2026-03-02", [(READ, "/", "", "", "bot")])
    assert storage.stats().rejected == {
        ("2026-03-01", "bot"): 2,
        ("2026-03-01", "prefetch"): 1,
        ("2026-03-01", "unknown_page"): 1,
        ("2026-03-01", "rate_limited"): 1,
        ("2026-03-02", "bot"): 1,
    }
    assert storage.stats().site == 0


def test_a_failed_transaction_changes_nothing(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error inside the batch rolls all of it back, dedup memory included."""
    storage.apply("2026-03-01", [hit("/a/", "198.51.100.1")])

    def explode(*args: Any) -> Any:
        raise RuntimeError("disk on fire")  # after the dedup rows went in

    monkeypatch.setattr("counter.storage.count_increments", explode)
    batch = [hit("/a/", "198.51.100.2"), hit("/b/", "198.51.100.3")]
    with pytest.raises(RuntimeError):
        storage.apply("2026-03-01", batch)
    monkeypatch.undo()
    assert storage.stats().site == 1
    assert [answer[2] for answer in storage.apply("2026-03-01", batch)] == [True, True]
    assert storage.stats().site == 3


def test_a_second_sqlite_writer_is_refused(tmp_path: Path) -> None:
    """Only one process may write an SQLite file (the lock file says so)."""
    path = tmp_path / "one.sqlite3"
    first = SQLiteStorage(path)
    first.open()
    second = SQLiteStorage(path, lock_wait=0.2)
    with pytest.raises(StorageError, match="another counter process"):
        second.open()
    first.close()
    second.open()
    second.close()


def run_writer(
    config: Config, body: Callable[[GroupCommitWriter], Any], **kw: Any
) -> Any:
    """Start a GroupCommitWriter, run the coroutine function body, stop it."""

    async def main() -> Any:
        writer = GroupCommitWriter(config, **kw)
        await writer.start()
        watchdog = asyncio.get_running_loop().create_task(writer.watch(0.05))
        try:
            return await body(writer)
        finally:
            watchdog.cancel()
            await writer.stop()

    # In a thread of its own: a browser test in the same worker may have left
    # Playwright's loop running in this one (pytest-xdist mixes test files).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def test_group_commit_answers_every_concurrent_hit(database_url: str) -> None:
    """Hundreds of concurrent hits share few commits and all get their answer."""
    config = config_for(database_url, COUNTER_MAX_BATCH="64")
    pages = [f"/p{i % 7}/" for i in range(600)]

    async def body(writer: GroupCommitWriter) -> list[Counts]:
        hits = [
            writer.hit(page, f"2001:db8::{i:x}", "UA") for i, page in enumerate(pages)
        ]
        repeat = writer.hit(pages[0], "2001:db8::0", "UA")
        writer.reject("bot")
        reads = [writer.read("/p0/"), writer.read("/nobody/", reject="prefetch")]
        return list(await asyncio.gather(*hits, repeat, *reads))

    results = run_writer(config, body)
    assert all(r.counted for r in results[:600])
    assert results[600].counted is False  # same visitor, in the same batch or later
    assert results[-1] == Counts(page=0, site=600, counted=False)
    stats = open_storage(config).stats()
    assert stats.site == 600 == sum(stats.pages.values())
    assert stats.pages["/p0/"] == pages.count("/p0/")
    assert {reason for _day, reason in stats.rejected} == {"bot", "prefetch"}


def test_the_day_is_the_day_in_ho_chi_minh_city(database_url: str) -> None:
    """23:59 and 00:01 local time (16:59 and 17:01 UTC) are two days."""
    clock = Clock("2026-03-01T16:59:00")

    async def body(writer: GroupCommitWriter) -> list[bool]:
        counted = [(await writer.hit("/a/", "198.51.100.1", "UA")).counted]
        counted.append((await writer.hit("/a/", "198.51.100.1", "UA")).counted)
        clock.now += timedelta(minutes=2)
        counted.append((await writer.hit("/a/", "198.51.100.1", "UA")).counted)
        return counted

    assert run_writer(config_for(database_url), body, clock=clock) == [
        True,
        False,
        True,
    ]
    assert open_storage(config_for(database_url)).stats().salt_days == [
        "2026-03-01",
        "2026-03-02",
    ]


def test_a_failed_batch_acknowledges_nothing(database_url: str) -> None:
    """If the transaction fails, the waiting requests get StorageError."""
    config = config_for(database_url)

    async def body(writer: GroupCommitWriter) -> tuple[Counts, list[Any]]:
        first = await writer.hit("/a/", "198.51.100.1", "UA")
        drop_table(database_url, "counter_page_visits")  # sabotage the database
        later = await asyncio.gather(
            writer.hit("/a/", "198.51.100.2", "UA"), return_exceptions=True
        )
        return first, later

    first, later = run_writer(config, body)
    assert first.counted
    assert isinstance(later[0], StorageError) and "database error" in str(later[0])


def drop_table(database_url: str, table: str) -> None:
    """Drop a table behind the service's back."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            conn.execute(f"DROP TABLE {table}")
        return
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {table}")


def test_a_hung_writer_times_out_and_a_dead_one_is_replaced(tmp_path: Path) -> None:
    """A stuck writer makes requests fail after the timeout; a killed one restarts."""
    config = config_for(
        f"sqlite:///{tmp_path}/w.sqlite3", COUNTER_REQUEST_TIMEOUT="0.5"
    )

    async def body(writer: GroupCommitWriter) -> list[Any]:
        assert (await writer.hit("/a/", "198.51.100.1", "UA")).counted
        pid = writer._proc.pid
        os.kill(pid, signal.SIGSTOP)
        stuck = await asyncio.gather(
            writer.hit("/a/", "198.51.100.2", "UA"), return_exceptions=True
        )
        os.kill(pid, signal.SIGKILL)
        os.kill(pid, signal.SIGCONT)
        while writer._proc is None or writer._proc.pid == pid or not writer.alive:
            await asyncio.sleep(0.05)
        after = await writer.hit("/a/", "198.51.100.3", "UA")
        return [stuck[0], after]

    stuck, after = run_writer(config, body)
    assert isinstance(stuck, StorageError) and "timed out" in str(stuck)
    assert after.counted


def test_online_backup_while_writing(tmp_path: Path) -> None:
    """The backup is a consistent, self-contained copy taken during writes."""
    config = config_for(f"sqlite:///{tmp_path}/live.sqlite3")
    backups: list[Any] = []

    async def body(writer: GroupCommitWriter) -> None:
        await asyncio.gather(
            *(writer.hit("/a/", f"198.51.100.{i}", "UA") for i in range(50))
        )
        storage = open_storage(config)
        assert isinstance(storage, SQLiteStorage)
        loop = asyncio.get_running_loop()
        copy = loop.run_in_executor(None, storage.backup, tmp_path / "copy.sqlite3")
        more = [writer.hit("/b/", f"203.0.113.{i}", "UA") for i in range(200)]
        await asyncio.gather(*more)
        backups.append(await copy)

    run_writer(config, body)
    snapshot = backups[0]
    assert snapshot.site >= 50 and snapshot.site == sum(snapshot.pages.values())
    with sqlite3.connect(tmp_path / "copy.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not (tmp_path / "copy.sqlite3-wal").exists()
    assert open_storage(config).stats().site == 250


def test_backup_command_on_a_running_server(
    start_server: StartServer, tmp_path: Path
) -> None:
    """`python -m counter backup DEST` copies the live database of a server."""
    server = start_server()
    for i in range(5):
        server.hit("/", ua=f"Mozilla/5.0 Backup {i}")
    env = {**server.env}
    dest = tmp_path / "backups"
    dest.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "counter", "backup", str(dest)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "site total 5" in done.stdout
    (copy,) = dest.glob("counter-*.sqlite3")
    assert SQLiteStorage(copy).stats().site == 5
    assert server.hit("/", ua="Mozilla/5.0 After").json["site"] == 6


def test_backup_command_refuses_postgresql(tmp_path: Path) -> None:
    """For PostgreSQL the backup command points to pg_dump."""
    done = subprocess.run(
        [sys.executable, "-m", "counter", "backup", str(tmp_path / "x")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "COUNTER_DATABASE_URL": "postgresql://u@h/db"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "pg_dump" in done.stderr
