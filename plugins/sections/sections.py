"""sections: the lists of models (/mo-hinh/) and news (/tin-tuc/), paginated.

It also puts `models` and `news` (newest first) in the shared context for the
home page and every template, gives each item its `others` ("Các tin khác": the
items of its section published just before it, its older neighbours, newest
first; the oldest items are completed with the nearest newer ones) and `related` (items sharing a field or a
locality, chosen the same way among them: so adding the newest item changes the
lists of a few items, not of every item sharing its field), and writes an Atom
feed per section when the build writes feeds. Each of these lists is named for
rebuilds (`portal.outputs.note_lists`: `sections:news`, `sections:others:<source
path>`…; docs/INCREMENTAL.md).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from pelican import signals
from pelican.generators import Generator

from portal import outputs
from portal.feeds import AbsoluteFeeds, feed_context
from portal.options import merge_named_options
from portal.paginate import write_paginated
from portal.text import sort_key, title_key

__all__ = ["SectionsGenerator", "get_options", "register"]

log = logging.getLogger(__name__)
PREFIX = "sections"
SETTING = "SECTIONS"
DEFAULT_SECTION: Mapping[str, Any] = {
    "type": None,  # required: the items' `type` (model, news)
    "url": None,  # required: the section's URL, relative, ending with "/"
    "title": None,  # required: its title
    "per_page": 12,
    "template": "section",
    "others": 0,  # older neighbours each item page lists ("Các tin khác")
    "related": 0,  # items sharing one of `related_by` each item page lists
    "related_by": (),
    "feed": True,  # an Atom feed at <url>atom.xml when the build writes feeds
}
DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "models": {
        "type": "model",
        "url": "mo-hinh/",
        "title": "Mô hình, điển hình",
        "related": 6,
        "related_by": ("field", "locality"),
    },
    "news": {"type": "news", "url": "tin-tuc/", "title": "Tin tức", "others": 8},
}


class OptionsError(ValueError):
    """The SECTIONS setting is wrong."""


def get_options(settings: Mapping) -> dict[str, dict[str, Any]]:
    """Merge the SECTIONS setting with the defaults and check it once."""
    merged = merge_named_options(
        settings, SETTING, DEFAULT_SECTION, DEFAULTS, PREFIX, OptionsError
    )
    for name, section in merged.items():
        missing = [key for key in ("type", "url", "title") if section[key] is None]
        if missing:
            raise OptionsError(
                f"{PREFIX}: section {name!r} needs {', '.join(sorted(missing))}"
            )
        if not isinstance(section["per_page"], int) or section["per_page"] < 1:
            raise OptionsError(
                f"{PREFIX}: section {name!r}: per_page must be a positive int"
            )
        for key in ("others", "related"):
            if not isinstance(section[key], int) or section[key] < 0:
                raise OptionsError(
                    f"{PREFIX}: section {name!r}: {key} must be an int >= 0"
                )
        if isinstance(section["related_by"], str):
            raise OptionsError(
                f"{PREFIX}: section {name!r}: related_by must be a list of attributes"
            )
        section["related_by"] = tuple(section["related_by"])
        section["feed_url"] = f"{section['url']}atom.xml" if section["feed"] else None
        if not str(section["url"]).endswith("/"):
            raise OptionsError(f"{PREFIX}: section {name!r}: url must end with '/'")
    return merged


def newest_first(items: list) -> list:
    """Sort items newest first, then by title in Vietnamese order."""
    by_title = sorted(items, key=title_key)
    return sorted(by_title, key=lambda item: item.date, reverse=True)


def neighbours_of(index: int, items: Sequence, limit: int) -> list:
    """Return the `limit` items published just before items[index] (newest first).

    Items are newest first, so these follow it in the list; near the oldest end
    the nearest newer items complete the list. Adding the newest item changes
    no other item's list (unless the section holds fewer than 2 × limit items).
    """
    older = list(items[index + 1 : index + 1 + limit])
    need = limit - len(older)
    newer = list(items[max(0, index - need) : index]) if need else []
    return newer + older


def neighbours_in(item, group: Sequence, limit: int, positions: dict) -> list:
    """Return the `limit` items of a group (newest first) published just before item.

    `positions` memoises each group's index of items (one dict per build).
    """
    index = positions.get(id(group))
    if index is None:
        index = positions[id(group)] = {id(other): i for i, other in enumerate(group)}
    if id(item) not in index:
        return list(group[:limit])
    return neighbours_of(index[id(item)], group, limit)


def buckets(items: Sequence, attributes: Sequence[str]) -> dict[tuple, list]:
    """Group items (kept newest first) by each attribute's value and by all of them."""
    attributes = tuple(attributes)
    grouped: dict[tuple, list] = defaultdict(list)
    for item in items:
        values = tuple(getattr(item, attribute, None) for attribute in attributes)
        for attribute, value in zip(attributes, values, strict=True):
            if value is not None:
                grouped[attribute, value].append(item)
        grouped[attributes, values].append(item)
    return grouped


