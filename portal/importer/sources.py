"""Legacy articles read from a feed, saved or fetched HTML pages, or text dumps."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import lxml.etree
import lxml.html
from lxml.cssselect import CSSSelector

from portal.importer.dates import parse_date
from portal.importer.fetch import Fetcher, FetchError, is_url, resolve
from portal.importer.profile import Profile
from portal.text import nfc

HTML_SUFFIXES = (".html", ".htm", ".aspx", ".php", ".asp")
FEED_SUFFIXES = (".xml", ".rss", ".atom")


@dataclass
class Legacy:
    """One article of the legacy site, as read, before conversion."""

    source: str  # the file or URL it was read from
    url: str  # its legacy URL ("" when unknown: keyed by content hash)
    title: str
    date: dt.datetime | None
    body_html: str  # the article's body as HTML (text dumps: paragraphs)
    base: str  # what relative links in the body are relative to
    summary: str = ""
    category: str = ""
    section: str = "news"
    captions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Return what identifies this article across runs."""
        if self.url:
            return self.url
        digest = hashlib.sha256(f"{self.title}\n{self.body_html}".encode()).hexdigest()
        return f"sha256:{digest[:32]}"


@dataclass
class Unreadable:
    """A page or source that could not be read, and why (in Vietnamese)."""

    source: str
    reason: str


def read_source(
    location: str, profile: Profile | None, fetcher: Fetcher
) -> Iterator[Legacy | Unreadable]:
    """Yield the articles of one source: feed, HTML folder, URL list or text dump."""
    path = Path(location)
    if not is_url(location) and path.is_dir():
        pages = sorted(p for p in path.rglob("*") if p.suffix.lower() in HTML_SUFFIXES)
        for page in pages:
            yield _read_one(str(page), _need(profile, location), fetcher)
        return
    data, content_type = fetcher.get(location)
    kind = _kind(location, data, content_type)
    if kind == "feed":
        yield from read_feed(location, data, profile)
    elif kind == "urls":
        for line in data.decode("utf-8-sig").splitlines():
            url = line.strip()
            if url and not url.startswith("#"):
                yield _read_one(url, _need(profile, location), fetcher)
    elif kind == "html":
        yield read_page(location, _need(profile, location), fetcher, data)
    else:
        yield read_text_dump(location, data, profile)


def _read_one(location: str, profile: Profile, fetcher: Fetcher) -> Legacy | Unreadable:
    """Read one page of a folder or URL list; a page that fails does not stop the rest."""
    try:
        return read_page(location, profile, fetcher)
    except (FetchError, lxml.etree.LxmlError, UnicodeError) as error:
        return Unreadable(location, str(error))


def _need(profile: Profile | None, location: str) -> Profile:
    """Return the profile HTML pages need, or say that it is missing."""
    if profile is None:
        raise FetchError(
            f"“{location}” là trang HTML: cần hồ sơ trang cũ (--profile hoso.yml)"
            " chỉ ra vùng tiêu đề, ngày, nội dung"
        )
    return profile


def _kind(location: str, data: bytes, content_type: str) -> str:
    """Tell what a source holds: "feed", "html", "urls" or "text"."""
    head = data[:512].lstrip().lower()
    suffix = Path(urlsplit(location).path).suffix.lower()
    if "xml" in content_type or suffix in FEED_SUFFIXES or head.startswith(b"<?xml"):
        return "feed"
    if head.startswith((b"<rss", b"<feed")):
        return "feed"
    if "html" in content_type or suffix in HTML_SUFFIXES or head.startswith(b"<"):
        return "html"
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if lines and all(is_url(line) for line in lines):
        return "urls"
    return "text"


def read_feed(location: str, data: bytes, profile: Profile | None) -> Iterator[Legacy]:
    """Yield the items of an RSS or Atom feed."""
    feed = feedparser.parse(data)
    if feed.bozo and not feed.entries:
        raise FetchError(f"“{location}” không phải nguồn tin RSS/Atom đọc được")
    for entry in feed.entries:
        body = ""
        if entry.get("content"):
            body = entry.content[0].get("value", "")
        body = body or entry.get("summary", "")
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        date = dt.datetime(*stamp[:6]) if stamp else None
        if date is None:
            date = parse_date(entry.get("published", "") or entry.get("updated", ""))
        summary = entry.get("summary", "") if entry.get("content") else ""
        tags = entry.get("tags") or []
        category = tags[0].get("term", "") if tags else ""
        link = entry.get("link", "")
        yield Legacy(
            source=location,
            url=link,
            title=_clean(entry.get("title", "")),
            date=date,
            body_html=body,
            base=link or location,
            summary=_clean(_text_of_html(summary)),
            category=_clean(category),
            section=profile.section_for(category) if profile else "news",
        )


