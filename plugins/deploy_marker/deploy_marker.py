"""deploy_marker: write `.dvk-site` into the output, so a deploy knows its target.

`scripts/deploy.sh` deletes files on the server only in a folder that already holds
this marker (checked with `rsync --list-only` before anything is deleted): a wrong
`DEPLOY_PATH` such as `/srv` or a home folder is refused instead of emptied.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from portal import finishing, outputs
from portal.files import write_atomic
from portal.options import merge_options

__all__ = ["MARKER", "OptionsError", "get_options", "register", "write_marker"]

log = logging.getLogger(__name__)
PREFIX = "deploy_marker"
SETTING = "DEPLOY_MARKER"
MARKER = ".dvk-site"
DEFAULTS: Mapping[str, Any] = {
    "text": "Dân vận khéo: this folder is the portal's site; deploys may replace it.\n",
}


class OptionsError(ValueError):
    """The DEPLOY_MARKER setting is wrong."""


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the DEPLOY_MARKER setting with the defaults and check it once."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX, OptionsError)
    if not isinstance(options["text"], str) or not options["text"]:
        raise OptionsError(f"{PREFIX}: {SETTING}['text'] must be a non-empty string")
    return options


def write_marker(pelican) -> None:
    """Write the marker (only when its text changed) and declare it to incremental."""
    options = get_options(pelican.settings)
    path = Path(pelican.settings["OUTPUT_PATH"]) / MARKER
    data = options["text"].encode("utf-8")
    if not path.is_file() or path.read_bytes() != data:
        write_atomic(path, data)
    outputs.declare(path)
    log.debug("%s: wrote %s", PREFIX, path)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    finishing.connect("mark", write_marker)
