"""Incremental builds: after each edit, the same bytes as a clean full build.

One generated site is built incrementally in `inc/` through a series of edits;
after each edit a clean build of the same sources goes to a fresh `clean/`. The
two trees must be byte-identical, files whose bytes did not change keep their
time, and the pages the plugin rendered are exactly those whose bytes changed
(plus the documented excess on add/delete, see docs/INCREMENTAL.md).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT, _env, model, news, pelican_command

MODELS = 24
NEWS = 24
FIELDS = ["Kinh tế", "Văn hóa – xã hội", "Quốc phòng – an ninh"]
LOCALITIES = ["Phan Thiết", "La Gi", "Tuy Phong", "Bắc Bình", "Hàm Tân"]
KINDS = ["Mô hình", "Điển hình tập thể", "Điển hình cá nhân"]


def model_text(i: int, **changes) -> str:
    """Return the text of generated model number i."""
    body = changes.pop("body", None)
    fields = {
        "title": f"Mô hình số {i:03d}",
        "category": FIELDS[i % len(FIELDS)],
        "locality": LOCALITIES[i % len(LOCALITIES)],
        "year": 2016 + i % 8,
        "kind": KINDS[i % len(KINDS)],
        "unit": f"Đơn vị {i}",
        "summary": f"Tóm tắt mô hình {i}.",
        "date": f"{2016 + i % 8}-{1 + i % 12:02d}-{1 + i % 27:02d}",
        **changes,
    }
    return model(**fields).replace("Nội dung.\n", body or f"Nội dung mô hình {i}.\n")


def news_text(i: int, **changes) -> str:
    """Return the text of generated news item number i (linking two models)."""
    fields = {
        "title": f"Tin số {i:03d}",
        "date": f"{2017 + i % 8}-{1 + i % 12:02d}-{2 + i % 26:02d}",
        "summary": f"Tóm tắt tin {i}.",
        "models": [f"mo-hinh-{i % MODELS:03d}", f"mo-hinh-{(i * 7) % MODELS:03d}"],
        **changes,
    }
    body = fields.pop("body", None)
    link = f"Xem [mô hình]({{filename}}/models/mo-hinh-{i % MODELS:03d}.md).\n"
    return news(**fields).replace("Nội dung.\n", body or f"Nội dung tin {i}. {link}")


class Sites:
    """The sources, the incremental output and the clean output."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.content = root / "content"
        self.data = root / "data"
        self.theme = root / "theme"
        self.settings: dict = {}
        shutil.copytree(ROOT / "data", self.data)
        shutil.copytree(ROOT / "theme", self.theme)
        for folder in ("models", "news", "pages", "images"):
            (self.content / folder).mkdir(parents=True)
        for i in range(MODELS):
            self.write(f"models/mo-hinh-{i:03d}.md", model_text(i))
        for i in range(NEWS):
            self.write(f"news/tin-{i:03d}.md", news_text(i))
        self.write("pages/gioi-thieu.md", "---\ntitle: Giới thiệu\n---\nTrang.\n")
        (self.content / "images" / "anh.jpg").write_bytes(b"\xff\xd8 one \xff\xd9")

    def write(self, relative: str, text: str) -> None:
        """Write a source file."""
        path = self.content / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")

    def build(self, name: str, *options: str) -> dict | None:
        """Build into root/<name> (cache root/<name>-cache); return the report."""
        return self.finish(name, self.start(name, *options))

    def start(self, name: str, *options: str) -> subprocess.Popen:
        """Start a build into root/<name> (cache root/<name>-cache)."""
        settings = {
            "CACHE_PATH": str(self.root / f"{name}-cache"),
            "VOCABULARY_PATH": str(self.data),
            "THEME": str(self.theme),
            "INCREMENTAL": {"global_inputs": [str(self.data)]},
            # Pagefind 1.5.2 writes its filter files in a different order each run
            # (same results, other bytes), so the search index is left out here.
            "SEARCH": {"enabled": False},
            **self.settings,
        }
        command = pelican_command(
            self.content, self.root / name, "pelicanconf.py", settings, *options
        )
        return subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
        )

    def finish(self, name: str, process: subprocess.Popen) -> dict | None:
        """Wait for a build; return its report (None when the plugin is off)."""
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
        report = self.root / f"{name}-cache" / "incremental-report.json"
        return json.loads(report.read_text("utf-8")) if report.exists() else None

    def both_builds(self) -> dict:
        """Build incrementally and, beside it, from nothing into root/clean."""
        for folder in ("clean", "clean-cache"):
            shutil.rmtree(self.root / folder, ignore_errors=True)
        incremental = self.start("inc")
        clean = self.start("clean")
        self.finish("clean", clean)
        return self.finish("inc", incremental)


def sources(content: Path) -> dict[str, bytes]:
    """Return every Markdown source under the content folder with its bytes."""
    return {
        p.relative_to(content).as_posix(): p.read_bytes()
        for p in sorted(content.rglob("*.md"))
    }


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Return every file under a folder with its bytes and modification time."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> Sites:
    """Return the generated site, built once incrementally and once plain."""
    sites = Sites(tmp_path_factory.mktemp("incremental"))
    first = sites.build("inc")
    assert first["full"] and first["reason"] == "no manifest yet"
    sites.settings = {}
    return sites


def edit_body(s: Sites) -> None:
    s.write("models/mo-hinh-005.md", model_text(5, body="Nội dung mới, đã sửa.\n"))


def edit_news_title(s: Sites) -> None:
    s.write("news/tin-003.md", news_text(3, title="Tin số 003 (đã sửa tiêu đề)"))


def edit_model_title(s: Sites) -> None:
    s.write("models/mo-hinh-003.md", model_text(3, title="Mô hình 003 (tên mới)"))


def change_field_locality_year(s: Sites) -> None:
    s.write("models/mo-hinh-007.md", model_text(7, category="Kinh tế"))
    s.write("models/mo-hinh-008.md", model_text(8, locality="La Gi", year=2015))


def add_newest(s: Sites) -> None:
    s.write("news/tin-900.md", news_text(900, date="2025-06-01"))


def add_old_delete_other(s: Sites) -> None:
    s.write("models/mo-hinh-901.md", model_text(901, date="2010-01-05", year=2010))
    (s.content / "news" / "tin-010.md").unlink()


def change_slug(s: Sites) -> None:
    s.write("news/tin-011.md", news_text(11, slug="tin-muoi-mot"))


def rename_term_edit_template_setting(s: Sites) -> None:
    path = s.data / "dia-ban.yml"
    path.write_text(
        path.read_text("utf-8").replace(
            "full_name: Thị xã La Gi", "full_name: TX La Gi"
        ),
        "utf-8",
    )
    card = s.theme / "templates" / "partials" / "card.html"
    card.write_text(card.read_text("utf-8").replace("<h3>", "<h3 class='t'>"), "utf-8")
    s.settings = {"SITESUBTITLE": "Phụ đề mới"}


