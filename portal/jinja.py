"""Jinja filters of the theme that need more than a lambda in the settings."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

# Characters that could end a <script> element or open HTML in it, as JSON escapes.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def json_ld(data: Any) -> Markup:
    """Dump data as compact UTF-8 JSON safe inside <script type="application/ld+json">."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return Markup(text.translate(_SCRIPT_SAFE))
