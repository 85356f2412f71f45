"""Each case of issue 14, as an editor or an operator would meet it, with real builds.

The rule: after any sequence of builds the output is byte-identical to a clean
build of the same inputs and settings (Pagefind's own files excepted: their
search results are checked instead).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, _env, model, news, pelican_command
from tests.test_rebuild_property import World
from tests.test_rebuild_property import tree as property_tree

SEARCH_OFF = {"SEARCH": {"enabled": False}}


class Site:
    """A small site with its profiles' caches, built with the real commands."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.content = root / "content"
        self.output = root / "output"
        self.write("models/giu-rung.md", model(title="Giữ rừng", locality="La Gi"))
        self.write("models/cho-dan-sinh.md", model(title="Chợ dân sinh"))
        self.write("news/tong-ket.md", news(title="Tổng kết"))
        self.write("news/hoi-nghi.md", news(title="Hội nghị", date="2022-03-04"))
        self.write("pages/gioi-thieu.md", "---\ntitle: Giới thiệu\n---\nTrang.\n")

    def write(self, rel: str, text: str) -> Path:
        path = self.content / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        return path

    def build(
        self,
        conf: str = "pelicanconf.py",
        output: Path | None = None,
        env: dict | None = None,
        profile: str = "html",
        **settings,
    ) -> subprocess.CompletedProcess:
        """Run `pelican` like `make html` (or devconf.py like `make devserver`)."""
        settings = {"CACHE_PATH": str(self.root / "cache" / profile), **settings}
        return subprocess.run(
            pelican_command(self.content, output or self.output, conf, settings),
            cwd=self.root,
            capture_output=True,
            text=True,
            env={**_env(), **(env or {})},
            timeout=300,
        )

    def publish(
        self, env: dict | None = None, **settings
    ) -> subprocess.CompletedProcess:
        """Run `python -m portal.publish` like `make publish`."""
        settings = {"CACHE_PATH": str(self.root / "cache" / "publish"), **settings}
        command = [
            sys.executable,
            "-m",
            "portal.publish",
            "--content",
            str(self.content),
        ]
        command += ["--output", str(self.output), "-s", str(ROOT / "publishconf.py")]
        command += ["--", "-e", *[f"{k}={json.dumps(v)}" for k, v in settings.items()]]
        return subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**_env(), **(env or {})},
            timeout=300,
        )

    def report(self, profile: str = "html") -> dict:
        return json.loads(
            (self.root / "cache" / profile / "incremental-report.json").read_text()
        )


def tree(folder: Path, skip: str = "pagefind/") -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.relative_to(folder).as_posix().startswith(skip)
    }


