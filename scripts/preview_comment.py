"""Tell editors, on their pull request, what became of it: in Vietnamese, no CI logs.

Run by the workflow `.github/workflows/preview.yml` (README "Web editor"):

    python scripts/preview_comment.py ok --site URL         # preview is live
    python scripts/preview_comment.py failed --report FILE  # `make check` failed
    python scripts/preview_comment.py removed               # preview taken down

and by `.github/workflows/notify.yml`, after the production deploy of a commit:

    python scripts/preview_comment.py live --site URL --sha SHA       # deployed
    python scripts/preview_comment.py unpublished --sha SHA --run ID  # run failed

It writes (or updates, so there is one) a comment on the pull request, listing the
live URL of each changed page, or the errors in the same words as `make check`.
Needs GH_TOKEN, GITHUB_REPOSITORY and, for the preview modes, PR_NUMBER (the live
modes ask GitHub which pull requests the commit came from); GITHUB_API_URL and
GITHUB_SERVER_URL are optional.
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
LIVE_MARKER = "<!-- dvk-live -->"
LEVELS = {"failure": "LỖI", "warning": "CẢNH BÁO"}
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


def render_live(site: str, pages: list[tuple[str, str]]) -> str:
    """Return the comment once the merged change is on the public site."""
    site = site.rstrip("/")
    lines = [LIVE_MARKER, "### ✅ Đã đăng lên trang chính thức", ""]
    if pages:
        lines.append("Các trang đã thay đổi:")
        labels = {"added": "mới", "renamed": "đổi tên"}
        lines += [f"- ({labels.get(s, 'sửa')}) {site}/{path}" for s, path in pages]
    else:
        lines.append(f"Trang chủ: {site}/")
    return "\n".join(lines) + "\n"


def render_unpublished(run_url: str, steps: list[str], problems: list[str]) -> str:
    """Return the comment when the run that should publish the change failed."""
    lines = [
        LIVE_MARKER,
        "### ❌ Chưa đăng được",
        "",
        f"Bước lỗi: {', '.join(steps) or 'không rõ'}. Chi tiết: {run_url}",
    ]
    if problems:
        lines += ["", "Sửa các lỗi dưới đây rồi lưu lại:", "", "```", *problems, "```"]
    return "\n".join(lines) + "\n"


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


def _get(path: str, environ=os.environ):
    """GET one path of this repository's API."""
    api = environ.get("GITHUB_API_URL", "https://api.github.com")
    url = f"{api}/repos/{environ['GITHUB_REPOSITORY']}/{path}"
    return _api("GET", url, environ["GH_TOKEN"])


def post(body: str, environ=os.environ, number: str | int | None = None) -> None:
    """Write the comment, or update the one written before."""
    api = environ.get("GITHUB_API_URL", "https://api.github.com")
    repo, token = environ["GITHUB_REPOSITORY"], environ["GH_TOKEN"]
    number = number or environ["PR_NUMBER"]
    marker = body.split("\n", 1)[0]
    comments = _api(
        "GET", f"{api}/repos/{repo}/issues/{number}/comments?per_page=100", token
    )
    mine = next((c for c in comments if marker in c.get("body", "")), None)
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


def commit_pulls(sha: str, environ=os.environ) -> list[int]:
    """Return the numbers of the merged pull requests a commit came from."""
    pulls = _get(f"commits/{sha}/pulls", environ)
    return [pull["number"] for pull in pulls if pull.get("merged_at")]


def failure(run: str, environ=os.environ) -> tuple[list[str], list[str]]:
    """Return the failed steps of a run and its errors in `make check`'s words."""
    steps, problems = [], []
    for job in _get(f"actions/runs/{run}/jobs?per_page=100", environ)["jobs"]:
        if job.get("conclusion") != "failure":
            continue
        steps += [
            f"{job['name']} › {step['name']}"
            for step in job.get("steps", [])
            if step.get("conclusion") == "failure"
        ]
        notes = _get(f"check-runs/{job['id']}/annotations?per_page=100", environ)
        problems += [
            f"{LEVELS[note['annotation_level']]} {note['message']}"
            for note in notes
            if note.get("annotation_level") in LEVELS
            and note["message"].startswith(f"{note.get('path')}:")  # make check's
        ]
    return steps, problems


def main(argv: list[str] | None = None) -> int:
    """Write the comment for one outcome."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "outcome", choices=("ok", "failed", "removed", "live", "unpublished")
    )
    parser.add_argument("--site", help="the preview's or the public site's address")
    parser.add_argument("--report", type=Path, help="the output of `make check`")
    parser.add_argument("--sha", help="the commit pushed to main")
    parser.add_argument("--run", help="the id of the run that failed")
    args = parser.parse_args(argv)
    if args.outcome in ("live", "unpublished"):
        return notify(args)
    if args.outcome == "ok":
        body = render_ok(args.site, changed_pages(pull_request_files(), ROOT))
    elif args.outcome == "failed":
        body = render_failed(args.report.read_text("utf-8", errors="replace"))
    else:
        body = render_removed()
    post(body)
    return 0


def notify(args: argparse.Namespace, environ=os.environ) -> int:
    """Comment on each pull request merged as this commit: live or not."""
    if args.outcome == "live":
        files = _get(f"commits/{args.sha}", environ).get("files", [])
        body = render_live(args.site, changed_pages(files, ROOT))
    else:
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        url = f"{server}/{environ['GITHUB_REPOSITORY']}/actions/runs/{args.run}"
        body = render_unpublished(url, *failure(args.run, environ))
    for number in commit_pulls(args.sha, environ):
        post(body, environ, number)
    return 0


if __name__ == "__main__":
    sys.exit(main())