def read_page(
    location: str, profile: Profile, fetcher: Fetcher, data: bytes | None = None
) -> Legacy:
    """Read one legacy HTML page with the profile's selectors."""
    if data is None:
        data, _ = fetcher.get(location)
    root = lxml.html.document_fromstring(data)
    selectors = profile.selectors
    url = _attribute(root, selectors.get("url", ""), ("href", "content"))
    url = url or _attribute(root, "link[rel=canonical]", ("href",))
    url = url or _attribute(root, 'meta[property="og:url"]', ("content",))
    if not url and profile.base_url and not is_url(location):
        url = profile.base_url.rstrip("/") + "/" + Path(location).name
    if not url and is_url(location):
        url = location
    bodies = _select(root, selectors["body"])
    if not bodies:
        raise FetchError(
            f"“{location}”: không thấy vùng nội dung “{selectors['body']}”"
            " theo hồ sơ; kiểm tra mục selectors.body"
        )
    body = bodies[0]
    for selector in profile.remove:
        for element in _select(body, selector):
            _drop(element)
    if selectors.get("images"):  # only the article's own images, not icons or ads
        kept = set(_select(body, selectors["images"]))
        for img in [img for img in body.iter("img") if img not in kept]:
            _drop(img)
    captions = []
    if selectors.get("caption"):
        captions = [
            _clean(e.text_content()) for e in _select(body, selectors["caption"])
        ]
    date_text = _text(root, selectors.get("date", ""))
    category = _text(root, selectors.get("category", ""))
    return Legacy(
        source=location,
        url=url,
        title=_text(root, selectors.get("title", "")) or _text(root, "title"),
        date=parse_date(date_text),
        body_html=lxml.html.tostring(body, encoding="unicode"),
        base=location,
        summary=_text(root, selectors.get("summary", "")),
        category=category,
        section=profile.section_for(category),
        captions=captions,
    )


def read_text_dump(location: str, data: bytes, profile: Profile | None) -> Legacy:
    """Read a plain-text dump: a title line, optional date and source lines, text."""
    text = nfc(data.decode("utf-8-sig", "replace")).replace("\r\n", "\n")
    lines = [line.strip() for line in text.split("\n")]
    from portal.importer.convert import is_boilerplate

    url, date, title, body = "", None, "", []
    for line in lines:
        if not line or is_boilerplate(line):
            continue
        lower = line.casefold()
        if lower.startswith(("nguồn:", "địa chỉ:", "url:")) and not url:
            candidate = line.split(":", 1)[1].strip()
            if is_url(candidate):
                url = candidate
                continue
        if not title:
            title = line
            continue
        if date is None and not body and len(line) < 60 and parse_date(line):
            date = parse_date(line)
            continue
        body.append(line)
    paragraphs = "".join(
        f"<h2>{html.escape(line)}</h2>"
        if _heading(line)
        else f"<p>{html.escape(line)}</p>"
        for line in body
    )
    return Legacy(
        source=location,
        url=url,
        title=_clean(title.strip('“”"')),
        date=date,
        body_html=f"<div>{paragraphs}</div>",
        base=location,
        section=profile.section if profile else "news",
    )


def _heading(line: str) -> bool:
    """Tell whether a line of a text dump is a subheading (short, no end stop)."""
    return len(line) < 90 and not line.endswith((".", ":", ";", "…", ",", "!", "?"))


def _select(root, selector: str) -> list:
    """Return the elements matching a CSS selector (none for an empty one)."""
    return CSSSelector(selector)(root) if selector else []


def _text(root, selector: str) -> str:
    """Return the clean text of the first element a selector matches."""
    found = _select(root, selector)
    return _clean(found[0].text_content()) if found else ""


def _attribute(root, selector: str, names: tuple[str, ...]) -> str:
    """Return the first of some attributes of the first match of a selector."""
    for element in _select(root, selector):
        for name in names:
            if element.get(name):
                return element.get(name).strip()
    return ""


def _text_of_html(fragment: str) -> str:
    """Return the text of an HTML fragment."""
    if not fragment.strip():
        return ""
    return lxml.html.fragment_fromstring(fragment, create_parent="div").text_content()


def _clean(text: str) -> str:
    """Return text in NFC with white space collapsed."""
    return re.sub(r"\s+", " ", nfc(text or "")).strip()


def _drop(element) -> None:
    """Remove an element from its tree, keeping the text that follows it."""
    element.drop_tree()


def resolve_link(legacy: Legacy, reference: str) -> str:
    """Return a link of the article's body resolved to a URL or file path."""
    return resolve(legacy.base, reference)
