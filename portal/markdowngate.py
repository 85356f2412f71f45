"""Skip Markdown patterns that cannot match the text they are given.

Python-Markdown runs every inline pattern (links, emphasis, code, smarty's quotes
and dashes…) over every text of a body, and every block processor's pattern over
every block, one regular-expression scan each: most of the time it takes to turn
a body into HTML. Most of those patterns cannot match unless the text holds a
certain character or string (a link needs “[”, emphasis “*” or “_”, a smart
quote “'” or '"', a heading “#”, a quote “>”), and most texts of a body hold
none. `gate` puts a check in front of each such pattern's scan: when none of its
needles occurs in the text from where the scan starts, it finds nothing, as the
scan would have; and when every pattern of an inline processor is gated, a text
holding no needle at all is returned as it is, in one scan. The HTML is the same
byte for byte; a pattern not listed here (another extension, or one a new
Python-Markdown words differently) keeps its plain scan, and its inline
processor scans every text with every pattern.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Collection, Iterator
from typing import Any

from markdown import Markdown

__all__ = ["BLOCK_NEEDLES", "NEEDLES", "GatedPattern", "gate"]

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
# The same for the block processors' patterns (a heading needs “#”, a quote “>”).
BLOCK_NEEDLES: dict[str, tuple[str, ...]] = {
    r"(?:^|\n)(?P<level>#{1,6})(?P<header>(?:\\.|[^\\#]|#+(?=[^#\n]))*?)#*(?:\n|$)": (
        "#",
    ),
    r"^.*?\n(?:=+|-+)[ ]*(\n|$)": ("\n=", "\n-"),
    (
        r"^[ ]{0,3}(?=(?P<atomicgroup>(-+[ ]{0,2}){3,}|(_+[ ]{0,2}){3,}"
        r"|(\*+[ ]{0,2}){3,}))(?P=atomicgroup)[ ]*$"
    ): ("-", "_", "*"),
    r"(^|\n)[ ]{0,3}:[ ]{1,3}(.*?)(\n|$)": (": ",),
    r"(^|\n)[ ]{0,3}>[ ]?(.*)": (">",),
    r"^[ ]{0,3}\[\^([^\]]*)\]:[ ]*(.*)$": ("[^",),
    r"^[*]\[(?P<abbr>[^\\]*?)\][ ]?:[ ]*\n?[ ]*(?P<title>.*)$": ("*[",),
    (
        r"^[ ]{0,3}\[([^\[\]]*)\]:[ ]*(?:\n[ ]*)?([^\s]+)[ ]*(?:\n[ ]*)?"
        r"""((["\'])(.*)\4[ ]*|\((.*)\)[ ]*)?$"""
    ): ("]:",),
}
# The attributes holding a block processor's pattern.
BLOCK_PATTERNS = ("RE", "SEARCH_RE")


class GatedPattern:
    """A compiled pattern whose scan is skipped when no needle is in the text."""

    def __init__(self, compiled: re.Pattern, needles: tuple[str, ...]) -> None:
        self.compiled = compiled
        self.needles = needles
        # Most patterns have one needle: one find, without a generator per call.
        self.needle = needles[0] if len(needles) == 1 else None

    def holds(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> bool:
        """Tell whether a needle lies within text[pos:endpos]."""
        if self.needle is not None:
            return text.find(self.needle, pos, endpos) >= 0
        return any(text.find(needle, pos, endpos) >= 0 for needle in self.needles)

    def finditer(
        self, text: str, pos: int = 0, endpos: int = sys.maxsize
    ) -> Iterator[re.Match]:
        """Scan the text from `pos`, unless it holds none of the needles there."""
        if self.holds(text, pos, endpos):
            return self.compiled.finditer(text, pos, endpos)
        return iter(())

    def search(
        self, text: str, pos: int = 0, endpos: int = sys.maxsize
    ) -> re.Match | None:
        """Search the text, unless it holds none of the needles."""
        if self.holds(text, pos, endpos):
            return self.compiled.search(text, pos, endpos)
        return None

    def match(
        self, text: str, pos: int = 0, endpos: int = sys.maxsize
    ) -> re.Match | None:
        """Match at `pos`, unless the text holds none of the needles."""
        if self.holds(text, pos, endpos):
            return self.compiled.match(text, pos, endpos)
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiled, name)


# InlineProcessor's private method that runs every pattern over one text.
HANDLE_INLINE = "_InlineProcessor__handleInline"


def gate(md: Markdown) -> int:
    """Gate every listed pattern of a Markdown converter; return how many.

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
        all_gated = all(isinstance(p.compiled_re, GatedPattern) for p in patterns)
        if needles and all_gated and hasattr(processor, HANDLE_INLINE):
            _skip_plain_texts(processor, needles)
    for processor in md.parser.blockprocessors:
        for name in BLOCK_PATTERNS:
            compiled = getattr(processor, name, None)  # often the class's own
            found = BLOCK_NEEDLES.get(getattr(compiled, "pattern", None))
            if found is not None and isinstance(compiled, re.Pattern):
                setattr(processor, name, GatedPattern(compiled, found))
                gated += 1
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
