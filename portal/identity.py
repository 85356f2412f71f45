"""The site's identity over time: which agency runs it, at what address, under what licence.

Read from `data/co-quan.yml` (a list of agencies, each valid from/to a date). The
footer shows the agency of the build date (BUILD_DATE, an input of the build); each
item's structured data and facts box show the agency of the item's own date.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from portal.vocab import DataLoader, item_lines

FIELDS = (
    "name",
    "province",
    "governing_body",
    "address",
    "phone",
    "email",
    "responsible",
    "licence",
)
TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")


class IdentityError(ValueError):
    """The identity file is wrong; the message says where and how to fix it."""


def read_agencies(path: str | Path) -> list[dict]:
    """Read the agencies, oldest first, checking names and dates."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
        data = yaml.load(text, Loader=DataLoader) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise IdentityError(f"{path}: không đọc được tệp cơ quan: {error}") from None
    raw = data.get("agencies") if isinstance(data, dict) else None
    if not isinstance(raw, list) or not raw:
        raise IdentityError(f"{path}: cần có danh sách “agencies:”")
    agencies = []
    lines = item_lines(text, "agencies")
    for number, entry in enumerate(raw, start=1):
        line = f":{lines[number - 1]}" if number <= len(lines) else ""
        where = f"{path}{line}: mục {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise IdentityError(f"{where}: mỗi mục cần có “name” (tên cơ quan)")
        agency = {key: str(entry[key]) for key in FIELDS if entry.get(key)}
        for key in ("valid_from", "valid_to"):
            value = entry.get(key)
            try:
                day = None if value is None else dt.date.fromisoformat(str(value))
            except ValueError:
                raise IdentityError(
                    f"{where}: “{key}: {value}” không phải ngày có thật; viết dạng"
                    " năm-tháng-ngày, ví dụ 2025-07-01"
                ) from None
            agency[key] = day
        agencies.append(agency)
    return sorted(agencies, key=lambda a: a["valid_from"] or dt.date.min)


def agency_on(agencies: list[dict], day: dt.date) -> dict:
    """Return the agency valid on a day (the nearest one when none covers it)."""
    if isinstance(day, dt.datetime):
        day = day.date()
    for agency in agencies:
        starts, ends = agency["valid_from"], agency["valid_to"]
        if (starts is None or starts <= day) and (ends is None or day <= ends):
            return agency
    return (
        agencies[0]
        if day < (agencies[0]["valid_from"] or dt.date.min)
        else agencies[-1]
    )


def build_date(environ: Mapping[str, str] = os.environ) -> dt.date:
    """Return the build date: BUILD_DATE (YYYY-MM-DD), SOURCE_DATE_EPOCH, or today."""
    if environ.get("BUILD_DATE"):
        return dt.date.fromisoformat(environ["BUILD_DATE"])
    if environ.get("SOURCE_DATE_EPOCH"):
        stamp = int(environ["SOURCE_DATE_EPOCH"])
        return dt.datetime.fromtimestamp(stamp, TIMEZONE).date()
    return dt.datetime.now(TIMEZONE).date()


class Agencies:
    """The agencies of a file, as a Jinja filter: {{ article.date|agency }}."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.agencies = read_agencies(path)

    def __call__(self, day: dt.date) -> dict:
        return agency_on(self.agencies, day)

    def __repr__(self) -> str:
        return f"Agencies({self.path!r})"

    def __reduce__(self):  # Pelican pickles settings: pickle the path only
        return (Agencies, (self.path,))
