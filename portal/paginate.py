"""Write a paginated list of items through Pelican's writer, older pages fixed.

Items come newest first. The list's own URL (page 1 for the reader) shows the
newest `per_page` items. The older items are cut into pages from the OLDEST
one: the oldest `per_page` items are always at `<url>2/`, the next ones at
`<url>3/`, and so on; only the newest of these pages may be partly filled. So
adding an item changes page 1 and that newest older page only (and every
page's navigation once every `per_page` additions, when a page is added),
instead of shifting every page by one item (about 900 list pages at 5,000
items). For the reader, pages are numbered newest first (`items_page.number`:
1 is the list's URL), so a URL's number and its page number differ once there
are more than two pages; `items_page_urls` lists the URLs in reading order.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ListPage", "Pagination", "paginate", "write_paginated"]


@dataclass(frozen=True, eq=False)
class ListPage:
    """One page of a list: its number (1 = newest), URL, output path and items."""

    number: int
    url: str
    save_as: str
    object_list: list


@dataclass(frozen=True, eq=False)
class Pagination:
    """The pages of a list (what templates call `items_paginator`)."""

    num_pages: int
    count: int


def paginate(items: Sequence, per_page: int, url: str, save_as: str) -> list[ListPage]:
    """Cut items (newest first) into pages, older ones fixed from the oldest."""
    items = list(items)
    older = items[per_page:]
    count = len(older)
    chunks = -(-count // per_page)
    folder = posixpath.dirname(save_as)
    pages = [ListPage(1, url, save_as, items[:per_page])]
    for chunk in range(chunks - 1, -1, -1):  # the newest older page first
        start = count - min((chunk + 1) * per_page, count)
        end = count - chunk * per_page
        name = str(chunk + 2)
        pages.append(
            ListPage(
                len(pages) + 1,
                f"{url}{name}/",
                posixpath.join(folder, name, "index.html"),
                older[start:end],
            )
        )
    return pages


def write_paginated(
    writer,
    template,
    context: Mapping[str, Any],
    *,
    save_as: str,
    url: str,
    items: Sequence,
    per_page: int,
    relative_urls: bool = False,
    **kwargs: Any,
) -> int:
    """Write items (newest first) in pages, older ones fixed; return the count."""
    pages = paginate(items, per_page, url, save_as)
    paginator = Pagination(len(pages), len(items))
    page_urls = [page.url for page in pages]  # plain strings: templates call nothing
    for index, page in enumerate(pages):
        writer.write_file(
            page.save_as,
            template,
            context,
            relative_urls,
            url=page.url,
            items_paginator=paginator,
            items_page=page,
            items_previous_page=pages[index - 1] if index > 0 else None,
            items_next_page=pages[index + 1] if index + 1 < len(pages) else None,
            items_page_urls=page_urls,
            **kwargs,
        )
    return len(pages)
