"""Command line: `python -m counter [serve]`, `backup DEST`, `stats`."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import importlib.util
import json
import logging
import os
import secrets
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from counter import __version__
from counter.config import LOG_FORMAT, Config, ConfigError
from counter.storage import SQLiteStorage, StorageError, open_storage

log = logging.getLogger("counter")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named on the command line; return the exit status."""
    args = _parser().parse_args(argv)
    os.umask(0o077)  # the database, its WAL, lock file and backups: owner only
    try:
        config = Config.from_env(os.environ)
        if args.command in (None, "serve"):
            config = with_secret(config)
    except ConfigError as exc:
        print(f"counter: invalid configuration: {exc}", file=sys.stderr)
        return 2
    _setup_logging(config.log_level)
    if args.command == "backup":
        return backup(config, args.dest)
    if args.command == "restore":
        return restore(config, Path(args.source))
    if args.command == "stats":
        return stats(config)
    return serve(config)


def with_secret(config: Config) -> Config:
    """Check COUNTER_SECRET; in development mode make (and keep) one if it is missing."""
    if config.mode == "development" and not config.secret:
        if config.backend == "sqlite":
            path = config.sqlite_path.with_name(config.sqlite_path.name + ".secret")
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.write_text(secrets.token_hex(32) + "\n", "ascii")
            secret = path.read_text("ascii").strip().encode()
        else:
            secret = secrets.token_hex(32).encode()
        log.warning("counter: development mode, using a generated COUNTER_SECRET")
        return dataclasses.replace(config, secret=secret)
    config.check_secret()
    return config


def _parser() -> argparse.ArgumentParser:
    """Describe the commands."""
    parser = argparse.ArgumentParser(
        prog="python -m counter",
        description="Visitor counter of the portal. Configured by COUNTER_* "
        "environment variables (see docs/COUNTER.md).",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the HTTP service (the default)")
    backup_cmd = commands.add_parser(
        "backup", help="copy the live SQLite database to DEST (safe while serving)"
    )
    backup_cmd.add_argument(
        "dest", help="a file, or a folder (ending in /) to put a dated file in"
    )
    restore_cmd = commands.add_parser(
        "restore", help="replace the (stopped) service's database by a backup"
    )
    restore_cmd.add_argument("source", help="a file written by `backup`")
    commands.add_parser("stats", help="print the stored counts as JSON")
    return parser


def _setup_logging(level: str) -> None:
    """Log to stderr; uvicorn's loggers propagate here (no access log)."""
    logging.basicConfig(
        level=level,
        format=LOG_FORMAT,
        stream=sys.stderr,
    )


def serve(config: Config) -> int:
    """Run the service with uvicorn until SIGTERM or SIGINT."""
    import uvicorn

    from counter.app import create_app

    gc.freeze()  # the imported modules need no more garbage collection passes,
    gc.set_threshold(50_000, 50, 100)  # and per-request garbage is short-lived
    fast = all(importlib.util.find_spec(name) for name in ("uvloop", "httptools"))
    if not fast:
        log.warning("counter: uvloop/httptools missing, falling back to slower ones")
    log.info(
        "counter: serving on http://%s:%d with %s, pages from %s",
        config.host,
        config.port,
        config.redacted_database_url(),
        config.pages_path,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=config.host,
            port=config.port,
            loop="uvloop" if fast else "auto",
            http="httptools" if fast else "auto",
            lifespan="on",
            access_log=False,  # it would log client addresses
            proxy_headers=False,  # COUNTER_TRUSTED_PROXIES decides, not uvicorn
            server_header=False,
            log_config=None,  # keep the logging set up above
            backlog=2048,
            timeout_keep_alive=15,
            timeout_graceful_shutdown=10,
        )
    )
    server.run()
    return 0 if server.started else 3


def backup(config: Config, dest_text: str) -> int:
    """Copy the SQLite database while it may be in use."""
    dest = Path(dest_text)
    if dest_text.endswith("/"):  # a folder, made if missing: a dated file in it
        dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    if config.backend != "sqlite":
        print(
            "counter: backup copies SQLite databases only; for PostgreSQL use "
            "pg_dump, e.g. pg_dump --format=custom --table='counter_*' "
            '"$COUNTER_DATABASE_URL" > counter.dump',
            file=sys.stderr,
        )
        return 2
    if not config.sqlite_path.exists():
        print(f"counter: no database at {config.sqlite_path}", file=sys.stderr)
        return 1
    storage = open_storage(config)
    assert isinstance(storage, SQLiteStorage)
    try:
        result = storage.backup(dest)
    except (OSError, StorageError) as exc:
        print(f"counter: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"counter: backup done: {len(result.pages)} pages, site total {result.site}")
    return 0


def restore(config: Config, source: Path) -> int:
    """Put a backup in place of the database while the service is stopped."""
    if config.backend != "sqlite":
        print("counter: restore handles SQLite; for PostgreSQL use pg_restore")
        return 2
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        ) as conn:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            conn.execute("SELECT visits FROM counter_site_total").fetchone()
    except sqlite3.Error as exc:
        print(f"counter: {source} is not a counter backup: {exc}", file=sys.stderr)
        return 1
    if check != "ok":
        print(f"counter: {source} failed its integrity check: {check}", file=sys.stderr)
        return 1
    storage = SQLiteStorage(config.sqlite_path, lock_wait=0.0)
    try:
        storage.restore(source)
    except StorageError as exc:
        print(f"counter: stop the service first: {exc}", file=sys.stderr)
        return 1
    print(f"counter: restored {source} into {config.sqlite_path}")
    return 0


def stats(config: Config) -> int:
    """Print the counts, rejections and retained days as JSON."""
    if config.backend == "sqlite" and not config.sqlite_path.exists():
        print(f"counter: no database at {config.sqlite_path}", file=sys.stderr)
        return 1
    result = open_storage(config).stats()
    rejected: dict[str, dict[str, int]] = {}
    for (day, reason), n in sorted(result.rejected.items()):
        rejected.setdefault(day, {})[reason] = n
    document = {
        "site": result.site,
        "pages": dict(sorted(result.pages.items())),
        "rejected": rejected,
        "salt_days": result.salt_days,
        "dedup_rows_per_day": result.seen_per_day,
    }
    print(json.dumps(document, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
