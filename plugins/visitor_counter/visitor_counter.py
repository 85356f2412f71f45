"""visitor_counter: hook the self-hosted visitor counter into the static pages.

When `COUNTER["url"]` (or the COUNTER_URL environment variable at build time) names the
counter service, every page gets a small first-party script that records the visit and
fills "Số lượt truy cập" and "Lượt xem". Whatever the configuration, the build writes the
list of countable page ids (paths from the site root) for the service to read.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from blinker import signal as named_signal
from pelican import signals

from portal import finishing, outputs
from portal.options import merge_options
from portal.origins import ORIGIN_HELP, parse_origin
from portal.paths import under

__all__ = ["OptionsError", "get_options", "page_id", "register"]

log = logging.getLogger(__name__)
PREFIX = "visitor_counter"
SETTING = "COUNTER"
ENVIRONMENT = "COUNTER_URL"
DEFAULTS: Mapping[str, Any] = {
    "url": "",  # the service's base URL; empty: read COUNTER_URL, else no counter
    "show_site": True,  # "Số lượt truy cập" in the footer
    "show_views": True,  # "Lượt xem" on models and news
    "pages_file": "counter-pages.json",  # written into the output folder
    "timeout_ms": 2000,  # after this the script gives up and leaves "—"
    "exclude": ("404.html",),  # output files that are not countable pages
}


class OptionsError(ValueError):
    """The COUNTER setting is wrong."""


def get_options(settings: Mapping, environ: Mapping[str, str] = os.environ) -> dict:
    """Merge the COUNTER setting with the defaults and the environment; check once."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX, OptionsError)
    options["url"] = (
        (options["url"] or environ.get(ENVIRONMENT, "")).strip().rstrip("/")
    )
    if options["url"]:
        try:
            options["url"] = parse_origin(options["url"])
        except ValueError:
            raise OptionsError(
                f"{PREFIX}: the counter URL must be http(s)://host[:port] "
                f"(địa chỉ bộ đếm phải có dạng {ORIGIN_HELP}), not {options['url']!r}"
            ) from None
    if not isinstance(options["timeout_ms"], int) or options["timeout_ms"] <= 0:
        raise OptionsError(f"{PREFIX}: {SETTING}['timeout_ms'] must be a positive int")
    return options


def page_id(output_file: str) -> str:
    """Turn an output file (`tin-tuc/x/index.html`) into its page id (`/tin-tuc/x/`)."""
    path = "/" + output_file.replace(os.sep, "/").lstrip("/")
    if path.endswith("/index.html"):
        path = path[: -len("index.html")]
    return path


def counter_origin(options: Mapping) -> str:
    """Return the counter service's origin (scheme://host[:port]), or ""."""
    if not options["url"]:
        return ""
    parts = urlsplit(options["url"])
    return f"{parts.scheme}://{parts.netloc}"


class PageList:
    """Collect the HTML pages a build writes, then write them for the service."""

    def __init__(self) -> None:
        self.pages: set[str] = set()
        self.output: Path | None = None
        self.folder = ""  # the output folder, absolute, symlinks resolved
        self.options: dict = {}

    def start(self, pelican) -> None:
        """Check the options and expose them to the templates."""
        self.options = get_options(pelican.settings)
        self.output = Path(pelican.settings["OUTPUT_PATH"])
        self.folder = os.path.realpath(self.output)
        self.pages = set()

    def add_context(self, generator) -> None:
        """Give every template the counter's settings and the page_id filter."""
        generator.context["COUNTER_ENABLED"] = bool(self.options["url"])
        generator.context["COUNTER_URL"] = self.options["url"]
        generator.context["COUNTER_OPTIONS"] = self.options
        generator.env.filters.setdefault("page_id", page_id)

    def record(self, path: str, context: Mapping) -> None:
        """Remember an HTML page the writer wrote."""
        if self.output is None or not path.endswith(".html"):
            return
        relative = self.relative(path)
        if relative not in self.options["exclude"]:
            self.pages.add(page_id(relative))

    def record_kept(self, _folder: str, pages: Sequence[str]) -> None:
        """Remember the HTML pages the incremental plugin kept (relative paths)."""
        if self.output is None:
            return
        exclude = self.options["exclude"]
        self.pages.update(
            page_id(rel)
            for rel in pages
            if rel.endswith(".html") and rel not in exclude
        )

    def relative(self, path: str) -> str:
        """Return a written file's path from the output folder, in URL form."""
        relative = under(path, self.folder)
        if relative is None:
            raise ValueError(f"{PREFIX}: {path} is not in {self.output}")
        return relative

    def write(self, pelican) -> None:
        """Write the countable page ids, sorted, for the counter service."""
        target = Path(pelican.settings["OUTPUT_PATH"]) / self.options["pages_file"]
        body = json.dumps({"pages": sorted(self.pages)}, ensure_ascii=False, indent=0)
        temporary = target.with_suffix(".tmp")
        temporary.write_text(body + "\n", "utf-8")
        temporary.replace(target)
        outputs.declare(target)
        log.info("%s: wrote %s countable pages to %s", PREFIX, len(self.pages), target)


_pages = PageList()


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(_pages.start)
    signals.generator_init.connect(_pages.add_context)
    signals.content_written.connect(_pages.record)
    # Pages the incremental plugin leaves as they are still count.
    named_signal("incremental_pages_kept").connect(_pages.record_kept)
    finishing.connect("list", _pages.write)
