"""Split an editor's Markdown file into its YAML front matter and its body."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from portal.problems import Problem
from portal.text import nfc


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """Read a YAML date; an impossible one (2020-13-45) stays text for the schema."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


class SlowLoader(yaml.SafeLoader):
    """PyYAML's own safe loader, whose errors carry the line, dates kept as above."""


class FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """libyaml's loader when PyYAML has it: about ten times faster, same values."""


for _loader in (SlowLoader, FastLoader):
    _loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)
FENCE = "---"
CLOSERS = ("---", "...")
# "title:Tên" (no space after the colon): YAML reads it as text, not a field.
NO_SPACE_AFTER_COLON = re.compile(r"^\s*([A-Za-z_][\w-]*):(?![\s/])\S")
MEGABYTE = 1024 * 1024
# A front matter up to this long, with no “&” or “*”, is checked on its node tree.
TREE_CHARS = 16 * 1024


@dataclass(frozen=True)
class Limits:
    """How big an editor's file and its fields may be (FRONTMATTER["limits"])."""

    file_bytes: int = MEGABYTE  # a whole Markdown file
    depth: int = 4  # nesting of lists and groups in the front matter
    html_depth: int = 100  # nesting of HTML tags written in a body
    body_depth: int = 20  # lists and quotes nested in a body (indent / 4, or “>”)
    # Python-Markdown takes time growing with the square of the elements side by
    # side: 40 000 emphases took 45 s. Lines of a body, and its markup characters.
    body_lines: int = 5000
    body_marks: int = 20000  # * _ ` [ <
    values: int = 1000  # values and lists in the front matter, all told
    text: int = 300  # a line of text: title, unit, author, image_alt…
    summary: int = 1000
    image_caption: int = 1000
    slug: int = 100  # an explicit `slug:` (a folder name on every system)
    tag: int = 60  # one tag (or one related model's slug)
    tags: int = 30  # how many tags (or related models) an item has

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> Limits:
        """Return the default limits with some replaced; raise ValueError if wrong."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown limits: {', '.join(unknown)}")
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"limit '{key}' must be a positive int")
        return cls(**values)

    def chars(self, name: str) -> int:
        """Return the most characters a text field may hold."""
        return getattr(self, name, self.text) if name in _TEXT_LIMITS else self.text


_TEXT_LIMITS = ("summary", "image_caption", "slug")
LIMITS = Limits()


@dataclass
class Document:
    """A parsed file: metadata with YAML types, the line of each key, and the body."""

    path: str
    meta: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    body: str = ""
    body_line: int = 1  # the file's line where the body starts
    problems: list[Problem] = field(default_factory=list)

    def fail(
        self, field_name: str, message: str, fix: str = "", line: int | None = None
    ):
        """Record a problem in this file and return the document."""
        self.problems.append(Problem(self.path, field_name, message, fix, line))
        return self


def _normalise(value: Any) -> Any:
    """NFC-normalise every string inside a YAML value."""
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    return value


def _decode(doc: Document, raw: bytes) -> str | None:
    """Decode the file as UTF-8, or record where it is not."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        doc.fail(
            "",
            "tệp không phải mã UTF-8",
            "mở tệp bằng trình soạn thảo và lưu lại với mã hóa UTF-8",
            line,
        )
        return None


class Refusal(NamedTuple):
    """Why a front matter is refused: message, fix, line in it (from 0)."""

    message: str
    fix: str
    line: int | None


def _too_many(limits: Limits, line: int) -> Refusal:
    """Refuse a front matter holding more than `limits.values` values."""
    return Refusal(
        f"phần thông tin đầu có hơn {limits.values} giá trị",
        "chỉ giữ các trường của mẫu bài; danh sách dài đặt trong phần bài viết",
        line,
    )


def _aliased(line: int) -> Refusal:
    """Refuse a front matter using a YAML anchor or alias."""
    return Refusal(
        "phần thông tin đầu dùng neo hoặc bí danh YAML (“&…”, “*…”)",
        "viết thẳng giá trị cho từng trường, không dùng “&” và “*”",
        line,
    )


def _too_deep(limits: Limits, line: int) -> Refusal:
    """Refuse a front matter nested deeper than `limits.depth`."""
    return Refusal(
        f"phần thông tin đầu lồng nhau quá {limits.depth} cấp",
        "mỗi trường là một giá trị hoặc một danh sách đơn giản",
        line,
    )