def replace_image(s: Sites) -> None:
    (s.content / "images" / "anh.jpg").write_bytes(b"\xff\xd8 two \xff\xd9")


def nothing(s: Sites) -> None:
    """Change nothing."""


def revert_all(s: Sites) -> None:
    fresh = Sites.__new__(Sites)
    fresh.root = s.root
    shutil.rmtree(s.content)
    shutil.rmtree(s.data)
    shutil.rmtree(s.theme)
    Sites.__init__(fresh, s.root)
    s.settings = {}


# (edit, the build must be full, pages rendered beyond those whose bytes change)
SCENARIOS: list[tuple[Callable[[Sites], None], bool, str]] = [
    (nothing, False, "none"),
    (edit_body, False, "none"),
    (edit_news_title, False, "none"),
    (edit_model_title, False, "none"),
    (change_field_locality_year, False, "none"),
    (add_newest, False, "lists"),
    (add_old_delete_other, False, "lists"),
    (change_slug, False, "lists"),
    (replace_image, False, "none"),
    (rename_term_edit_template_setting, True, "any"),
    (revert_all, True, "any"),
]


def saved_nodes(s: Sites) -> list:
    """Return the read nodes the incremental build's manifest holds."""
    from incremental.incremental import read_manifest

    return read_manifest(str(s.root / "inc-cache" / "incremental.pickle"))["nodes"]


def check_saved_nodes(s: Sites, before: list) -> None:
    """Check the manifest's node table grows only compacted (Build.saved_pages).

    A node no page uses may stay only in a table saved as the last build left it.
    """
    from incremental.incremental import read_manifest

    data = read_manifest(str(s.root / "inc-cache" / "incremental.pickle"))
    nodes = data["nodes"]
    used: set[int] = set()
    todo = [i for page in data["pages"].values() for i in page[1]]
    while todo:
        i = todo.pop()
        if i not in used:
            used.add(i)
            todo.extend(nodes[i][1])
    if len(used) < len(nodes):
        assert [list(map(list, n)) for n in nodes] == [
            list(map(list, n)) for n in before
        ], "a grown node table was saved with nodes no page uses"


def is_list_page(name: str) -> bool:
    """Return whether an output file shows a list of items (news pages show one)."""
    return (
        name == "index.html"
        or name.count("/") <= 2
        and (name.startswith(("mo-hinh/", "tin-tuc/")))
    )


@pytest.mark.parametrize(
    ("edit", "full", "excess"),
    SCENARIOS,
    ids=[f"{i:02d}-{s[0].__name__}" for i, s in enumerate(SCENARIOS)],
)
def test_incremental_build_equals_clean_build(
    sites: Sites, edit: Callable, full: bool, excess: str
) -> None:
    before = snapshot(sites.root / "inc")
    sources_before = sources(sites.content)
    nodes_before = saved_nodes(sites)
    edit(sites)
    report = sites.both_builds()
    check_saved_nodes(sites, nodes_before)
    sources_after = sources(sites.content)
    after = snapshot(sites.root / "inc")
    clean = snapshot(sites.root / "clean")

    assert report["full"] is full, report["reason"]
    # Nothing changed: Pelican is not even run, the last output is kept.
    assert report.get("nothing_changed", False) is (edit is nothing)
    # Only new or edited files are read: the others come from the content cache.
    edited = {n for n, b in sources_after.items() if sources_before.get(n) != b}
    assert set(report["read"]) == (set(sources_after) if full else edited)
    # Item pages kept without replaying their item's own fields: every item
    # page kept but the edited items' when no URL changed.
    if edit in (edit_body, edit_news_title, replace_image):
        kept = MODELS + NEWS - len(report["rendered"]) - len(edited)
        assert report["reused"] >= kept > MODELS
    # Pages kept without replaying their reads: when nothing but bodies
    # changed, every page that read no edited item (Build.quiet_mask); when
    # titles changed or an item came, every page that read no changed item and
    # no changed named list, whose quick reads are the same (Build.keep_listed).
    if edit in (edit_body, edit_news_title, edit_model_title, add_newest):
        assert report["quick"] > MODELS + NEWS
    elif full:
        assert report["quick"] == 0
    assert set(after) == set(clean), "files differ: " + str(
        sorted(set(after) ^ set(clean))
    )
    differing = [name for name in after if after[name][0] != clean[name][0]]
    assert not differing, f"bytes differ from a clean build: {differing}"

    changed = {n for n in after if n not in before or before[n][0] != after[n][0]}
    touched = {n for n in after if n in before and before[n][1] != after[n][1]}
    # sitemap.xml is written by plugins/sitefiles itself (only when its bytes change).
    static = {
        n for n in after if not n.endswith((".html", ".xml")) or n == "sitemap.xml"
    }
    assert touched - static <= changed, "unchanged files were rewritten"
    assert set(report["written"]) == {n for n in changed if n not in static}
    gone = set(before) - set(after)
    # The assets plugin removes the .gz/.br copies of the pages this plugin deletes.
    assert set(report["deleted"]) == {n for n in gone if not n.endswith((".gz", ".br"))}
    assert not report["untracked"], report["untracked"]
    rendered = set(report["rendered"])
    # Feeds are generated again only when what they show changed (report["feeds"]).
    feeds = {n for n in changed if n.endswith("atom.xml")}
    generated = set(report.get("feeds", []))
    assert feeds <= generated, "a changed feed was kept"
    assert changed - static - feeds <= rendered
    if not full and excess != "lists":
        assert generated <= feeds, "feeds generated without a change"
    if edit is nothing:
        assert "feeds" not in report
    elif not full:
        assert len(generated) < len({n for n in after if n.endswith("atom.xml")})
    extra = rendered - changed
    if excess == "none":
        assert not extra, f"rendered without a change: {sorted(extra)}"
    elif excess == "lists":
        news_pages = {n for n in extra if n.startswith("tin-tuc/")}
        assert all(is_list_page(n) for n in extra - news_pages), sorted(extra)


def test_plugin_off_gives_the_same_site(sites: Sites) -> None:
    for folder in ("plain", "plain-cache"):
        shutil.rmtree(sites.root / folder, ignore_errors=True)
    sites.settings = {"INCREMENTAL": {"enabled": False}}
    try:
        assert sites.build("plain") is None
    finally:
        sites.settings = {}
    plain = snapshot(sites.root / "plain")
    inc = snapshot(sites.root / "inc")
    assert {n: b for n, (b, _) in plain.items()} == {n: b for n, (b, _) in inc.items()}


