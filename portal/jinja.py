"""Jinja filters of the theme that need more than a lambda in the settings."""

from __future__ import annotations

import json
import re
from typing import Any

from jinja2 import Undefined, pass_context
from jinja2.utils import concat
from markupsafe import Markup

# Characters that could end a <script> element or open HTML in it, as JSON escapes.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def json_ld(data: Any) -> Markup:
    """Dump data as compact UTF-8 JSON safe inside <script type="application/ld+json">."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return Markup(text.translate(_SCRIPT_SAFE))


# A space before a dash ("2016 – 2020", "Văn hóa – xã hội"): the line may not break there.
_SPACE_DASH = re.compile(r" ([–—])")


def nbsp_dash(value: Any) -> Any:
    """Put a no-break space before each spaced dash, keeping Markup as Markup."""
    if value is None:
        return value
    text = _SPACE_DASH.sub("\u00a0\\1", str(value))
    return Markup(text) if isinstance(value, Markup) else text


def initials(title: Any, count: int = 2) -> str:
    """Return the first letters of a title's first words, upper case ("ĐR")."""
    words = [w.strip("“”\"'‘’()[]«»–—-:,.") for w in str(title).split()]
    letters = [w[0] for w in words if w and w[0].isalnum()]
    return "".join(letters[:count]).upper()


# A card's title as partials/card.html writes it (escaped text: no tag inside).
_CARD_TITLE = re.compile(r'<h3 class="card-title">(.*?)</h3>', re.S)
_HEADING = re.compile(r"h[1-6]")


def card_heading(card: Any, tag: str) -> Markup:
    """Put a rendered card's title under another heading (h2 on a section's list).

    Every page takes an item's card rendered once (its title an h3) and only the
    outline of the page changes the tag, so no card is rendered once per level.
    """
    if not _HEADING.fullmatch(tag):
        raise ValueError(f"card_heading: {tag!r} is not a heading tag (h1-h6)")
    text, count = _CARD_TITLE.subn(
        rf'<{tag} class="card-title">\1</{tag}>', str(card), count=1
    )
    if not count:
        raise ValueError("card_heading: the card has no h3 title (partials/card.html)")
    return Markup(text)


@pass_context
def partial(context: Any, name: str, item: Any, **variables: Any) -> Markup:
    """Render a partial template for one item, as {% include %} would."""
    template = context.environment.get_template(name)
    return Markup(render_partial(context, template, item, defined(variables)))


def defined(variables: dict[str, Any]) -> dict[str, Any]:
    """Return a partial's variables with an undefined one as None (both are false)."""
    return {k: None if isinstance(v, Undefined) else v for k, v in variables.items()}


def render_partial(context: Any, template: Any, item: Any, variables: dict) -> str:
    """Render a template in the caller's context with these variables (an include)."""
    new = template.new_context(context.get_all(), True, {"item": item, **variables})
    return concat(template.root_render_func(new))