def _compose(loader_class: type, text: str, limits: Limits | None = None) -> Any:
    """Return the root node of a YAML text and its data, or a Refusal.

    With `limits`, the node tree is checked (`_refuse_tree`) before any value is
    built from it; without, the text's events were walked already (`_refuse`).
    """
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        refused = None if limits is None else _refuse_tree(node, limits)
        if refused is not None:
            return refused
        return node, loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def _refuse_tree(root: yaml.Node | None, limits: Limits) -> Refusal | None:
    """Check a composed node tree as `_refuse` checks events, in the same order.

    Only for a text with no “&” or “*”: it holds no anchor or alias, so every
    node stands once in the tree and the tree grows with the text.
    """
    values = 0
    stack = [] if root is None else [(root, 1)]
    while stack:
        node, level = stack.pop()
        line = node.start_mark.line
        values += 1
        if values > limits.values:
            return _too_many(limits, line)
        if isinstance(node, yaml.ScalarNode):
            continue
        if level > limits.depth:
            return _too_deep(limits, line)
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value
        stack.extend((child, level + 1) for child in reversed(children))
    return None


def _refuse(loader_class: type, text: str, limits: Limits) -> Refusal | None:
    """Walk the YAML events, before any node is built; return what is refused.

    Anchors and aliases (“&a”, “*a”) are refused: a few lines of them can stand for
    billions of values. So is nesting deeper than `limits.depth`, and more than
    `limits.values` values in all.
    """
    loader = loader_class(text)
    level = values = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            line = event.start_mark.line
            if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
                values += 1
                if values > limits.values:
                    return _too_many(limits, line)
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                return _aliased(line)
            if isinstance(event, yaml.CollectionStartEvent):
                level += 1
                if level > limits.depth:
                    return _too_deep(limits, line)
            elif isinstance(event, yaml.CollectionEndEvent):
                level -= 1
    finally:
        loader.dispose()
    return None


def _tree_checkable(text: str) -> bool:
    """Tell whether a front matter may be composed first and checked on its tree.

    With no “&” or “*” it has no anchor or alias; up to TREE_CHARS characters its
    tree is small (libyaml refuses nesting past 1000 levels: then the pure-Python
    loader walks its events). Any other text has its events walked first.
    """
    return len(text) <= TREE_CHARS and "&" not in text and "*" not in text


def _missing_space(text: str, before: int | None = None) -> int | None:
    """Return the first line (from 0) written “name:value”, with no space."""
    for number, line in enumerate(text.split("\n")):
        if before is not None and number > before:
            break
        if NO_SPACE_AFTER_COLON.match(line):
            return number
    return None


def _explain(error: yaml.MarkedYAMLError, text: str) -> tuple[str, str, int | None]:
    """Explain a YAML syntax error in Vietnamese: (message, fix, line from 0)."""
    mark = error.problem_mark or error.context_mark
    line = mark.line if mark else None
    problem, context = error.problem or "", error.context or ""
    detail = f" (chi tiết: {problem or context or error})"
    spaceless = _missing_space(text, line)
    if spaceless is not None:
        name = NO_SPACE_AFTER_COLON.match(text.split("\n")[spaceless]).group(1)
        return (
            f"thiếu dấu cách sau dấu hai chấm ở “{name}:”{detail}",
            f"viết “{name}: …”, có một dấu cách sau dấu hai chấm",
            spaceless,
        )
    if "'\\t'" in problem or "\t" in problem:
        return (
            f"dòng này thụt lề bằng phím Tab{detail}",
            "xóa ký tự Tab, thụt lề bằng dấu cách (hoặc không thụt lề)",
            line,
        )
    tag = re.search(r"constructor for the tag '([^']*)'", problem)
    if tag:
        name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        return (
            f"giá trị mang nhãn YAML “{name}”, không được dùng{detail}",
            "xóa nhãn bắt đầu bằng “!” trước giá trị; nếu giá trị mở đầu bằng “!”,"
            ' đặt cả giá trị trong ngoặc kép, ví dụ title: "!Tên"',
            line,
        )
    if "mapping values are not allowed" in problem:
        return (
            f"giá trị có dấu hai chấm “:” mà không đặt trong ngoặc kép{detail}",
            'đặt cả giá trị trong ngoặc kép, ví dụ title: "Hội nghị: tổng kết"',
            line,
        )
    if "quoted scalar" in context:
        start = error.context_mark.line if error.context_mark else line
        return (
            f"dấu ngoặc kép mở ở dòng này chưa được đóng{detail}",
            'thêm dấu ngoặc kép đóng ở cuối giá trị (mở bằng " thì đóng bằng ",'
            " mở bằng ' thì đóng bằng ')",
            start,
        )
    return (
        f"phần thông tin đầu (YAML) không hợp lệ{detail}",
        "kiểm tra dấu hai chấm sau tên trường, thụt lề và dấu ngoặc kép;"
        " giá trị có dấu hai chấm thì đặt trong ngoặc kép",
        line,
    )


