"""Attachments published from content/files/: which kinds, and how large at most."""

from __future__ import annotations

from pathlib import Path

from portal.frontmatter import outside
from portal.problems import Problem

FOLDER = "files"
SUFFIXES = (".pdf", ".doc", ".docx", ".xls", ".xlsx", ".odt", ".ods")
MAX_BYTES = 20 * 1024 * 1024


def check_attachments(content: Path) -> list[Problem]:
    """Return an error for each file of content/files/ of a wrong kind or too large.

    A symlink, or a path resolving outside the content folder, is an error too:
    the build would copy the file it points to. Shared by `make check` and the build.
    """
    problems = []
    folder = content / FOLDER
    paths = (
        sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())
        if folder.is_dir()
        else []
    )
    if folder.is_symlink():
        paths = [folder]
    for path in paths:
        display = (Path(content.name) / path.relative_to(content)).as_posix()
        if path.name.startswith("."):
            continue
        why = outside(path, content)
        if why:
            problems.append(
                Problem(
                    display,
                    "",
                    why,
                    "chép tệp thật vào content/files/ rồi xóa liên kết",
                )
            )
            continue
        if path.suffix.lower() not in SUFFIXES:
            problems.append(
                Problem(
                    display,
                    "",
                    f"tệp “{path.name}” không phải loại tệp đính kèm được đăng",
                    "chỉ đặt tệp " + ", ".join(SUFFIXES) + " trong content/files/",
                )
            )
        elif path.stat().st_size > MAX_BYTES:
            problems.append(
                Problem(
                    display,
                    "",
                    f"tệp “{path.name}” nặng hơn {MAX_BYTES // 2**20} MB",
                    "nén lại hoặc tách nhỏ tệp (PDF: in lại với chất lượng thấp hơn)",
                )
            )
    return problems