def related_of(
    item,
    grouped: Mapping[tuple, list],
    attributes,
    limit: int,
    positions: dict | None = None,
) -> list:
    """Return up to `limit` items sharing all `attributes`, then any one, newest first.

    Among each group the items published just before `item` are chosen (as for
    "Các tin khác"), so adding the newest item changes few other items' lists.
    """
    attributes = tuple(attributes)
    positions = {} if positions is None else positions
    if not attributes or not limit:
        return []
    values = tuple(getattr(item, attribute, None) for attribute in attributes)
    chosen = neighbours_in(
        item, grouped.get((attributes, values), ()), limit, positions
    )
    seen = {id(other) for other in chosen}
    rest: list = []
    for attribute, value in zip(attributes, values, strict=True):
        group = grouped.get((attribute, value), ())
        for other in neighbours_in(item, group, limit, positions):
            if id(other) not in seen:
                seen.add(id(other))
                rest.append(other)
    rest.sort(key=lambda other: other.date, reverse=True)
    return (chosen + rest)[:limit]


class SectionsGenerator(Generator):
    """Generate the paginated list page of each section."""

    def generate_context(self) -> None:
        """Put each section's items, newest first, in the shared context."""
        self.options = get_options(self.settings)
        articles = self.context.get("articles", [])
        for name, section in self.options.items():
            items = newest_first([a for a in articles if a.type == section["type"]])
            self.context[name] = items
            outputs.note_lists(f"{PREFIX}:", {name: items})
            if not items:  # an empty feed would be dated by the clock: none at all
                section["feed_url"] = None
            self.link_items(items, section)
        self.context["sections"] = self.options

    def link_items(self, items: list, section: Mapping[str, Any]) -> None:
        """Give every item its `others` and `related` lists, in O(items)."""
        grouped = buckets(items, section["related_by"])
        positions: dict = {}
        limit = section["others"]
        for index, item in enumerate(items):
            item.others = neighbours_of(index, items, limit) if limit else []
            item.related = related_of(
                item, grouped, section["related_by"], section["related"], positions
            )
        named = [
            item
            for item in items
            if isinstance(getattr(item, "source_path", None), str)
        ]
        for attribute in ("others", "related"):
            outputs.note_lists(
                f"{PREFIX}:{attribute}:",
                {item.source_path: getattr(item, attribute) for item in named},
            )

    def generate_output(self, writer) -> None:
        """Write every section's list pages."""
        for name, section in self.options.items():
            self.generate_section(writer, name, section)
            self.generate_feed(writer, name, section)

    def generate_section(self, writer, name: str, section: Mapping[str, Any]) -> None:
        """Write one section's list, paginated."""
        pages = write_paginated(
            writer,
            self.get_template(section["template"]),
            self.context,
            save_as=f"{section['url']}index.html",
            url=section["url"],
            items=self.context[name],
            per_page=section["per_page"],
            relative_urls=self.settings["RELATIVE_URLS"],
            section=section,
            section_name=name,
            page_name=section["url"].rstrip("/"),
        )
        log.debug("%s: wrote %s page(s) of %s", PREFIX, pages, name)

    def generate_feed(self, writer, name: str, section: Mapping[str, Any]) -> None:
        """Write the section's Atom feed, when this build writes feeds at all."""
        if not (section["feed_url"] and self.settings.get("FEED_ALL_ATOM")):
            return
        writer.write_feed(
            self.context[name],
            feed_context(self.context, self.settings),
            section["feed_url"],
            feed_title=section["title"],
        )


def get_generators(pelican) -> type[SectionsGenerator]:
    """Return the generator of the section lists."""
    return SectionsGenerator


def pin_urls(generator) -> None:
    """Fix every item's url and save_as once its slug is known.

    Pelican formats them from the URL settings on every access (the item's path,
    slug, category…), and pages read each item's url many times (cards, lists,
    "Các tin khác"); its `override_url`/`override_save_as` give the same value
    for free.
    """
    for name in outputs.PELICAN_LISTS:
        for item in getattr(generator, name, None) or ():
            item.override_url = item.url
            item.override_save_as = item.save_as


def keep_title_key(instance) -> None:
    """Give a content object just read its title's sort key, kept with it.

    The content cache keeps it with the object (made once per file's bytes, not
    on every build); `portal.text.title_key` makes it again if the title changed.
    """
    title = getattr(instance, "title", None)
    if isinstance(title, str):
        instance.title_key = sort_key(title)


def absolute_site_feeds(generator) -> None:
    """Give Pelican's site-wide feeds absolute links when SITEURL is empty (`make html`)."""
    write_feeds = generator.generate_feeds
    generator.generate_feeds = lambda writer: write_feeds(
        AbsoluteFeeds(writer, generator.settings)
    )


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.get_generators.connect(get_generators)
    signals.content_object_init.connect(keep_title_key)
    signals.article_generator_finalized.connect(pin_urls)
    signals.article_generator_finalized.connect(absolute_site_feeds)
    signals.page_generator_finalized.connect(pin_urls)
