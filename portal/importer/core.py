"""Importing legacy articles into import/, and accepting reviewed ones into content/."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import lxml.etree

from portal import vocab
from portal.check import check_tree
from portal.files import write_atomic
from portal.frontmatter import parse_file
from portal.importer.convert import Body, convert
from portal.importer.fetch import Fetcher, FetchError
from portal.importer.profile import Profile
from portal.importer.sources import Legacy, Unreadable, read_source
from portal.importer.state import Manifest, add_redirect, digest, legacy_path
from portal.importer.suggest import Suggestion, suggest_all
from portal.problems import Problem
from portal.schema import SECTIONS, Context, Item, check_collection, check_document
from portal.text import slugify

MAX_SLUG = 70
MAX_SUMMARY = 300
REPORT_COLUMNS = (
    "dia_chi_cu",
    "nguon",
    "tieu_de",
    "tep_moi",
    "trang_thai",
    "ngay",
    "linh_vuc_goi_y",
    "dia_ban_goi_y",
    "can_bien_tap",
)
NEW, SEEN, KEPT, UPDATED, FAILED = (
    "mới",
    "đã nhập trước đây",
    "đã sửa, không ghi đè",
    "cập nhật",
    "lỗi",
)
LABELS = {
    "date": "ngày đăng",
    "category": "lĩnh vực",
    "locality": "địa bàn",
    "year": "năm công nhận",
    "kind": "hình thức",
    "unit": "đơn vị thực hiện",
}


@dataclass
class Options:
    """Where an import reads its vocabularies and writes its files."""

    out: Path = Path("import")
    content: Path = Path("content")
    data: Path = Path("data")
    update: bool = False
    progress: bool = True


@dataclass
class Row:
    """One line of the review report: one legacy article and what it became."""

    url: str
    source: str
    title: str = ""
    path: str = ""
    status: str = NEW
    date: str = ""
    category: str = ""
    locality: str = ""
    needs: list[str] = field(default_factory=list)

    def values(self) -> list[str]:
        """Return the row's cells in REPORT_COLUMNS order."""
        return [
            self.url,
            self.source,
            self.title,
            self.path,
            self.status,
            self.date,
            self.category,
            self.locality,
            "; ".join(self.needs),
        ]


def read_all(
    sources: Iterable[str], profile: Profile | None, fetcher: Fetcher
) -> Iterator[Legacy | Row]:
    """Yield every article of every source, or a failed row for what cannot be read."""
    for location in sources:
        try:
            for found in read_source(location, profile, fetcher):
                if isinstance(found, Unreadable):
                    yield _failed(found.source, found.reason)
                else:
                    yield found
        except (FetchError, OSError, ValueError, lxml.etree.LxmlError) as error:
            yield _failed(location, str(error))


def _failed(source: str, reason: str, legacy: Legacy | None = None) -> Row:
    """Return the report row of an article or source that could not be imported."""
    url, title = (legacy.url, legacy.title) if legacy else ("", "")
    return Row(url=url, source=source, title=title, status=FAILED, needs=[reason])


def run_import(
    sources: Iterable[str], profile: Profile | None, options: Options
) -> list[Row]:
    """Import every new article of the sources into the import folder."""
    vocabularies = vocab.load(options.data)
    manifest = Manifest.load(options.out)
    fetcher = Fetcher()
    items = list(read_all(sources, profile, fetcher))
    rows = []
    for item in _progress(items, options.progress):
        if isinstance(item, Row):
            rows.append(item)
            continue
        try:
            rows.append(_import_one(item, manifest, vocabularies, fetcher, options))
        except (FetchError, OSError, ValueError, lxml.etree.LxmlError) as error:
            rows.append(_failed(item.source, str(error), item))
        if len(rows) % 200 == 0:
            manifest.save()
    manifest.save()
    return rows


def _progress(items: list, enabled: bool) -> Iterable:
    """Show a progress bar on a terminal for long imports."""
    if not enabled or len(items) < 20 or not sys.stderr.isatty():
        return items
    from rich.progress import track

    return track(items, description="Đang nhập bài", transient=True)


