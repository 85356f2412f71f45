"""renderpool: pages written by two processes give the one-process site and records."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from incremental.incremental import read_manifest
from renderpool import get_options, owner

from tests.conftest import ROOT, _env, news, pelican_command
from tests.test_readpool import small_site, tree

ONE = {"processes": 1}
TWO = {"processes": 2, "min_items": 0}
# Run pelican in this process with the `asset` filter (called by every page) made
# to note which process renders each page (in a file per process id, in a folder),
# or to fail on one page: an editor's error, a bug, or the process killed.
SCRIPT = """
import os, signal, sys
import jinja2
from pelican import main, signals
from portal import finishing
from portal.problems import ContentError
target, kind = sys.argv[1], sys.argv[2]

def fail_on_target(make_filter):
    def make(*args, **kwargs):
        real = make_filter(*args, **kwargs)

        @jinja2.pass_context
        def asset(context, name=None):
            if name is None:  # called as a function (plugins/cms), not by a page
                return real(context)
            if kind == "note":
                with open(os.path.join(target, str(os.getpid())), "a") as notes:
                    notes.write(context.get("output_file") + "\\n")
            elif context.get("output_file") == target:
                if kind == "editor":
                    raise ContentError("LỖI content/models/x.md:2: title: thử lỗi; sửa lại")
                if kind == "bug":
                    raise ValueError("a bug in a filter")
                os.kill(os.getpid(), signal.SIGKILL)
            return real(name)

        return asset

    return make

def patch(pelican):
    assets = sys.modules["assets.assets"]
    assets.make_filter = fail_on_target(assets.make_filter)

def pages_written(generator):
    # Which process says every page is written, and which noted pages are missing.
    if kind != "note":
        return
    output = generator.settings["OUTPUT_PATH"]
    noted = [n for n in os.listdir(target) if n.isdigit()]
    pages = [p for n in noted for p in open(os.path.join(target, n)).read().split()]
    missing = [p for p in pages if not os.path.exists(os.path.join(output, p))]
    with open(os.path.join(target, "signal"), "a") as notes:
        notes.write(f"{os.getpid()} {len(pages)} {' '.join(missing)}\\n")

# Once the plugins are loaded, before the assets plugin makes its filter.
signals.initialized.connect(patch)
finishing.pages_written.connect(pages_written)
main(sys.argv[3:])
"""


def run(root: Path, name: str, pool: dict, kind: str, target: str) -> Any:
    """Build root/content into root/name with SCRIPT; return the finished process."""
    # Pelican prints a bug's traceback (with its notes) only with --debug.
    command = pelican_command(
        root / "content",
        root / name,
        "pelicanconf.py",
        settings(root, name, pool),
        *(["-D"] if kind == "bug" else []),
    )
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, target, kind, *command[3:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )


def build(root: Path, name: str, pool: dict) -> dict[str, list[str]]:
    """Build with these RENDERPOOL options; return the pages each process rendered."""
    notes = root / f"notes-{name}"
    shutil.rmtree(notes, ignore_errors=True)
    notes.mkdir()
    result = run(root, name, pool, "note", str(notes))
    assert result.returncode == 0, result.stderr
    return {p.name: p.read_text().split() for p in notes.iterdir()}


def settings(root: Path, name: str, pool: dict) -> dict:
    """Return the settings of one build of the small site."""
    return {
        "CACHE_PATH": str(root / f"cache-{name}"),
        "REDIRECTS": {"path": str(root / "redirects.yml")},
        "SEARCH": {"enabled": False},
        "RENDERPOOL": pool,
    }


def records(root: Path, name: str) -> tuple[dict, dict]:
    """Return a build's manifest (read trees expanded) and report, order left out."""
    manifest = read_manifest(str(root / f"cache-{name}" / "incremental.pickle"))
    nodes = manifest["nodes"]

    def expand(i: int) -> tuple:
        step, kids = nodes[i]
        return (tuple(step), tuple(expand(k) for k in kids))

    pages = {
        rel: (template, [expand(i) for i in roots], digest, seal)
        for rel, (template, roots, digest, seal) in manifest["pages"].items()
    }
    kept = {k: manifest[k] for k in ("files", "extra", "inputs", "untracked", "urls")}
    kept |= {"date": manifest["date"], "late": manifest["late"], "pages": pages}
    report = json.loads(
        (root / f"cache-{name}" / "incremental-report.json").read_text()
    )
    report = {k: sorted(v) if isinstance(v, list) else v for k, v in report.items()}
    return kept, report


