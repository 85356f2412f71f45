"""Pelican settings for publishing (`make publish`): absolute URLs and feeds."""

import os
import sys

sys.path.append(os.path.dirname(os.path.abspath(__file__)))

from pelicanconf import *  # noqa: E402,F403

SITEURL = os.environ.get("SITEURL", "https://danvankheo.binhthuan.example").rstrip("/")
RELATIVE_URLS = False
DELETE_OUTPUT_DIRECTORY = False
CACHE_PATH = str(ROOT / "cache" / "publish")  # noqa: F405

# Feeds need absolute URLs: the whole site, then one per section (plugins/sections).
FEED_ALL_ATOM = "atom.xml"
FEED_DOMAIN = SITEURL

# A date over a day ahead is an error when publishing (a warning in make html/check),
# unless the item says `scheduled: true`.
FRONTMATTER = {**FRONTMATTER, "future_dates": "error"}  # noqa: F405
