"""The content schema: what each kind of item must say, checked against the vocabularies.

`check_document` checks one parsed file; `check_collection` checks what only the
whole set can tell (duplicate slugs or URLs, related models that do not exist).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portal import imagecheck
from portal.frontmatter import LIMITS, Document, Limits, outside
from portal.problems import Problem
from portal.reserved import WINDOWS_DEVICE_NAMES, is_reserved
from portal.sanitize import html_depth, markdown_depth
from portal.text import fold, slugify
from portal.vocab import FIELD_VOCABULARY, LEVELS, Term, Vocabulary, short_date

MIN_YEAR = 1990
FUTURE_MARGIN = dt.timedelta(days=1)
STATUSES = ("published", "draft")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DATE_DMY = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")

# Folder under content/ -> (kind of item, URL prefix).
SECTIONS = {
    "models": ("model", "mo-hinh/"),
    "news": ("news", "tin-tuc/"),
    "pages": ("page", ""),
}
# Each kind's URL prefix (one dict look-up per item and build).
URL_PREFIXES = {kind: prefix for kind, prefix in SECTIONS.values()}


@dataclass
class Context:
    """What checking a file needs: vocabularies, the image folder and today's date."""

    vocabularies: Mapping[str, Vocabulary]
    images_dir: Path
    today: dt.date = field(default_factory=dt.date.today)
    limits: Limits = LIMITS
    max_pixels: int = imagecheck.MAX_IMAGE_PIXELS  # IMAGES["max_pixels"]
    future_dates: str = "warning"  # a date over a day ahead: "warning" or "error"


@dataclass
class Item:
    """A checked file: clean values, problems, and what cross-file checks need."""

    path: str
    kind: str
    meta: dict[str, Any]
    problems: list[Problem]
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Tell whether the item has no error (warnings allowed)."""
        return not any(problem.is_error for problem in self.problems)

    @property
    def url(self) -> str:
        """Return the item's URL relative to the site root."""
        return f"{URL_PREFIXES[self.kind]}{self.meta.get('slug', '')}/"


class _Field:
    """Checking one field of the front matter, with the label editors know."""

    def __init__(self, doc: Document, ctx: Context, item: Item) -> None:
        self.doc, self.ctx, self.item = doc, ctx, item

    def fail(self, name: str, message: str, fix: str = "", severity: str = "error"):
        """Record a problem on field `name` at its line."""
        line = self.doc.lines.get(name)
        self.item.problems.append(
            Problem(self.doc.path, name, message, fix, line, severity)
        )


Checker = Callable[[_Field, str, Any], Any]


def _text(f: _Field, name: str, value: Any) -> str | None:
    """Check a non-empty line of text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        f.fail(
            name,
            f"phải là một đoạn chữ, không phải {_type_vi(value)}",
            f"viết “{name}: …” với nội dung bằng chữ",
        )
        return None
    if not value.strip():
        f.fail(name, "đang để trống", f"điền nội dung cho “{name}”")
        return None
    return _capped(f, name, value.strip())


def _count(number: int) -> str:
    """Write a whole number the Vietnamese way (1.000)."""
    return f"{number:,}".replace(",", ".")


def _capped(f: _Field, name: str, value: str) -> str | None:
    """Check a text against its length limit."""
    limit = f.ctx.limits.chars(name)
    if len(value) > limit:
        f.fail(
            name,
            f"dài {_count(len(value))} ký tự, quá giới hạn {_count(limit)} ký tự",
            "rút gọn lại; nội dung dài đặt trong phần bài viết, dưới phần thông tin đầu",
        )
        return None
    return value


def _term(vocabulary: str) -> Checker:
    """Return a checker of a value from a vocabulary."""

    def check(f: _Field, name: str, value: Any):
        vocab = f.ctx.vocabularies[vocabulary]
        if not isinstance(value, str) or not value.strip():
            f.fail(
                name,
                f"phải là tên một {vocab.label.lower()} trong danh mục",
                _choices(vocab),
            )
            return None
        term = vocab.lookup(value)
        if term is None:
            suggestions = vocab.suggest(value)
            fix = (
                f"có phải ý bạn là “{suggestions[0]}”?"
                if suggestions
                else _choices(vocab)
            )
            f.fail(
                name,
                f"không có {vocab.label.lower()} “{value}” trong danh mục"
                f" data/{vocabulary}.yml",
                fix,
            )
        return term

    return check


def _locality(f: _Field, name: str, value: Any) -> Term | None:
    """Check a locality, and that it existed in the item's year (2025: both sides)."""
    term = _term(FIELD_VOCABULARY["locality"])(f, name, value)
    year = _item_year(f.doc.meta)
    if term is None or year is None:
        return term
    vocab = f.ctx.vocabularies[FIELD_VOCABULARY["locality"]]
    if term.ceased_by(year):
        after = short_date(term.valid_to + dt.timedelta(days=1))
        successors = _successor_list(vocab, term)
        f.fail(
            name,
            f"“{value}” ({term.full_name}) không còn từ {after}; năm {year} phải"
            f" ghi {_unit_words(vocab, term)} mới",
            f"nơi này nay là nhiều đơn vị, hãy chọn đúng một trong số: {successors}"
            if len(vocab.successors(term)) > 1
            else f"ghi {successors}"
            if successors
            else "chọn một địa bàn đang có trong data/dia-ban.yml",
        )
    elif not term.valid_in(year):
        before = ", ".join(f"“{t.name}”" for t, _ in vocab.predecessors(term))
        f.fail(
            name,
            f"“{value}” chỉ có từ {short_date(term.valid_from)}; năm {year}"
            f" nơi này thuộc {before or 'đơn vị cũ'}",
            f"ghi địa bàn lúc đó ({before})"
            if before
            else "kiểm tra lại năm và địa bàn",
            "warning",
        )
    return term


