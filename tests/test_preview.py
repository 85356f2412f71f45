"""Pull-request previews: the workflow's rules and the Vietnamese comment to editors."""

from __future__ import annotations

import importlib.util
import re

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
