"""Command line: `python -m portal.importer SOURCE…` and `… accept FILE…`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from portal.importer.core import Options, accept, run_import, summary, write_report
from portal.importer.profile import ProfileError, load_profile
from portal.vocab import VocabularyError


def _common(parser: argparse.ArgumentParser) -> None:
    """Add the folders both commands use."""
    parser.add_argument(
        "--out", type=Path, default=Path("import"), help="thư mục bài chờ duyệt"
    )
    parser.add_argument("--content", type=Path, default=Path("content"))
    parser.add_argument(
        "--data", type=Path, default=Path("data"), help="thư mục danh mục"
    )


def import_main(argv: list[str]) -> int:
    """Import legacy articles into the import folder; print the summary."""
    parser = argparse.ArgumentParser(
        prog="python -m portal.importer",
        description="Nhập bài từ cổng thông tin cũ (RSS/Atom, trang HTML, tệp chữ).",
    )
    parser.add_argument("sources", nargs="+", help="tệp, thư mục hoặc địa chỉ nguồn")
    parser.add_argument("--profile", type=Path, help="hồ sơ trang cũ (YAML)")
    parser.add_argument("--report", type=Path, default=Path("import-report.csv"))
    parser.add_argument("--update", action="store_true", help="nhập lại bài chưa sửa")
    _common(parser)
    args = parser.parse_args(argv)
    try:
        profile = load_profile(args.profile) if args.profile else None
        options = Options(args.out, args.content, args.data, args.update)
        rows = run_import(args.sources, profile, options)
    except (ProfileError, VocabularyError) as error:
        print(f"LỖI {error}")
        return 1
    write_report(rows, args.report)
    print(summary(rows, args.out, args.report))
    return 1 if any(row.status == "lỗi" for row in rows) else 0


def accept_main(argv: list[str]) -> int:
    """Check reviewed files and move them into content/."""
    parser = argparse.ArgumentParser(
        prog="python -m portal.importer accept",
        description="Kiểm tra bài đã duyệt và chuyển vào content/.",
    )
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--redirects", type=Path, default=Path("data/redirects.yml"))
    _common(parser)
    args = parser.parse_args(argv)
    options = Options(args.out, args.content, args.data)
    try:
        moved, problems = accept(args.files, options, args.redirects)
    except VocabularyError as error:
        print(f"LỖI {error}")
        return 1
    for problem in problems:
        print(f"{'LỖI' if problem.is_error else 'CẢNH BÁO'} {problem}")
    for path in moved:
        print(f"Đã chuyển vào {path}")
    errors = sum(p.is_error for p in problems)
    print(f"Đã nhận {len(moved)} bài; {errors} lỗi.")
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    """Run `accept FILE…` or an import of SOURCE…."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "accept":
        return accept_main(argv[1:])
    return import_main(argv)


if __name__ == "__main__":
    sys.exit(main())
