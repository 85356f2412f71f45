"""sections: the lists of models (/mo-hinh/) and news (/tin-tuc/), paginated.

It also puts `models` and `news` (newest first) in the shared context for the
home page and every template.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pelican import signals
from pelican.generators import Generator

from portal.paginate import write_paginated
from portal.text import sort_key

__all__ = ["SectionsGenerator", "get_options", "register"]

log = logging.getLogger(__name__)
PREFIX = "sections"
SETTING = "SECTIONS"
DEFAULT_SECTION: Mapping[str, Any] = {"per_page": 12, "template": "section"}
DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "models": {"type": "model", "url": "mo-hinh/", "title": "Mô hình, điển hình"},
    "news": {"type": "news", "url": "tin-tuc/", "title": "Tin tức"},
}


class OptionsError(ValueError):
    """The SECTIONS setting is wrong."""


def get_options(settings: Mapping) -> dict[str, dict[str, Any]]:
    """Merge the SECTIONS setting with the defaults and check it once."""
    given = settings.get(SETTING) or {}
    if not isinstance(given, Mapping):
        raise OptionsError(f"{PREFIX}: {SETTING} must be a dict")
    merged = {}
    for name in {**DEFAULTS, **given}:
        section = {
            **DEFAULT_SECTION,
            **DEFAULTS.get(name, {}),
            **(given.get(name) or {}),
        }
        missing = {"type", "url", "title"} - set(section)
        if missing:
            raise OptionsError(
                f"{PREFIX}: section {name!r} needs {', '.join(sorted(missing))}"
            )
        if not isinstance(section["per_page"], int) or section["per_page"] < 1:
            raise OptionsError(
                f"{PREFIX}: section {name!r}: per_page must be a positive int"
            )
        if not str(section["url"]).endswith("/"):
            raise OptionsError(f"{PREFIX}: section {name!r}: url must end with '/'")
        merged[name] = section
    return merged


def newest_first(items: list) -> list:
    """Sort items newest first, then by title in Vietnamese order."""
    by_title = sorted(items, key=lambda item: sort_key(item.title))
    return sorted(by_title, key=lambda item: item.date, reverse=True)


class SectionsGenerator(Generator):
    """Generate the paginated list page of each section."""

    def generate_context(self) -> None:
        """Put each section's items, newest first, in the shared context."""
        self.options = get_options(self.settings)
        articles = self.context.get("articles", [])
        for name, section in self.options.items():
            items = newest_first([a for a in articles if a.type == section["type"]])
            self.context[name] = items
        self.context["sections"] = self.options

    def generate_output(self, writer) -> None:
        """Write every section's list pages."""
        for name, section in self.options.items():
            self.generate_section(writer, name, section)

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


def get_generators(pelican) -> type[SectionsGenerator]:
    """Return the generator of the section lists."""
    return SectionsGenerator


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.get_generators.connect(get_generators)
