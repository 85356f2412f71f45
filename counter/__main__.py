"""Command line: `python -m counter [serve]`, `backup DEST`, `stats`."""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import logging
import os
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
    try:
        config = Config.from_env(os.environ)
    except ConfigError as exc:
        print(f"counter: invalid configuration: {exc}", file=sys.stderr)
        return 2
    _setup_logging(config.log_level)
    if args.command == "backup":
        return backup(config, Path(args.dest))
    if args.command == "stats":
        return stats(config)
    return serve(config)


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
    backup_cmd.add_argument("dest", help="a file, or a folder to put a dated file in")
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


def backup(config: Config, dest: Path) -> int:
    """Copy the SQLite database while it may be in use."""
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
