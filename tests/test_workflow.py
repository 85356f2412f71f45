"""The GitHub workflow: valid, audited, pinned, least privilege; deploy and README agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.browser import require_program
from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
WORKFLOW = ROOT / ".github" / "workflows" / "site.yml"
NOTIFY = ROOT / ".github" / "workflows" / "notify.yml"
PINS = ROOT.parent / "shared" / "reference" / "github-actions-pins.txt"
BIN = Path(sys.executable).parent
USES = re.compile(r"uses: (?P<action>[\w.-]+/[\w.-]+)@(?P<ref>\S+)(?: # (?P<tag>\S+))?")
DEPLOY_SCRIPT = ROOT / "scripts" / "deploy.sh"


def load() -> dict:
    """Parse the workflow (YAML's `on` key stays the string "on")."""
    return yaml.load(WORKFLOW.read_text("utf-8"), Loader=yaml.BaseLoader)


def readme_section(title: str) -> str:
    """Return one `## ` section of the README."""
    text = (ROOT / "README.md").read_text("utf-8")
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_workflow_matches_the_schema():
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows"]
        + [str(path) for path in WORKFLOWS],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing():
    result = subprocess.run(
        [BIN / "zizmor", "--offline", "--no-progress", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_actions_are_pinned_to_commits():
    uses = USES.findall(WORKFLOW.read_text("utf-8"))
    assert len(uses) >= 8
    hashes: dict[str, set[str]] = {}
    for action, ref, tag in uses:
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{action}@{ref} is not a commit"
        assert tag.startswith("v"), f"{action}@{ref} lacks its # vX.Y.Z comment"
        hashes.setdefault(action, set()).add(ref)
    assert all(len(refs) == 1 for refs in hashes.values()), hashes


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_pins_are_the_reference_ones(workflow):
    if not PINS.is_file():
        pytest.skip(f"no pins file at {PINS}")
    reference = {}
    for line in PINS.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            action, ref = line.split()[0].split("@")
            reference[action] = ref
    uses = USES.findall(workflow.read_text("utf-8"))
    assert uses
    for action, ref, _ in uses:
        assert reference.get(action) == ref, action


def test_least_privilege():
    workflow = load()
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    for name, job in jobs.items():
        assert "permissions" in job, f"{name} has no permissions of its own"
        writes = {
            scope for scope, level in job["permissions"].items() if level == "write"
        }
        allowed = {"pages", "id-token"} if name == "deploy-pages" else set()
        assert writes <= allowed, (name, writes)
    text = WORKFLOW.read_text("utf-8")
    assert "persist-credentials: false" in text
    assert text.count("actions/checkout@") == text.count("persist-credentials: false")


def test_notify_comments_after_main_runs_only_with_pull_requests_write():
    workflow = yaml.load(NOTIFY.read_text("utf-8"), Loader=yaml.BaseLoader)
    trigger = workflow["on"]["workflow_run"]
    assert trigger["workflows"] == [load()["name"]]
    assert trigger["types"] == ["completed"] and trigger["branches"] == ["main"]
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert "workflow_run.event != 'pull_request'" in job["if"]
    assert "head_repository.full_name == github.repository" in job["if"]
    levels = job["permissions"]
    assert {s for s, level in levels.items() if level == "write"} == {"pull-requests"}
    assert set(levels) <= {"contents", "actions", "checks", "pull-requests"}
    assert job["container"] == "python:3.11-bookworm"
    checkout = job["steps"][0]
    assert checkout["with"]["persist-credentials"] == "false"
    assert "ref" not in checkout["with"]  # main's code, never the run's head
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "preview_comment.py live --site" in runs
    assert "preview_comment.py unpublished" in runs


def test_jobs_run_in_debian_bookworm():
    for name, job in load()["jobs"].items():
        if any("run" in step for step in job["steps"]):
            assert job["container"] == "python:3.11-bookworm", name


def test_pull_requests_test_and_upload_a_preview():
    workflow = load()
    assert {"pull_request", "push"} <= set(workflow["on"])
    assert workflow["on"]["push"]["branches"] == ["main"]
    steps = workflow["jobs"]["test"]["steps"]
    runs = [step.get("run", "") for step in steps]
    assert runs.index("make check CHECKOPTS=--github") < runs.index("make test")
    assert runs.index("make test") < runs.index("make html")
    upload = next(s for s in steps if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "github.event_name == 'pull_request'"
    assert upload["with"]["path"] == "output/"
    caches = [s["with"]["path"] for s in steps if "actions/cache" in s.get("uses", "")]
    assert caches == ["/github/home/.cache/pip", "cache/html"]


def test_main_publishes_then_deploys_to_the_chosen_target():
    workflow = load()
    jobs = workflow["jobs"]
    assert workflow["concurrency"]["cancel-in-progress"] == (
        "${{ github.event_name == 'pull_request' }}"
    )
    for name, target in (("deploy-server", "server"), ("build-pages", "pages")):
        job = jobs[name]
        assert job["needs"] == "test"
        assert f"vars.DEPLOY_TARGET == '{target}'" in job["if"]
        assert "github.ref == 'refs/heads/main'" in job["if"]
        runs = [step.get("run", "") for step in job["steps"]]
        # The restored output/ is built on, not copied (portal/publish.py).
        assert "make publish PUBLISHOPTS=--reuse-output" in runs
        assert "bash scripts/is-newest.sh" in runs
        publish = runs.index("make publish PUBLISHOPTS=--reuse-output")
        restore = next(
            i
            for i, step in enumerate(job["steps"])
            if "output" in str(step.get("with", {}).get("path", "")).split()
        )
        assert restore < publish  # the last site is restored before the build
    server = "\n".join(s.get("run", "") for s in jobs["deploy-server"]["steps"])
    assert "bash scripts/deploy.sh output" in server
    pages = jobs["build-pages"]["steps"]
    assert any("upload-pages-artifact" in s.get("uses", "") for s in pages)
    assert "deploy-pages" in jobs["deploy-pages"]["steps"][0]["uses"]
    assert jobs["deploy-pages"]["environment"]["name"] == "github-pages"


def test_readme_deploy_section_matches_the_workflow():
    section = readme_section("Deploying")
    text = WORKFLOW.read_text("utf-8")
    named = set(re.findall(r"\b(?:vars|secrets)\.([A-Z_]+)", text))
    assert named >= {"DEPLOY_TARGET", "DEPLOY_SSH_KEY", "DEPLOY_HOST", "DEPLOY_PATH"}
    for name in named:
        assert f"`{name}`" in section, f"README does not explain {name}"
    for name in set(re.findall(r"`(DEPLOY_[A-Z_]+|COUNTER_URL|SITEURL)`", section)):
        assert name in text or name in DEPLOY_SCRIPT.read_text("utf-8"), name
    for phrase in (
        "`server`",
        "`pages`",
        "make deploy",
        "make publish",
        "--delay-updates",
    ):
        assert phrase in section, phrase


def fake_ssh(tmp_path: Path) -> str:
    """Return an `ssh` stand-in that runs the remote command locally."""
    script = tmp_path / "fake-ssh"
    script.write_text('#!/bin/sh\nshift\nexec "$@"\n', "utf-8")
    script.chmod(0o755)
    return str(script)


def deploy(tmp_path: Path, source: Path, target: Path) -> subprocess.CompletedProcess:
    """Run scripts/deploy.sh with the fake ssh into a local folder."""
    env = {
        **os.environ,
        "DEPLOY_HOST": "may-chu",
        "DEPLOY_PATH": str(target),
        "DEPLOY_SSH": fake_ssh(tmp_path),
    }
    return subprocess.run(
        ["bash", str(DEPLOY_SCRIPT), str(source)],
        capture_output=True,
        text=True,
        env=env,
    )


def test_deploy_replaces_the_site_and_keeps_old_hashed_assets(tmp_path):
    require_program("rsync", "rsync")
    source, target = tmp_path / "output", tmp_path / "srv"
    target.mkdir()
    for name, text in {
        ".dvk-site": "marker",
        "index.html": "cũ",
        "cu/index.html": "trang bỏ",
        "theme/css/site.0a1b2c3d.css": "css cũ",
    }.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text, "utf-8")
    assert deploy(tmp_path, source, target).returncode == 0
    (source / "cu" / "index.html").unlink()
    (source / "theme/css/site.0a1b2c3d.css").unlink()
    (source / "theme/css/site.4e5f6a7b.css").write_text("css mới", "utf-8")
    (source / "index.html").write_text("mới", "utf-8")
    result = deploy(tmp_path, source, target)
    assert result.returncode == 0, result.stderr
    files = sorted(
        p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()
    )
    assert files == [
        ".dvk-site",
        "index.html",
        "theme/css/site.0a1b2c3d.css",
        "theme/css/site.4e5f6a7b.css",
    ]
    assert (target / "index.html").read_text("utf-8") == "mới"


def test_deploy_refuses_an_empty_output(tmp_path):
    (tmp_path / "output").mkdir()
    result = deploy(tmp_path, tmp_path / "output", tmp_path / "srv")
    assert result.returncode == 1
    assert "chạy make publish trước" in result.stderr
