"""readpool: on a build that reads every source file, parse them on every core.

The files Pelican's article and page generators will read are parsed ahead by
`portal.readpool` with the Markdown reader's own `parse`; the reader takes each
result when Pelican asks for the file. Only when the content cache is not loaded
(a full build) and there are enough files for the pool to pay.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from pelican import signals
from pelican.generators import ArticlesGenerator

from portal import readpool
from portal.options import check_whole_numbers, merge_options, usable_cores

__all__ = ["get_options", "register"]

log = logging.getLogger(__name__)
PREFIX = "readpool"
SETTING = "READPOOL"
DEFAULTS: Mapping[str, Any] = {
    "workers": 0,  # worker processes; 0: one per usable core
    "min_files": 300,  # fewer files to read: read them in the build process
}


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the READPOOL setting with the defaults and check it."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX)
    check_whole_numbers(options, dict.fromkeys(DEFAULTS, 0), SETTING, PREFIX)
    return options


def workers(options: Mapping) -> int:
    """Return how many workers to start (one per usable core, none on one core)."""
    cores = usable_cores()
    return options["workers"] or (cores if cores > 1 else 0)


def source_files(generator) -> list[str]:
    """Return the articles' then the pages' files, as Pelican will read them."""
    settings = generator.settings
    found = []
    for paths, excludes in (
        ("ARTICLE_PATHS", "ARTICLE_EXCLUDES"),
        ("PAGE_PATHS", "PAGE_EXCLUDES"),
    ):
        for name in generator.get_files(settings[paths], exclude=settings[excludes]):
            found.append(os.path.abspath(os.path.join(generator.path, name)))
    return list(dict.fromkeys(found))


def prefetch(generator) -> None:
    """Start parsing every source file ahead when this build reads them all."""
    if not isinstance(generator, ArticlesGenerator):
        return
    readpool.close()
    options = get_options(generator.settings)
    reader = generator.readers.readers.get("md")
    parse = getattr(reader, "parse", None)
    count = workers(options)
    if parse is None or generator.settings.get("LOAD_CONTENT_CACHE") or count < 1:
        return
    paths = source_files(generator)
    if len(paths) < options["min_files"]:
        return
    log.info("%s: parsing %d files ahead on %d workers", PREFIX, len(paths), count)
    readpool.start(paths, parse, count)


def finish(*_args: Any) -> None:
    """Stop the workers once every file is read."""
    readpool.close()


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.generator_init.connect(prefetch)
    signals.all_generators_finalized.connect(finish)
    signals.finalized.connect(finish)
