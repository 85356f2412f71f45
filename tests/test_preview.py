"""Pull-request previews: the workflow's rules and the Vietnamese comment to editors."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from tests.conftest import ROOT
from tests.test_workflow import PINS, USES

WORKFLOW = ROOT / ".github" / "workflows" / "preview.yml"


def _script():
    """Import scripts/preview_comment.py as a module."""
    spec = importlib.util.spec_from_file_location(
        "preview_comment", ROOT / "scripts" / "preview_comment.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _workflow() -> dict:
    return yaml.load(WORKFLOW.read_text("utf-8"), Loader=yaml.BaseLoader)


def test_previews_are_for_same_repository_pull_requests_and_removed_on_close():
    workflow = _workflow()
    assert workflow["on"]["pull_request"]["types"] == [
        "opened",
        "synchronize",
        "reopened",
        "closed",
    ]
    jobs = workflow["jobs"]
    for name in ("preview", "remove-preview"):
        condition = jobs[name]["if"]
        assert "head.repo.full_name == github.repository" in condition
        assert "vars.DEPLOY_TARGET == 'server'" in condition
        writes = {
            s for s, level in jobs[name]["permissions"].items() if level == "write"
        }
        assert writes == {"pull-requests"}
    assert "!= 'closed'" in jobs["preview"]["if"]
    assert "== 'closed'" in jobs["remove-preview"]["if"]
    runs = "\n".join(s.get("run", "") for s in jobs["preview"]["steps"])
    assert "/xem-truoc/pr-" in WORKFLOW.read_text("utf-8")
    assert runs.index("make --no-print-directory check") < runs.index("make publish")
    assert "preview_comment.py failed" in runs and "preview_comment.py ok" in runs


def test_the_production_deploy_never_deletes_previews():
    assert "--filter='P /xem-truoc/'" in (ROOT / "scripts/deploy.sh").read_text()


def test_preview_actions_use_the_reference_pins():
    if not PINS.is_file():
        pytest.skip(f"no pins file at {PINS}")
    reference = dict(
        line.split()[0].split("@")
        for line in PINS.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    uses = USES.findall(WORKFLOW.read_text("utf-8"))
    assert uses
    for action, ref, _tag in uses:
        assert reference.get(action) == ref, action


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("content/models/cho-xanh.md", "---\ntitle: A\n---\n", "mo-hinh/cho-xanh/"),
        ("content/news/tin-a.md", "---\nslug: tin-b\n---\nslug: x\n", "tin-tuc/tin-b/"),
        ("content/pages/gioi-thieu.md", "", "gioi-thieu/"),
        ("content/images/mo-hinh/a.jpg", "", None),
        ("data/dia-ban.yml", "", None),
    ],
)
def test_page_path(path, text, expected):
    assert _script().page_path(path, text) == expected


def test_the_comment_lists_live_urls_or_the_check_errors(tmp_path):
    script = _script()
    (tmp_path / "content/models").mkdir(parents=True)
    (tmp_path / "content/models/cho-xanh.md").write_text("---\ntitle: A\n---\n")
    files = [
        {"filename": "content/models/cho-xanh.md", "status": "added"},
        {"filename": "content/news/cu.md", "status": "removed"},
        {"filename": "content/images/mo-hinh/a.jpg", "status": "added"},
    ]
    pages = script.changed_pages(files, tmp_path)
    body = script.render_ok("https://x.vn/xem-truoc/pr-7/", pages)
    assert "- (mới) https://x.vn/xem-truoc/pr-7/mo-hinh/cho-xanh/" in body
    assert "cu" not in re.findall(r"https://\S+", body)[-1]
    assert body.startswith(script.MARKER)
    report = (
        "LỖI content/models/cho.md:4: locality: không có địa bàn “Phan Thiet”\n"
        "Đã kiểm tra 3 tệp: 1 lỗi, 0 cảnh báo.\nmake: *** [check] Error 1\n"
    )
    failed = script.render_failed(report)
    assert "LỖI content/models/cho.md:4: locality" in failed
    assert "Đã kiểm tra 3 tệp" in failed and "make: ***" not in failed


class FakeGitHub(ThreadingHTTPServer):
    """A GitHub API stand-in on 127.0.0.1: canned answers, every request recorded."""

    def __init__(self, answers: dict[str, object]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers, self.requests = answers, []


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((self.command, self.path, body))
        answer = self.server.answers.get(self.path, {})
        data = json.dumps(answer).encode()
        self.send_response(200 if self.path in self.server.answers else 201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def github(monkeypatch):
    """Serve a fake GitHub API; point the script's environment at it."""
    server = FakeGitHub({})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api = f"http://127.0.0.1:{server.server_address[1]}"
    for name, value in {
        "GITHUB_API_URL": api,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "ban/dvk",
        "GH_TOKEN": "t",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PR_NUMBER", raising=False)
    yield server
    server.shutdown()
    server.server_close()


PULLS = [
    {"number": 5, "merged_at": "2026-12-06T04:00:00Z"},
    {"number": 6, "merged_at": None},  # open pull request holding the same commit
]


def test_live_comments_each_changed_page_on_the_merged_pull_request(github):
    api = "/repos/ban/dvk"
    github.answers.update(
        {
            f"{api}/commits/abc": {
                "files": [
                    {"filename": "content/models/cho-xanh-moi.md", "status": "added"},
                    {"filename": "content/news/tin-sua.md", "status": "modified"},
                    {"filename": "content/news/cu.md", "status": "removed"},
                    {"filename": "content/images/a.jpg", "status": "added"},
                ]
            },
            f"{api}/commits/abc/pulls": PULLS,
            f"{api}/issues/5/comments?per_page=100": [
                {"url": f"{api}/issues/comments/1", "body": "<!-- dvk-preview -->\nx"}
            ],
        }
    )
    script = _script()
    assert script.main(["live", "--site", "https://x.vn/", "--sha", "abc"]) == 0
    writes = [r for r in github.requests if r[0] != "GET"]
    assert [(method, path) for method, path, _ in writes] == [
        ("POST", f"{api}/issues/5/comments")  # not the preview's comment, not #6
    ]
    body = writes[0][2]["body"]
    assert body.startswith(script.LIVE_MARKER)
    assert "Đã đăng lên trang chính thức" in body
    assert "- (mới) https://x.vn/mo-hinh/cho-xanh-moi/" in body
    assert "- (sửa) https://x.vn/tin-tuc/tin-sua/" in body
    assert "cu/" not in body and "a.jpg" not in body
    # The next deploy of a commit of the same pull request updates that comment.
    github.answers[f"{api}/issues/5/comments?per_page=100"] = [
        {"url": f"{os.environ['GITHUB_API_URL']}{api}/issues/comments/2", "body": body}
    ]
    github.requests.clear()
    script.main(["live", "--site", "https://x.vn", "--sha", "abc"])
    assert [r[:2] for r in github.requests if r[0] != "GET"] == [
        ("PATCH", f"{api}/issues/comments/2")
    ]


def test_a_failed_run_says_why_in_the_words_of_make_check(github):
    api = "/repos/ban/dvk"
    github.answers.update(
        {
            f"{api}/commits/abc/pulls": PULLS,
            f"{api}/actions/runs/42/jobs?per_page=100": {
                "jobs": [
                    {
                        "id": 7,
                        "name": "Check, test, build",
                        "conclusion": "failure",
                        "steps": [
                            {"name": "Install", "conclusion": "success"},
                            {"name": "Check the content", "conclusion": "failure"},
                        ],
                    },
                    {"id": 8, "name": "Publish", "conclusion": "skipped", "steps": []},
                ]
            },
            f"{api}/check-runs/7/annotations?per_page=100": [
                {
                    "annotation_level": "failure",
                    "path": "content/models/cho.md",
                    "message": "content/models/cho.md:4: locality: không có địa bàn “Phan Thiet”",
                },
                {
                    "annotation_level": "warning",
                    "path": "content/news/a.md",
                    "message": "content/news/a.md: image_alt: thiếu",
                },
                {
                    "annotation_level": "failure",
                    "path": ".github",
                    "message": "Process completed with exit code 1.",
                },
                {"annotation_level": "notice", "message": "Node 20 is deprecated"},
            ],
        }
    )
    script = _script()
    assert script.main(["unpublished", "--sha", "abc", "--run", "42"]) == 0
    writes = [r for r in github.requests if r[0] != "GET"]
    assert [r[:2] for r in writes] == [("POST", f"{api}/issues/5/comments")]
    body = writes[0][2]["body"]
    assert "Chưa đăng được" in body
    assert "Check, test, build › Check the content" in body and "Install" not in body
    assert "https://github.example/ban/dvk/actions/runs/42" in body
    assert "LỖI content/models/cho.md:4: locality: không có địa bàn" in body
    assert "CẢNH BÁO content/news/a.md: image_alt: thiếu" in body
    assert "Node 20" not in body and "exit code" not in body
    assert "/check-runs/8/" not in "".join(r[1] for r in github.requests)
