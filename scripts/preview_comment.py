"""Tell editors, on their pull request, what became of it: in Vietnamese, no CI logs.

Run by the workflow `.github/workflows/preview.yml` (README "Web editor"):

    python scripts/preview_comment.py ok --site URL         # preview is live
    python scripts/preview_comment.py failed --report FILE  # `make check` failed
    python scripts/preview_comment.py removed               # preview taken down

It writes (or updates, so there is one) a comment on the pull request, listing the
live URL of each changed page, or the errors in the same words as `make check`.
Needs GH_TOKEN, GITHUB_REPOSITORY and PR_NUMBER; GITHUB_API_URL is optional.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.request
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- dvk-preview -->"
SLUG_LINE = re.compile(r"^slug:\s*[\"']?([a-z0-9-]+)[\"']?\s*$", re.M)


def page_path(path: str, text: str = "") -> str | None:
    """Return the site path of a content file ("mo-hinh/x/"), or None."""
    sys.path.insert(0, str(ROOT))
    from portal.schema import SECTIONS

    parts = PurePosixPath(path).parts
    if len(parts) < 3 or parts[0] != "content" or not path.endswith(".md"):
        return None
    section = SECTIONS.get(parts[1])
    if section is None:
        return None
    match = SLUG_LINE.search(text.split("\n---", 1)[0]) if text else None
    slug = match.group(1) if match else PurePosixPath(path).stem
    return f"{section[1]}{slug}/"


def changed_pages(files: Iterable[dict], root: Path) -> list[tuple[str, str]]:
    """Return (status, site path) of each page a pull request adds or changes."""
    pages = []
    for file in files:
        name = file["filename"]
        source = root / name
        text = source.read_text("utf-8") if source.is_file() else ""
        path = page_path(name, text)
        if path and file.get("status") != "removed":
            pages.append((file.get("status", "modified"), path))
    return sorted(set(pages), key=lambda page: page[1])


def render_ok(site: str, pages: list[tuple[str, str]]) -> str:
    """Return the comment for a live preview."""
    site = site.rstrip("/")
    lines = [
        MARKER,
        "### ✅ Bản xem trước đã sẵn sàng",
        "",
        f"Trang chủ bản xem trước: {site}/",
    ]
    if pages:
        lines += ["", "Các trang đã thay đổi:"]
        labels = {"added": "mới", "renamed": "đổi tên"}
        for status, path in pages:
            label = labels.get(status, "sửa")
            lines.append(f"- ({label}) {site}/{path}")
    lines += [
        "",
        "Bản xem trước không hiện với công cụ tìm kiếm và sẽ được gỡ khi yêu cầu"
        " này được đóng hoặc hợp nhất.",
    ]
    return "\n".join(lines) + "\n"


def render_failed(report: str) -> str:
    """Return the comment when `make check` found errors."""
    problems = [
        line
        for line in report.splitlines()
        if line.startswith(("LỖI", "CẢNH BÁO", "Đã kiểm tra"))
    ]
    lines = [
        MARKER,
        "### ❌ Nội dung có lỗi, chưa dựng bản xem trước",
        "",
        "Sửa các lỗi dưới đây (tên tệp, dòng, trường và cách sửa), rồi lưu lại:",
        "",
        "```",
        *(problems or report.strip().splitlines()[-20:]),
        "```",
    ]
    return "\n".join(lines) + "\n"


def render_removed() -> str:
    """Return the comment once the preview is taken down."""
    return f"{MARKER}\n### Bản xem trước đã được gỡ\n"


def _api(method: str, url: str, token: str, body: dict | None = None):
    """Call the GitHub API; return the decoded JSON answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def post(body: str, environ=os.environ) -> None:
    """Write the comment, or update the one written before."""
    api = environ.get("GITHUB_API_URL", "https://api.github.com")
    repo, number, token = (
        environ["GITHUB_REPOSITORY"],
        environ["PR_NUMBER"],
        environ["GH_TOKEN"],
    )
    comments = _api(
        "GET", f"{api}/repos/{repo}/issues/{number}/comments?per_page=100", token
    )
    mine = next((c for c in comments if MARKER in c.get("body", "")), None)
    if mine:
        _api("PATCH", mine["url"], token, {"body": body})
    else:
        _api(
            "POST",
            f"{api}/repos/{repo}/issues/{number}/comments",
            token,
            {"body": body},
        )


def pull_request_files(environ=os.environ) -> list[dict]:
    """Return the files the pull request changes."""
    api = environ.get("GITHUB_API_URL", "https://api.github.com")
    url = (
        f"{api}/repos/{environ['GITHUB_REPOSITORY']}/pulls/{environ['PR_NUMBER']}"
        "/files?per_page=100"
    )
    return _api("GET", url, environ["GH_TOKEN"])


def main(argv: list[str] | None = None) -> int:
    """Write the comment for one outcome."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outcome", choices=("ok", "failed", "removed"))
    parser.add_argument("--site", help="the preview's address")
    parser.add_argument("--report", type=Path, help="the output of `make check`")
    args = parser.parse_args(argv)
    if args.outcome == "ok":
        body = render_ok(args.site, changed_pages(pull_request_files(), ROOT))
    elif args.outcome == "failed":
        body = render_failed(args.report.read_text("utf-8", errors="replace"))
    else:
        body = render_removed()
    post(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