def _successor_list(vocab: Vocabulary, term: Term) -> str:
    """Name a former unit's successors, its namesake first, parts marked as such."""
    bare = fold(term.name)

    def order(pair: tuple[Term, str]) -> tuple:
        successor, note = pair
        namesake = fold(successor.name).endswith(bare) or any(
            fold(alias) == bare for alias in successor.aliases
        )
        return (not namesake, bool(note), successor.sort_key)

    return ", ".join(
        f"“{t.name}”" + (f" ({note})" if note else "")
        for t, note in sorted(vocab.successors(term), key=order)
    )


def _unit_words(vocab: Vocabulary, term: Term) -> str:
    """Say what kind of unit replaced a former one (a province, or communes)."""
    levels = {t.level for t, _ in vocab.successors(term)}
    return "tỉnh" if levels == {LEVELS[0]} else "xã, phường, đặc khu"


def _item_year(meta: Mapping) -> int | None:
    """Return the year an item is about: its year of recognition, or its date's."""
    year = meta.get("year")
    if isinstance(year, int) and not isinstance(year, bool):
        return year
    date = meta.get("date")
    if isinstance(date, dt.date):
        return date.year
    match = re.search(r"\b(\d{4})\b", str(date or ""))
    return int(match.group(1)) if match else None


def _choices(vocab: Vocabulary) -> str:
    """List the names an editor may use from a vocabulary (or where, if long)."""
    if len(vocab) > 30:
        return f"chọn một tên (trường name) trong data/{vocab.name}.yml"
    return "chọn một trong: " + ", ".join(f"“{t.name}”" for t in vocab.sorted_terms())


def _year(f: _Field, name: str, value: Any) -> int | None:
    """Check a year of recognition between MIN_YEAR and this year."""
    if isinstance(value, bool) or not isinstance(value, int):
        f.fail(
            name,
            f"phải là một số năm, không phải {_type_vi(value)} “{value}”",
            "viết năm bằng số, không có ngoặc kép, ví dụ “year: 2020”",
        )
        return None
    if not MIN_YEAR <= value <= f.ctx.today.year:
        f.fail(
            name,
            f"năm {value} nằm ngoài khoảng {MIN_YEAR}–{f.ctx.today.year}",
            "kiểm tra lại năm được công nhận",
        )
        return None
    return value


def _date(f: _Field, name: str, value: Any) -> dt.datetime | None:
    """Check a date (YYYY-MM-DD, or DD/MM/YYYY as editors often write it)."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip()).replace(tzinfo=None)
        except ValueError:
            pass
    match = DATE_DMY.match(value) if isinstance(value, str) else None
    if match:
        day, month, year = (int(part) for part in match.groups())
        try:
            return dt.datetime(year, month, day)
        except ValueError:
            pass
    f.fail(
        name,
        f"“{value}” không phải một ngày hợp lệ",
        "viết theo dạng năm-tháng-ngày, ví dụ “date: 2020-12-18”",
    )
    return None


def _flag(f: _Field, name: str, value: Any) -> bool | None:
    """Check a yes/no value."""
    if isinstance(value, bool):
        return value
    f.fail(
        name,
        f"phải là true hoặc false, không phải “{value}”",
        f"viết “{name}: true” hoặc bỏ dòng này",
    )
    return None


def _words(f: _Field, name: str, value: Any) -> list[str] | None:
    """Check a list of short texts (a single text is a list of one)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        f.fail(name, "phải là một danh sách", f"viết “{name}: [mục 1, mục 2]”")
        return None
    words = [str(v).strip() for v in value if str(v).strip()]
    limits = f.ctx.limits
    if len(words) > limits.tags:
        f.fail(
            name,
            f"có {len(words)} mục, quá giới hạn {limits.tags} mục",
            "chỉ giữ những mục chính",
        )
        return None
    long = next((w for w in words if len(w) > limits.tag), None)
    if long is not None:
        f.fail(
            name,
            f"mục “{long[:40]}…” dài {len(long)} ký tự, quá giới hạn {limits.tag} ký tự",
            "mỗi mục chỉ vài từ; tách thành nhiều mục bằng dấu phẩy",
        )
        return None
    return words


