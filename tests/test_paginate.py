"""List pages (portal/paginate.py): the newest on page 1, older pages fixed from the oldest."""

from __future__ import annotations

import pytest

from portal.paginate import paginate


def pages_of(count: int, per_page: int = 3) -> dict[str, list[int]]:
    items = list(range(count, 0, -1))  # newest first: item n was added n-th
    return {
        page.url: page.object_list
        for page in paginate(items, per_page, "x/", "x/index.html")
    }


@pytest.mark.parametrize("count", [0, 1, 3, 4, 7, 9, 10, 30])
def test_every_item_is_on_exactly_one_page_newest_first(count: int) -> None:
    pages = paginate(list(range(count, 0, -1)), 3, "x/", "x/index.html")
    seen = [item for page in pages for item in page.object_list]
    assert seen == list(range(count, 0, -1))
    assert [page.number for page in pages] == list(range(1, len(pages) + 1))
    assert pages[0].url == "x/" and pages[0].save_as == "x/index.html"
    assert all(0 < len(page.object_list) <= 3 for page in pages[1:])


@pytest.mark.parametrize("count", [4, 9, 10, 30])
def test_adding_the_newest_item_changes_two_pages_at_most(count: int) -> None:
    before, after = pages_of(count), pages_of(count + 1)
    changed = [url for url in after if before.get(url) != after[url]]
    assert len(changed) <= 2 and "x/" in changed
    if count >= 6:  # the oldest page is full and never moves
        assert before["x/2/"] == after["x/2/"] == [3, 2, 1]
