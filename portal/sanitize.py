"""Clean the HTML of an item's body with an allowlist (nh3), and say what went.

Markdown lets editors write raw HTML. What a page may carry is an allowlist:
text structure, links, images, tables, figures, `<sup>`/`<sub>`, lists, and
`<video>`/`<audio>` whose sources are the site's own files. Everything else is
removed: scripts, event handlers, `javascript:`/`data:` links, `<meta>`, `<base>`,
`<form>`, `<style>`, `<object>`/`<embed>`, and iframes unless their host is in
`iframe_hosts` (empty by default).

nh3 returns only the cleaned HTML, so each raw HTML block Markdown kept aside is
cleaned alone and its parse tree compared before and after: each tag or attribute
that went is a `Removal` at that block's line in the source file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import nh3
from markdown import Markdown
from markdown.extensions import Extension
from markdown.postprocessors import Postprocessor

from portal.markdowngate import gate
from portal.problems import Problem

__all__ = [
    "BodyRenderer",
    "Removal",
    "SanitizeExtension",
    "Sanitizer",
    "html_depth",
    "markdown_depth",
]

# What Markdown writes and what editors legitimately need (see the editors' guide).
_TAG_NAMES = (
    "a abbr b blockquote br caption cite code col colgroup dd del details dfn div"
    " dl dt em figcaption figure h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p"
    " pre q s samp small span strong sub summary sup table tbody td tfoot th"
    " thead time tr u ul var video audio source track"
)
TAGS = frozenset(_TAG_NAMES.split())
ATTRIBUTES = {
    "*": {"id", "class", "title", "lang", "dir"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height", "loading"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "reversed", "type"},
    "li": {"value"},
    "time": {"datetime"},
    "details": {"open"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "video": {"src", "poster", "controls", "width", "height", "preload", "muted"},
    "audio": {"src", "controls", "preload", "muted"},
    "source": {"src", "type"},
    "track": {"src", "kind", "srclang", "label", "default"},
    "iframe": {"src", "title", "width", "height", "allowfullscreen", "loading"},
}
# Removed with everything inside them (the others keep their text).
DROPPED_WHOLE = frozenset(
    {"script", "style", "object", "noscript", "template", "svg", "math", "textarea"}
)
# A table cell's style: only the alignments Markdown's tables write, as written.
ALIGNMENTS = {f"text-align: {side};" for side in ("left", "center", "right")}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
MEDIA_TAGS = frozenset({"video", "audio", "source", "track"})
FIXES = {
    "script": "không chèn mã chạy (JavaScript) vào bài",
    "iframe": "chỉ nhúng khung từ máy chủ có trong FRONTMATTER['iframe_hosts'];"
    " nếu không, đặt một liên kết tới trang đó",
    "style": "định dạng bằng Markdown, không dùng CSS riêng",
    "form": "không đặt biểu mẫu trong bài; dùng liên kết tới trang biểu mẫu",
    "meta": "xóa thẻ này: bài viết không được đổi thông tin của trang",
    "base": "xóa thẻ này: bài viết không được đổi địa chỉ gốc của trang",
}
DEFAULT_FIX = "xem các thẻ HTML được phép trong docs/HUONG-DAN-BIEN-TAP.md"
# Tags that never hold others, or that the next sibling closes (<p>, <li>, <td>…):
# they add no depth when written without their end tag.
_NO_DEPTH_NAMES = (
    "area base br col embed hr img input link meta param source track wbr"
    " p li dt dd tr td th thead tbody tfoot caption colgroup option optgroup"
    " rb rt rp rtc html head body"
)
_NO_DEPTH = frozenset(_NO_DEPTH_NAMES.split())
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>")


@dataclass(frozen=True)
class Removal:
    """One thing the sanitiser took out of a body: where and what."""

    line: int  # in the source file
    message: str
    fix: str


class _Tree(HTMLParser):
    """Count the tags and (tag, attribute) pairs of an HTML fragment."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attributes: Counter[tuple[str, str]] = Counter()
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags[tag] += 1
        for name, _ in attrs:
            self.attributes[(tag, name)] += 1


def _removed(before: str, after: str) -> list[tuple[str, str]]:
    """Compare two fragments' parse trees; list the (tag, attribute) pairs gone.

    A whole tag gone is (tag, ""); only attributes of tags still there count.
    """
    if before == after:  # nothing went (the sanitiser keeps most bodies as they are)
        return []
    old, new = _Tree(before), _Tree(after)
    gone = [(tag, "") for tag in (old.tags - new.tags).elements()]
    dropped = {tag for tag, _ in gone}
    gone += [
        pair
        for pair in (old.attributes - new.attributes).elements()
        if pair[0] not in dropped
    ]
    return gone


