"""The legacy portal's visit total carried over: `python -m counter.legacy`.

Set once, before or after the service first runs: the site's starting total and,
for imported articles, each legacy URL's visits (a CSV of `legacy_url,visits`),
found through data/redirects.yml. Both are added to the stored counts, so the
footer shows one number. The record (`counter_meta` key `legacy_start`) keeps
what was set and when, and a second run refuses to add it again.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from counter.config import Config, ConfigError
from counter.pages import InvalidPage, normalise_page
from counter.storage import SQLiteStorage, Storage, StorageError, open_storage
from portal.importer.state import legacy_path, read_redirects

RECORD = "legacy_start"


class StartError(ValueError):
    """The starting totals cannot be set; the message says why, in Vietnamese."""


def read_page_visits(
    path: Path, redirects: Mapping[str, str], prefix: str = ""
) -> dict[str, int]:
    """Read `legacy_url,visits` lines; return visits by our page id."""
    visits: dict[str, int] = {}
    missing = []
    with path.open(encoding="utf-8-sig", newline="") as stream:
        for number, row in enumerate(csv.reader(stream), start=1):
            if not row or row[0].startswith("#") or row[0].strip() == "legacy_url":
                continue
            if len(row) < 2 or not row[1].strip().isdigit():
                raise StartError(
                    f"{path}:{number}: cần “địa chỉ cũ,số lượt”, ví dụ"
                    " “/portal/Pages/Article.aspx?ArticleID=123,5300”"
                )
            target = redirects.get(legacy_path(row[0]))
            if target is None:
                missing.append(f"{path}:{number}: {row[0]}")
                continue
            try:
                page = normalise_page(prefix.rstrip("/") + target)
            except InvalidPage as error:
                raise StartError(f"{path}:{number}: {error}") from None
            visits[page] = visits.get(page, 0) + int(row[1])
    if missing:
        raise StartError(
            "các địa chỉ cũ sau chưa có trong data/redirects.yml (nhận bài vào"
            " content/ bằng make import-accept trước):\n  " + "\n  ".join(missing)
        )
    return visits


def set_starting_totals(
    storage: Storage, site: int, pages: Mapping[str, int], note: str = ""
) -> dict[str, Any]:
    """Add the legacy totals to the stored counts once; return the record."""
    if site < 0 or any(v < 0 for v in pages.values()):
        raise StartError("số lượt truy cập không được âm")
    record = {
        "set_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "site": site,
        "pages": len(pages),
        "page_visits": sum(pages.values()),
        "note": note,
    }
    # The counter's own storage keeps its SQL private; this one-off command uses
    # the same connection and tables (counter_meta, counter_site_total,
    # counter_page_visits) in one transaction.
    conn = storage._connect()
    mark = "?" if isinstance(storage, SQLiteStorage) else "%s"
    try:
        _begin(conn, storage)
        found = conn.execute(
            f"SELECT value FROM counter_meta WHERE key = {mark}", (RECORD,)
        ).fetchone()
        if found is not None:
            _rollback(conn, storage)
            raise StartError(f"tổng lượt truy cập của cổng cũ đã được đặt: {found[0]}")
        conn.execute(
            f"INSERT INTO counter_meta (key, value) VALUES ({mark}, {mark})",
            (RECORD, json.dumps(record, ensure_ascii=False)),
        )
        conn.execute(
            f"UPDATE counter_site_total SET visits = visits + {mark} WHERE id = 1",
            (site,),
        )
        for page, visits in sorted(pages.items()):
            conn.execute(
                "INSERT INTO counter_page_visits (page, visits)"
                f" VALUES ({mark}, {mark}) ON CONFLICT (page)"
                " DO UPDATE SET visits = counter_page_visits.visits + excluded.visits",
                (page, visits),
            )
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn, storage)
        raise
    finally:
        conn.close()
    return record


def read_record(storage: Storage) -> str | None:
    """Return the record of the legacy totals, if they were set."""
    conn = storage._connect()  # see set_starting_totals()
    mark = "?" if isinstance(storage, SQLiteStorage) else "%s"
    try:
        found = conn.execute(
            f"SELECT value FROM counter_meta WHERE key = {mark}", (RECORD,)
        ).fetchone()
    finally:
        conn.close()
    return found[0] if found else None


def _begin(conn: Any, storage: Storage) -> None:
    """Start a write transaction."""
    conn.execute("BEGIN IMMEDIATE" if isinstance(storage, SQLiteStorage) else "BEGIN")


def _rollback(conn: Any, storage: Storage) -> None:
    """Roll back the transaction if one is open."""
    in_tx = (
        conn.in_transaction
        if isinstance(storage, SQLiteStorage)
        else conn.info.transaction_status != 0
    )
    if in_tx:
        conn.execute("ROLLBACK")


def main(argv: Sequence[str] | None = None) -> int:
    """Set the legacy portal's visit totals once; print the record."""
    parser = argparse.ArgumentParser(
        prog="python -m counter.legacy",
        description="Đặt một lần tổng lượt truy cập mang sang từ cổng cũ"
        " (cấu hình COUNTER_* như dịch vụ đếm, xem docs/COUNTER.md).",
    )
    parser.add_argument("--site", type=int, help="tổng lượt của cổng cũ")
    parser.add_argument("--show", action="store_true", help="in bản ghi đã đặt")
    parser.add_argument("--pages", type=Path, help="CSV “địa chỉ cũ,số lượt” theo bài")
    parser.add_argument("--redirects", type=Path, default=Path("data/redirects.yml"))
    parser.add_argument("--prefix", default="", help="đường dẫn con của SITEURL")
    parser.add_argument("--note", default="", help="ghi chú (nguồn số liệu)")
    args = parser.parse_args(argv)
    if args.site is None and not args.show:
        parser.error("cần --site N (hoặc --show)")
    try:
        config = Config.from_env(os.environ)
        if args.show:
            print(read_record(open_storage(config)) or "chưa đặt")
            return 0
        pages = {}
        if args.pages:
            redirects = read_redirects(args.redirects)
            pages = read_page_visits(args.pages, redirects, args.prefix)
        storage = open_storage(config)
        storage.open()
        try:
            record = set_starting_totals(storage, args.site, pages, args.note)
        finally:
            storage.close()
    except (ConfigError, StartError, StorageError, OSError) as error:
        print(f"LỖI {error}", file=sys.stderr)
        return 1
    print(
        f"Đã cộng {record['site']} lượt vào tổng của cổng và {record['page_visits']}"
        f" lượt vào {record['pages']} trang; ghi nhận lúc {record['set_at']}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