class _Trap:
    """A pickled object that would create a file when unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "code", "foreign"])
def test_bad_manifest_means_full_build(sites: Sites, damage: str) -> None:
    from incremental.incremental import MANIFEST_MAGIC, read_manifest, write_manifest

    manifest = sites.root / "inc-cache" / "incremental.pickle"
    trap = sites.root / "unpickled"
    raw = manifest.read_bytes()
    if damage == "garbage":
        manifest.write_text("{not json", "utf-8")
    elif damage == "truncated":
        manifest.write_bytes(raw[: len(raw) // 2])
    elif damage == "code":  # a pickle that runs code when loaded is refused
        data = read_manifest(str(manifest))
        data["extra"] = {"x": _Trap(trap)}
        manifest.write_bytes(MANIFEST_MAGIC + pickle.dumps(data))
    else:
        data = read_manifest(str(manifest))
        data["global"] = "0" * 32
        write_manifest(str(manifest), data)
    report = sites.build("inc")
    assert not trap.exists()
    assert report["full"]
    assert len(report["rendered"]) > MODELS + NEWS
    if damage != "foreign":  # no record: the build starts from an empty folder
        assert report["cleaned"] > MODELS + NEWS
        assert set(report["written"]) >= set(report["rendered"])
    else:  # the record still vouches for the folder: unchanged bytes stay
        assert report["cleaned"] == 0
        assert report["written"] == []


def test_damaged_content_cache_means_reading_again(sites: Sites) -> None:
    sites.build("inc")
    before = snapshot(sites.root / "inc")
    cache = sites.root / "inc-cache" / "incremental-contents.sqlite"
    cache.write_bytes(b"\x80garbage")
    sites.write("news/tin-002.md", news_text(2, body="Tin 2, nội dung khác.\n"))
    report = sites.build("inc")
    assert report["full"] is False
    assert set(report["read"]) == set(sources(sites.content))
    assert report["rendered"] == ["tin-tuc/tin-002/index.html"]
    assert {n for n in report["written"] if not n.endswith(".xml")} == {
        "tin-tuc/tin-002/index.html"
    }
    assert snapshot(sites.root / "inc").keys() == before.keys()
    assert sites.build("inc", "--ignore-cache")["written"] == []


def test_a_link_follows_the_item_it_points_to(sites: Sites) -> None:
    # tin-005 links to tin-017, an old news item it shows nowhere else.
    link = "Xem [tin cũ]({filename}/news/tin-017.md).\n"
    sites.write("news/tin-005.md", news_text(5, body=link))
    sites.build("inc")
    sites.write("news/tin-017.md", news_text(17, slug="tin-muoi-bay"))  # moves it
    try:
        report = sites.both_builds()
        news_page = "tin-tuc/tin-005/index.html"
        assert news_page in report["rendered"]
        assert "tin-muoi-bay" in (sites.root / "inc" / news_page).read_text("utf-8")
        clean = snapshot(sites.root / "clean")
        assert {n: b for n, (b, _) in snapshot(sites.root / "inc").items()} == {
            n: b for n, (b, _) in clean.items()
        }
    finally:
        sites.write("news/tin-005.md", news_text(5))
        sites.write("news/tin-017.md", news_text(17))
        sites.build("inc")


def test_a_link_to_an_added_item_is_resolved(sites: Sites) -> None:
    # tin-006 links to a file that does not exist yet; adding it changes the URL
    # map: tin-006 is rendered again, items without such a link keep their fields.
    link = "Xem [tin mới]({filename}/news/tin-moi-them.md).\n"
    sites.write("news/tin-006.md", news_text(6, body=link))
    sites.build("inc")
    sites.write("news/tin-moi-them.md", news_text(90, slug="tin-moi-them"))
    try:
        report = sites.both_builds()
        news_page = "tin-tuc/tin-006/index.html"
        assert news_page in report["rendered"]
        assert "/tin-tuc/tin-moi-them/" in (sites.root / "inc" / news_page).read_text(
            "utf-8"
        )
        # Models have no link: their own fields are taken from the last build.
        assert report["reused"] >= MODELS - 2, "items without links were read again"
        clean = snapshot(sites.root / "clean")
        assert {n: b for n, (b, _) in snapshot(sites.root / "inc").items()} == {
            n: b for n, (b, _) in clean.items()
        }
    finally:
        sites.write("news/tin-006.md", news_text(6))
        (sites.content / "news" / "tin-moi-them.md").unlink()
        sites.build("inc")


def test_full_flag_forces_full_build(sites: Sites) -> None:
    report = sites.build("inc", "--ignore-cache")
    assert report["full"] and "FULL=1" in report["reason"]
    assert os.path.exists(sites.root / "inc-cache" / "incremental.pickle")
    assert sites.build("inc")["full"] is False


def test_same_bytes_with_a_new_time_is_no_change(sites: Sites) -> None:
    sites.build("inc")
    path = sites.content / "news" / "tin-001.md"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**10))
    report = sites.build("inc")
    assert report["nothing_changed"] is True
    assert report["skipped"] > MODELS + NEWS


def test_a_missing_output_file_is_written_again(sites: Sites) -> None:
    sites.build("inc")
    page = sites.root / "inc" / "tin-tuc" / "tin-001" / "index.html"
    kept = page.read_bytes()
    page.unlink()
    report = sites.build("inc")
    assert "nothing_changed" not in report
    assert report["rendered"] == ["tin-tuc/tin-001/index.html"]
    assert page.read_bytes() == kept
    feed = sites.root / "inc" / "tin-tuc" / "atom.xml"
    kept = feed.read_bytes()
    feed.unlink()
    report = sites.build("inc")
    assert report["feeds"] == ["tin-tuc/atom.xml"], "a missing feed was kept"
    assert feed.read_bytes() == kept


def test_an_edit_after_an_idle_run_is_seen(sites: Sites) -> None:
    sites.build("inc")
    assert sites.build("inc")["nothing_changed"] is True
    sites.write("models/mo-hinh-005.md", model_text(5, body="Một nội dung khác.\n"))
    report = sites.build("inc")
    assert "nothing_changed" not in report
    assert "mo-hinh/mo-hinh-005/index.html" in report["rendered"]


def test_installed_packages_are_named_by_their_metadata_folders(tmp_path) -> None:
    """The fingerprint sees a package's version change, as importlib.metadata would."""
    import importlib.metadata
    import re

    from incremental.incremental import installed_packages

    (tmp_path / "foo-1.0.dist-info").mkdir()
    (tmp_path / "bar_baz-2.egg-info").mkdir()
    (tmp_path / "foo").mkdir()
    paths = [str(tmp_path), str(tmp_path / "missing")]
    assert installed_packages(paths) == ["bar_baz-2.egg-info", "foo-1.0.dist-info"]
    (tmp_path / "foo-1.0.dist-info").rename(tmp_path / "foo-1.1.dist-info")
    assert installed_packages(paths) == ["bar_baz-2.egg-info", "foo-1.1.dist-info"]
    # Every installed distribution (name and version) is in the real listing.
    listed = {re.sub(r"[-_.]+", "_", n).lower() for n in installed_packages()}
    for dist in importlib.metadata.distributions():
        name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
        version = re.sub(r"[-_.]+", "_", dist.version).lower()
        assert any(n.startswith(f"{name}_{version}_") for n in listed), dist