def _slug_list(f: _Field, name: str, value: Any) -> list[str] | None:
    """Check a list of model slugs; whether they exist is checked across files."""
    slugs = _words(f, name, value)
    for slug in slugs or []:
        if not SLUG_RE.match(slug):
            f.fail(
                name,
                f"“{slug}” không phải tên tệp (slug) của một mô hình",
                f"dùng tên tệp không có “.md”, ví dụ “{slugify(slug)}”",
            )
    return slugs


def _free_slug(text: str) -> str:
    """Suggest a slug for a text, never one the site or Windows reserves."""
    slug = slugify(text)
    return f"{slug}-1" if slug and is_reserved(slug) else slug


def _slug(f: _Field, name: str, value: Any) -> str | None:
    """Check an explicit URL slug."""
    if not isinstance(value, str) or not SLUG_RE.match(value):
        fix = f"ví dụ “{_free_slug(str(value))}”" if slugify(str(value)) else ""
        f.fail(
            name,
            f"“{value}” không dùng được làm địa chỉ web: chỉ chữ thường"
            " không dấu, số và gạch ngang",
            fix,
        )
        return None
    return value


def _status(f: _Field, name: str, value: Any) -> str | None:
    """Check the publication status."""
    if value in STATUSES:
        return value
    f.fail(
        name,
        f"không có trạng thái “{value}”",
        "viết “status: draft” (bản nháp) hoặc “status: published” (đăng)",
    )
    return None


def _number(f: _Field, name: str, value: Any) -> int | None:
    """Check a whole number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    f.fail(name, f"phải là một số nguyên, không phải “{value}”", f"ví dụ “{name}: 1”")
    return None


def _image(f: _Field, name: str, value: Any) -> str | None:
    """Check an image path relative to content/images/: exists, not too large."""
    if not isinstance(value, str) or not value.strip():
        f.fail(
            name,
            "phải là đường dẫn ảnh trong content/images/",
            "ví dụ “image: mo-hinh/anh.jpg”",
        )
        return None
    relative = value.strip().lstrip("/").removeprefix("images/")
    linked = f.ctx.images_dir / relative
    why = outside(linked, f.ctx.images_dir) if os.path.lexists(linked) else None
    if why:
        f.fail(
            name,
            f"ảnh “{value}”: {why}",
            "chép ảnh thật vào content/images/ rồi xóa liên kết",
        )
        return None
    root = f.ctx.images_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        f.fail(
            name,
            f"không tìm thấy ảnh “{value}” trong content/images/",
            "kiểm tra tên tệp ảnh (phân biệt chữ hoa, chữ thường) và thư mục",
        )
        return None
    try:
        imagecheck.verify(path, f.ctx.max_pixels)
    except imagecheck.BadImage as error:
        f.fail(name, f"ảnh “{value}” {error.message}", error.fix)
        return None
    return relative


COMMON = {
    "title": (True, _text),
    "date": (True, _date),
    "summary": (True, _text),
    "image": (False, _image),
    "image_alt": (False, _text),
    "image_caption": (False, _text),
    # The address of the article on the legacy portal (portal/importer).
    "legacy_url": (False, _text),
    "tags": (False, _words),
    "featured": (False, _flag),
    "slug": (False, _slug),
    "status": (False, _status),
    "scheduled": (False, _flag),
}
SCHEMAS: dict[str, dict[str, tuple[bool, Checker]]] = {
    "model": COMMON
    | {
        "category": (True, _term(FIELD_VOCABULARY["category"])),
        "locality": (True, _locality),
        "year": (True, _year),
        "kind": (True, _term(FIELD_VOCABULARY["kind"])),
        "unit": (True, _text),
    },
    "news": COMMON
    | {
        "category": (False, _term(FIELD_VOCABULARY["category"])),
        "locality": (False, _locality),
        "models": (False, _slug_list),
        "author": (False, _text),
    },
    "page": {
        "title": (True, _text),
        "summary": (False, _text),
        "slug": (False, _slug),
        "status": (False, _status),
        "order": (False, _number),
        "date": (False, _date),
    },
}
LABELS = {
    "title": "tiêu đề",
    "date": "ngày đăng",
    "summary": "tóm tắt",
    "category": "lĩnh vực",
    "locality": "địa bàn",
    "year": "năm công nhận",
    "kind": "hình thức",
    "unit": "đơn vị thực hiện",
}


def _type_vi(value: Any) -> str:
    """Name a YAML value's type in Vietnamese."""
    if isinstance(value, bool):
        return "giá trị đúng/sai"
    if isinstance(value, (int, float)):
        return "số"
    if isinstance(value, str):
        return "chữ"
    if isinstance(value, list):
        return "danh sách"
    if isinstance(value, dict):
        return "nhóm trường"
    if isinstance(value, dt.date):
        return "ngày"
    return "giá trị rỗng" if value is None else type(value).__name__


