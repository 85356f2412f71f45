"""Skip Markdown inline patterns that cannot match the text they are given.

Python-Markdown runs every inline pattern (links, emphasis, code, smarty's quotes
and dashes…) over every text of a body, one regular-expression scan each: about
half of the time it takes to turn a body into HTML. Most of those patterns cannot
match unless the text holds a certain character or string (a link needs “[”,
emphasis “*” or “_”, a smart quote “'” or '"'), and most texts of a body hold
none. `gate` puts a check in front of each such pattern's scan: when none of its
needles occurs in the text from where the scan starts, it finds nothing, as the
scan would have; and when every pattern of an inline processor is gated, a text
holding no needle at all is returned as it is, in one scan. The HTML is the same
byte for byte; a pattern not listed here (another extension, or one a new
Python-Markdown words differently) keeps its plain scan, and its processor scans
every text with every pattern.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Any

from markdown import Markdown

__all__ = ["NEEDLES", "GatedPattern", "gate"]

# A pattern's exact source → strings one of which every match holds, from the
# position the scan starts at (a look-behind may look before it, never a needle).
NEEDLES: dict[str, tuple[str, ...]] = {
    # Python-Markdown's own patterns.
    r"(?:(?<!\\)((?:\\{2})+)(?=`+)|(?<!\\)`)": ("`",),
    r"\\(.)": ("\\",),
    r"(?<!\!)\[": ("[",),
    r"\!\[": ("![",),
    r"<([A-Za-z][A-Za-z0-9+.-]*://[^<>]*)>": ("<",),
    r"<([^<> !]+@[^@<> ]+)>": ("<",),
    r"  \n": ("  \n",),
    (
        r"""(<(\/?+[a-zA-Z][^\s"'<>@]*+(?:\s+[^\s"'=<>]++(?:\s*+=\s*+(?:"[^"]*+"|"""
        r"""'[^']*+'|[^\s"'=<>]++))?+)*+\s*+/?|!--(?:(?!<!--|-->).)*--|[?](?:(?!<[?]"""
        r"""|[?]>).)*[?]|!\[CDATA\[(?:(?!<!\[CDATA\[|\]\]>).)*\]\])>)"""
    ): ("<",),
    r"(&(?:\#[0-9]+|\#x[0-9a-fA-F]+|[a-zA-Z0-9]+);)": ("&",),
    r"\*|_": ("*", "_"),
    # extra's footnotes.
    r"\[\^([^\]]*)\]": ("[^",),
    # smarty's dashes, ellipses and quotes.
    r"(?<!-)---(?!-)": ("---",),
    r"(?<!-)--(?!-)": ("--",),
    r"(?<!\.)\.{3}(?!\.)": ("...",),
    r"""^'(?=[!"#\$\%'()*+,-.\/:;<=>?\@\[\\\]\^_`{|}~]\B)""": ("'",),
    r"""^"(?=[!"#\$\%'()*+,-.\/:;<=>?\@\[\\\]\^_`{|}~]\B)""": ('"',),
    r""""'(?=\w)""": ("\"'",),
    r"""'"(?=\w)""": ("'\"",),
    r'(?<=[^\ \t\r\n\[\{\(\-\u0002\u0003])\'"': ("'\"",),
    r"""(?<=[^\ \t\r\n\[\{\(\-\u0002\u0003])\"'""": ("\"'",),
    r"(?<!\w)'(?=\d{2}s)": ("'",),
    r"(\s|&nbsp;|--|–|—|&[mn]dash;|&#8211;|&#8212;)'(?=\w)": ("'",),
    r"(?<=[^\ \t\r\n\[\{\(\-\u0002\u0003])'(?!\s|s\b|\d)": ("'",),
    r"'(\s|s\b)": ("'",),
    r"'": ("'",),
    r"""(\s|&nbsp;|--|–|—|&[mn]dash;|&#8211;|&#8212;)"(?=\w)""": ('"',),
    r'"(?=\s)': ('"',),
    r'(?<=[^\ \t\r\n\[\{\(\-\u0002\u0003])"': ('"',),
    r'"': ('"',),
}


class GatedPattern:
    """A compiled pattern whose scan is skipped when no needle is in the text."""

    def __init__(self, compiled: re.Pattern, needles: tuple[str, ...]) -> None:
        self.compiled = compiled
        self.needles = needles

    def finditer(self, text: str, pos: int = 0) -> Iterator[re.Match]:
        """Scan the text from `pos`, unless it holds none of the needles there."""
        for needle in self.needles:
            if text.find(needle, pos) >= 0:
                return self.compiled.finditer(text, pos)
        return iter(())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiled, name)


# InlineProcessor's private method that runs every pattern over one text.
HANDLE_INLINE = "_InlineProcessor__handleInline"


def gate(md: Markdown) -> int:
    """Gate every listed inline pattern of a Markdown converter; return how many.

    An inline processor whose patterns are all gated also skips, in one scan, a
    text holding none of their needles: no pattern could change it.
    """
    gated = 0
    for processor in md.treeprocessors:
        patterns = list(getattr(processor, "inlinePatterns", ()))
        needles: set[str] = set()
        for pattern in patterns:
            compiled = getattr(pattern, "compiled_re", None)
            found = NEEDLES.get(getattr(compiled, "pattern", None))
            if found is not None and isinstance(compiled, re.Pattern):
                pattern.compiled_re = GatedPattern(compiled, found)
                gated += 1
            if isinstance(pattern.compiled_re, GatedPattern):
                needles.update(pattern.compiled_re.needles)
            else:
                needles = set()
                break
        if needles and hasattr(processor, HANDLE_INLINE):
            _skip_plain_texts(processor, needles)
    return gated


def _skip_plain_texts(processor: Any, needles: Collection[str]) -> None:
    """Make an inline processor return a text no pattern could match as it is."""
    handle = getattr(processor, HANDLE_INLINE)
    anyone = re.compile("|".join(map(re.escape, sorted(needles))))

    def handle_inline(data: str, pattern_index: int = 0) -> str:
        if anyone.search(data) is None:
            return data
        return handle(data, pattern_index)

    setattr(processor, HANDLE_INLINE, handle_inline)
