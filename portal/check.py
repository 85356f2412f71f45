"""Check every content file without building the site: `python -m portal.check content`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from portal import vocab
from portal.attachments import check_attachments
from portal.frontmatter import parse_file
from portal.problems import Problem
from portal.renames import check_renames
from portal.schema import (
    SECTIONS,
    Context,
    Item,
    check_collection,
    check_document,
    kind_of,
)

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mkd", ".mdown")


def content_files(content: Path) -> list[Path]:
    """List the Markdown files of every section, in a stable order."""
    return sorted(
        path
        for section in SECTIONS
        for path in (content / section).rglob("*")
        if path.suffix in MARKDOWN_SUFFIXES and path.is_file()
    )


def check_file(path: Path, content: Path, ctx: Context, display: str) -> Item:
    """Parse and check one content file."""
    kind = kind_of(path.relative_to(content).as_posix()) or "page"
    return check_document(parse_file(path, display), kind, ctx)


def check_tree(
    content: Path, ctx: Context, base: Path | None = None
) -> tuple[list[Item], list[Problem]]:
    """Check every file under content/; return the items and all their problems."""
    base = base or Path.cwd()
    items = [
        check_file(path, content, ctx, _display(path, base))
        for path in content_files(content)
    ]
    problems = [p for item in items for p in item.problems]
    problems += check_collection(items)
    return items, sorted(problems, key=Problem.order.fget)


def _display(path: Path, base: Path) -> str:
    """Show a path relative to the working folder when it is inside it."""
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def report(problems: Iterable[Problem], files: int, github: bool = False) -> int:
    """Print the problems and a summary; return the number of errors."""
    problems = list(problems)
    errors = sum(p.is_error for p in problems)
    for problem in problems:
        label = "LỖI" if problem.is_error else "CẢNH BÁO"
        print(problem.github_annotation() if github else f"{label} {problem}")
    warnings = len(problems) - errors
    print(f"Đã kiểm tra {files} tệp: {errors} lỗi, {warnings} cảnh báo.")
    return errors


def main(argv: list[str] | None = None) -> int:
    """Check the content folder and exit non-zero on any error."""
    parser = argparse.ArgumentParser(
        description="Kiểm tra nội dung của cổng thông tin."
    )
    parser.add_argument("content", nargs="?", default="content", type=Path)
    parser.add_argument("--data", default="data", type=Path, help="thư mục danh mục")
    parser.add_argument(
        "--github", action="store_true", help="in dạng chú thích GitHub"
    )
    parser.add_argument(
        "--since", default="HEAD", help="so địa chỉ trang với lần commit này"
    )
    args = parser.parse_args(argv)
    try:
        ctx = Context(vocab.load(args.data), args.content / "images")
    except vocab.VocabularyError as error:
        print(f"LỖI {error}")
        return 1
    items, problems = check_tree(args.content, ctx)
    problems += check_renames(args.content, args.data, items, args.since)
    problems += check_attachments(args.content)
    return 1 if report(problems, len(items), args.github) else 0


if __name__ == "__main__":
    sys.exit(main())
