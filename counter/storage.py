"""Storage of the counts: the schema, all SQL, and the group-commit writer.

A hit is acknowledged only once it is committed, and one commit (one fsync)
serves every hit that arrived meanwhile:

* Request handlers call GroupCommitWriter.hit()/read() on the event loop; each
  operation gets a future and joins the pending list.
* One driver task sends everything pending (up to max_batch) to the writer
  process, which applies it in ONE transaction with a Storage (SQLite or
  PostgreSQL), commits, and answers. Only then are the futures resolved.

The writer is a separate process, not a thread: every sqlite3/psycopg call
releases and re-takes the GIL, and with a busy event loop each re-take waited
for a switch interval, which made the batches slow (see docs/COUNTER.md).
"""

from __future__ import annotations

import asyncio
import collections
import fcntl
import json
import logging
import os
import pickle
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, NamedTuple

from counter.config import LOG_FORMAT, Config
from counter.identity import VisitorHasher, new_salt

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# Salts and dedup rows are kept for today and yesterday only, then deleted.
RETENTION_DAYS = 2
REJECT_REASONS = (
    "bot",
    "prefetch",
    "unknown_page",
    "rate_limited",
    "origin",
    "new_visitor_cap",
)
HIT, READ, REJECT = 0, 1, 2
_ATTEMPTS = 3
_LOCK_WAIT = 3.0  # seconds to wait for a previous writer to let go of SQLite
_FRAME = struct.Struct("!I")
# Batches sent but not answered yet: one being committed, one waiting its turn,
# so the writer never idles while the service gathers the next batch.
_IN_FLIGHT = 2

# One operation as sent to the writer: (kind, page, address, user_agent, reason).
Op = tuple[int, str, str, str, str | None]
# One answer: (page visits, site total, counted), or None for a tally.
Answer = tuple[int, int, bool] | None


class Counts(NamedTuple):
    """What the API answers about one page."""

    page: int
    site: int
    counted: bool


class BatchResult(NamedTuple):
    """What one committed batch tells the writer."""

    inserted: set[bytes]
    visits: dict[str, int]
    site: int


class Stats(NamedTuple):
    """A read-only view of the whole database, for tests and operators."""

    pages: dict[str, int]
    site: int
    rejected: dict[tuple[str, str], int]
    salt_days: list[str]
    seen_per_day: dict[str, int]


class StorageError(RuntimeError):
    """The database could not take or answer an operation."""


class StorageBusy(StorageError):
    """Too many operations are waiting for the database."""


