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

# The web editor's back-end (plugins/cms, README "Web editor"): repository variables.
CMS = {
    "backend": {
        key: value
        for key, value in {
            "name": os.environ.get("CMS_BACKEND", "github"),
            "repo": os.environ.get("CMS_REPO", "OWNER/REPO"),
            "branch": os.environ.get("CMS_BRANCH", "main"),
            "base_url": os.environ.get("CMS_AUTH_URL", ""),
            "api_root": os.environ.get("CMS_API_ROOT", ""),
            "app_id": os.environ.get("CMS_APP_ID", ""),
        }.items()
        if value
    },
    "enabled": os.environ.get("CMS_ENABLED", "1") != "0",  # 0: pull-request previews
    "required": True,
}
