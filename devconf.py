"""Pelican settings of the dev server (`make devserver`): drafts shown, errors shown."""

import os
import sys

sys.path.append(os.path.dirname(os.path.abspath(__file__)))

from pelicanconf import *  # noqa: E402,F403

FRONTMATTER = {"drafts": True, "fail_on_error": False}
IMAGES = {**IMAGES, "fail_on_error": False}  # noqa: F405
CACHE_PATH = str(ROOT / "cache" / "dev")  # noqa: F405
# No .gz/.br copies while editing: the dev server rebuilds on every change.
ASSETS = {"compress": False}