def _load(doc: Document, text: str, limits: Limits) -> tuple[Any, Any] | None:
    """Parse the YAML (refusing aliases and deep nesting); record any problem."""
    try:
        if _tree_checkable(text):
            loaded = _compose(FastLoader, text, limits)  # one pass, in C
        else:
            loaded = _refuse(FastLoader, text, limits) or _compose(FastLoader, text)
    except yaml.YAMLError:
        try:
            # The pure-Python loader words and places errors, as it always did.
            loaded = _refuse(SlowLoader, text, limits) or _compose(SlowLoader, text)
        except yaml.MarkedYAMLError as error:
            loaded = Refusal(*_explain(error, text))
        except yaml.YAMLError as error:
            loaded = Refusal(f"phần thông tin đầu (YAML) không hợp lệ: {error}", "", 0)
    if not isinstance(loaded, Refusal):
        return loaded
    message, fix, line = loaded
    doc.fail("", message, fix, None if line is None else line + 2)
    return None


def _load_yaml(doc: Document, text: str, limits: Limits = LIMITS) -> None:
    """Load the front matter YAML, keeping each top-level key's line number."""
    loaded = _load(doc, text, limits)
    if loaded is None:
        return
    node, data = loaded
    if not isinstance(data, dict):
        spaceless = _missing_space(text)
        if spaceless is not None:
            name = NO_SPACE_AFTER_COLON.match(text.split("\n")[spaceless]).group(1)
            doc.fail(
                "",
                f"thiếu dấu cách sau dấu hai chấm ở “{name}:”",
                f"viết “{name}: …”, có một dấu cách sau dấu hai chấm",
                spaceless + 2,
            )
            return
        doc.fail(
            "",
            "phần thông tin đầu phải là danh sách “tên trường: giá trị”",
            "viết mỗi trường trên một dòng, ví dụ “title: Tên mô hình”",
            2,
        )
        return
    doc.meta = {str(key): _normalise(value) for key, value in data.items()}
    doc.lines = {str(key.value): key.start_mark.line + 2 for key, _ in node.value}


def parse_text(path: str, text: str, limits: Limits = LIMITS) -> Document:
    """Parse the text of a file with `---` fenced YAML front matter."""
    doc = Document(path)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or lines[0].strip() != FENCE:
        return doc.fail(
            "",
            "thiếu phần thông tin đầu (front matter)",
            "mở đầu tệp bằng một dòng “---”, các trường như “title: …”,"
            " rồi một dòng “---” nữa",
            1,
        )
    end = next(
        (i for i, line in enumerate(lines[1:], 1) if line.strip() in CLOSERS), None
    )
    if end is None:
        return doc.fail(
            "",
            "phần thông tin đầu không có dòng “---” kết thúc",
            "thêm một dòng “---” sau trường cuối cùng",
            1,
        )
    _load_yaml(doc, "\n".join(lines[1:end]), limits)
    doc.body = nfc("\n".join(lines[end + 1 :]))
    doc.body_line = end + 2
    return doc


def outside(path: Path, root: Path) -> str | None:
    """Say why a content file is not a regular file inside `root`, or None."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        return "tệp nằm ngoài thư mục nội dung"
    current = root
    status = None
    for part in relative.parts:
        current = current / part
        status = _lstat(current)
        if status is not None and stat.S_ISLNK(status.st_mode):
            what = f"thư mục “{part}” chứa tệp" if current != path else "tệp"
            what = "thư mục" if current == path and path.is_dir() else what
            return f"{what} là liên kết tượng trưng (symlink), không phải tệp thật"
    # With no symlink on the way, only a “..” can lead out of the folder.
    if ".." in relative.parts and not path.resolve().is_relative_to(root.resolve()):
        return "tệp trỏ ra ngoài thư mục nội dung"
    if status is None or not stat.S_ISREG(status.st_mode):
        return "không phải một tệp thường"
    return None


def _lstat(path: Path) -> os.stat_result | None:
    """Return a path's own status (a symlink's, not its target's), or None."""
    try:
        return path.lstat()
    except OSError:
        return None


def parse_file(
    path: Path, display: str, limits: Limits = LIMITS, root: Path | None = None
) -> Document:
    """Read and parse one file; `display` is the path shown in messages.

    With `root` (the content folder), a symlink or a file outside it is refused
    before it is read; so is a file over the size limit.
    """
    doc = Document(display)
    why = outside(path, root) if root is not None else None
    if why:
        return doc.fail(
            "",
            why,
            "chép nội dung vào một tệp thật trong thư mục content/ rồi xóa liên kết",
            None,
        )
    size = path.stat().st_size
    if size > limits.file_bytes:
        return doc.fail(
            "",
            f"tệp nặng {_megabytes(size)}, quá giới hạn {_megabytes(limits.file_bytes)}",
            "rút gọn bài; ảnh và tài liệu đính kèm để trong content/images/,"
            " không dán vào bài",
            None,
        )
    text = _decode(doc, path.read_bytes())
    return doc if text is None else parse_text(display, text, limits)


def _megabytes(size: int) -> str:
    """Write a size in megabytes, Vietnamese style (1,5 MB)."""
    return f"{size / MEGABYTE:.1f}".rstrip("0").rstrip(".").replace(".", ",") + " MB"