def test_real_path_resolves_each_folder_once_and_follows_linked_files(
    tmp_path, monkeypatch
) -> None:
    """The fingerprint's module paths are os.path.realpath's, links included."""
    from incremental.incremental import real_path

    outside, env = tmp_path / "outside", tmp_path / "env"
    (outside / "pkg").mkdir(parents=True)
    (env / "lib").mkdir(parents=True)
    for name in ("a.py", "b.py", "pkg/c.py"):
        (outside / name).write_text("x = 1\n")
    (env / "lib" / "a.py").write_text("x = 2\n")
    (env / "lib" / "b.py").symlink_to(outside / "b.py")  # a linked file
    (env / "linked").symlink_to(outside / "pkg")  # a linked folder
    paths = [
        str(env / "lib" / "a.py"),
        str(env / "lib" / "b.py"),
        str(env / "linked" / "c.py"),
        str(env / "lib" / ".." / "lib" / "a.py"),
        "relative.py",
    ]
    monkeypatch.chdir(env / "linked")
    folders: dict[str, str] = {}
    assert [real_path(p, folders) for p in paths] == [
        os.path.realpath(p) for p in paths
    ]
    assert real_path(paths[1], folders) == str(outside / "b.py")
    assert len(folders) == 4  # lib, linked, lib/../lib, the current folder


def test_snapshot_walk_lists_what_files_under_lists_with_followed_stats(
    tmp_path,
) -> None:
    """The content snapshot's walk: _files_under's files, order and os.stat's stats.

    Links are followed (a linked file's target changing changes its entry, so
    its hash is taken again); a linked folder and `__pycache__` are skipped.
    """
    from incremental.incremental import (
        Manifest,
        _files_under,
        _stats_under,
        snapshot_inputs,
    )

    top, outside = tmp_path / "content", tmp_path / "outside"
    for folder in ("b", "a/z", "a/__pycache__", "ab", "c.d"):
        (top / folder).mkdir(parents=True)
    (outside / "pkg").mkdir(parents=True)
    for name in ("z.md", "a.md", "b/x.md", "a/z/y.md", "a/__pycache__/m.pyc"):
        (top / name).write_text(name)
    (top / "a" / "é.md").write_text("é")
    (top / "ab" / "__pycache__").write_text("a file, not a folder")
    (outside / "target.md").write_text("target")
    (outside / "pkg" / "inner.md").write_text("inner")
    (top / "linked.md").symlink_to(outside / "target.md")
    (top / "b" / "linked-folder").symlink_to(outside / "pkg")
    (top / "broken.md").symlink_to(tmp_path / "missing.md")
    expected = [  # as the snapshot took them before: a stat per path, if any
        (os.path.relpath(path, top), os.stat(path))
        for path in _files_under(str(top))
        if os.path.exists(path)
    ]
    found = _stats_under(str(top))
    assert [rel for rel, _ in found] == [rel for rel, _ in expected]
    assert [rel for rel, _ in found] == [
        "a.md",
        "linked.md",
        "z.md",
        os.path.join("a", "é.md"),
        os.path.join("a", "z", "y.md"),
        os.path.join("ab", "__pycache__"),
        os.path.join("b", "x.md"),
    ]
    assert [(s.st_ino, s.st_size, s.st_mtime_ns) for _, s in found] == [
        (s.st_ino, s.st_size, s.st_mtime_ns) for _, s in expected
    ]
    assert _stats_under(str(tmp_path / "missing")) == []
    assert [rel for rel, _ in _stats_under(str(top / "a.md"))] == [""]
    # Through a link: the target's new bytes are hashed, not vouched for.
    first, taken = snapshot_inputs(str(top), Manifest())
    old = Manifest()
    old.inputs, old.snapshot_ns = first, taken + 10 * 10**9
    (outside / "target.md").write_text("changed target")
    again, _ = snapshot_inputs(str(top), old)
    assert again["a.md"] is first["a.md"]  # vouched for: not hashed again
    assert again["linked.md"][2] != first["linked.md"][2]
    assert again["linked.md"][2] == hashlib.sha256(b"changed target").hexdigest()


def test_input_hash_takes_the_snapshot_entry_of_the_path_in_the_content_folder(
    tmp_path,
) -> None:
    """A content file's hash is its snapshot's (the key); any other path is hashed."""
    from types import SimpleNamespace

    from incremental.incremental import Build, Manifest, snapshot_inputs

    top, sibling = tmp_path / "content", tmp_path / "content2"
    (top / "news").mkdir(parents=True)
    sibling.mkdir()
    for folder in (top, sibling):
        (folder / "a.md").write_text(f"a in {folder.name}")
    (top / "news" / "b.md").write_text("b")
    inputs, _ = snapshot_inputs(str(top), Manifest())
    build = SimpleNamespace(content_prefix=os.path.join(str(top), ""), inputs=inputs)
    (top / "a.md").write_text("changed after the snapshot")
    # The snapshot's hash, not the file's bytes now: the build reads what it saw.
    assert (
        Build.input_hash(build, str(top / "a.md"))
        == hashlib.sha256(b"a in content").digest()
    )
    assert (
        Build.input_hash(build, str(top / "news" / "b.md"))
        == hashlib.sha256(b"b").digest()
    )
    # Outside the content folder (a sibling sharing its name's start): hashed.
    assert (
        Build.input_hash(build, str(sibling / "a.md"))
        == hashlib.sha256(b"a in content2").digest()
    )
    (top / "new.md").write_text("new")  # not in the snapshot: hashed
    assert (
        Build.input_hash(build, str(top / "new.md")) == hashlib.sha256(b"new").digest()
    )


STRAY_PLUGIN = """
import os

from pelican import signals


def write_undeclared(pelican):
    path = os.path.join(pelican.output_path, "la", "stray.html")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("lạ")


def register():
    signals.finalized.connect(write_undeclared)
"""


def add_plugin(sites: Sites, tmp_path: Path, name: str, source: str) -> None:
    """Build with the project's PLUGINS and one more plugin, written from source."""
    import ast

    tree = ast.parse((ROOT / "pelicanconf.py").read_text("utf-8"))
    plugins = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "PLUGINS"
    )
    (tmp_path / f"{name}.py").write_text(source, "utf-8")
    sites.settings = {
        "PLUGINS": [*plugins, name],
        "PLUGIN_PATHS": [str(ROOT / "plugins"), str(tmp_path)],
    }


