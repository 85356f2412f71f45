"""The sample site builds, covers the schema, and the checks work from the command line."""

import html as htmllib
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import yaml

from tests.conftest import ROOT, model, news

CONTENT = ROOT / "content"


def _front(path: Path) -> dict:
    return yaml.safe_load(path.read_text("utf-8").split("---")[1])


def test_every_sample_item_has_its_page(sample):
    for section, prefix in (("models", "mo-hinh"), ("news", "tin-tuc")):
        for path in sorted((CONTENT / section).glob("*.md")):
            meta = _front(path)
            if meta.get("status") == "draft":
                continue
            slug = meta.get("slug", path.stem)
            html = htmllib.unescape(sample.page(f"{prefix}/{slug}/"))
            assert unicodedata.normalize("NFC", meta["title"]) in html


def test_section_lists_paginate(sample):
    models = len(list((CONTENT / "models").glob("*.md")))
    first = sample.page("mo-hinh/")
    links = re.findall(r'class="card-title"><a href="/mo-hinh/([a-z0-9-]+)/"', first)
    assert len(links) == min(models, 12)
    if models > 12:
        assert 'href="/mo-hinh/2/"' in first
        second = sample.page("mo-hinh/2/")
        assert len(re.findall(r'class="card-title"', second)) == models - 12
        assert 'href="/mo-hinh/"' in second


def test_pages_are_vietnamese_and_urls_ascii(sample):
    for page in sample.output.rglob("*.html"):
        html = page.read_text("utf-8")
        assert '<html lang="vi">' in html
        assert unicodedata.is_normalized("NFC", html)
        assert page.relative_to(sample.output).as_posix().isascii()


def test_home_shows_latest_news(sample):
    assert "Tin mới nhất" in (sample.output / "index.html").read_text("utf-8")


def test_sample_content_covers_the_schema():
    models = [_front(p) for p in (CONTENT / "models").glob("*.md")]
    news_items = [_front(p) for p in (CONTENT / "news").glob("*.md")]
    assert len(models) >= 16 and len(news_items) >= 10
    assert len({m["category"] for m in models}) == 4
    assert len({m["locality"] for m in models}) >= 8
    assert {2016, 2017, 2018, 2019, 2020} <= {m["year"] for m in models}
    assert len({m["kind"] for m in models}) == 3
    conference = [
        n
        for n in news_items
        if "04 không" in n.get("title", "") + str(n) and n.get("models")
    ]
    assert conference, "the conference news must link the models it names"


def test_sample_files_are_nfc_utf8():
    for path in CONTENT.rglob("*.md"):
        text = path.read_text("utf-8")
        assert unicodedata.is_normalized("NFC", text), path


def _check(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "portal.check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def test_check_passes_on_the_sample_content():
    result = _check("content")
    assert result.returncode == 0, result.stdout
    assert re.search(r"Đã kiểm tra \d+ tệp: 0 lỗi", result.stdout)


def test_check_reports_every_error_and_fails(site):
    site.write("models/a.md", model(locality="Phan Thiet"))
    site.write("news/b.md", news(models=["a", "khong-co"]))
    result = _check(str(site.content), "--data", str(ROOT / "data"), cwd=site.root)
    assert result.returncode == 1
    assert "LỖI content/models/a.md:4: locality:" in result.stdout
    assert (
        "LỖI content/news/b.md:5: models: không có mô hình “khong-co”" in result.stdout
    )
    # Model "a" has its own error: the news item is only warned, naming that file.
    assert (
        "CẢNH BÁO content/news/b.md:5: models: mô hình “a” đang có lỗi riêng"
        " trong tệp content/models/a.md" in result.stdout
    )
    assert "Đã kiểm tra 2 tệp: 2 lỗi, 1 cảnh báo." in result.stdout


def test_check_writes_github_annotations(site):
    site.write("models/a.md", model(locality="Phan Thiet"))
    result = _check(
        str(site.content), "--data", str(ROOT / "data"), "--github", cwd=site.root
    )
    assert result.returncode == 1
    assert (
        "::error file=content/models/a.md,line=4::content/models/a.md:4: locality:"
        in result.stdout
    )


def test_make_check_fails_on_bad_content(site):
    site.write("news/b.md", news(date="hôm qua"))
    result = subprocess.run(
        ["make", "-s", "check", f"CONTENT={site.content}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "date: “hôm qua” không phải một ngày hợp lệ" in result.stdout


def test_the_home_page_loads_in_a_real_browser(sample, browser):
    from tests.browser import artifact, serve_directory

    errors = []
    with serve_directory(sample.output) as base:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = page.goto(f"{base}/")
        assert response.status == 200
        assert page.locator("#tin-moi-nhat").inner_text() == "Tin mới nhất"
        page.screenshot(path=artifact("home-foundation-375.png"), full_page=True)
        page.close()
    assert errors == []
