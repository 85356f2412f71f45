"""renderpool: pages written by two processes give the one-process site and records."""

from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from incremental.incremental import read_manifest
from renderpool import Claims, Pool, get_options

from tests.conftest import ROOT, _env, news, pelican_command
from tests.test_readpool import small_site, tree

ONE = {"processes": 1}
TWO = {"processes": 2, "min_items": 0}
# Run pelican in this process with the `asset` filter (called by every page) made
# to note which process renders each page (in a file per process id, in a
# folder), to wait or slow down, or to fail: an editor's error, a bug, or the
# process killed. Arguments: the folder, the kind ("note" or a failure), where
# it fails ("child": the first page the second process renders; "build": the
# first page the build process renders; "none"), and "wait" (the build process's
# first page waits until the second process has rendered one), "slow" (that and
# every page of the build process takes 40 ms longer) or "go".
SCRIPT = """
import os, signal, sys, time
import feedgenerator
import jinja2
from pelican import main, signals
from portal import finishing
from portal.problems import ContentError
target, kind, where, pace = sys.argv[1:5]
MAIN = os.getpid()
FAILING = []

def wait_for_the_other():
    ends = time.monotonic() + 60
    while not [n for n in os.listdir(target) if n.isdigit() and int(n) != MAIN]:
        if time.monotonic() > ends:
            raise RuntimeError("the second process rendered no page")
        time.sleep(0.01)

def fail_on_target(make_filter):
    def make(*args, **kwargs):
        real = make_filter(*args, **kwargs)

        @jinja2.pass_context
        def asset(context, name=None):
            if name is None:  # called as a function (plugins/cms), not by a page
                return real(context)
            mine = os.path.join(target, str(os.getpid()))
            first = not os.path.exists(mine)
            with open(mine, "a") as notes:
                notes.write(context.get("output_file") + "\\n")
            if os.getpid() == MAIN and pace != "go":
                if first:
                    wait_for_the_other()
                if pace == "slow":
                    time.sleep(0.04)
            if first and where == ("build" if os.getpid() == MAIN else "child"):
                FAILING.append(context.get("output_file"))
            if context.get("output_file") in FAILING:  # rendered again untracked too
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

def feed_written(path, **kwargs):
    # Which feeds the build process heard of (the other's are sent again).
    if kind == "note":
        with open(os.path.join(target, "feeds"), "a") as notes:
            notes.write(f"heard:{os.getpid()}:{path}\\n")

def note_feed_writes(feed_class):
    # Which process writes each feed; at a slow pace, the build process's first
    # feed waits until the other process has written one.
    real = feed_class.write

    def write(self, *args, **kwargs):
        if kind == "note":
            noted = os.path.join(target, "feeds")
            first = not os.path.exists(noted)
            with open(noted, "a") as notes:
                notes.write(f"wrote:{os.getpid()}:\\n")
            ends = time.monotonic() + 30
            while first and os.getpid() == MAIN and pace == "slow":
                if any(n.startswith("wrote:") and f":{MAIN}:" not in n for n in open(noted)):
                    break
                if time.monotonic() > ends:
                    raise RuntimeError("the second process wrote no feed")
                time.sleep(0.01)
        return real(self, *args, **kwargs)

    feed_class.write = write

note_feed_writes(feedgenerator.Atom1Feed)
note_feed_writes(feedgenerator.Rss201rev2Feed)

# Once the plugins are loaded, before the assets plugin makes its filter.
signals.initialized.connect(patch)
signals.feed_written.connect(feed_written)
finishing.pages_written.connect(pages_written)
main(sys.argv[5:])
"""


def run(
    root: Path,
    name: str,
    pool: dict,
    kind: str,
    notes: Path,
    where: str = "none",
    pace: str = "go",
) -> Any:
    """Build root/content into root/name with SCRIPT; return the finished process."""
    # Pelican prints a bug's traceback (with its notes) only with --debug.
    command = pelican_command(
        root / "content",
        root / name,
        "pelicanconf.py",
        settings(root, name, pool),
        *(["-D"] if kind == "bug" else []),
    )
    shutil.rmtree(notes, ignore_errors=True)
    notes.mkdir()
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(notes), kind, where, pace, *command[3:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )


def build(root: Path, name: str, pool: dict, pace: str = "go") -> dict[str, list[str]]:
    """Build with these RENDERPOOL options; return the pages each process rendered."""
    notes = root / f"notes-{name}"
    result = run(root, name, pool, "note", notes, pace=pace)
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


NOT_PAGES = ("signal", "feeds")  # the notes that are not pages rendered


def feeds_by_process(lines: list[str], what: str) -> dict[str, list[str]]:
    """Return the feeds each process noted ({pid: [path]}): "wrote" or "heard"."""
    noted: dict[str, list[str]] = {}
    for line in lines:
        said, pid, path = line.split(":", 2)
        if said == what:
            noted.setdefault(pid, []).append(path)
    return noted