def test_an_undeclared_file_is_swept_and_left_out_of_the_record(
    sites: Sites, tmp_path
) -> None:
    """The walk that sweeps undeclared files also takes the record (last: new settings)."""
    add_plugin(sites, tmp_path, "stray", STRAY_PLUGIN)
    try:
        report = sites.build("inc")
        assert "la/stray.html" in report["deleted"]
        assert not (sites.root / "inc" / "la").exists()
        # A record that listed it would miss it now: not "nothing changed".
        assert sites.build("inc").get("nothing_changed") is True
        manifest = sites.root / "inc-cache" / "incremental.pickle"
        from incremental.incremental import read_manifest

        record = read_manifest(str(manifest))["record"]
        assert "la/stray.html" not in record and "index.html" in record
    finally:
        sites.settings = {}


LATE_PLUGIN = """
import os

from portal import finishing, outputs

TAMPER = {tamper!r}


def noted(folder, listing):
    with open(TAMPER + ".scanned", "w") as handle:
        handle.write(str(len(listing.files)))


def after_compress(pelican):
    top = pelican.output_path
    declared = os.path.join(top, "la", "declared.txt")
    os.makedirs(os.path.dirname(declared), exist_ok=True)
    with open(declared, "w") as handle:
        handle.write("khai báo")
    outputs.declare(declared)
    with open(os.path.join(top, "la", "stray.html"), "w") as handle:
        handle.write("lạ")
    if os.path.exists(TAMPER):  # someone else, once: same size, other bytes
        os.remove(TAMPER)
        with open(os.path.join(top, "index.html"), "r+b") as handle:
            first = handle.read(1)
            handle.seek(0)
            handle.write(b"X" if first != b"X" else b"Y")


def register():
    outputs.output_scanned.connect(noted)
    finishing.connect("mark", after_compress)
"""


def test_files_after_the_compress_walk_are_recorded_swept_or_caught(
    sites: Sites, tmp_path
) -> None:
    """The record is made from the walk compressing handed over (no walk of its
    own): a file declared after it is recorded, a stray is swept, and a page
    someone changed after it is written again by the next build."""
    from incremental.incremental import read_manifest

    tamper = tmp_path / "tamper"
    add_plugin(sites, tmp_path, "late", LATE_PLUGIN.format(tamper=str(tamper)))
    output = sites.root / "inc"
    try:
        sites.build("inc")  # new settings: a full build
        clean = (output / "index.html").read_bytes()
        tamper.write_text("1")
        body = "Sửa để dựng lại.\n"
        sites.write("models/mo-hinh-007.md", model_text(7, body=body))
        report = sites.build("inc")
        assert report.get("nothing_changed") is None
        assert (tmp_path / "tamper.scanned").exists(), "no walk was handed over"
        assert "la/stray.html" in report["deleted"]
        assert (output / "index.html").read_bytes() != clean  # tampered after
        record = read_manifest(str(sites.root / "inc-cache" / "incremental.pickle"))
        declared = record["record"]["la/declared.txt"]
        assert declared[0] == len("khai báo".encode())
        report = sites.build("inc")
        assert report.get("nothing_changed") is None  # the page differs
        assert report["cleaned"] >= 1 and "index.html" in report["written"]
        assert (output / "index.html").read_bytes() == clean
    finally:
        sites.write("models/mo-hinh-007.md", model_text(7))
        sites.settings = {}


MID_PLUGIN = """
import os

from portal import finishing

TAMPER = {tamper!r}
PAGE = {page!r}


def before_compress(pelican):
    if not os.path.exists(TAMPER):
        return
    os.remove(TAMPER)
    top = pelican.output_path
    with open(os.path.join(top, "mo-hinh", "stray.html"), "w") as handle:
        handle.write("lạ")
    with open(os.path.join(top, PAGE), "r+b") as handle:  # same size, other bytes
        first = handle.read(1)
        handle.seek(0)
        handle.write(b"X" if first != b"X" else b"Y")


def register():
    finishing.connect("list", before_compress)
"""


def test_files_changed_during_the_build_are_swept_or_caught(
    sites: Sites, tmp_path
) -> None:
    """The end of a build lists the output from the check's walk before it (no
    walk of its own): a stray written meanwhile in a listed folder is swept, and
    a page it kept that someone changed in place meanwhile is written again by
    the next build (its time is not the one recorded)."""
    tamper, page = tmp_path / "tamper", "mo-hinh/mo-hinh-001/index.html"
    add_plugin(sites, tmp_path, "mid", MID_PLUGIN.format(tamper=str(tamper), page=page))
    output = sites.root / "inc"
    try:
        sites.build("inc")  # new settings: a full build
        clean = (output / page).read_bytes()
        tamper.write_text("1")
        sites.write("models/mo-hinh-007.md", model_text(7, body="Sửa giữa chừng.\n"))
        report = sites.build("inc")
        assert not tamper.exists(), "the plugin did not run"
        assert "mo-hinh/stray.html" in report["deleted"]
        assert not (output / "mo-hinh" / "stray.html").exists()
        assert page not in report["written"]
        assert (output / page).read_bytes() != clean  # changed after the check
        report = sites.build("inc")
        assert report.get("nothing_changed") is None  # the page differs
        assert report["cleaned"] >= 1 and page in report["written"]
        assert (output / page).read_bytes() == clean
    finally:
        sites.write("models/mo-hinh-007.md", model_text(7))
        sites.settings = {}


LATE_RECORD_PLUGIN = """
import os

from incremental import incremental
from portal import finishing

FAIL = {fail!r}


def late(pelican):
    incremental.remember("late", "after every page")
    if os.path.exists(FAIL):
        raise RuntimeError("hỏng ở bước cuối")


def register():
    finishing.connect("mark", late)
"""


def test_a_record_changed_after_the_pages_is_saved_with_them(
    sites: Sites, tmp_path
) -> None:
    """The pages' part of the manifest, saved once every page is written
    (prepare_seal, beside the search index and compression), is made again when
    a post-processor changes what it holds: a value remembered at the last step
    is in the manifest, and the early part file is gone (three part files). A
    rebuild failing at that step leaves the last manifest and content cache as
    they were (the early part removed, the cache's rows not committed)."""
    from incremental.incremental import read_manifest

    fail = tmp_path / "fail"
    add_plugin(sites, tmp_path, "late", LATE_RECORD_PLUGIN.format(fail=str(fail)))
    cache = sites.root / "inc-cache"
    manifest = cache / "incremental.pickle"

    def records() -> dict[str, bytes]:
        names = ("incremental.pickle", "incremental-contents")
        return {
            p.name: p.read_bytes() for p in cache.iterdir() if p.name.startswith(names)
        }

    try:
        for turn in range(3):  # a full build (new settings), a failed one, a rebuild
            body = f"Sửa lần {turn}.\n"
            sites.write("models/mo-hinh-007.md", model_text(7, body=body))
            if turn == 1:
                before = records()
                fail.write_text("1")
                process = sites.start("inc")
                output, _ = process.communicate(timeout=300)
                fail.unlink()
                assert process.returncode != 0 and "hỏng ở bước cuối" in output
                assert records() == before
                continue
            report = sites.build("inc")
            assert "mo-hinh/mo-hinh-007/index.html" in report["written"]
            assert read_manifest(str(manifest))["extra"]["late"] == "after every page"
            parts = list(cache.glob(manifest.name + ".*"))
            assert len(parts) == 3, parts
    finally:
        sites.write("models/mo-hinh-007.md", model_text(7))
        sites.settings = {}


