"""Write a paginated list of items through Pelican's writer, older pages fixed.

Items come newest first. The list's own URL (page 1 for the reader) shows the
newest `per_page` items. The older items are cut into pages from the OLDEST
one: the oldest `per_page` items are always at `<url>2/`, the next ones at
`<url>3/`, and so on; only the newest of these pages may be partly filled. So
adding an item changes page 1 and that newest older page only (and, once every
`per_page` additions, the page before the one it opens), instead of shifting
every page by one item (about 900 list pages at 5,000 items). `items_page.number`
counts pages newest first (1 is the list's URL); it changes on every older page
when a page is added, so the theme never shows it: a page is named by the dates
of its items and linked to its neighbours, the newest and the oldest page
(`items_first_page`, `items_oldest_page`), never to every page by number. Each
page's items are a named list for rebuilds (`paginate:<save_as>`,
`portal.outputs.note_lists`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portal import outputs

__all__ = ["ListPage", "Pagination", "paginate", "write_paginated"]


@dataclass(frozen=True, eq=False)
class ListPage:
    """One page of a list: its number (1 = newest), URL, output path and items."""

    number: int
    url: str
    save_as: str
    object_list: list

    @property
    def is_first(self) -> bool:
        """Return whether this is the list's own URL (its newest items)."""
        return self.number == 1


@dataclass(frozen=True, eq=False)
class Pagination:
    """The pages of a list (what templates call `items_paginator`)."""

    num_pages: int
    count: int

    @property
    def has_other_pages(self) -> bool:
        """Return whether the list has more than one page (read instead of num_pages)."""
        return self.num_pages > 1


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
    first_page_only: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> int:
    """Write items (newest first) in pages, older ones fixed; return the count.

    `first_page_only` values reach the first page only (the older pages get
    None): what changes with additions elsewhere, such as the neighbouring
    terms, must not reach the older pages, which Jinja reads in full even
    where the template would not show it.
    """
    first_page_only = dict(first_page_only or {})
    blank = dict.fromkeys(first_page_only)
    pages = paginate(items, per_page, url, save_as)
    outputs.note_lists("paginate:", {page.save_as: page.object_list for page in pages})
    paginator = Pagination(len(pages), len(items))
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
            items_first_page=pages[0],
            items_oldest_page=pages[-1],
            **kwargs,
            **(first_page_only if index == 0 else blank),
        )
    return len(pages)