def kind_of(relative: str) -> str | None:
    """Return the kind of item a content path holds, by its top folder."""
    top = relative.replace("\\", "/").split("/", 1)[0]
    return SECTIONS[top][0] if top in SECTIONS else None


def _file_slug(doc: Document, item: Item) -> str | None:
    """Return the slug given by the file name, or record why it is not one."""
    stem = Path(doc.path).stem
    if SLUG_RE.match(stem):
        return stem
    item.problems.append(
        Problem(
            doc.path,
            "slug",
            f"tên tệp “{Path(doc.path).name}” không dùng được làm địa chỉ web",
            f"đổi tên tệp thành “{_free_slug(stem)}.md” (chữ thường không dấu, gạch ngang)"
            " hoặc thêm dòng “slug: …”",
            1,
        )
    )
    return None


def check_document(doc: Document, kind: str, ctx: Context) -> Item:
    """Check one parsed file against its kind's schema; return clean values."""
    item = Item(doc.path, kind, {}, list(doc.problems), dict(doc.lines))
    if doc.problems:
        return item
    schema = SCHEMAS[kind]
    f = _Field(doc, ctx, item)
    _check_html_depth(f, doc)
    for name, (required, checker) in schema.items():
        value = doc.meta.get(name)
        if value is None or value == "":
            if required:
                label = LABELS.get(name, name)
                f.fail(
                    name,
                    f"thiếu trường bắt buộc ({label})",
                    f"thêm một dòng “{name}: …” vào phần thông tin đầu",
                )
            continue
        if isinstance(value, str) and _capped(f, name, value) is None:
            continue  # too long to check further (or to quote in a message)
        clean = checker(f, name, value)
        if clean is not None:
            item.meta[name] = clean
    for name in doc.meta:
        if name not in schema:
            close = difflib.get_close_matches(name, list(schema), n=1)
            fix = (
                f"có phải ý bạn là “{close[0]}”?"
                if close
                else "xóa dòng này nếu không cần"
            )
            f.fail(
                name, "trường này không có trong mẫu nên sẽ bị bỏ qua", fix, "warning"
            )
    if "image" in item.meta and "image_alt" not in item.meta:
        f.fail(
            "image_alt",
            "ảnh chưa có lời mô tả cho người khiếm thị",
            "thêm “image_alt: …” tả ngắn gọn nội dung ảnh",
        )
    if "slug" not in item.meta and "slug" not in doc.meta:
        slug = _file_slug(doc, item)
        if slug:
            item.meta["slug"] = slug
    _check_future(f, item)
    _check_device_name(f, item, doc)
    if kind != "page" and item.meta.get("slug", "").isdigit():
        f.fail(
            "slug",
            "địa chỉ chỉ gồm chữ số sẽ trùng với trang danh sách",
            "thêm chữ vào tên tệp hoặc slug",
        )
    return item