def _import_one(
    legacy: Legacy, manifest: Manifest, vocabularies, fetcher: Fetcher, options: Options
) -> Row:
    """Write one article into the import folder unless it was imported before."""
    row = Row(legacy.url, legacy.source, legacy.title)
    entry = manifest.entries.get(legacy.key)
    if entry is not None:
        row.path = entry["path"]
        current = options.out / entry["path"]
        if entry.get("accepted") or not current.is_file():
            row.status = SEEN
            return row
        if digest(current.read_text("utf-8")) != entry["digest"]:
            row.status = KEPT
            return row
        if not options.update:
            row.status = SEEN
            return row
        relative = entry["path"]
        row.status = UPDATED
    else:
        relative = _free_path(legacy, manifest, options)
    slug = Path(relative).stem
    body = convert(legacy, slug, options.content, fetcher)
    year = legacy.date.year if legacy.date else None
    suggestions = suggest_all(vocabularies, legacy.title, body.markdown, year)
    text = render(legacy, body, suggestions, row)
    write_atomic(options.out / relative, text.encode("utf-8"))
    manifest.entries[legacy.key] = {
        "path": relative,
        "digest": digest(text),
        "legacy_url": legacy.url,
        "source": legacy.source,
    }
    row.path = relative
    return row


def _free_path(legacy: Legacy, manifest: Manifest, options: Options) -> str:
    """Return a new file path for an article: its section, a slug of its title."""
    section = legacy.section
    base = _short_slug(legacy.title) or "bai-viet"
    taken = manifest.paths()
    for number in range(1, 1000):
        slug = base if number == 1 else f"{base}-{number}"
        relative = f"{section}/{slug}.md"
        if relative in taken or (options.out / relative).exists():
            continue
        if (options.content / relative).exists():
            continue
        return relative
    raise ValueError(f"quá nhiều bài trùng tên “{base}”")


def _short_slug(title: str) -> str:
    """Return a slug of a title, cut at a word to at most MAX_SLUG characters."""
    slug = slugify(title)
    if len(slug) <= MAX_SLUG:
        return slug
    return slug[:MAX_SLUG].rsplit("-", 1)[0]


def render(
    legacy: Legacy, body: Body, suggestions: dict[str, Suggestion | None], row: Row
) -> str:
    """Return an imported article's file: front matter per our schema, then Markdown."""
    lines = ["---", f"title: {_yaml(legacy.title)}"]
    if not legacy.title:
        row.needs.append("tiêu đề")
    if legacy.date:
        stamp = legacy.date.strftime("%Y-%m-%d %H:%M")
        lines.append(f"date: {stamp.removesuffix(' 00:00')}")
        row.date = legacy.date.date().isoformat()
    else:
        lines.append("date:  # CẦN ĐIỀN: ngày đăng, dạng 2020-12-18")
        row.needs.append("ngày đăng (không đọc được ngày ở trang cũ)")
    summary = legacy.summary or _first_paragraph(body.markdown)
    lines.append(f"summary: {_yaml(summary)}")
    if not legacy.summary:
        row.needs.append("tóm tắt (lấy tạm từ đoạn đầu)")
    model = legacy.section == "models"
    for name in ("category", "locality"):
        suggestion = suggestions.get(name)
        setattr(row, name, str(suggestion) if suggestion else "")
        if suggestion and suggestion.sure:
            lines.append(
                f"{name}: {_yaml(suggestion.name)}  # gợi ý, độ tin cậy {suggestion}"
            )
        elif model:
            hint = f" (gợi ý: {suggestion})" if suggestion else ""
            lines.append(f"{name}:  # CẦN ĐIỀN: {LABELS[name]}{hint}")
            row.needs.append(f"{LABELS[name]}{hint}")
        elif suggestion:
            lines.append(
                f"# {name}: {_yaml(suggestion.name)}  # gợi ý chưa chắc ({suggestion})"
            )
            row.needs.append(f"xem {LABELS[name]} (gợi ý {suggestion})")
    if model:
        hint = f" (năm đăng: {legacy.date.year})" if legacy.date else ""
        lines.append(f"year:  # CẦN ĐIỀN: năm công nhận{hint}")
        lines.append("kind:  # CẦN ĐIỀN: hình thức (Mô hình hoặc Điển hình)")
        lines.append("unit:  # CẦN ĐIỀN: đơn vị thực hiện")
        row.needs += ["năm công nhận", "hình thức", "đơn vị thực hiện"]
    if body.image:
        lines.append(f"image: {body.image}")
        alt = body.image_alt or body.image_caption
        if alt:
            lines.append(f"image_alt: {_yaml(alt)}")
        else:
            lines.append("image_alt:  # CẦN ĐIỀN: mô tả ảnh cho người khiếm thị")
        if body.image_caption:
            lines.append(f"image_caption: {_yaml(body.image_caption)}")
    lines.append("status: draft")
    if legacy.url:
        lines.append(f"legacy_url: {_yaml(legacy.url)}")
    lines.append("---")
    row.needs += body.notes
    return "\n".join(lines) + "\n\n" + body.markdown


