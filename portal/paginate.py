"""Write a paginated list of items through Pelican's writer, with our own page size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pelican.paginator import Paginator


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
    """Write items in pages of `per_page` (page 1 at save_as, then …/2/); return count."""
    paginator = Paginator(save_as, url, list(items), writer.settings, per_page)
    pages = [paginator.page(number) for number in paginator.page_range]
    page_urls = [page.url for page in pages]  # plain strings: templates call nothing
    for number, page in enumerate(pages, start=1):
        writer.write_file(
            page.save_as,
            template,
            context,
            relative_urls,
            url=page.url,
            items_paginator=paginator,
            items_page=page,
            items_previous_page=pages[number - 2] if number > 1 else None,
            items_next_page=pages[number] if number < len(pages) else None,
            items_page_urls=page_urls,
            **kwargs,
        )
    return paginator.num_pages
