"""A legacy article's body made ours: boilerplate, frames and scripts out, images
and attachments downloaded, HTML turned into Markdown."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import html2text
import lxml.html
from PIL import Image, UnidentifiedImageError

from portal.attachments import MAX_BYTES
from portal.attachments import SUFFIXES as ATTACHMENTS
from portal.importer.fetch import Fetcher, FetchError, is_url
from portal.importer.sources import Legacy, resolve_link
from portal.text import fold, nfc, slugify

# Lines and blocks of the old site's template, not of the article (folded).
BOILERPLATE = (
    "tin moi nhat",
    "so luot truy cap",
    "luot truy cap",
    "chia se",
    "share",
    "facebook",
    "zalo",
    "tweet",
    "in bai viet",
    "in trang",
    "gui email",
    "gui cho ban be",
    "ve dau trang",
    "quay lai",
    "tro ve",
    "luot xem",
    "ban in",
)
# Where the article ends and the old site's lists begin (folded).
TAIL = ("cac tin khac", "tin lien quan", "tin cung chuyen muc", "cac tin da dua")
DROPPED = {
    "script": "đoạn mã (script)",
    "iframe": "khung nhúng (iframe)",
    "frame": "khung (frame)",
    "object": "đối tượng nhúng (object)",
    "embed": "đối tượng nhúng (embed)",
    "form": "biểu mẫu (form)",
    "video": "video",
    "audio": "âm thanh",
}
IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
MAX_SHORT = 80


@dataclass
class Body:
    """A converted body: Markdown, its lead image, files saved, notes for editors."""

    markdown: str
    image: str = ""  # relative to content/images/
    image_alt: str = ""
    image_caption: str = ""
    extra_images: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_boilerplate(text: str) -> bool:
    """Tell whether a short text is part of the old site's template."""
    folded = fold(text)
    if len(folded) > MAX_SHORT:
        return False
    return any(folded.startswith(phrase) for phrase in BOILERPLATE + TAIL)


def is_tail(text: str) -> bool:
    """Tell whether a short text starts the old site's lists after the article."""
    folded = fold(text)
    return len(folded) <= MAX_SHORT and folded.startswith(TAIL)


def convert(
    legacy: Legacy, slug: str, content: Path, fetcher: Fetcher, dry: bool = False
) -> Body:
    """Clean a legacy body, save its images and files, return it as Markdown."""
    root = lxml.html.fragment_fromstring(legacy.body_html or "<p></p>", "div")
    body = Body("")
    _drop_active(root, body)
    _drop_boilerplate(root)
    _take_images(root, legacy, slug, content, fetcher, body, dry)
    _take_files(root, legacy, content, fetcher, body, dry)
    body.markdown = to_markdown(lxml.html.tostring(root, encoding="unicode"))
    return body


def _drop_active(root, body: Body) -> None:
    """Remove frames, scripts, forms and media; note how many of each."""
    counts: dict[str, int] = {}
    for element in list(root.iter(*DROPPED, "style", "noscript", "link", "meta")):
        if element.getparent() is None:
            continue
        counts[element.tag] = counts.get(element.tag, 0) + 1
        element.drop_tree()
    for tag, number in counts.items():
        if tag in DROPPED:
            body.notes.append(f"đã bỏ {number} {DROPPED[tag]}")
    for element in root.iter():
        for name in list(element.attrib):
            if name.startswith("on") or name in ("style", "class", "id"):
                del element.attrib[name]


def _drop_boilerplate(root) -> None:
    """Remove template blocks; cut the body where the old site's lists begin."""
    for element in list(root.iter()):
        if element is root or root not in element.iterancestors():
            continue
        text = element.text_content().strip()
        if not text and element.tag not in ("img", "br", "hr"):
            if not len(element.xpath(".//img")):
                element.drop_tree()
            continue
        if is_tail(text):
            _cut_from(root, element)
            return
        if is_boilerplate(text):
            element.drop_tree()


def _cut_from(root, element) -> None:
    """Remove element and everything after it inside root."""
    node = element
    while node is not root:
        parent = node.getparent()
        for sibling in list(node.itersiblings()):
            parent.remove(sibling)
        node = parent
    element.drop_tree()


