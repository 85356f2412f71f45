"""The theme on the real sample content: valid HTML, links, feeds, SEO, accessibility.

Two module-scoped builds: the development one (root-relative URLs) is served to
headless Chromium; the publishing one (absolute URLs, feeds, sitemap) is checked
as files.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser import artifact, require_program, serve_directory
from tests.conftest import ROOT, Site, build_sample, get_settings

CONTENT = ROOT / "content"
SITEURL = "https://danvankheo.example"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"  # Nu validator
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _build(tmp_path_factory, name: str, conf: str, **settings) -> Site:
    """Build the real sample content once into a temporary folder."""
    return build_sample(tmp_path_factory, name, conf, **settings)


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> Site:
    """The sample site as `make html` builds it."""
    return _build(tmp_path_factory, "dev", "pelicanconf.py")


@pytest.fixture(scope="module")
def pub(tmp_path_factory, monkeypatch_module) -> Site:
    """The sample site as `make publish` builds it, for a known SITEURL."""
    monkeypatch_module.setenv("SITEURL", SITEURL)
    return _build(tmp_path_factory, "pub", "publishconf.py")


@pytest.fixture(scope="module")
def monkeypatch_module():
    """A monkeypatch that lasts for the module."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch


class Page(HTMLParser):
    """Collect what the tests look at in one HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)

    def handle_data(self, data):
        if self._script is not None:
            self.scripts.append((self._script, data))

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def find(self, tag: str, **attrs) -> list[dict]:
        """Return the attributes of every `tag` whose attributes include `attrs`."""
        return [
            a
            for t, a in self.tags
            if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]

    def meta(self, prop: str) -> str | None:
        """Return the content of a <meta property=…> or <meta name=…>."""
        found = self.find("meta", property=prop) or self.find("meta", name=prop)
        return found[0]["content"] if found else None


def _pages(site: Site) -> list[Path]:
    return sorted(site.output.rglob("*.html"))


def _section(html: str, heading_id: str) -> str:
    """Return the HTML of the <section> labelled by `heading_id`."""
    match = re.search(
        rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', html, re.S
    )
    assert match, f"no section {heading_id}"
    return match.group(0)


def _news_urls() -> list[str]:
    return [f"tin-tuc/{p.stem}/" for p in sorted((CONTENT / "news").glob("*.md"))]


# ---------------------------------------------------------------- output tests


def test_every_page_passes_the_nu_html_validator(pub):
    require_program("java", "default-jre-headless")
    if not VNU.exists():
        pytest.skip("needs npm package vnu-jar: run `make test-deps` (npm ci)")
    result = subprocess.run(
        ["java", "-jar", str(VNU), "--skip-non-html", "--errors-only", "--format"]
        + ["text", str(pub.output)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _local_target(site: Site, url: str, base: str) -> Path | None:
    """Map an internal URL to the file it must resolve to (None if external)."""
    if url.startswith(base + "/"):
        url = url[len(base) :]
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    path = site.output / parts.path.lstrip("/")
    return path / "index.html" if parts.path.endswith("/") else path


def test_every_internal_link_and_image_resolves_and_images_have_alt(pub):
    broken, no_alt = [], []
    for file in _pages(pub):
        page = Page(file.read_text("utf-8"))
        urls = [a.get("href") for t, a in page.tags if t in ("a", "link")]
        urls += [a.get("src") for t, a in page.tags if t in ("img", "script")]
        for t, a in page.tags:
            if t in ("img", "source") and a.get("srcset"):
                urls += [part.split()[0] for part in a["srcset"].split(",")]
            if t == "img" and not (a.get("alt") or "").strip():
                no_alt.append(f"{file.name}: {a.get('src')}")
        for url in filter(None, urls):
            target = _local_target(pub, url, SITEURL)
            if target is not None and not target.exists():
                broken.append(f"{file.relative_to(pub.output)} -> {url}")
    assert broken == []
    assert no_alt == []


def test_pages_load_nothing_from_another_origin(pub):
    foreign = []
    for file in _pages(pub):
        page = Page(file.read_text("utf-8"))
        for tag, attrs in page.tags:
            url = attrs.get("src") or (attrs.get("href") if tag == "link" else None)
            if tag == "link" and attrs.get("rel") in ("canonical", "alternate"):
                continue
            if url and urlsplit(url).netloc and not url.startswith(SITEURL):
                foreign.append(f"{file.name}: <{tag}> {url}")
    assert foreign == []


def test_pages_satisfy_the_content_security_policy(pub):
    for file in _pages(pub):
        text = file.read_text("utf-8")
        page = Page(text)
        assert "<style" not in text, file
        for tag, attrs in page.tags:
            assert "style" not in attrs, f"{file}: style attribute on <{tag}>"
            assert not any(k.startswith("on") for k in attrs), f"{file}: <{tag}>"
        for attrs, _ in page.scripts:
            assert attrs.get("type") == "application/ld+json" or attrs.get("src"), file


def test_news_pages_show_other_news_newest_first_never_itself(pub):
    for url in _news_urls():
        html = pub.page(url)
        others = _section(html, "cac-tin-khac")
        assert "<h2" in others and "Các tin khác" in others
        links = re.findall(r'<a href="([^"]+)"', others)
        assert links, url
        assert f"{SITEURL}/{url}" not in links
        dates = re.findall(r'<time datetime="([^"]+)"', others)
        assert dates == sorted(dates, reverse=True)


def test_news_page_shows_date_lead_and_models(pub):
    html = pub.page("tin-tuc/phat-dong-nam-dan-van-kheo-2020-voi-noi-dung-04-khong/")
    assert '<time datetime="2020-02-20T00:00:00+07:00">Thứ Năm, 20/02/2020</time>' in (
        html
    )
    assert re.search(r'<p class="lead">Ban Thường vụ Tỉnh ủy phát động', html)
    weekday = r"(Thứ (Hai|Ba|Tư|Năm|Sáu|Bảy)|Chủ nhật), \d\d/\d\d/\d{4}</time>"
    assert len(re.findall(weekday, pub.page("tin-tuc/"))) == 12
    conference = pub.page(
        "tin-tuc/hoi-nghi-tong-ket-phong-trao-thi-dua-dan-van-kheo-2016-2020/"
    )
    models = _section(conference, "mo-hinh-nhac-den")
    assert f'href="{SITEURL}/mo-hinh/doi-rac-thai-nhua-lay-khau-trang-y-te/"' in models


def test_model_page_shows_facts_news_and_related_models(pub):
    url = "mo-hinh/doi-rac-thai-nhua-lay-khau-trang-y-te/"
    html = pub.page(url)
    facts = re.search(r'<aside class="facts".*?</aside>', html, re.S).group(0)
    for label, value in (
        ("Lĩnh vực", "Văn hóa – xã hội"),
        ("Địa bàn", "Phan Thiết"),
        ("Năm", "2020"),
        ("Hình thức", "Mô hình"),
        ("Đơn vị thực hiện", "Hội Liên hiệp Phụ nữ phường Đức Thắng"),
    ):
        assert re.search(rf"<dt>{label}</dt><dd>(<a [^>]+>)?{value}<", facts), label
    assert "phan-thiet-nhan-rong" in _section(html, "tin-ve-mo-hinh")
    related = _section(html, "mo-hinh-lien-quan")
    cards = re.findall(
        r'<p class="meta"><span class="tag">([^<]+)</span> ([^·]+) ·', related
    )
    assert cards and len(cards) <= 6
    assert f"{SITEURL}/{url}" not in related
    for field, locality in cards:
        assert field == "Văn hóa – xã hội" or locality.strip() == "Phan Thiết"


def test_gallery_cards_show_field_locality_and_year(pub):
    html = pub.page("mo-hinh/")
    cards = re.findall(r'<article class="card card-model">.*?</article>', html, re.S)
    assert len(cards) == 12
    for card in cards:
        assert re.search(r'<h2 class="card-title"><a href="[^"]+">[^<]+</a></h2>', card)
        assert re.search(r'<span class="tag">[^<]+</span> [^<]+ · 20\d\d</p>', card)
    assert 'rel="next" href="' in html and f'href="{SITEURL}/mo-hinh/2/"' in html


def test_home_has_latest_news_call_outs_and_models(pub):
    html = pub.page("")
    latest = _section(html, "tin-moi-nhat")
    assert len(re.findall(r'class="card-title"', latest)) == 6
    callouts = _section(html, "tieu-diem")
    assert "04 không" in htmllib.unescape(callouts)  # a `featured` news item
    assert "Mô hình, điển hình tiêu biểu" in html
    assert "Mô hình, điển hình mới" in html


def test_footer_shows_the_agency_from_settings(pub):
    agency = get_settings()["AGENCY"]
    footer = pub.page("gioi-thieu/").split('<footer class="site-footer">')[1]
    for key in ("name", "governing_body", "address", "phone", "email", "licence"):
        assert agency[key] in footer, key
    assert f"Chịu trách nhiệm nội dung: {agency['responsible']}" in footer


@pytest.mark.parametrize("url", ["gioi-thieu/", "lien-he/"])
def test_about_and_contact_pages_are_in_the_menu(pub, url):
    home = pub.page("")
    nav = home.split('aria-label="Chuyên mục"')[1].split("</nav>")[0]
    assert f'href="{SITEURL}/{url}"' in nav
    assert "<h1>" in pub.page(url)


def test_news_page_has_canonical_open_graph_and_news_article_json_ld(pub):
    url = "tin-tuc/phat-dong-nam-dan-van-kheo-2020-voi-noi-dung-04-khong/"
    page = Page(pub.page(url))
    assert page.find("link", rel="canonical")[0]["href"] == f"{SITEURL}/{url}"
    title = "Phát động “Năm Dân vận khéo” 2020 với nội dung “04 không”"
    assert page.meta("og:title") == title
    assert page.meta("og:type") == "article"
    assert page.meta("og:url") == f"{SITEURL}/{url}"
    assert page.meta("og:locale") == "vi_VN"
    assert page.meta("og:description").startswith("Ban Thường vụ Tỉnh ủy")
    (data,) = [json.loads(text) for _, text in page.scripts]
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == title
    assert data["datePublished"].startswith("2020-02-20")
    assert data["mainEntityOfPage"] == f"{SITEURL}/{url}"


def test_feeds_all_news_and_models(pub):
    counts = {}
    for path, prefix in (
        ("atom.xml", ""),
        ("tin-tuc/atom.xml", "tin-tuc/"),
        ("mo-hinh/atom.xml", "mo-hinh/"),
    ):
        feed = ET.parse(pub.output / path).getroot()
        links = [e.find(f"{ATOM}link").get("href") for e in feed.iter(f"{ATOM}entry")]
        assert links and all(link.startswith(f"{SITEURL}/{prefix}") for link in links)
        counts[path] = len(links)
    assert counts["tin-tuc/atom.xml"] == len(_news_urls())
    head = Page(pub.page(""))
    feeds = {a["href"] for a in head.find("link", rel="alternate")}
    assert {f"{SITEURL}/atom.xml", f"{SITEURL}/tin-tuc/atom.xml"} <= feeds


def test_sitemap_lists_every_page_with_lastmod_and_robots_points_at_it(pub):
    root = ET.parse(pub.output / "sitemap.xml").getroot()
    entries = {
        u.find(f"{SITEMAP}loc").text: u.find(f"{SITEMAP}lastmod")
        for u in root.iter(f"{SITEMAP}url")
    }
    for url in _news_urls() + ["", "mo-hinh/", "tin-tuc/", "gioi-thieu/"]:
        assert f"{SITEURL}/{url}" in entries, url
    news = entries[f"{SITEURL}/tin-tuc/phu-quy-chung-tay-giu-sach-bien-dao/"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", news.text)
    robots = (pub.output / "robots.txt").read_text("utf-8")
    assert f"Sitemap: {SITEURL}/sitemap.xml" in robots


def test_404_page_at_the_root_with_links_that_work_anywhere(dev):
    html = (dev.output / "404.html").read_text("utf-8")
    assert "Không tìm thấy trang" in html
    links = re.findall(r'(?:href|src)="([^"]+)"', html)
    assert links and all(
        link.startswith(("/", "#", "tel:", "mailto:")) for link in links
    )


def test_development_build_writes_feeds_and_sitemap_for_the_local_server(dev):
    # Absolute addresses of `make serve` (tests/test_overview.py checks them).
    assert (dev.output / "sitemap.xml").exists()
    assert (dev.output / "tin-tuc" / "atom.xml").exists()
    robots = (dev.output / "robots.txt").read_text("utf-8")
    assert "Sitemap: http://127.0.0.1:8000/sitemap.xml" in robots
    assert 'rel="canonical"' not in dev.page("")


def test_index_pages_of_the_taxonomy_plugin(pub):
    if not (pub.output / "linh-vuc" / "index.html").exists():
        pytest.skip("the taxonomy plugin is not in this build")
    overview = pub.page("linh-vuc/")
    assert "<h1>" in overview and 'aria-label="Đường dẫn"' in overview
    model = pub.page("mo-hinh/doi-rac-thai-nhua-lay-khau-trang-y-te/")
    facts = re.search(r'<aside class="facts".*?</aside>', model, re.S).group(0)
    assert f'href="{SITEURL}/linh-vuc/' in facts


# --------------------------------------------------------------- browser tests

PAGES = {
    "home": "",
    "news": "tin-tuc/phat-dong-nam-dan-van-kheo-2020-voi-noi-dung-04-khong/",
    "model": "mo-hinh/doi-rac-thai-nhua-lay-khau-trang-y-te/",
    "gallery": "mo-hinh/",
    "index": "linh-vuc/",
    "timeline": "nam/",
    "statistics": "thong-ke/",
    "search": "tim-kiem/",
}


@pytest.fixture(scope="module")
def served(dev):
    """Serve the development build on 127.0.0.1 for the module."""
    with serve_directory(dev.output) as base:
        yield base


@pytest.mark.browser
@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("name", list(PAGES))
def test_page_in_chromium_is_clean_accessible_and_fits(
    dev, served, browser, name, width
):
    url = PAGES[name]
    if not (dev.output / url / "index.html").exists():
        pytest.skip(f"/{url} is not in this build (its plugin is not merged)")
    if not AXE.exists():
        pytest.skip("needs npm package axe-core: run `make test-deps` (npm ci)")
    errors, failed = [], []
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on(
        "response",
        lambda response: response.status >= 400 and failed.append(response.url),
    )
    # Through the DevTools protocol, so the page's own CSP need not allow it.
    page.add_init_script(path=str(AXE))
    try:
        assert page.goto(f"{served}/{url}").status == 200
        page.screenshot(path=artifact(f"theme-{name}-{width}.png"), full_page=True)
        result = page.evaluate(
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => r.violations.map(v => [v.id, v.nodes.map(n => n.target)]))"
        )
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - window.innerWidth"
        )
        header = page.evaluate("document.querySelector('.site-header').offsetHeight")
        # Each breadcrumb item keeps its "›" with its text: one box, never "›" alone.
        crumbs = page.evaluate(
            "[...document.querySelectorAll('.breadcrumbs li')].map("
            "li => li.getClientRects().length === 1 && li.offsetWidth > 20)"
        )
    finally:
        page.close()
    assert errors == []
    assert [u for u in failed if u.startswith(served)] == []
    assert result == []
    assert overflow <= 0
    assert width > 375 or header < 120  # one row and a menu button on phones
    assert all(crumbs)


@pytest.mark.browser
def test_keyboard_reaches_the_skip_link_first_and_it_moves_focus(served, browser):
    page = browser.new_page(viewport={"width": 375, "height": 800})
    try:
        page.goto(f"{served}/{PAGES['news']}")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        assert focused == "Bỏ qua, đến nội dung chính"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "noi-dung"
    finally:
        page.close()


@pytest.mark.browser
def test_site_is_usable_without_javascript(served, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{served}/")
        page.get_by_role("navigation", name="Chuyên mục").get_by_role(
            "link", name="Mô hình, điển hình"
        ).click()
        assert page.locator("h1").inner_text() == "Mô hình, điển hình"
        page.get_by_role("link", name="Trang sau").click()
        assert page.url == f"{served}/mo-hinh/2/"
        page.locator(".card-title a").first.click()
        assert page.locator("aside.facts").is_visible()
    finally:
        context.close()


@pytest.mark.browser
def test_print_stylesheet_hides_navigation(served, browser):
    page = browser.new_page()
    try:
        page.goto(f"{served}/{PAGES['news']}")
        page.emulate_media(media="print")
        assert page.locator(".site-nav").is_hidden()
        assert page.locator("h1").is_visible()
    finally:
        page.close()


def test_theme_uses_only_system_fonts_and_no_script():
    css = (ROOT / "theme" / "static" / "css" / "site.css").read_text("utf-8")
    assert "@font-face" not in css and "@import" not in css and "url(" not in css
    assert "@media print" in css
    # The theme runs only our own scripts: the counter's, the search's, the share buttons'.
    scripts = {p.name for p in (ROOT / "theme" / "static").rglob("*.js")}
    assert scripts <= {"counter.js", "search.js", "share.js"}


def test_only_item_pages_mark_their_article_for_the_search_index(pub):
    for url in (PAGES["news"], PAGES["model"]):
        html = pub.page(url)
        assert html.count("data-pagefind-body") == 1
        body = html.split("data-pagefind-body")[1].split("</article>")[0]
        assert 'class="card' not in body and "Các tin khác" not in body
    for url in ("", "mo-hinh/", "tin-tuc/", "gioi-thieu/"):
        assert "data-pagefind-body" not in pub.page(url)
