"""Vietnamese dates as legacy portals print them, parsed into datetimes."""

from __future__ import annotations

import datetime as dt
import re

from portal.text import nfc

# "ngày 9 tháng 9 năm 2019"
_WORDS = re.compile(
    r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})", re.IGNORECASE
)
# "09/09/2019", "9-9-2019", "09.09.2019"
_DMY = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)")
# "2019-09-09", "2019-09-09T08:30"
_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
# "08:30", "8h30", "08g30"
_TIME = re.compile(r"(?<!\d)(\d{1,2})\s*[:hg]\s*(\d{2})(?!\d)", re.IGNORECASE)


def parse_date(text: str) -> dt.datetime | None:
    """Return the first date (with its time, if any) found in text, else None."""
    text = nfc(text or "")
    for pattern, order in ((_WORDS, "dmy"), (_DMY, "dmy"), (_ISO, "ymd")):
        match = pattern.search(text)
        if not match:
            continue
        parts = [int(part) for part in match.groups()]
        year, month, day = parts if order == "ymd" else parts[::-1]
        try:
            date = dt.datetime(year, month, day)
        except ValueError:
            continue
        rest = text[: match.start()] + " " + text[match.end() :]
        return date.replace(**_time_of(rest))
    return None


def _time_of(text: str) -> dict[str, int]:
    """Return hour and minute of the first valid time of day in text, if any."""
    for match in _TIME.finditer(text):
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return {"hour": hour, "minute": minute}
    return {}