def test_a_damaged_manifest_is_refused_never_raised(tmp_path, monkeypatch) -> None:
    """Bytes changed at random in a manifest: always refused as "unreadable" or
    "damaged", never raised, never trusted (a changed index could pass every
    field's check), and refused before marshal reads them."""
    import marshal
    import random

    from incremental.incremental import (
        FORMAT,
        MANIFEST_MAGIC,
        Manifest,
        write_manifest,
    )

    path = str(tmp_path / "incremental.pickle")
    entry = [10, 1_700_000_000_000_000_000, "ab" * 32]
    write_manifest(
        path,
        {
            "format": FORMAT,
            "global": "g" * 32,
            "output": str(tmp_path),
            "nodes": [[["a", "title"], []], [["n", "article"], [0]]],
            "pages": {
                f"p{i}/index.html": ["item.html", [1], "d" * 32, None] for i in range(9)
            },
            "files": [f"p{i}/index.html" for i in range(9)],
            "extra": {"feed:atom.xml": "k"},
            "inputs": {"news/a.md": entry},
            "snapshot_ns": 1,
            "untracked": [],
            "urls": "u",
            "record": {f"p{i}/index.html": entry for i in range(9)},
            "record_ns": 2,
            "outside": {},
            "folders": {},
            "date": "",
            "late": ["sitemap.xml"],
        },
    )
    # The head and each part in a file of its own: any of them may be damaged.
    files = sorted(tmp_path.glob("incremental.pickle*"))
    assert len(files) == 4
    goods = {file: file.read_bytes() for file in files}
    assert Manifest.load(path)[1] is None
    read: list[bytes] = []  # what marshal was given to read
    loads = marshal.loads
    monkeypatch.setattr(
        marshal, "loads", lambda data: read.append(bytes(data)) or loads(data)
    )
    rng = random.Random(14)
    reasons = set()
    for _ in range(300):
        file = rng.choice(files)
        damaged = bytearray(goods[file])
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(MANIFEST_MAGIC), len(damaged))] = rng.randrange(
                256
            )
        if rng.random() < 0.3:
            damaged = damaged[: rng.randrange(len(damaged))]
        file.write_bytes(bytes(damaged))
        read.clear()
        manifest, reason = Manifest.load(path)
        file.write_bytes(goods[file])
        if bytes(damaged) == goods[file]:
            continue
        assert reason is not None
        assert manifest.record == {} and manifest.pages == {}
        reasons.add(reason.split(" (")[0])
        assert bytes(damaged)[len(MANIFEST_MAGIC) + 4 :] not in read, reason
    assert reasons >= {"unreadable manifest", "damaged manifest"}


@pytest.mark.parametrize(
    "nodes",
    [
        "nodes",  # not a list
        [[["v"]]],  # not (step, children)
        [[[], []]],  # an empty step
        [[["v"], [0]]],  # a node its own child
        [[["v"], []], [["a", "x"], [2]], [["v"], []]],  # a child after its parent
        [[["v"], []], [["a", "x"], [-1]]],  # a negative id
        [[["v"], []], [["a", "x"], [True]]],  # not an int
        [[["v"], []], [["a", "x"], ["0"]]],
    ],
)
def test_a_damaged_read_tree_is_refused(nodes) -> None:
    """The nodes are checked a column at a time: each refusal of the check per
    node stands (a child id must be an int below its parent's own id)."""
    from incremental.incremental import _FIELDS, Manifest

    with pytest.raises((ValueError, TypeError)):
        _FIELDS["nodes"](Manifest(), nodes)


def test_a_read_tree_and_texts_load_as_written() -> None:
    """Nodes load as (step, children) tuples; the texts table as it is; a
    table of texts holding anything but strings is refused."""
    from incremental.incremental import _FIELDS, Manifest

    nodes = [[["v"], []], [["a", "title"], [0]], [["k", "item"], [1, 0]]]
    assert _FIELDS["nodes"](Manifest(), nodes) == (
        "nodes",
        [(("v",), ()), (("a", "title"), (0,)), (("k", "item"), (1, 0))],
    )
    assert _FIELDS["nodes"](Manifest(), []) == ("nodes", [])
    assert _FIELDS["extra"](Manifest(), {"a": "b"}) == ("extra", {"a": "b"})
    for bad in ({"a": None}, {1: "b"}, [("a", "b")]):
        with pytest.raises(ValueError):
            _FIELDS["extra"](Manifest(), bad)


def test_a_manifest_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch) -> None:
    """The head is written last and names its parts: a build stopped while it
    wrote them leaves the last manifest whole; a part of another build is
    refused; a part as it was keeps its file, and no other is left."""
    from incremental import incremental
    from incremental.incremental import FORMAT, Manifest, write_manifest

    path = str(tmp_path / "incremental.pickle")
    entry = [10, 1_700_000_000_000_000_000, "ab" * 32]
    data = {
        "format": FORMAT,
        "global": "g" * 32,
        "output": str(tmp_path),
        "nodes": [[["a", "title"], []]],
        "pages": {"p/index.html": ["item.html", [0], "d" * 32, None]},
        "files": ["p/index.html"],
        "extra": {},
        "inputs": {"news/a.md": entry},
        "snapshot_ns": 1,
        "untracked": [],
        "urls": "u",
        "record": {"p/index.html": entry},
        "record_ns": 2,
        "outside": {},
        "folders": {},
        "date": "",
        "late": [],
    }
    write_manifest(path, data)
    first = Manifest.load(path)[0]
    assert first.counts == {"pages": 1, "files": 1}
    new = {**data, "record": {"p/index.html": [11, *entry[1:]]}, "record_ns": 3}
    real = incremental._write_plain

    def stop_at_head(target: str, part: dict) -> None:
        if target == path:
            raise OSError("stopped")
        real(target, part)

    monkeypatch.setattr(incremental, "_write_plain", stop_at_head)
    with pytest.raises(OSError):
        write_manifest(path, new)
    monkeypatch.undo()
    loaded, reason = Manifest.load(path)
    assert reason is None and loaded.record == data["record"]
    assert loaded.record_ns == 2
    # A head naming a part of another build is refused.
    parts = sorted(tmp_path.glob("incremental.pickle.record.*"))
    assert len(parts) == 2  # the last build's and the stopped one's
    mine = incremental.part_path(path, "record", loaded.parts["record"])
    other = next(str(p) for p in parts if str(p) != mine)
    os.replace(other, mine)
    assert Manifest.load(path)[1].startswith("damaged manifest")
    # Written again: the parts as they were keep their files, the rest goes.
    write_manifest(path, data)
    loaded = Manifest.load(path)[0]
    kept = {part: loaded.saved(part, new) for part in ("record", "rest", "pages")}
    assert kept["record"] is None and kept["rest"] and kept["pages"]
    write_manifest(path, new, {p: t for p, t in kept.items() if t})
    again = Manifest.load(path)[0]
    assert again.record == new["record"] and again.pages == data["pages"]
    assert again.parts["rest"] == loaded.parts["rest"]
    assert again.parts["record"] != loaded.parts["record"]
    left = {p.name for p in tmp_path.glob("incremental.pickle*")}
    assert left == {"incremental.pickle"} | {
        f"incremental.pickle.{part}.{token}" for part, token in again.parts.items()
    }


