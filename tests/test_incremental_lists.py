"""Rebuilds that keep pages without replaying them when titles change or items come.

A page is kept so (Build.keep_listed) when it read no changed item and no named
list whose items changed (portal.outputs.note_lists), and its other reads are
the same; a page that reached an item through a list without a name is always
replayed. Each test compares the incremental output with a clean build, and
fails if lists were not compared or unnamed ones were trusted.
"""

from __future__ import annotations

import pytest

from tests.test_incremental import (
    MODELS,
    NEWS,
    Sites,
    add_plugin,
    news_text,
    snapshot,
)

SAME_DAY = 14  # news of one day: 12 on the list's first page, 2 on the newest older


def same_day(letter: str, title: str | None = None) -> str:
    """Return the text of a news item dated like the other same-day ones."""
    return news_text(900, title=title or f"Tin cùng ngày {letter}", date="2030-01-01")


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> Sites:
    """Return a site with 14 news of the newest day, built once."""
    sites = Sites(tmp_path_factory.mktemp("lists"))
    for index in range(SAME_DAY):
        letter = chr(ord("B") + index)
        sites.write(f"news/cung-ngay-{letter.lower()}.md", same_day(letter))
    assert sites.build("inc")["full"]
    return sites


def assert_clean(sites: Sites) -> None:
    """Assert the incremental output is a clean build's, byte for byte."""
    after, clean = snapshot(sites.root / "inc"), snapshot(sites.root / "clean")
    assert set(after) == set(clean)
    assert [n for n in after if after[n][0] != clean[n][0]] == []


def test_a_title_moving_an_item_across_a_page_boundary_renders_the_list_pages(
    sites: Sites,
) -> None:
    """Same date, title tie-break: the item moves from the older page to page 1.

    Page 1 read none of the moved item before: only its named list (the page's
    slice, portal/paginate.py) tells it changed.
    """
    last = chr(ord("B") + SAME_DAY - 1).lower()
    sites.write(f"news/cung-ngay-{last}.md", same_day("A", "Tin cùng ngày A"))
    report = sites.both_builds()
    assert_clean(sites)
    rendered = set(report["rendered"])
    # Page 1 and the newest older page (the oldest items fill tin-tuc/2/ first).
    assert {"tin-tuc/index.html", "tin-tuc/4/index.html"} <= rendered, rendered
    pages = report["skipped"] + len(report["rendered"])
    assert report["quick"] > pages // 2, report
    assert report["unnamed"] <= 2, report  # the home page (no signature of items)


def test_a_move_back_after_a_body_edit_renders_the_list_pages_again(
    sites: Sites,
) -> None:
    """Move an item across the boundary, edit another body, move the item back.

    The body edit's build takes each list's digest from the build before it
    (only bodies changed: every list is the same); had it kept an older
    build's, the move back would find page 1's list unchanged and keep it
    showing the moved item.
    """
    last = chr(ord("B") + SAME_DAY - 1)
    moved = f"news/cung-ngay-{last.lower()}.md"
    sites.write(moved, same_day("A", "Tin cùng ngày A"))
    sites.both_builds()
    assert_clean(sites)
    edited = news_text(
        900, title="Tin cùng ngày C", date="2030-01-01", body="Nội dung đã sửa.\n"
    )
    sites.write("news/cung-ngay-c.md", edited)
    report = sites.both_builds()
    assert_clean(sites)
    assert report["quick"] > (report["skipped"] + len(report["rendered"])) // 2
    sites.write(moved, same_day(last))
    report = sites.both_builds()
    assert_clean(sites)
    assert "tin-tuc/index.html" in report["rendered"], report


RESORT_PLUGIN = '''
"""Give each news item as "others" the first three news by title, in unnamed lists."""
from pelican import signals


def resort(generators):
    for generator in generators:
        news = [a for a in getattr(generator, "articles", []) if a.type == "news"]
        first = sorted(news, key=lambda item: item.title)[:3]
        for item in news:
            item.others = list(first)


def register():
    signals.all_generators_finalized.connect(resort)
'''


def test_a_page_reaching_items_through_an_unnamed_list_is_replayed(
    sites: Sites, tmp_path
) -> None:
    """A plugin's own list of items (not named): its readers are never kept quickly.

    The title edit brings an item no news page read into every news page's
    unnamed list: kept without replay, they would show the old three.
    """
    add_plugin(sites, tmp_path, "resort", RESORT_PLUGIN)
    try:
        assert sites.build("inc")["full"]  # new settings
        sites.write("news/tin-004.md", news_text(4, title="A Tin số 004 (trước)"))
        report = sites.both_builds()
        assert_clean(sites)
        assert report["unnamed"] >= NEWS, report
        pages = report["skipped"] + len(report["rendered"])
        assert MODELS < report["quick"] <= pages - NEWS, report
    finally:
        sites.settings = {}


@pytest.mark.parametrize("read", [1, 12, 40])
def test_a_page_holds_an_item_it_did_not_read_only_rarely(read: int) -> None:
    """A page's item signature holds every item it read and few others by chance."""
    from incremental.incremental import item_signature, may_read

    paths = [f"/site/content/news/tin-{i}.md" for i in range(5000)]
    pages = [item_signature(paths[i : i + read]) for i in range(0, 5000, read)]
    for n, page in enumerate(pages[:50]):
        own = paths[n * read : (n + 1) * read]
        assert may_read(page, [item_signature([path]) for path in own])
    # An addition: one new item, asked of every page (about 5,000 pages at 40
    # items a page hold 200,000 reads). With 256 bits and two per item, about
    # 0.8 % of the pages of 12 items held it by chance; now about 1 in 25,000.
    new = [item_signature([f"/site/content/news/moi-{i}.md"]) for i in range(40)]
    chance = sum(may_read(page, [item]) for item in new for page in pages)
    assert chance <= len(pages) * len(new) * (0.003 if read == 40 else 0.0005)
