"""Split an editor's Markdown file into its YAML front matter and its body."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from portal.problems import Problem
from portal.text import nfc

# libyaml's loader when PyYAML has it: about ten times faster, same values and marks.
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FENCE = "---"
CLOSERS = ("---", "...")


@dataclass
class Document:
    """A parsed file: metadata with YAML types, the line of each key, and the body."""

    path: str
    meta: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    body: str = ""
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


def _compose(loader_class: type, text: str) -> tuple[Any, Any]:
    """Return the root node of a YAML text and the data it holds."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def _load_yaml(doc: Document, text: str) -> None:
    """Load the front matter YAML, keeping each top-level key's line number."""
    try:
        node, data = _compose(FAST_LOADER, text)
    except yaml.YAMLError:
        try:
            # The pure-Python loader words and places errors, as it always did.
            node, data = _compose(yaml.SafeLoader, text)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 2 if mark else None
            what = error.problem or error.context or "cú pháp sai"
            doc.fail(
                "",
                f"phần thông tin đầu (YAML) không hợp lệ: {what}",
                "kiểm tra dấu hai chấm sau tên trường, thụt lề và dấu ngoặc kép;"
                " giá trị có dấu hai chấm thì đặt trong ngoặc kép",
                line,
            )
            return
        except yaml.YAMLError as error:
            doc.fail("", f"phần thông tin đầu (YAML) không hợp lệ: {error}", "", 2)
            return
    if not isinstance(data, dict):
        doc.fail(
            "",
            "phần thông tin đầu phải là danh sách “tên trường: giá trị”",
            "viết mỗi trường trên một dòng, ví dụ “title: Tên mô hình”",
            2,
        )
        return
    doc.meta = {str(key): _normalise(value) for key, value in data.items()}
    doc.lines = {str(key.value): key.start_mark.line + 2 for key, _ in node.value}


def parse_text(path: str, text: str) -> Document:
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
    _load_yaml(doc, "\n".join(lines[1:end]))
    doc.body = nfc("\n".join(lines[end + 1 :]))
    return doc


def parse_file(path: Path, display: str) -> Document:
    """Read and parse one file; `display` is the path shown in messages."""
    text = _decode(doc := Document(display), path.read_bytes())
    return doc if text is None else parse_text(display, text)