def _record_of(folder: Path) -> dict[str, list]:
    """Return a record of every file under a folder (aged past the racy window)."""
    from incremental import record

    old = time.time_ns() - 60_000_000_000
    for path in folder.rglob("*"):
        os.utime(path, ns=(old, old))
    stats = {p.relative_to(folder).as_posix(): p.stat() for p in folder.rglob("*")}
    return record.record_files(str(folder), stats, {}, time.time_ns())


@pytest.mark.parametrize(
    "after", ["nothing", "rewritten same size", "replaced", "touched", "forgotten"]
)
def test_the_record_takes_a_noted_digest_only_while_the_file_is_as_noted(
    tmp_path, monkeypatch, after
) -> None:
    """A SHA-256 noted as a file was read or written spares reading it again,
    unless the file changed since (its bytes, its inode or only its times)."""
    from incremental import record

    from portal import files

    page = tmp_path / "a.html"
    page.write_bytes(b"<p>mot</p>")
    files.forget_sha256()
    files.note_sha256(str(page), files.stamp(page.stat()), "01" * 32)  # a lie
    time.sleep(0.01)  # a later write gets a later time, as in a build
    if after == "rewritten same size":
        page.write_bytes(b"<p>hai</p>")
    elif after == "replaced":
        files.write_atomic(page, b"<p>mot</p>")
    elif after == "touched":
        os.utime(page)
    elif after == "forgotten":
        files.forget_sha256()
    read = []
    monkeypatch.setattr(record, "digest", lambda path: read.append(path) or "")
    entries = record.record_files(str(tmp_path), {"a.html": page.stat()}, {}, 0)
    files.forget_sha256()
    if after == "nothing":  # the (false) noted digest proves it was not read
        assert entries["a.html"][2] == "01" * 32 and read == []
    else:
        assert read == [str(page)]


def _small_output(tmp_path: Path) -> tuple[Path, dict]:
    """Write 24 pages in four folders under tmp_path/output; return it and its record."""
    folder = tmp_path / "output"
    names = [f"{d}{n}.html" for d in ("", "a/", "a/b/", "c/d/e/") for n in "pqrstu"]
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"<p>{name}</p>", "utf-8")
    return folder, {k: v for k, v in _record_of(folder).items() if k.endswith(".html")}


@pytest.mark.parametrize("child", ["answers", "fails", "another record"])
def test_the_output_check_in_other_processes_gives_the_same_answer(
    tmp_path, monkeypatch, child
) -> None:
    """Two forked processes check a share of the folder each; their answers
    count only when both are about the record the build loaded, else the build
    checks itself."""
    import functools
    from types import SimpleNamespace

    from incremental import record
    from incremental.incremental import State, check_share

    folder, entries = _small_output(tmp_path)
    (folder / "a/b/q.html").write_text("<p>A/b/q.html</p>", "utf-8")  # same size
    (folder / "r.html").unlink()
    (folder / "c/d/e/s.html").unlink()
    (folder / "a/d.html").write_text("lạ", "utf-8")
    taken_ns = time.time_ns()
    if child == "fails":  # no answer from a process: the check runs here
        monkeypatch.setattr(record, "_answer_and_exit", lambda fd, task: os._exit(3))
    arguments = (str(folder), entries, {}, taken_ns)
    expected = record.check_output(*arguments)
    assert (expected.unknown, expected.changed, expected.missing) == (
        ["a/d.html"],
        ["a/b/q.html"],
        ["c/d/e/s.html", "r.html"],
    )
    shares = [
        record.check_output(*arguments, share=(index, 2)).listing.files
        for index in range(2)
    ]
    assert shares[0] and shares[1] and not shares[0].keys() & shares[1].keys()
    pending = [
        record.BackgroundCheck(functools.partial(check_share, *arguments, (index, 2)))
        for index in range(2)
    ]
    state = State.__new__(State)
    state.trusted, state.check, state.pending = True, None, pending
    state.arguments = lambda: arguments
    state.old = SimpleNamespace(record_ns=taken_ns + (child == "another record"))
    if child == "another record":  # the manifest was replaced meanwhile
        monkeypatch.setattr(record, "check_output", lambda *a: "checked here")
    got = state.output_check()
    if child == "another record":
        assert got == "checked here"
    else:
        differences = ("unknown", "changed", "missing", "outside")
        assert [getattr(got, n) for n in differences] == [
            getattr(expected, n) for n in differences
        ]
        assert all((p.answer is None) == (child == "fails") for p in pending)
        # The walk comes with the answer: the build brings it up to date.
        assert state.listing().files == expected.listing.files
        assert state.listing().folders == expected.listing.folders
        assert "r.html" not in state.listing().files
    assert state.output_check() is got


@pytest.mark.parametrize("share", [None, (0, 2), (1, 2)])
def test_the_output_check_with_the_recorded_folders_finds_the_same(
    tmp_path, share
) -> None:
    """Folders whose time is as recorded are not read again; what changed in
    place, was added, removed or replaced is found as by reading every folder."""
    from incremental import record

    from portal.files import layout, list_tree

    folder, entries = _small_output(tmp_path)
    old = time.time_ns() - 60_000_000_000
    os.utime(folder, ns=(old, old))
    taken_ns = time.time_ns()
    folders = list_tree(folder).folders
    assert {"a/b", "c/d/e"} <= layout(entries, folders, taken_ns).keys()
    (folder / "a/b/q.html").write_text("<p>A/b/q.html</p>", "utf-8")  # in place
    (folder / "r.html").unlink()
    (folder / "c/d/e/s.html").unlink()
    (folder / "c/d/e/s.html").write_text("<p>C/d/e/s.html</p>", "utf-8")  # new inode
    (folder / "a/d.html").write_text("lạ", "utf-8")
    arguments = (str(folder), entries, {}, taken_ns, share)
    expected = record.check_output(*arguments)
    got = record.check_output(*arguments, folders)
    for name in ("unknown", "changed", "missing"):
        assert getattr(got, name) == getattr(expected, name)
    assert got.listing.files == expected.listing.files
    assert got.listing.folders == expected.listing.folders
    whole = record.check_output(str(folder), entries, {}, taken_ns, None, folders)
    assert (whole.unknown, whole.changed, whole.missing) == (
        ["a/d.html"],
        ["a/b/q.html", "c/d/e/s.html"],
        ["r.html"],
    )


