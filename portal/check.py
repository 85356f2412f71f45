"""Check every content file without building the site: `python -m portal.check content`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from portal import vocab
from portal.attachments import check_attachments
from portal.frontmatter import Limits, parse_file
from portal.imagecheck import MAX_IMAGE_PIXELS
from portal.problems import Problem
from portal.renames import check_renames
from portal.sanitize import BodyRenderer
from portal.schema import (
    SECTIONS,
    Context,
    Item,
    check_collection,
    check_document,
    kind_of,
)

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mkd", ".mdown")


# The Markdown settings and FRONTMATTER of pelicanconf.py, when it cannot be read.
MARKDOWN = {"extensions": [], "output_format": "html"}


def content_files(content: Path) -> list[Path]:
    """List the Markdown files of every section, and every symlink, stably ordered.

    A symlinked folder is listed, not entered: the check refuses it, as the build.
    """
    return sorted(
        path
        for section in SECTIONS
        for path in (content / section).rglob("*")
        if path.is_symlink() or (path.suffix in MARKDOWN_SUFFIXES and path.is_file())
    )


def _visible_files(folder: Path) -> list[tuple[str, ...]]:
    """List the files under a folder as path parts (sorted), hidden ones left out."""
    found = []
    for top, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        rel = os.path.relpath(top, folder).split(os.sep) if top != str(folder) else []
        found += [(*rel, name) for name in names if not name.startswith(".")]
    return sorted(found)


def unread_files(content: Path) -> list[Problem]:
    """Return an error for each editor's file the build would silently leave out.

    Pelican reads only Markdown files with a lowercase suffix in the section
    folders: a Markdown file elsewhere in content/, or a file of another kind
    (or an “.MD”) in a section folder, would never be published.
    """
    problems = []
    folders = ", ".join(f"{content.name}/{s}/" for s in SECTIONS)
    for parts in _visible_files(content):
        in_section = parts[0] in SECTIONS and len(parts) > 1
        if in_section and parts[-1].endswith(MARKDOWN_SUFFIXES):
            continue  # the common case, without Path objects (6,000 files a build)
        relative = Path(*parts)
        path = content / relative
        markdown = path.suffix.lower() in MARKDOWN_SUFFIXES
        if in_section:
            fix = (
                f"đổi đuôi tệp thành “{path.suffix.lower()}”"
                if markdown
                else "viết bài thành tệp .md; ảnh để trong content/images/,"
                " tệp đính kèm trong content/files/"
            )
            message = "tệp không có đuôi .md nên không được đăng"
        elif markdown:
            fix = f"chuyển tệp vào một trong các thư mục {folders}"
            message = "tệp Markdown nằm ngoài các thư mục bài nên không được đăng"
        else:
            continue
        display = (Path(content.name) / relative).as_posix()
        problems.append(Problem(display, "", message, fix))
    return problems


def check_file(
    path: Path,
    content: Path,
    ctx: Context,
    display: str,
    renderer: BodyRenderer | None = None,
) -> Item:
    """Parse and check one content file (and its body's HTML, given a renderer)."""
    kind = kind_of(path.relative_to(content).as_posix()) or "page"
    doc = parse_file(path, display, ctx.limits, content)
    item = check_document(doc, kind, ctx)
    if renderer is not None and item.ok:
        item.problems += renderer.render(doc.path, doc.body, doc.body_line)[1]
    return item


def check_tree(
    content: Path,
    ctx: Context,
    base: Path | None = None,
    renderer: BodyRenderer | None = None,
) -> tuple[list[Item], list[Problem]]:
    """Check every file under content/; return the items and all their problems."""
    base = base or Path.cwd()
    items = [
        check_file(path, content, ctx, _display(path, base), renderer)
        for path in content_files(content)
    ]
    problems = [p for item in items for p in item.problems]
    problems += check_collection(items)
    return items, sorted(problems, key=Problem.order.fget)


def _display(path: Path, base: Path) -> str:
    """Show a path relative to the working folder when it is inside it.

    Symlinks are not followed: a linked file is named where the editor sees it.
    """
    for absolute, folder in ((os.path.abspath, os.path.abspath), (Path.resolve,) * 2):
        try:
            return Path(absolute(path)).relative_to(folder(base)).as_posix()
        except ValueError:
            continue
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
    parser.add_argument(
        "-s",
        "--settings",
        default="pelicanconf.py",
        type=Path,
        help="tệp cấu hình Pelican (giới hạn, Markdown, khung nhúng được phép)",
    )
    parser.add_argument(
        "--future-dates",
        choices=("warning", "error"),
        help="ngày ở tương lai là cảnh báo hay lỗi (mặc định: theo cấu hình)",
    )
    args = parser.parse_args(argv)
    markdown, options, max_pixels = _settings(args.settings)
    try:
        limits = Limits.from_mapping(options.get("limits"))
    except ValueError as error:
        print(f"LỖI {args.settings}: FRONTMATTER['limits']: {error}")
        return 1
    try:
        ctx = Context(
            vocab.load(args.data),
            args.content / options.get("images_dir", "images"),
            limits=limits,
            future_dates=args.future_dates or options.get("future_dates", "warning"),
            max_pixels=max_pixels,
        )
    except vocab.VocabularyError as error:
        print(f"LỖI {error}")
        return 1
    renderer = BodyRenderer(markdown, options.get("iframe_hosts", ()))
    items, problems = check_tree(args.content, ctx, renderer=renderer)
    problems += check_renames(args.content, args.data, items, args.since)
    problems += check_attachments(args.content)
    problems += unread_files(args.content)
    return 1 if report(problems, len(items), args.github) else 0


def _settings(path: Path) -> tuple[dict, dict, int]:
    """Return the MARKDOWN and FRONTMATTER settings and pixel limit of the build."""
    if not path.is_file():
        return dict(MARKDOWN), {"limits": {}}, MAX_IMAGE_PIXELS
    from pelican.settings import read_settings  # only when there is a file to read

    settings = read_settings(str(path))
    images = settings.get("IMAGES") or {}
    return (
        settings["MARKDOWN"],
        dict(settings.get("FRONTMATTER") or {}),
        images.get("max_pixels", MAX_IMAGE_PIXELS),
    )


if __name__ == "__main__":
    sys.exit(main())