def _check_html_depth(f: _Field, doc: Document) -> None:
    """Refuse a body whose HTML tags, lists or quotes nest too deep, at that line."""
    limits = f.ctx.limits
    for offset, message, fix in (
        (
            html_depth(doc.body, limits.html_depth),
            f"các thẻ HTML trong bài lồng nhau quá {limits.html_depth} cấp",
            "bỏ bớt các thẻ HTML lồng nhau; định dạng bằng Markdown",
        ),
        (
            markdown_depth(doc.body, limits.body_depth),
            f"danh sách hoặc trích dẫn lồng nhau quá {limits.body_depth} cấp",
            "bỏ bớt các cấp thụt lề và dấu “>” lồng nhau",
        ),
    ):
        if offset is not None:
            line = doc.body_line + offset
            f.item.problems.append(Problem(doc.path, "html", message, fix, line))
    lines = doc.body.count("\n") + 1
    marks = sum(doc.body.count(mark) for mark in "*_`[<")
    for count, limit, what in (
        (lines, limits.body_lines, "dòng"),
        (marks, limits.body_marks, "ký tự định dạng (* _ ` [ <)"),
    ):
        if count > limit:
            f.item.problems.append(
                Problem(
                    doc.path,
                    "",
                    f"phần bài viết có {_thousands(count)} {what},"
                    f" quá giới hạn {_thousands(limit)}",
                    "tách thành nhiều bài, hoặc đặt tài liệu dài trong content/files/",
                    doc.body_line,
                )
            )


def _thousands(number: int) -> str:
    """Write a whole number Vietnamese style (20.000)."""
    return f"{number:,}".replace(",", ".")


def _check_future(f: _Field, item: Item) -> None:
    """Flag a date over a day ahead, unless the item is scheduled for it."""
    date = item.meta.get("date")
    if date is None or date.date() - f.ctx.today <= FUTURE_MARGIN:
        return
    if item.meta.get("scheduled"):
        return
    # Only models and news can be held back (a page has no `scheduled`).
    fix = (
        "sửa lại ngày"
        if item.kind == "page"
        else "sửa lại ngày đăng; nếu muốn hẹn ngày đăng thì thêm dòng “scheduled: true”"
        " (bài chỉ lên trang từ ngày đó)"
    )
    f.fail("date", f"ngày {date:%d/%m/%Y} còn ở tương lai", fix, f.ctx.future_dates)


def _check_device_name(f: _Field, item: Item, doc: Document) -> None:
    """Refuse a slug Windows cannot use as a folder (pages: see check_collection)."""
    slug = item.meta.get("slug", "")
    if item.kind != "page" and slug.split(".", 1)[0] in WINDOWS_DEVICE_NAMES:
        f.fail(
            "slug",
            f"“{slug}” là tên thiết bị dành riêng của Windows, không dùng làm địa chỉ",
            "đổi tên tệp hoặc slug, ví dụ thêm một từ: “" + slug + "-1”",
        )
        if "slug" not in doc.lines:
            item.problems[-1] = dataclasses.replace(item.problems[-1], line=1)


def check_collection(items: Iterable[Item]) -> list[Problem]:
    """Check what needs every file: unique slugs and URLs, related models exist."""
    items = list(items)
    problems: list[Problem] = []
    by_url: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        if item.meta.get("slug"):
            by_url[item.url].append(item)
    for url, same in by_url.items():
        if len(same) > 1:
            for item in same:
                others = ", ".join(o.path for o in same if o is not item)
                problems.append(
                    Problem(
                        item.path,
                        "slug",
                        f"địa chỉ /{url} trùng với {others}",
                        "đổi tên tệp hoặc dòng “slug:” của một trong các tệp",
                        item.lines.get("slug", 1),
                    )
                )
        if same[0].kind == "page" and is_reserved(url):
            problems.append(
                Problem(
                    same[0].path,
                    "slug",
                    f"địa chỉ /{url} đã dành cho trang của hệ thống",
                    "chọn tên tệp hoặc slug khác",
                    same[0].lines.get("slug", 1),
                )
            )
    models = {
        i.meta["slug"]
        for i in items
        if i.kind == "model" and i.ok and i.meta.get("slug")
    }
    broken = {
        i.meta.get("slug") or Path(i.path).stem: i.path
        for i in items
        if i.kind == "model" and not i.ok
    }
    for item in items:
        for slug in item.meta.get("models", []):
            if slug not in models and slug in broken:
                problems.append(
                    Problem(
                        item.path,
                        "models",
                        f"mô hình “{slug}” đang có lỗi riêng trong tệp {broken[slug]}",
                        "sửa tệp đó (xem lỗi của nó); tệp này không cần sửa",
                        item.lines.get("models"),
                        "warning",
                    )
                )
            elif slug not in models:
                close = difflib.get_close_matches(slug, sorted(models), n=1)
                fix = (
                    f"có phải ý bạn là “{close[0]}”?"
                    if close
                    else "dùng tên tệp của một mô hình trong content/models/"
                )
                problems.append(
                    Problem(
                        item.path,
                        "models",
                        f"không có mô hình “{slug}”",
                        fix,
                        item.lines.get("models"),
                    )
                )
    return problems