def test_two_processes_write_the_one_process_site_and_records(tmp_path) -> None:
    content = small_site(tmp_path / "content")
    by_process = build(tmp_path, "two", TWO)
    # Said once, by the build process, when every process has written its pages.
    said = by_process.pop("signal")
    assert len(said) == 2 and int(said[1]) > 20, said
    assert "404.html" in by_process[said[0]]  # the build process writes it
    assert len(by_process) == 2
    one = build(tmp_path, "one", ONE)
    assert len(one.pop("signal")) == 2  # in one process too
    assert sorted(sum(by_process.values(), [])) == sorted(*one.values())
    # The second process writes its pages of the page-writing generators; the
    # build process writes the others' and every page of the other generators.
    parent, child = sorted(by_process.values(), key=lambda p: "404.html" in p)[::-1]
    assert {owner(page, 2) for page in child} == {1}
    assert {page for page in parent if owner(page, 2) == 1} == {"404.html"}
    assert tree(tmp_path / "two") == tree(tmp_path / "one")
    assert records(tmp_path, "two") == records(tmp_path, "one")
    # An incremental rebuild after a body edit: the same pages kept and rendered.
    edited = content / "models" / "mo-hinh-4.md"
    edited.write_text(edited.read_text("utf-8") + "\nThêm một câu.\n", "utf-8")
    rendered = [
        sorted(v for k, v in build(tmp_path, n, p).items() if k != "signal")
        for n, p in (("one", ONE), ("two", TWO))
    ]
    assert rendered[0] == rendered[1] == [["mo-hinh/mo-hinh-4/index.html"] * 3]
    assert tree(tmp_path / "two") == tree(tmp_path / "one")
    assert records(tmp_path, "two") == records(tmp_path, "one")
    _, report = records(tmp_path, "two")
    assert not report["full"] and report["skipped"] > 20
    assert "mo-hinh/mo-hinh-4/index.html" in report["rendered"]
    # A newest item added: the build process digests the named lists before it
    # forks (Build.digest_lists) and feeds keep their keys by their shape; the
    # same site and records as one process, pages kept by their quick reads.
    added = news(title="Tin mới nhất", date="2021-03-01")
    (content / "news" / "tin-moi.md").write_text(added, "utf-8")
    for name, pool in (("one", ONE), ("two", TWO)):
        build(tmp_path, name, pool)
    assert tree(tmp_path / "two") == tree(tmp_path / "one")
    assert records(tmp_path, "two") == records(tmp_path, "one")
    _, report = records(tmp_path, "two")
    assert not report["full"] and report["quick"] > 20
    assert "tin-tuc/tin-moi/index.html" in report["rendered"]


def failing_build(root: Path, pool: dict, kind: str, index: int = 1) -> Any:
    """Build with a page the process `index` owns failing as `kind` says."""
    pages = [f"mo-hinh/mo-hinh-{i}/index.html" for i in range(12)]
    target = next(page for page in pages if owner(page, 2) == index)
    return run(root, kind, pool, kind, target)


@pytest.fixture
def failing_site(tmp_path: Path) -> Path:
    """Return a folder with the small site's content."""
    small_site(tmp_path / "content")
    return tmp_path


def test_an_editors_error_in_another_process_is_reported_as_in_one(
    failing_site,
) -> None:
    message = "LỖI content/models/x.md:2: title: thử lỗi; sửa lại"
    # In a page of the second process, of the build process (which then stops
    # the second one), and in one process.
    for pool, index in ((TWO, 1), (TWO, 0), (ONE, 1)):
        result = failing_build(failing_site, pool, "editor", index)
        assert result.returncode == 1, result.stderr
        assert message in result.stderr.splitlines()
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("bug", "raised in a page-writing process:\nTraceback"),
        ("killed", "renderpool: the page-writing process"),
    ],
)
def test_a_failure_in_another_process_fails_the_build(
    failing_site, kind: str, expected: str
) -> None:
    result = failing_build(failing_site, TWO, kind)
    assert result.returncode != 0
    assert expected in result.stderr
    if kind == "bug":
        assert "ValueError: a bug in a filter" in result.stderr
    else:
        assert "was killed by SIGKILL" in result.stderr


@pytest.mark.parametrize(
    "given",
    [{"processes": -1}, {"min_items": True}, {"generators": "Articles"}, {"x": 1}],
)
def test_wrong_options_are_refused(given: dict) -> None:
    with pytest.raises(ValueError, match="renderpool"):
        get_options({"RENDERPOOL": given})


def test_owners_are_stable_and_shared() -> None:
    pages = [f"tin-tuc/tin-{i}/index.html" for i in range(400)]
    owners = [owner(page, 2) for page in pages]
    assert owners == [owner(page, 2) for page in pages]
    assert 150 < sum(owners) < 250