def count_increments(
    candidates: Iterable[tuple[bytes, str]], inserted: set[bytes]
) -> dict[str, int]:
    """Return new visits per page: the candidates whose digest was inserted."""
    increments: dict[str, int] = {}
    for digest, page in candidates:
        if digest in inserted:
            increments[page] = increments.get(page, 0) + 1
    return increments


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    """Yield consecutive slices of items of at most size elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(rows: int, columns: int = 1) -> str:
    """Return SQL placeholders: "?, ?" for columns 1, "(?, ?), (?, ?)" for 2."""
    if columns == 1:
        return ", ".join(["?"] * rows)
    return ", ".join(["(" + ", ".join(["?"] * columns) + ")"] * rows)


def _utcnow() -> datetime:
    """Return the current time, aware."""
    return datetime.now(UTC)


class Storage(ABC):
    """One database, used synchronously by the writer process (or a test)."""

    name = "storage"

    def __init__(self, *, tz: tzinfo = UTC, secret: bytes = b"") -> None:
        """Configure; nothing is opened before open()."""
        self._tz = tz
        self._secret = secret
        self._conn: Any = None
        self._salt_day: str | None = None
        self._hasher: VisitorHasher | None = None
        self._tally: list[float] = [0, 0, 0.0, 0.0]

    def open(self) -> None:
        """Claim the database for this process and create the schema."""
        self._claim()
        self._create_schema(self._connection())

    def close(self) -> None:
        """Close the connection and let go of the database."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._release()

    def apply(self, day: str, ops: list[Op]) -> list[Answer]:
        """Apply ops in one transaction (retrying transient errors); answer each."""
        started = time.perf_counter()
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                answers = self._apply_once(day, ops)
            except Exception as exc:
                self._drop_connection()
                if attempt == _ATTEMPTS or not self._is_transient(exc):
                    raise
                log.warning(
                    "counter: batch of %d failed (attempt %d), retrying: %s",
                    len(ops),
                    attempt,
                    exc,
                )
                time.sleep(0.05 * attempt)
            else:
                self._note_batch(len(ops), time.perf_counter() - started)
                return answers
        raise AssertionError("unreachable")

    def _apply_once(self, day: str, ops: list[Op]) -> list[Answer]:
        """Commit the batch and return one answer per operation."""
        conn = self._connection()
        hasher = self._hasher_for(conn, day)
        rejected: dict[str, int] = {}
        candidates: dict[bytes, str] = {}
        first_of: dict[bytes, int] = {}
        digests: list[bytes | None] = []
        pages: set[str] = set()
        for index, (kind, page, address, user_agent, reason) in enumerate(ops):
            if reason is not None:
                rejected[reason] = rejected.get(reason, 0) + 1
            digest = None
            if kind == HIT:
                digest = hasher.digest(address, user_agent, page)
                if digest not in first_of:
                    first_of[digest] = index
                    candidates[digest] = page
            digests.append(digest)
            if kind != REJECT:
                pages.add(page)
        result = self._commit_batch(
            conn, day, sorted(candidates.items()), rejected, sorted(pages)
        )
        answers: list[Answer] = []
        visits, site, inserted = result.visits, result.site, result.inserted
        for index, op in enumerate(ops):
            if op[0] == REJECT:
                answers.append(None)
                continue
            digest = digests[index]
            counted = digest in inserted and first_of[digest] == index
            answers.append((visits.get(op[1], 0), site, counted))
        return answers

    def _hasher_for(self, conn: Any, day: str) -> VisitorHasher:
        """Return day's visitor hasher; on a new day load its salt, purge old days."""
        if day != self._salt_day or self._hasher is None:
            oldest = date.fromisoformat(day) - timedelta(days=RETENTION_DAYS - 1)
            salt = self._load_salt(conn, day, new_salt(), oldest.isoformat())
            self._hasher = VisitorHasher(self._secret + salt)
            self._salt_day = day
        return self._hasher

    def _note_batch(self, size: int, seconds: float) -> None:
        """Log batch sizes and durations at DEBUG level every 10 seconds."""
        tally = self._tally
        tally[0] += 1
        tally[1] += size
        tally[2] += seconds
        now = time.monotonic()
        if now >= tally[3]:
            if tally[0] > 1 and log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "counter: %d batches, %.1f operations and %.2f ms per batch",
                    tally[0],
                    tally[1] / tally[0],
                    tally[2] / tally[0] * 1000,
                )
            self._tally = [0, 0, 0.0, now + 10.0]

    def _connection(self) -> Any:
        """Return the writer's connection, opening it if needed."""
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _drop_connection(self) -> None:
        """Close the connection after a failure; reopen on next use."""
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception as exc:  # noqa: BLE001 - it is broken anyway
                log.debug("counter: closing a failed connection: %s", exc)
            self._conn = None
        self._salt_day = None
        self._forget()

    def stats(self) -> Stats:
        """Read every table (but no digest or salt) on a fresh connection."""
        conn = self._connect()
        try:
            return self._read_stats(conn)
        finally:
            conn.close()

    def _claim(self) -> None:  # noqa: B027 - optional hook
        """Make sure this process may write (nothing to do by default)."""

    def _release(self) -> None:  # noqa: B027 - optional hook
        """Undo _claim()."""

    def _forget(self) -> None:  # noqa: B027 - optional hook
        """Drop what the writer cached about the database, after a failure."""

    # -- the SQL of one database -----------------------------------------------

    @abstractmethod
    def _connect(self) -> Any:
        """Open a new connection."""

    @abstractmethod
    def _create_schema(self, conn: Any) -> None:
        """Create the tables if they do not exist."""

    @abstractmethod
    def _load_salt(self, conn: Any, day: str, fresh: bytes, oldest_kept: str) -> bytes:
        """Store fresh as day's salt unless one exists; purge older days; return it."""

    @abstractmethod
    def _commit_batch(
        self,
        conn: Any,
        day: str,
        candidates: list[tuple[bytes, str]],
        rejected: dict[str, int],
        pages: list[str],
    ) -> BatchResult:
        """Insert digests, add visits, tally rejections, read counts; commit."""

    @abstractmethod
    def _read_stats(self, conn: Any) -> Stats:
        """Read the Stats."""

    @abstractmethod
    def _is_transient(self, exc: Exception) -> bool:
        """Tell whether retrying the batch may succeed."""