def _describe(tag: str, attribute: str) -> tuple[str, str]:
    """Word one removal and its fix in Vietnamese."""
    if not attribute:
        return f"đã bỏ thẻ <{tag}> (không được phép trong bài)", FIXES.get(
            tag, DEFAULT_FIX
        )
    if attribute.startswith("on"):
        return (
            f"đã bỏ thuộc tính sự kiện {attribute}= của thẻ <{tag}>",
            FIXES["script"],
        )
    if attribute in {"href", "src", "poster", "cite"}:
        own = " (video, âm thanh: chỉ tệp của trang)" if tag in MEDIA_TAGS else ""
        return (
            f"đã bỏ địa chỉ {attribute}= của thẻ <{tag}>{own}",
            "chỉ dùng liên kết http://, https://, mailto:, tel: hoặc tệp của trang;"
            " không dùng javascript: hay data:",
        )
    return f"đã bỏ thuộc tính {attribute}= của thẻ <{tag}>", DEFAULT_FIX


def html_depth(body: str, limit: int) -> int | None:
    """Return the body line (from 0) where HTML tags nest deeper than `limit`.

    HTML parsers (Markdown's, nh3's) take time growing with the square of the
    nesting: a body of a few hundred kilobytes of nested tags would stall the build.
    This linear count of open and end tags runs first. Returns None if within.
    """
    depth = 0
    for match in _TAG.finditer(body):
        name = match.group(2).lower()
        if name in _NO_DEPTH:
            continue
        if match.group(1):
            depth = max(depth - 1, 0)
        elif not match.group(0).endswith("/>"):
            depth += 1
            if depth > limit:
                return body.count("\n", 0, match.start())
    return None


def markdown_depth(body: str, limit: int) -> int | None:
    """Return the body line (from 0) where lists or quotes nest deeper than `limit`.

    Markdown's parser recurses once per level and takes time growing with the
    cube of the nesting: a level is four columns of indent, or one “>”.
    """
    for number, line in enumerate(body.split("\n")):
        prefix = line[: len(line) - len(line.lstrip(" \t>"))]
        columns = len(prefix.replace("\t", "    ").replace(">", ""))
        if prefix.count(">") > limit or columns // 4 > limit:
            return number
    return None


def _own_file(value: str) -> bool:
    """Tell whether a URL names a file of this site (relative, no host)."""
    parts = urlsplit(value.strip())
    return not parts.scheme and not parts.netloc and not value.strip().startswith("//")


class Sanitizer:
    """nh3 with the portal's allowlist and the iframe hosts of a setting."""

    def __init__(self, iframe_hosts: Collection[str] = ()) -> None:
        self.iframe_hosts = frozenset(host.lower() for host in iframe_hosts)
        tags = set(TAGS) | ({"iframe"} if self.iframe_hosts else set())
        self.options = {
            "tags": tags,
            "clean_content_tags": set(DROPPED_WHOLE)
            | ({"iframe"} if not self.iframe_hosts else set()),
            "attributes": {
                k: set(v) for k, v in ATTRIBUTES.items() if k in tags or k == "*"
            },
            "attribute_filter": self._filter,
            "url_schemes": set(URL_SCHEMES),
            "link_rel": None,
            "tag_attribute_values": {
                tag: {"style": ALIGNMENTS} for tag in ("td", "th")
            },
        }
        # Built once: nh3.clean would build ammonia's allowlist again per call.
        self.cleaner = nh3.Cleaner(**self.options)

    def _filter(self, tag: str, attribute: str, value: str) -> str | None:
        """Keep media sources that are our own files, iframes from allowed hosts."""
        if tag in MEDIA_TAGS and attribute in {"src", "poster"}:
            return value if _own_file(value) else None
        if tag == "iframe" and attribute == "src":
            parts = urlsplit(value.strip())
            host = (parts.hostname or "").lower()
            ok = parts.scheme == "https" and host in self.iframe_hosts
            return value if ok else None
        return value

    def clean(self, html: str) -> str:
        """Return the HTML with only what the allowlist keeps."""
        return self.cleaner.clean(html)

    def removals(self, html: str) -> list[tuple[str, str]]:
        """Clean a fragment alone; list the (tag, attribute) pairs it lost."""
        return _removed(html, self.clean(html))


def _line_of(body: str, fragment: str, start: int) -> tuple[int, int]:
    """Return (offset, position after) of a fragment's first line in the body."""
    first = next((line.strip() for line in fragment.splitlines() if line.strip()), "")
    found = body.find(first, start) if first else -1
    if found < 0 and start:
        found = body.find(first)
    if found < 0:
        return 0, start
    return body.count("\n", 0, found), found + len(first)