def test_two_processes_write_the_one_process_site_and_records(tmp_path) -> None:
    content = small_site(tmp_path / "content")
    # The build process renders its pages slowly: the other one claims more.
    by_process = build(tmp_path, "two", TWO, pace="slow")
    # Said once, by the build process, when every process has written its pages.
    said = by_process.pop("signal")
    assert len(said) == 2 and int(said[1]) > 20, said
    assert "404.html" in by_process[said[0]]  # the build process writes it
    feeds = by_process.pop("feeds")
    assert len(by_process) == 2
    one = build(tmp_path, "one", ONE)
    assert len(one.pop("signal")) == 2  # in one process too
    (one_feeds,) = feeds_by_process(one.pop("feeds"), "heard").values()
    # The second process wrote feeds (maybe all of them: it claims pages while
    # the slow build process renders), and the build process heard of every
    # feed (the other's sent again for the plugins that listen, such as assets).
    wrote = feeds_by_process(feeds, "wrote")
    assert set(wrote) - {said[0]}, wrote
    assert feeds_by_process(feeds, "heard").keys() == {said[0]}
    heard = feeds_by_process(feeds, "heard")[said[0]]
    assert len(one_feeds) > 2 and sorted(
        Path(f).relative_to(tmp_path / "two") for f in heard
    ) == sorted(Path(f).relative_to(tmp_path / "one") for f in one_feeds)
    assert sorted(sum(by_process.values(), [])) == sorted(*one.values())
    # Each page is rendered once, by the process that claimed it: the second
    # process the more (a fixed split gave each about half), the build process
    # also every page of the other generators (404.html).
    parent, child = by_process.pop(said[0]), by_process.popitem()[1]
    assert not set(parent) & set(child)
    assert len(child) > 2 * (len(parent) - 1) > 0, (parent, child)
    assert tree(tmp_path / "two") == tree(tmp_path / "one")
    assert records(tmp_path, "two") == records(tmp_path, "one")
    # An incremental rebuild after a body edit: the same pages kept and rendered.
    edited = content / "models" / "mo-hinh-4.md"
    edited.write_text(edited.read_text("utf-8") + "\nThêm một câu.\n", "utf-8")
    rendered = [
        sorted(v for k, v in build(tmp_path, n, p).items() if k not in NOT_PAGES)
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


def failing_build(root: Path, pool: dict, kind: str, where: str = "child") -> Any:
    """Build with the first page of a process (`where`) failing as `kind` says."""
    two = pool["processes"] > 1
    return run(root, kind, pool, kind, root / "notes", where, "wait" if two else "go")


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
    for pool, where in ((TWO, "child"), (TWO, "build"), (ONE, "build")):
        result = failing_build(failing_site, pool, "editor", where)
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


def walk(claims: list[Claims], paths: list[str], turns: list[int]) -> list[list[int]]:
    """Ask each process's claims for every path, in turns; return who writes each."""
    places = [0] * len(claims)
    writers: list[list[int]] = [[] for _ in paths]
    # Three pages at a time, then each to the end.
    for turn, count in [*((t, 3) for t in turns), *((t, len(paths)) for t in (0, 1))]:
        for _ in range(count):
            if places[turn] < len(paths):
                if claims[turn].owns(paths[places[turn]]):
                    writers[places[turn]].append(turn)
                places[turn] += 1
    return writers


@pytest.mark.parametrize("turns", [[0, 1] * 80, [0] * 5 + [1, 1, 0] * 60, [1] * 160])
def test_every_page_has_one_writer_and_a_path_asked_again_the_first_one(
    turns: list[int],
) -> None:
    paths = [f"tin-tuc/tin-{i}/index.html" for i in range(100)]
    paths[60] = paths[50] = paths[3]  # written twice: Pelican's rule in one process
    claims = Claims(2)
    other = copy.copy(claims)  # the second process: forked, the same shared memory
    other.first = {}
    other.start(1)
    writers = walk([claims, other], paths, turns)
    assert all(len(who) == 1 for who in writers), writers
    assert writers[3] == writers[50] == writers[60]
    assert claims.sequence() == other.sequence()
    mine = sum(who == [0] for who in writers)
    if turns[0] == 1 and len(set(turns)) == 1:
        assert mine == 0  # the build process asked for nothing: all the other's
    else:
        assert 0 < mine < len(paths)


def test_a_process_asked_for_other_pages_fails_the_build() -> None:
    pool = Pool([], 2)
    pool.claims = Claims(2)
    assert pool.claims.owns("index.html")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # a stand-in for the second process: it only exits
        os._exit(0)
    with os.fdopen(write_end, "wb") as pipe:  # its result: no page asked for
        pipe.write(pickle.dumps(("done", {"sequence": (0, 0)})))
    pool.children = [(pid, read_end)]
    with pytest.raises(RuntimeError, match="asked for other pages"):
        pool.join(writer=None)