# ---------------------------------------------------------------------------
# SQLite

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS counter_meta (
    key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counter_page_visits (
    page TEXT PRIMARY KEY, visits INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counter_site_total (
    id INTEGER PRIMARY KEY CHECK (id = 1), visits INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counter_seen (day TEXT NOT NULL, digest BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counter_salts (
    day TEXT PRIMARY KEY, salt BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counter_rejected (
    day TEXT NOT NULL, reason TEXT NOT NULL, requests INTEGER NOT NULL,
    PRIMARY KEY (day, reason)) WITHOUT ROWID;
INSERT OR IGNORE INTO counter_site_total (id, visits) VALUES (1, 0);
INSERT OR IGNORE INTO counter_meta (key, value) VALUES ('schema_version', '1');
"""
# Every sqlite3 call releases and re-takes the GIL, and every row fetched is one
# more call: with a busy event loop each re-take can wait for a switch interval.
# So a batch uses a handful of multi-row statements and single-row answers.
# counter_seen is append-only, without an index (random keys in a B-tree would
# dirty one page per visit); the writer keeps today's digests in memory to tell
# repeats. It holds two days at most, so the scans at startup and purge are cheap.
_SQLITE_CHUNK = 400  # rows per statement, well below SQLite's 32766 variables
_SQLITE_INSERT_SEEN = "INSERT INTO counter_seen (day, digest) VALUES {rows}"
_SQLITE_ADD_VISITS = (
    "INSERT INTO counter_page_visits (page, visits) VALUES {rows} "
    "ON CONFLICT (page) DO UPDATE SET visits = visits + excluded.visits"
)
_SQLITE_ADD_SITE = "UPDATE counter_site_total SET visits = visits + ? WHERE id = 1"
_SQLITE_ADD_REJECTED = (
    "INSERT INTO counter_rejected (day, reason, requests) VALUES {rows} "
    "ON CONFLICT (day, reason) DO UPDATE SET requests = requests + excluded.requests"
)
_SQLITE_COUNTS = (
    "SELECT (SELECT visits FROM counter_site_total WHERE id = 1), "
    "(SELECT json_group_object(page, visits) FROM counter_page_visits "
    "WHERE page IN ({marks}))"
)
_SQLITE_SITE = "SELECT visits FROM counter_site_total WHERE id = 1"


class SQLiteStorage(Storage):
    """One SQLite file in WAL mode; fine for one service process."""

    name = "sqlite"

    def __init__(
        self,
        path: Path,
        synchronous: str = "FULL",
        lock_wait: float = _LOCK_WAIT,
        **kwargs: Any,
    ) -> None:
        """Remember the file and its synchronous mode (FULL survives power loss)."""
        super().__init__(**kwargs)
        self.path = Path(path)
        self.synchronous = synchronous
        self.lock_wait = lock_wait
        self._seen_day: str | None = None
        self._seen: set[bytes] = set()
        self._lock: Any = None

    def _connect(self) -> sqlite3.Connection:
        """Open the file in WAL mode with the configured synchronous level."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        # Checkpoint every ~16 MB of WAL rather than 4 MB: the hot pages (the
        # page counts, the tail of counter_seen) are copied back less often.
        conn.execute("PRAGMA wal_autocheckpoint=4000")
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        """Create the tables."""
        conn.executescript("BEGIN IMMEDIATE;" + _SQLITE_SCHEMA + "COMMIT;")

    def _load_salt(
        self, conn: sqlite3.Connection, day: str, fresh: bytes, oldest_kept: str
    ) -> bytes:
        """Store or fetch day's salt and delete salts and dedup rows of old days."""
        with _sqlite_transaction(conn):
            conn.execute(
                "INSERT OR IGNORE INTO counter_salts (day, salt) VALUES (?, ?)",
                (day, fresh),
            )
            (salt,) = conn.execute(
                "SELECT salt FROM counter_salts WHERE day = ?", (day,)
            ).fetchone()
            conn.execute("DELETE FROM counter_salts WHERE day < ?", (oldest_kept,))
            conn.execute("DELETE FROM counter_seen WHERE day < ?", (oldest_kept,))
        return bytes(salt)

    def _commit_batch(
        self,
        conn: sqlite3.Connection,
        day: str,
        candidates: list[tuple[bytes, str]],
        rejected: dict[str, int],
        pages: list[str],
    ) -> BatchResult:
        """Apply the batch in one IMMEDIATE transaction."""
        seen = self._seen_on(conn, day)
        fresh = [(digest, page) for digest, page in candidates if digest not in seen]
        with _sqlite_transaction(conn):
            for chunk in _chunks(fresh, _SQLITE_CHUNK):
                sql = _SQLITE_INSERT_SEEN.format(rows=_marks(len(chunk), 2))
                conn.execute(sql, [v for digest, _ in chunk for v in (day, digest)])
            increments = count_increments(fresh, {digest for digest, _ in fresh})
            for chunk in _chunks(sorted(increments.items()), _SQLITE_CHUNK):
                sql = _SQLITE_ADD_VISITS.format(rows=_marks(len(chunk), 2))
                conn.execute(sql, [value for row in chunk for value in row])
            if increments:
                conn.execute(_SQLITE_ADD_SITE, (sum(increments.values()),))
            if rejected:
                sql = _SQLITE_ADD_REJECTED.format(rows=_marks(len(rejected), 3))
                params = [v for r, n in sorted(rejected.items()) for v in (day, r, n)]
                conn.execute(sql, params)
            visits = dict.fromkeys(pages, 0)
            site = 0
            for chunk in _chunks(pages, _SQLITE_CHUNK) if pages else [[]]:
                sql = _SQLITE_COUNTS.format(marks=_marks(len(chunk)))
                site, found = conn.execute(sql, chunk).fetchone()
                visits.update(json.loads(found) if found else {})
        inserted = {digest for digest, _ in fresh}
        seen.update(inserted)  # only once committed
        return BatchResult(inserted, visits, site)

    def _seen_on(self, conn: sqlite3.Connection, day: str) -> set[bytes]:
        """Return the digests stored for day, loading them on a new day."""
        if self._seen_day != day:
            rows = conn.execute("SELECT digest FROM counter_seen WHERE day = ?", (day,))
            self._seen = {bytes(digest) for (digest,) in rows}
            self._seen_day = day
            log.info("counter: %d visitors already seen on %s", len(self._seen), day)
        return self._seen

    def _forget(self) -> None:
        """Reload today's digests from the database on the next batch."""
        self._seen_day = None
        self._seen = set()

    def _claim(self) -> None:
        """Lock the database for this process: SQLite means one service process."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(f"{self.path}.lock", "a+b")  # noqa: SIM115 - held until close
        deadline = time.monotonic() + self.lock_wait  # a killed service's writer may
        while True:  # still be finishing its last batch
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                handle.close()
                raise StorageError(
                    f"another counter process uses {self.path}; SQLite serves one "
                    "process (use PostgreSQL to run several)"
                ) from exc
            break
        self._lock = handle

    def _release(self) -> None:
        """Unlock the database."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _read_stats(self, conn: sqlite3.Connection) -> Stats:
        """Read the Stats in one read transaction."""
        with _sqlite_transaction(conn, "BEGIN"):
            return Stats(
                pages=dict(
                    conn.execute("SELECT page, visits FROM counter_page_visits")
                ),
                site=conn.execute(_SQLITE_SITE).fetchone()[0],
                rejected={
                    (day, reason): n
                    for day, reason, n in conn.execute(
                        "SELECT day, reason, requests FROM counter_rejected"
                    )
                },
                salt_days=[
                    row[0]
                    for row in conn.execute(
                        "SELECT day FROM counter_salts ORDER BY day"
                    )
                ],
                seen_per_day=dict(
                    conn.execute("SELECT day, count(*) FROM counter_seen GROUP BY day")
                ),
            )

    def _is_transient(self, exc: Exception) -> bool:
        """Retry when the file was locked by another process."""
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def backup(self, dest: Path) -> Stats:
        """Copy the live database to dest with SQLite's online backup API."""
        dest = Path(dest)
        if dest.is_dir():
            stamp = datetime.now(self._tz).strftime("%Y%m%d-%H%M%S")
            dest = dest / f"counter-{stamp}.sqlite3"
        partial = dest.with_name(dest.name + ".partial")
        partial.unlink(missing_ok=True)
        source = self._connect()
        target = sqlite3.connect(partial, isolation_level=None)
        try:
            source.backup(target)  # one step: a consistent snapshot, writers go on
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            # No salt, no visitor hash in a backup: wipe them and their pages.
            target.execute("PRAGMA secure_delete=ON")
            target.execute("DELETE FROM counter_salts")
            target.execute("DELETE FROM counter_seen")
            target.execute("VACUUM")
            check = target.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StorageError(f"backup failed its integrity check: {check}")
            stats = self._read_stats(target)
        finally:
            target.close()
            source.close()
        partial.replace(dest)
        log.info("counter: backup written to %s (site total %d)", dest, stats.site)
        return stats

    def restore(self, source: Path) -> None:
        """Replace the database by a backup, holding the lock (no service running)."""
        self._claim()
        try:
            partial = self.path.with_name(self.path.name + ".restoring")
            shutil.copyfile(source, partial)
            os.chmod(partial, 0o600)
            for suffix in ("-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            partial.replace(self.path)
        finally:
            self._release()


class _sqlite_transaction:  # noqa: N801 - used like a function
    """Run a block inside BEGIN … COMMIT, rolling back on any error."""

    def __init__(
        self, conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE"
    ) -> None:
        """Remember the connection."""
        self._conn = conn
        self._begin = begin

    def __enter__(self) -> sqlite3.Connection:
        """Begin."""
        self._conn.execute(self._begin)
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        """Commit, or roll back if the block raised."""
        if exc_type is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:
            self._conn.execute("ROLLBACK")


# ---------------------------------------------------------------------------
# PostgreSQL

_PG_SCHEMA = (
    "SELECT pg_advisory_xact_lock(724201)",  # several instances may start at once
    """CREATE TABLE IF NOT EXISTS counter_meta (
        key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS counter_page_visits (
        page TEXT PRIMARY KEY, visits BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS counter_site_total (
        id INTEGER PRIMARY KEY CHECK (id = 1), visits BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS counter_seen (
        day TEXT NOT NULL, digest BYTEA NOT NULL, PRIMARY KEY (day, digest))""",
    """CREATE TABLE IF NOT EXISTS counter_salts (
        day TEXT PRIMARY KEY, salt BYTEA NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS counter_rejected (
        day TEXT NOT NULL, reason TEXT NOT NULL, requests BIGINT NOT NULL,
        PRIMARY KEY (day, reason))""",
    "INSERT INTO counter_site_total (id, visits) VALUES (1, 0) ON CONFLICT DO NOTHING",
    "INSERT INTO counter_meta (key, value) VALUES ('schema_version', '1') "
    "ON CONFLICT DO NOTHING",
)
# Rows are locked in one global order (digests, pages, total, rejections; each
# sorted) so that batches of several instances cannot deadlock.
_PG_INSERT_SEEN = (
    "INSERT INTO counter_seen (day, digest) "
    "SELECT %s, d FROM unnest(%s::bytea[]) WITH ORDINALITY AS t(d, n) ORDER BY n "
    "ON CONFLICT DO NOTHING RETURNING digest"
)
_PG_ADD_VISITS = (
    "INSERT INTO counter_page_visits (page, visits) "
    "SELECT p, v FROM unnest(%s::text[], %s::bigint[]) AS t(p, v) ORDER BY p "
    "ON CONFLICT (page) DO UPDATE "
    "SET visits = counter_page_visits.visits + EXCLUDED.visits"
)
_PG_ADD_SITE = "UPDATE counter_site_total SET visits = visits + %s WHERE id = 1"
_PG_ADD_REJECTED = (
    "INSERT INTO counter_rejected (day, reason, requests) "
    "SELECT %s, r, n FROM unnest(%s::text[], %s::bigint[]) AS t(r, n) ORDER BY r "
    "ON CONFLICT (day, reason) DO UPDATE "
    "SET requests = counter_rejected.requests + EXCLUDED.requests"
)
_PG_PAGES = "SELECT page, visits FROM counter_page_visits WHERE page = ANY(%s::text[])"
_PG_SITE = "SELECT visits FROM counter_site_total WHERE id = 1"


class PostgresStorage(Storage):
    """A PostgreSQL database shared by several service instances."""

    name = "postgresql"

    def __init__(self, url: str, **kwargs: Any) -> None:
        """Remember the connection URL."""
        super().__init__(**kwargs)
        self.url = url

    def _connect(self) -> Any:
        """Open an autocommit connection (transactions are explicit)."""
        import psycopg

        return psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=10,
            application_name="dvk-counter",
        )

    def _create_schema(self, conn: Any) -> None:
        """Create the tables under an advisory lock."""
        with conn.transaction():
            for statement in _PG_SCHEMA:
                conn.execute(statement)

    def _load_salt(self, conn: Any, day: str, fresh: bytes, oldest_kept: str) -> bytes:
        """Store or fetch day's salt and delete salts and dedup rows of old days."""
        with conn.transaction():
            conn.execute(
                "INSERT INTO counter_salts (day, salt) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING",
                (day, fresh),
            )
            (salt,) = conn.execute(
                "SELECT salt FROM counter_salts WHERE day = %s", (day,)
            ).fetchone()
            conn.execute("DELETE FROM counter_salts WHERE day < %s", (oldest_kept,))
            conn.execute("DELETE FROM counter_seen WHERE day < %s", (oldest_kept,))
        return bytes(salt)

    def _commit_batch(
        self,
        conn: Any,
        day: str,
        candidates: list[tuple[bytes, str]],
        rejected: dict[str, int],
        pages: list[str],
    ) -> BatchResult:
        """Apply the batch in one transaction with set-based statements."""
        with conn.transaction():
            inserted: set[bytes] = set()
            if candidates:
                rows = conn.execute(
                    _PG_INSERT_SEEN, (day, [digest for digest, _ in candidates])
                ).fetchall()
                inserted = {bytes(row[0]) for row in rows}
            increments = count_increments(candidates, inserted)
            if increments:
                names = sorted(increments)
                conn.execute(_PG_ADD_VISITS, (names, [increments[p] for p in names]))
                conn.execute(_PG_ADD_SITE, (sum(increments.values()),))
            if rejected:
                reasons = sorted(rejected)
                conn.execute(
                    _PG_ADD_REJECTED, (day, reasons, [rejected[r] for r in reasons])
                )
            visits = dict.fromkeys(pages, 0)
            if pages:
                visits.update(conn.execute(_PG_PAGES, (pages,)).fetchall())
            (site,) = conn.execute(_PG_SITE).fetchone()
        return BatchResult(inserted, visits, site)

    def _read_stats(self, conn: Any) -> Stats:
        """Read the Stats in one repeatable-read transaction."""
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            return Stats(
                pages=dict(
                    conn.execute(
                        "SELECT page, visits FROM counter_page_visits"
                    ).fetchall()
                ),
                site=conn.execute(_PG_SITE).fetchone()[0],
                rejected={
                    (day, reason): n
                    for day, reason, n in conn.execute(
                        "SELECT day, reason, requests FROM counter_rejected"
                    ).fetchall()
                },
                salt_days=[
                    row[0]
                    for row in conn.execute(
                        "SELECT day FROM counter_salts ORDER BY day"
                    ).fetchall()
                ],
                seen_per_day=dict(
                    conn.execute(
                        "SELECT day, count(*) FROM counter_seen GROUP BY day"
                    ).fetchall()
                ),
            )
        finally:
            conn.execute("ROLLBACK")

    def _is_transient(self, exc: Exception) -> bool:
        """Retry after deadlocks, serialization failures and lost connections."""
        import psycopg

        return isinstance(
            exc,
            psycopg.errors.DeadlockDetected
            | psycopg.errors.SerializationFailure
            | psycopg.OperationalError,
        )


def open_storage(config: Config) -> Storage:
    """Return the Storage that config.database_url names (not yet opened)."""
    if config.backend == "postgresql":
        return PostgresStorage(
            config.database_url, tz=config.tzinfo(), secret=config.secret
        )
    return SQLiteStorage(
        config.sqlite_path,
        config.sqlite_synchronous,
        tz=config.tzinfo(),
        secret=config.secret,
    )


# ---------------------------------------------------------------------------
# The writer process and its protocol: length-prefixed pickles on a socketpair.
# service → writer: the Config, then one (day, [Op, ...]) frame per batch, sent
#     as soon as it forms, without waiting for the answer to the previous one.
# writer → service: ("ready", name) | ("error", message), then for every batch,
#     in order, ("ok", [Answer, ...]) or ("error", message). EOF: the writer exits.
# The writer merges every batch already waiting in its socket into ONE
# transaction: the group commit happens where the commits are.

_WRITER_CODE = (
    "import sys; from counter.storage import writer_main; writer_main(int(sys.argv[1]))"
)


def _frame(message: object) -> bytes:
    """Return message pickled behind its length."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _FRAME.pack(len(data)) + data


class _Inbox:
    """The writer's side of the socket: whole frames, as many as are waiting."""

    def __init__(self, sock: socket.socket) -> None:
        """Start with an empty buffer."""
        self._sock = sock
        self._buffer = bytearray()
        self._eof = False

    def receive(self, enough: int = 0) -> list[Any]:
        """Block for one frame, then take those waiting (up to enough ops); [] at EOF."""
        frames = self._parse()
        while not frames:
            if self._eof or not self._fill(block=True):
                return []
            frames = self._parse()
        while enough and sum(len(f[1]) for f in frames) < enough and self._fill(False):
            frames += self._parse()
        return frames

    def _fill(self, block: bool) -> bool:
        """Read what the socket has; tell whether anything came."""
        try:
            chunk = self._sock.recv(1 << 20, 0 if block else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except ConnectionError:
            chunk = b""
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def _parse(self) -> list[Any]:
        """Cut the complete frames off the front of the buffer."""
        frames, view, offset = [], self._buffer, 0
        while len(view) - offset >= _FRAME.size:
            (size,) = _FRAME.unpack_from(view, offset)
            if len(view) - offset - _FRAME.size < size:
                break
            start = offset + _FRAME.size
            frames.append(pickle.loads(view[start : start + size]))
            offset = start + size
        del self._buffer[:offset]
        return frames


def writer_main(fd: int) -> None:
    """Run the writer process on the socket fd until the service closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when we stop:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # we exit when it closes the socket
    sock = socket.socket(fileno=fd)
    inbox = _Inbox(sock)
    received = inbox.receive()  # the service sends nothing else before "ready"
    if len(received) != 1 or not isinstance(received[0], Config):
        return
    config: Config = received[0]
    logging.basicConfig(level=config.log_level, format=LOG_FORMAT, stream=sys.stderr)
    storage = open_storage(config)
    try:
        storage.open()
    except Exception as exc:  # noqa: BLE001 - reported to the service
        log.error("counter: cannot open the database: %s", exc)
        sock.sendall(_frame(("error", str(exc))))
        return
    log.info("counter: %s writer %d ready", storage.name, os.getpid())
    sock.sendall(_frame(("ready", storage.name)))
    try:
        _serve_batches(inbox, sock, storage, config.max_batch)
    finally:
        storage.close()
        log.info("counter: %s writer %d stopped", storage.name, os.getpid())


def _serve_batches(
    inbox: _Inbox, sock: socket.socket, storage: Storage, max_batch: int
) -> None:
    """Commit the waiting batches together and answer each, until EOF."""
    while frames := inbox.receive(enough=max_batch):
        replies = b"".join(_frame(reply) for reply in _apply_frames(storage, frames))
        try:
            sock.sendall(replies)
        except OSError:  # the service is gone
            return


def _apply_frames(storage: Storage, frames: list[tuple[str, list[Op]]]) -> list[Any]:
    """Apply the frames of each day in one transaction; return one reply per frame."""
    replies: list[Any] = []
    start = 0
    while start < len(frames):
        day = frames[start][0]
        end = start
        while end < len(frames) and frames[end][0] == day:
            end += 1
        group = frames[start:end]
        ops = [op for _day, frame_ops in group for op in frame_ops]
        try:
            answers = storage.apply(day, ops)
        except Exception as exc:  # noqa: BLE001 - the batch fails, the writer goes on
            log.error("counter: batch of %d operations failed: %s", len(ops), exc)
            replies += [("error", f"database error: {type(exc).__name__}")] * len(group)
        else:
            for _day, frame_ops in group:
                replies.append(("ok", answers[: len(frame_ops)]))
                answers = answers[len(frame_ops) :]
        start = end
    return replies


class _Pending:
    """One operation waiting for the writer, with its future (None for tallies)."""

    __slots__ = ("op", "future")

    def __init__(self, op: Op, future: asyncio.Future[Counts] | None) -> None:
        """Fill the slots."""
        self.op = op
        self.future = future


class GroupCommitWriter:
    """The event-loop side: queue operations, have the writer process commit them."""

    def __init__(self, config: Config, clock: Callable[[], datetime] = _utcnow) -> None:
        """Configure; the writer process starts with start()."""
        self.config = config
        self.name = config.backend
        self._tz = config.tzinfo()
        self._clock = clock
        self._max_batch = config.max_batch
        self._max_pending = config.max_pending
        self._timeout = config.request_timeout
        self._pending: list[_Pending] = []
        self._in_flight: collections.deque[list[_Pending]] = collections.deque()
        self._in_flight_ops = 0
        self._waiting: collections.deque[tuple[float, asyncio.Future]] = (
            collections.deque()
        )
        self._work = asyncio.Event()
        self._drained = asyncio.Event()
        self._proc: subprocess.Popen | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task] = []
        self._ready = False
        self._stopping = False

    @property
    def alive(self) -> bool:
        """Tell whether the writer process is up and taking batches."""
        return self._ready and not self._stopping

    async def start(self) -> None:
        """Start the writer process (raising StorageError if it cannot open the DB)."""
        await self._spawn()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._send()),
            loop.create_task(self._collect()),
        ]

    async def stop(self) -> None:
        """Commit what is pending, then stop the writer process."""
        self._stopping = True
        while self._ready and (self._pending or self._in_flight):
            self._work.set()
            self._drained.clear()
            try:
                await asyncio.wait_for(self._drained.wait(), self._timeout)
            except TimeoutError:
                log.error("counter: the writer did not finish; stopping anyway")
                break
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        _fail(self._pending, StorageError("the service is stopping"))
        await self._close_writer()

    def hit(self, page: str, address: str, user_agent: str) -> asyncio.Future[Counts]:
        """Queue a visit; the future resolves once it is committed."""
        return self._submit((HIT, page, address, user_agent, None))

    def read(self, page: str, reject: str | None = None) -> asyncio.Future[Counts]:
        """Queue a read of the counts (tallying a rejection with it, if given)."""
        return self._submit((READ, page, "", "", reject))

    def reject(self, reason: str) -> None:
        """Tally a rejected request with the next batch, without waiting."""
        if self.alive and self._backlog() < self._max_pending:
            self._pending.append(_Pending((REJECT, "", "", "", reason), None))
            self._work.set()

    def _backlog(self) -> int:
        """Return how many operations are queued or being committed."""
        return len(self._pending) + self._in_flight_ops

    def _submit(self, op: Op) -> asyncio.Future[Counts]:
        """Queue op with a fresh future."""
        if not self.alive:
            raise StorageError("the writer is not running")
        if self._backlog() >= self._max_pending:
            raise StorageBusy("too many pending operations")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((loop.time() + self._timeout, future))
        self._pending.append(_Pending(op, future))
        self._work.set()
        return future

    def expire_overdue(self, now: float) -> int:
        """Fail the futures that waited past the timeout; return how many."""
        expired = 0
        waiting = self._waiting
        while waiting and (waiting[0][1].done() or waiting[0][0] <= now):
            _deadline, future = waiting.popleft()
            if not future.done():
                future.set_exception(StorageError("timed out waiting for the database"))
                expired += 1
        if expired:
            log.error(
                "counter: %d requests timed out waiting for the database", expired
            )
        return expired

    async def watch(self, interval: float = 0.5) -> None:
        """Expire overdue operations every interval seconds, forever."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            self.expire_overdue(loop.time())

    async def _send(self) -> None:
        """Send what is pending as one batch whenever fewer than two are out."""
        while True:
            if (
                not self._pending
                or not self._ready
                or len(self._in_flight) >= _IN_FLIGHT
            ):
                self._work.clear()
                await self._work.wait()
                continue
            batch = self._pending[: self._max_batch]
            del self._pending[: len(batch)]
            day = self._clock().astimezone(self._tz).date().isoformat()
            assert self._writer is not None
            self._writer.write(_frame((day, [item.op for item in batch])))
            self._in_flight.append(batch)
            self._in_flight_ops += len(batch)

    async def _collect(self) -> None:
        """Resolve the batches in order as the writer answers them."""
        while True:
            try:
                status, payload = await self._read_reply()
            except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
                log.error("counter: lost the writer process: %r", exc)
                await self._respawn()
                continue
            batch = self._in_flight.popleft()
            self._in_flight_ops -= len(batch)
            if status == "ok":
                _settle(batch, payload)
            else:
                _fail(batch, StorageError(payload))
            if not self._in_flight:
                self._drained.set()
            self._work.set()

    async def _read_reply(self) -> tuple[str, Any]:
        """Read one message from the writer."""
        if self._reader is None:
            raise EOFError
        (size,) = _FRAME.unpack(await self._reader.readexactly(_FRAME.size))
        return pickle.loads(await self._reader.readexactly(size))

    async def _spawn(self) -> None:
        """Start a writer process and wait until it has opened the database."""
        parent, child = socket.socketpair()
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [package_root, env.get("PYTHONPATH")])
        )
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _WRITER_CODE, str(child.fileno())],
                pass_fds=[child.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
        self._reader, self._writer = await asyncio.open_unix_connection(sock=parent)
        self._writer.write(_frame(self.config))
        try:
            status, payload = await asyncio.wait_for(self._read_reply(), 60)
        except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError) as exc:
            await self._close_writer()
            raise StorageError(f"the writer process did not start: {exc!r}") from exc
        if status != "ready":
            await self._close_writer()
            raise StorageError(payload)
        self._ready = True
        self._work.set()

    async def _respawn(self) -> None:
        """Fail what was waiting and replace the dead writer, retrying every second."""
        await self._close_writer()
        error = StorageError("the writer process died")
        for batch in self._in_flight:
            _fail(batch, error)
        self._in_flight.clear()
        self._in_flight_ops = 0
        self._drained.set()
        while not self._stopping:
            _fail(self._pending, error)
            self._pending.clear()
            try:
                await self._spawn()
            except StorageError as exc:
                log.error("counter: cannot restart the writer process: %s", exc)
                await asyncio.sleep(1.0)
            else:
                log.warning("counter: writer process restarted")
                return
        await asyncio.Event().wait()  # stopping: wait to be cancelled

    async def _close_writer(self) -> None:
        """Close the socket (the writer exits on EOF) and reap the process."""
        self._ready = False
        if self._writer is not None:
            self._writer.close()
            self._writer = self._reader = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, proc.wait, 20)
        except subprocess.TimeoutExpired:
            log.error("counter: writer process %d did not stop; killing it", proc.pid)
            proc.kill()
            await loop.run_in_executor(None, proc.wait)


def _settle(batch: list[_Pending], answers: list[Answer]) -> None:
    """Resolve each future of the batch with its answer."""
    for item, answer in zip(batch, answers, strict=True):
        future = item.future
        if future is not None and not future.done() and answer is not None:
            future.set_result(Counts(*answer))


def _fail(batch: list[_Pending], error: StorageError) -> None:
    """Fail every future of the batch."""
    for item in batch:
        if item.future is not None and not item.future.done():
            item.future.set_exception(error)