def _take_images(
    root, legacy: Legacy, slug: str, content: Path, fetcher: Fetcher, body: Body, dry
) -> None:
    """Save the body's images; the first becomes the item's image with its caption."""
    captions = list(legacy.captions)
    for number, img in enumerate(list(root.iter("img")), start=1):
        src = img.get("src") or ""
        caption = _caption(img, captions)
        alt = nfc((img.get("alt") or img.get("title") or caption).strip())
        _remove_figure(img)
        if not src or src.startswith("data:"):
            continue
        try:
            data, _ = fetcher.get(resolve_link(legacy, src))
            name = save_image(data, content, f"{slug}-{number}", dry)
        except (FetchError, UnidentifiedImageError, OSError) as error:
            body.notes.append(f"ảnh “{src}” không lấy được ({error})")
            continue
        if not body.image:
            body.image, body.image_alt, body.image_caption = name, alt, caption
        else:
            body.extra_images.append(name)
    if body.image and not body.image_alt:
        body.notes.append("ảnh chưa có lời mô tả (image_alt)")
    if body.extra_images:
        body.notes.append(
            f"{len(body.extra_images)} ảnh khác trong bài đã lưu vào"
            " content/images/imported/ nhưng chưa đưa vào bài"
        )


def _caption(img, captions: list[str]) -> str:
    """Return an image's caption: its figure's, the profile's, or empty."""
    for ancestor in img.iterancestors():
        found = ancestor.xpath(".//figcaption")
        if found:
            return _text(found[0])
        if ancestor.tag in ("figure", "table", "div", "p") and captions:
            text = _text(ancestor)
            for caption in captions:
                if caption and caption in text:
                    captions.remove(caption)
                    return caption
        if ancestor.tag in ("figure", "table"):
            break
    return ""


def _remove_figure(img) -> None:
    """Remove an image with its figure, caption or caption table."""
    for ancestor in img.iterancestors():
        if ancestor.tag in ("figure", "table") and ancestor.getparent() is not None:
            ancestor.drop_tree()
            return
    parent = img.getparent()
    img.drop_tree()
    if parent is not None and parent.getparent() is not None and not _text(parent):
        parent.drop_tree()


def _text(element) -> str:
    """Return an element's text, NFC, white space collapsed."""
    return " ".join(nfc(element.text_content()).split())


def save_image(data: bytes, content: Path, stem: str, dry: bool = False) -> str:
    """Save an image under content/images/imported/ (GIF etc. as PNG); return its path."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        suffix = IMAGE_FORMATS.get(image.format or "")
        if suffix is None:
            frame = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            buffer = io.BytesIO()
            frame.save(buffer, "PNG", optimize=True)
            data, suffix = buffer.getvalue(), ".png"
    relative = f"imported/{stem}{suffix}"
    if not dry:
        _write_new(content / "images" / relative, data)
    return relative


def _take_files(
    root, legacy: Legacy, content: Path, fetcher: Fetcher, body: Body, dry
) -> None:
    """Save linked attachments under content/files/imported/; make other links absolute."""
    for link in root.iter("a"):
        href = link.get("href") or ""
        path = unquote(urlsplit(href).path)
        if not path.lower().endswith(ATTACHMENTS):
            if is_url(legacy.url) and href and not href.startswith(("#", "mailto:")):
                # Other links point at the legacy site: kept as absolute legacy URLs,
                # which the redirect map sends to their new pages.
                link.set("href", urljoin(legacy.url, href))
            continue
        try:
            data, _ = fetcher.get(resolve_link(legacy, href))
        except FetchError as error:
            body.notes.append(f"tệp đính kèm “{href}” không lấy được ({error})")
            continue
        if len(data) > MAX_BYTES:
            body.notes.append(
                f"tệp đính kèm “{href}” lớn hơn {MAX_BYTES // 2**20} MB, chưa lấy"
            )
            continue
        name = Path(path).name
        stem, suffix = Path(name).stem, Path(name).suffix.lower()
        digest = hashlib.sha256(data).hexdigest()[:8]
        name = f"{slugify(stem) or 'tep'}-{digest}{suffix}"
        if not dry:
            _write_new(content / "files" / "imported" / name, data)
        # Relative to the item's page (/tin-tuc/<slug>/, /mo-hinh/<slug>/), so it works
        # under a SITEURL sub-path too. Not {static}: in this build an item's content
        # is rendered before the static files are known, and the link stays as is.
        link.set("href", f"../../files/imported/{name}")
        body.files.append(f"files/imported/{name}")


def _write_new(path: Path, data: bytes) -> None:
    """Write a downloaded file unless the same name already holds it."""
    from portal.files import write_atomic

    if path.is_file() and path.read_bytes() == data:
        return
    write_atomic(path, data)


def to_markdown(fragment: str) -> str:
    """Turn clean HTML into Markdown (NFC, no hard wraps, no runs of blank lines)."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.unicode_snob = True
    converter.ignore_images = True
    converter.ignore_emphasis = False
    converter.protect_links = True
    converter.single_line_break = False
    text = nfc(converter.handle(fragment))
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