def assert_clean(site: Site, conf: str = "pelicanconf.py", env=None, **settings):
    """Assert the output equals a clean build of the same inputs (Pagefind aside)."""
    clean = site.root / "clean"
    result = subprocess.run(
        pelican_command(
            site.content,
            clean,
            conf,
            {"CACHE_PATH": str(site.root / "clean-cache"), **settings},
        ),
        cwd=site.root,
        capture_output=True,
        text=True,
        env={**_env(), **(env or {})},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    got, want = tree(site.output), tree(clean)
    assert sorted(set(got) ^ set(want)) == []
    assert [n for n in got if got[n] != want[n]] == []


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def test_devserver_drafts_never_reach_the_html_build(site: Site) -> None:
    site.write("news/nhap.md", news(title="Bản nháp bí mật", status="draft"))
    ok(site.build(**SEARCH_OFF))
    # Even into the same folder (make devserver uses output-dev/): a draft page
    # and lists that show it, written by another profile.
    ok(site.build("devconf.py", profile="dev", **SEARCH_OFF))
    assert "Bản nháp bí mật" in (site.output / "index.html").read_text("utf-8")
    ok(site.build(**SEARCH_OFF))
    assert site.report()["cleaned"] > 0
    assert "Bản nháp bí mật" not in (site.output / "index.html").read_text("utf-8")
    assert_clean(site, **SEARCH_OFF)


def test_make_devserver_has_its_own_output_and_cache() -> None:
    command = subprocess.run(
        ["make", "-n", "devserver", "STAMP=Makefile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-o output-dev " in command and "-s devconf.py" in command
    dev = get_settings_of("devconf.py")
    assert Path(dev["CACHE_PATH"]).parts[-2:] == ("cache", "dev")
    assert Path(get_settings_of("pelicanconf.py")["CACHE_PATH"]).parts[-1] == "html"


def get_settings_of(conf: str) -> dict:
    from pelican.settings import read_settings

    return read_settings(str(ROOT / conf))


def fragments_text(output: Path) -> str:
    """Return the text of every Pagefind fragment (what search results show)."""
    texts = []
    for path in sorted((output / "pagefind" / "fragment").glob("*")):
        texts.append(gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))
    return "\n".join(texts)


def test_a_failed_build_keeps_the_record_and_a_retraction_leaves_nothing(
    site: Site,
) -> None:
    retracted = site.write(
        "news/rut-lai.md", news(title="Tin rút lại", summary="Chữ riêng: xylophon.")
    )
    ok(site.build())
    assert (site.output / "tin-tuc" / "rut-lai" / "index.html.gz").is_file()
    assert "xylophon" in fragments_text(site.output)
    broken = site.write("news/hong.md", "---\ntitle: Hỏng\ndate: không phải\n---\n")
    failed = site.build()
    assert failed.returncode != 0
    assert (site.root / "cache" / "html" / "incremental.pickle").is_file()
    broken.unlink()
    retracted.unlink()
    ok(site.build())
    gone = [n for n in tree(site.output) if "rut-lai" in n]
    assert gone == []
    assert "xylophon" not in fragments_text(site.output)
    assert "rut-lai" not in (site.output / "counter-pages.json").read_text("utf-8")
    assert_clean(site)


def test_an_output_changed_beside_an_edit_is_still_put_right(site: Site) -> None:
    # With content edited, the output is checked by another process while the
    # content is read: its answer must still reach the build.
    ok(site.build(**SEARCH_OFF))
    page = site.output / "tin-tuc" / "tong-ket" / "index.html"
    missing = site.output / "gioi-thieu" / "index.html"
    before = {page: page.read_bytes(), missing: missing.read_bytes()}
    page.write_bytes(before[page].replace(b"<", b"{", 1))  # same size
    (site.output / "la.html").write_text("không ai viết tệp này", "utf-8")
    missing.unlink()
    site.write("models/cho-dan-sinh.md", model(title="Chợ dân sinh mới"))
    ok(site.build(**SEARCH_OFF))
    assert site.report()["cleaned"] == 2
    assert not (site.output / "la.html").exists()
    assert {path: path.read_bytes() for path in before} == before


def test_environment_settings_are_inputs(site: Site) -> None:
    ok(site.build(**SEARCH_OFF))
    counter = {"COUNTER_URL": "http://127.0.0.1:8787"}
    ok(site.build(env=counter, **SEARCH_OFF))
    report = site.report()
    assert not report.get("nothing_changed") and report["full"], report["reason"]
    assert "127.0.0.1:8787" in (site.output / "index.html").read_text("utf-8")
    assert_clean(site, env=counter, **SEARCH_OFF)
    ok(site.build(**SEARCH_OFF))
    assert "127.0.0.1:8787" not in (site.output / "index.html").read_text("utf-8")
    assert_clean(site, **SEARCH_OFF)


def test_publish_after_html_has_the_production_urls(site: Site) -> None:
    ok(site.publish(**SEARCH_OFF))
    ok(site.build(**SEARCH_OFF))
    ok(site.publish(env={"COUNTER_URL": "https://dem.example"}, **SEARCH_OFF))
    home = (site.output / "index.html").read_text("utf-8")
    assert "https://danvankheo.binhthuan.example/tin-tuc/" in home
    csp = site.root / "output-server" / "csp.conf"  # the server's files, beside it
    assert "https://dem.example" in csp.read_text("utf-8")
    csp.unlink()  # a server file the record knows: missing means a build
    ok(site.publish(env={"COUNTER_URL": "https://dem.example"}, **SEARCH_OFF))
    assert "https://dem.example" in csp.read_text("utf-8")
    assert_clean(
        site, "publishconf.py", env={"COUNTER_URL": "https://dem.example"}, **SEARCH_OFF
    )


def test_deleted_site_files_come_back(site: Site) -> None:
    ok(site.build(SITEURL="https://dvk.example"))  # a sitemap needs the site's URL
    record = tree(site.output, skip="\0")
    for name in ("robots.txt", "sitemap.xml", "counter-pages.json"):
        (site.output / name).unlink()
    for path in sorted((site.output / "pagefind").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (site.output / "pagefind").rmdir()
    ok(site.build(SITEURL="https://dvk.example"))
    assert not site.report().get("nothing_changed")
    again = tree(site.output, skip="\0")
    for name in ("robots.txt", "sitemap.xml", "counter-pages.json"):
        assert again[name] == record[name]
    assert (site.output / "pagefind" / "pagefind.js").is_file()


def test_a_plugin_that_fails_to_load_fails_the_build(site: Site) -> None:
    plugins = ["frontmatter", "sections", "khong_co_plugin", "incremental"]
    result = site.build(PLUGINS=plugins, **SEARCH_OFF)
    assert result.returncode != 0
    assert (
        "khong_co_plugin" in result.stderr and "Không nạp được plugin" in result.stderr
    )


def test_the_dev_server_reports_an_editors_error_and_keeps_watching(site: Site) -> None:
    site.write("news/hong.md", "---\ntitle: Hỏng\ndate: không phải\n---\n")
    settings = {"CACHE_PATH": str(site.root / "cache" / "dev"), **SEARCH_OFF}
    command = pelican_command(site.content, site.output, "pelicanconf.py", settings)
    process = subprocess.Popen(
        [*command, "--autoreload"],
        cwd=site.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not any("Caught exception" in ln for ln in lines):
            assert process.poll() is None, "the dev server stopped: " + "".join(lines)
            assert time.monotonic() < deadline, "no message: " + "".join(lines)
            time.sleep(0.2)
        time.sleep(1)
        seen = "".join(lines)
        assert "hong.md" in seen, seen
        assert process.poll() is None, "the dev server stopped after the error"
        assert "Traceback" not in seen
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_an_untested_pelican_means_a_full_build_from_an_empty_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from incremental import incremental

    world = World(tmp_path)
    assert world.build("html", world.output, tmp_path).returncode == 0
    expected = property_tree(world.output)
    (world.output / "la.html").write_text("không phải của bản dựng", "utf-8")
    monkeypatch.setattr(incremental, "pelican_version", "4.11.0")
    with caplog.at_level(logging.WARNING):
        assert world.build("html", world.output, tmp_path).returncode == 0
    assert "Pelican 4.11.0 is outside the tested range" in caplog.text
    report = json.loads((tmp_path / "cache/html/incremental-report.json").read_text())
    assert report["full"] and "4.11.0" in report["reason"]
    assert report["cleaned"] > 1
    assert property_tree(world.output) == expected


@pytest.mark.parametrize("dated", [True, False])
def test_the_build_date_is_an_input_when_the_output_depends_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dated: bool
) -> None:
    world = World(tmp_path)
    world.overrides = {"WITH_FUTURE_DATES": not dated}
    report_path = tmp_path / "cache/html/incremental-report.json"
    for day in ("2026-03-01", "2026-03-01", "2026-03-02"):
        monkeypatch.setenv("BUILD_DATE", day)
        assert world.build("html", world.output, tmp_path).returncode == 0
    report = json.loads(report_path.read_text())
    if dated:
        assert report["full"]
        assert report["reason"] == "the build date changed (2026-03-01 → 2026-03-02)"
    else:
        assert report.get("nothing_changed") is True


@pytest.mark.parametrize("edited", ["models/giu-rung.md", "news/hoi-nghi.md"])
def test_a_body_edit_renders_again_every_page_that_shows_the_body(
    site: Site, tmp_path: Path, edited: str
) -> None:
    """A list card showing each item's body: a body edit changes the lists.

    Build.quiet_mask keeps, without replaying, the pages that read no item whose
    body changed: a list page reads its items through their cards, so it is
    replayed (and rendered) as its item page is. Keyed on the page's own item
    only, the lists here would stay stale.
    """
    theme = tmp_path / "theme"
    shutil.copytree(ROOT / "theme", theme)
    card = theme / "templates" / "partials" / "card.html"
    text = card.read_text("utf-8")
    body = '<p class="card-body-text">{{ item.content|striptags|truncate(60) }}</p>'
    card.write_text(text.replace("</article>", body + "\n</article>"), "utf-8")
    ok(site.build(THEME=str(theme), **SEARCH_OFF))
    path = site.content / edited
    path.write_text(path.read_text("utf-8") + "Đoạn mới thêm vào thân bài.\n", "utf-8")
    ok(site.build(THEME=str(theme), **SEARCH_OFF))
    report = site.report()
    assert report["read"] == [edited] and report["quick"] > 0, report
    lists = [n for n in report["rendered"] if n.count("/") < 3 and n != "index.html"]
    assert lists, report["rendered"]  # the section or term lists showing the card
    assert_clean(site, THEME=str(theme), **SEARCH_OFF)


def test_an_addition_renders_few_list_pages_even_when_it_opens_a_page_and_a_year(
    site: Site,
) -> None:
    """Add the newest model when its lists are full and its year is new: few pages change."""
    from pelicanconf import TAXONOMIES

    small = {
        "SECTIONS": {"models": {"per_page": 2}, "news": {"per_page": 2}},
        "TAXONOMIES": {
            name: {**options, "per_page": 2} for name, options in TAXONOMIES.items()
        },
        **SEARCH_OFF,
    }
    for day in range(1, 9):  # 10 models: every list of two is full
        site.write(
            f"models/mo-hinh-{day}.md",
            model(title=f"Mô hình số {day}", year=2023, date=f"2023-03-0{day}"),
        )
    ok(site.build(**small))
    site.write(
        "models/mo-hinh-moi.md",
        model(title="Mô hình mới nhất", year=2024, date="2024-01-02"),
    )
    ok(site.build(**small))
    rendered = site.report()["rendered"]
    lists = {}
    for rel in rendered:
        parts = rel.split("/")
        if len(parts) >= 3 and parts[-2].isdigit() and int(parts[-2]) < 1000:
            lists.setdefault("/".join(parts[:-2]), []).append(rel)
    # Per list: the page the addition opens and the one before it, at most; the
    # year 2023's older pages keep their bytes although the year 2024 appeared.
    assert all(len(pages) <= 2 for pages in lists.values()), lists
    assert not [rel for rel in rendered if rel.startswith("nam/2023/")][1:], rendered
    assert_clean(site, **small)