class _Postprocessor(Postprocessor):
    """Clean the whole page body last; report each raw block's removals."""

    def __init__(self, md: Markdown, extension: SanitizeExtension) -> None:
        super().__init__(md)
        self.extension = extension

    def run(self, text: str) -> str:
        extension = self.extension
        extension.removals = []
        reported: Counter[tuple[str, str]] = Counter()
        seen: dict[str, int] = {}
        for block in self.md.htmlStash.rawHtmlBlocks:
            if not isinstance(block, str):
                continue
            gone = extension.sanitizer.removals(block)
            if not gone:
                continue
            offset, seen[block] = _line_of(extension.source, block, seen.get(block, 0))
            extension.report(offset, gone)
            reported.update(gone)
        clean = extension.sanitizer.clean(text)
        # What Markdown itself made from the text, e.g. [a](javascript:…).
        rest = Counter(_removed(text, clean)) - reported
        for tag, attribute in rest.elements():
            offset = _find(extension.source, tag, attribute)
            extension.report(offset, [(tag, attribute)])
        return clean


def _find(body: str, tag: str, attribute: str) -> int:
    """Return the body line (from 0) most likely to hold a removed tag or attribute."""
    pattern = (
        re.escape(f"{attribute}") + r"\s*[=(]"
        if attribute in {"href", "src"}
        else re.escape(attribute or f"<{tag}")
    )
    match = re.search(r"javascript:|data:" if attribute else pattern, body, re.I)
    match = match or re.search(pattern, body, re.I)
    return body.count("\n", 0, match.start()) if match else 0


class SanitizeExtension(Extension):
    """A Markdown extension: the body's HTML goes through the sanitiser, once."""

    def __init__(self, sanitizer: Sanitizer, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sanitizer = sanitizer
        self.source = ""
        self.first_line = 1
        self.removals: list[Removal] = []

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 (Markdown's name)
        # After every other postprocessor (raw HTML goes back in at 30).
        md.postprocessors.register(_Postprocessor(md, self), "sanitize", 0)

    def report(self, offset: int, gone: Iterable[tuple[str, str]]) -> None:
        """Record removals at a line of the body."""
        for tag, attribute in gone:
            message, fix = _describe(tag, attribute)
            self.removals.append(Removal(self.first_line + offset, message, fix))

    def convert(self, md: Markdown, body: str, first_line: int) -> str:
        """Convert a body whose first line is `first_line` of its file."""
        self.source, self.first_line = body, first_line
        html = md.reset().convert(body)
        self.removals.sort(key=lambda removal: removal.line)
        return html


def _deepest(body: str) -> int:
    """Return the body line (from 0) with the longest indent or run of “>”."""
    lines = body.split("\n")
    depths = [len(line) - len(line.lstrip(" \t>")) for line in lines]
    return depths.index(max(depths)) if depths else 0


class BodyRenderer:
    """Turn bodies into clean HTML with one reused Markdown converter."""

    def __init__(self, markdown: Mapping[str, Any], iframe_hosts: Collection[str]):
        self.extension = SanitizeExtension(Sanitizer(iframe_hosts))
        settings = dict(markdown)
        # As Pelican's MarkdownReader would (ours replaces it before it is made):
        # each configured extension is enabled. Not "meta": the front matter is
        # ours, and "meta" would eat body lines like "Nguồn: …".
        names = list(settings.get("extensions", []))
        for name in settings.get("extension_configs", {}):
            if name not in names:
                names.append(name)
        settings["extensions"] = [*names, self.extension]
        self.markdown = Markdown(**settings)  # building one is costly: reused
        gate(self.markdown)  # patterns skip texts they cannot match

    def render(self, path: str, body: str, first_line: int) -> tuple[str, list]:
        """Return a body's HTML and a warning per removal, naming file and line.

        A body nested too deep for Markdown's recursive parser (lists or quotes
        inside each other hundreds of times) is an error at its deepest line.
        """
        try:
            html = self.extension.convert(self.markdown, body, first_line)
        except RecursionError:
            line = first_line + _deepest(body)
            message = "danh sách hoặc trích dẫn lồng nhau quá sâu, không đọc được"
            fix = "bỏ bớt các cấp thụt lề và dấu “>” lồng nhau"
            return "", [Problem(path, "html", message, fix, line)]
        warnings = [
            Problem(path, "html", r.message, r.fix, r.line, "warning")
            for r in self.extension.removals
        ]
        return html, warnings
