"""Attachments published from content/files/: which kinds, and how large at most."""

from __future__ import annotations

from pathlib import Path

from portal.problems import Problem

FOLDER = "files"
SUFFIXES = (".pdf", ".doc", ".docx", ".xls", ".xlsx", ".odt", ".ods")
MAX_BYTES = 20 * 1024 * 1024


def check_attachments(content: Path) -> list[Problem]:
    """Return an error for each file of content/files/ of a wrong kind or too large."""
    problems = []
    folder = content / FOLDER
    for path in (
        sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    ):
        display = path.as_posix()
        if path.name.startswith("."):
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