def test_a_check_no_longer_needed_is_stopped(tmp_path) -> None:
    from incremental import record

    pending = record.BackgroundCheck(lambda: time.sleep(30))
    pid = pending.pid
    pending.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # already reaped
    pending.cancel()


@pytest.mark.parametrize(
    "name",
    [
        "index.html",
        "tin-tuc/tong-ket/index.html",
        "linh-vuc/kinh-te/2/index.html",
        "..hai-cham/index.html",
        "a/./b.html",
        "a//b.html",
        "a/../b.html",
        "a/b/",
        ".",
        "./index.html",
        "/tmp/ngoai.html",
        "../ngoai.html",
    ],
)
def test_output_file_is_pelicans_sanitised_join(tmp_path, name) -> None:
    """And located gives the path Build.relative would (fails if it took any name)."""
    from incremental.incremental import Build, IncrementalWriter
    from pelican.utils import sanitised_join

    (tmp_path / "output").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "output")
    for output in (
        str(tmp_path / "output"),
        str(tmp_path) + "/./output/",
        str(tmp_path / "link"),
    ):
        writer = IncrementalWriter(output, settings={"OUTPUT_PATH": output})
        build = SimpleNamespace(output_path=os.path.realpath(output))
        build.relative = functools.partial(Build.relative, build)
        writer.build = build
        try:
            expected = sanitised_join(output, name)
        except RuntimeError:
            with pytest.raises(RuntimeError):
                writer.output_file(name)
            with pytest.raises(RuntimeError):
                writer.located(name)
        else:
            assert writer.output_file(name) == expected
            assert writer.located(name) == (expected, build.relative(expected))


@pytest.mark.parametrize(
    "entry",
    [
        [1, 2],
        (1, 2, "ab"),
        [1, 2, b"ab"],
        [1.0, 2, "ab"],
        [True, 2, "ab"],
        [1, "2", "ab"],
        [1, 2, "ab", "cd"],
    ],
)
def test_a_bad_record_entry_means_a_damaged_manifest(tmp_path, entry) -> None:
    from incremental.incremental import FORMAT, Manifest, write_manifest

    good = [10, 1_700_000_000_000_000_000, "ab" * 32]
    data = {
        "format": FORMAT,
        "global": "g",
        "output": str(tmp_path),
        "nodes": [],
        "pages": {},
        "files": [],
        "extra": {},
        "inputs": {},
        "snapshot_ns": 1,
        "untracked": [],
        "urls": "u",
        "record": {"a.html": good, "b.html": good},
        "record_ns": 2,
        "outside": {"/srv/x.conf": good},
        "folders": {"": 1},
        "date": "",
        "late": [],
    }
    path = str(tmp_path / "incremental.pickle")
    write_manifest(path, data)
    assert Manifest.load(path)[1] is None
    for key in ("record", "outside", "inputs", "folders"):
        write_manifest(path, {**data, key: {**data[key], "c.html": entry}})
        manifest, reason = Manifest.load(path)
        assert reason.startswith("damaged manifest"), (key, entry)
        assert manifest.record == {}


@pytest.mark.parametrize(
    "page",
    [
        ["page.html", [0], "d"],
        ["page.html", [0], "d", None, "x"],
        ("page.html", [0], "d", None),
        [None, [0], "d", None],
        ["page.html", [2], "d", None],
        ["page.html", [-1], "d", None],
        ["page.html", [True], "d", None],
        ["page.html", (0,), "d", None],
        ["page.html", [0], b"d", None],
        ["page.html", [0], "d", 1],
    ],
)
def test_a_bad_page_entry_means_a_damaged_manifest(tmp_path, page) -> None:
    """Page entries are checked a column at a time: each bad one is refused."""
    from incremental.incremental import FORMAT, Manifest, write_manifest

    good = ["page.html", [1], "d", None]
    data = {
        "format": FORMAT,
        "global": "g",
        "output": str(tmp_path),
        "nodes": [[["a", "title"], []], [["n", "article"], [0]]],
        "pages": {"a.html": good, "b.html": ["page.html", [0, 1], "e", "s"]},
        "files": ["a.html", "b.html"],
        "extra": {},
        "inputs": {},
        "snapshot_ns": 1,
        "untracked": [],
        "urls": "u",
        "record": {},
        "record_ns": 2,
        "outside": {},
        "folders": {},
        "date": "",
        "late": ["b.html"],
    }
    path = str(tmp_path / "incremental.pickle")
    write_manifest(path, data)
    manifest, reason = Manifest.load(path)
    assert reason is None and manifest.pages == data["pages"]
    assert manifest.late == {"b.html"}
    write_manifest(path, {**data, "pages": {**data["pages"], "c.html": page}})
    manifest, reason = Manifest.load(path)
    assert reason.startswith("damaged manifest"), page
    assert manifest.pages == {}
    for key, value in (("files", ["a.html", 1]), ("late", ("b.html",))):
        write_manifest(path, {**data, key: value})
        assert Manifest.load(path)[1].startswith("damaged manifest"), key


class FeedItem:
    """A stand-in for an item in a feed; its content holds the site URL."""

    title = url = summary = "x"
    date = None

    def get_content(self, site_url: str) -> str:
        return f'<a href="{site_url}/x/">x</a>'


def test_a_feeds_key_takes_each_items_fields_once_per_site_url() -> None:
    from incremental.incremental import feed_key

    settings, item, memo = {"FEED_MAX_ITEMS": 10}, FeedItem(), {}
    args = ("atom.xml", None, "atom", None)
    keys = [
        feed_key(settings, [item], {"SITEURL": url}, args, memo)
        for url in ("https://a", "https://b", "https://a")
    ]
    assert keys[0] != keys[1], "the memo gave one site URL's content to another"
    assert keys[2] == keys[0]
    assert keys[1] == feed_key(settings, [item], {"SITEURL": "https://b"}, args, {})
    other = FeedItem()
    other.title = "y"
    assert feed_key(settings, [other], {"SITEURL": "https://a"}, args, memo) != keys[0]