def _yaml(value: str) -> str:
    """Return a text as a YAML scalar (a JSON string is valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _first_paragraph(markdown: str) -> str:
    """Return the first paragraph of a body as plain text, cut at a sentence."""
    for block in markdown.split("\n\n"):
        text = re.sub(r"[*_#>`\[\]]|\(http[^)]*\)", "", block).strip()
        if len(text) > 40:
            if len(text) <= MAX_SUMMARY:
                return text
            cut = text[:MAX_SUMMARY]
            stop = cut.rfind(". ")
            return cut[: stop + 1] if stop > 80 else cut.rsplit(" ", 1)[0] + "…"
    return ""


def write_report(rows: list[Row], path: Path) -> None:
    """Write the review report as CSV (UTF-8 with BOM, so spreadsheets read it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        writer.writerow(row.values())
    write_atomic(path, ("\ufeff" + buffer.getvalue()).encode("utf-8"))


def summary(rows: list[Row], out: Path, report: Path) -> str:
    """Return the Vietnamese summary of an import for the terminal."""
    count = {
        status: sum(r.status == status for r in rows)
        for status in (NEW, SEEN, KEPT, UPDATED, FAILED)
    }
    review = sum(1 for r in rows if r.status in (NEW, UPDATED) and r.needs)
    lines = [
        f"Đã đọc {len(rows)} bài: {count[NEW]} bài mới vào {out}/,"
        f" {count[SEEN]} bài đã nhập trước đây (bỏ qua),"
        f" {count[KEPT]} bài đã được sửa (không ghi đè), {count[UPDATED]} bài cập nhật,"
        f" {count[FAILED]} lỗi.",
    ]
    if review:
        lines.append(f"{review} bài cần biên tập viên bổ sung (cột “can_bien_tap”).")
    for row in rows:
        if row.status == FAILED:
            lines.append(f"LỖI {row.source}: {'; '.join(row.needs)}")
    lines.append(
        f"Báo cáo: {report}. Xem, sửa từng bài rồi chạy"
        f" “make import-accept FILES={out}/news/ten-bai.md”."
    )
    return "\n".join(lines)


# -- accepting a reviewed file ------------------------------------------------


def accept(
    files: Iterable[Path], options: Options, redirects: Path
) -> tuple[list[str], list[Problem]]:
    """Check reviewed files and move the good ones into content/; add redirects."""
    ctx = Context(vocab.load(options.data), options.content / "images")
    items, _ = check_tree(options.content, ctx)
    manifest = Manifest.load(options.out)
    moved: list[str] = []
    problems: list[Problem] = []
    for path in files:
        found = _accept_one(Path(path), items, ctx, options, manifest, redirects)
        if isinstance(found, str):
            moved.append(found)
        else:
            problems += found
    if moved and manifest.path.is_file():
        manifest.save()
    return moved, problems


def _accept_one(
    path: Path,
    items: list[Item],
    ctx: Context,
    options: Options,
    manifest: Manifest,
    redirects: Path,
) -> str | list[Problem]:
    """Check one reviewed file; move it into content/ when it has no error."""
    try:
        relative = path.resolve().relative_to(options.out.resolve()).as_posix()
    except ValueError:
        relative = ""
    section = relative.split("/", 1)[0]
    if section not in SECTIONS or not path.is_file():
        fix = f"chỉ nhận tệp trong {options.out}/news/ hoặc {options.out}/models/"
        return [Problem(str(path), "", "không phải bài đang chờ duyệt", fix)]
    doc = parse_file(path, str(path))
    item = check_document(doc, SECTIONS[section][0], ctx)
    problems = item.problems + [
        p for p in check_collection([*items, item]) if p.path == item.path
    ]
    target = options.content / relative
    if target.exists():
        problems.append(Problem(str(path), "", f"đã có tệp {target}", "đổi tên tệp"))
    if any(p.is_error for p in problems):
        return problems
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, target)
    legacy = doc.meta.get("legacy_url")
    if isinstance(legacy, str) and legacy.strip():
        add_redirect(redirects, legacy_path(legacy.strip()), "/" + item.url)
    found = manifest.find_path(relative)
    if found:
        found[1]["accepted"] = dt.date.today().isoformat()
    return str(target)
