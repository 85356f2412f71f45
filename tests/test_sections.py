"""The sections plugin's order: newest first, then by title in Vietnamese order."""

import datetime as dt
from types import SimpleNamespace

import pytest

from plugins.sections import sections
from portal import text

DAY = dt.datetime(2030, 1, 1)
TITLES = ["Zô", "Ơn", "Đức Linh", "An", "Ăn", "Dương", "Âu"]
ORDER = ["An", "Ăn", "Âu", "Dương", "Đức Linh", "Mới", "Ơn", "Zô"]


def item(title: str, date: dt.datetime = DAY) -> SimpleNamespace:
    """Return an item as read: its title key kept by the sections plugin."""
    made = SimpleNamespace(title=title, date=date)
    sections.keep_title_key(made)
    return made


def test_an_item_read_keeps_its_title_key():
    assert item("Ơn").title_key == text.sort_key("Ơn")


@pytest.mark.parametrize("stale", [False, True])
def test_newest_first_orders_a_day_by_vietnamese_title(stale):
    items = [item(title) for title in TITLES]
    items.append(item("Mới", DAY + dt.timedelta(days=1)))
    if stale:  # titles changed after the keys were made: the keys are made again
        titles = [one.title for one in reversed(items)]
        for one, title in zip(items, titles, strict=True):
            one.title = title
    ordered = [one.title for one in sections.newest_first(items)]
    expected = [one.title for one in sorted(items, key=lambda i: i.date)][-1:]
    same_day = sorted(
        (one.title for one in items if one.date == DAY), key=ORDER_KEY.__getitem__
    )
    assert ordered == expected + same_day


ORDER_KEY = {title: index for index, title in enumerate(ORDER)}
