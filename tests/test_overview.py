"""Issue 19: the reader's overview (statistics, index cards, counts, cards, layout, sharing, feeds).

Output checks read the shared `sample` build (`make html` settings); browser checks
serve it once to Debian's headless Chromium, at 375 and 1280 px.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from statistics_page import charts
from statistics_page.statistics_page import OptionsError, count_figures, get_options

from portal.feeds import LOCAL_SITEURL, absolute_site_url
from portal.jinja import card_heading, initials, nbsp_dash
from tests.browser import artifact, serve_directory
from tests.conftest import ROOT

CONTENT = ROOT / "content"
CSS = ROOT / "theme" / "static" / "css" / "site.css"
ATOM = "{http://www.w3.org/2005/Atom}"
MODEL = "mo-hinh/doi-rac-thai-nhua-lay-khau-trang-y-te/"
NEWS = "tin-tuc/hoi-nghi-tong-ket-phong-trao-thi-dua-dan-van-kheo-2016-2020/"
N_MODELS = len(list((CONTENT / "models").glob("*.md")))
N_NEWS = len(list((CONTENT / "news").glob("*.md")))


def _field(text: str, name: str) -> str:
    """Return a front matter field's value from a content file's text."""
    match = re.search(rf"^{name}: *(.+)$", text, re.M)
    return match.group(1).strip() if match else ""


def _models() -> list[dict[str, str]]:
    """Return the year and whether it has an image, of every sample model."""
    rows = []
    for path in sorted((CONTENT / "models").glob("*.md")):
        text = path.read_text("utf-8")
        rows.append({"year": _field(text, "year"), "image": _field(text, "image")})
    return rows


# ------------------------------------------------------------- units


def test_nbsp_dash_keeps_year_ranges_together_and_markup_safe():
    from markupsafe import Markup

    assert nbsp_dash("giai đoạn 2016 – 2020") == "giai đoạn 2016\u00a0– 2020"
    marked = nbsp_dash(Markup("<b>2016</b> — 2020"))
    assert isinstance(marked, Markup) and marked == Markup("<b>2016</b>\u00a0— 2020")
    assert nbsp_dash("Kinh tế-xã hội") == "Kinh tế-xã hội"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Đổi rác thải nhựa", "ĐR"),
        ("“Nâng bước em tới trường”", "NB"),
        ("Tổ “Phụ nữ nói không”", "TP"),
    ],
)
def test_initials_of_a_title(title, expected):
    assert initials(title) == expected


CARD = (
    '<article class="card"><div class="card-body"><h3 class="card-title">'
    '<a href="/mo-hinh/a/">A &lt;/h3&gt; – B</a></h3><p class="card-summary">'
    "<h3>Tóm tắt</h3></p></div></article>"
)


@pytest.mark.parametrize("tag", ["h2", "h3", "h4"])
def test_card_heading_changes_only_the_title_tag(tag):
    from markupsafe import Markup

    moved = card_heading(Markup(CARD), tag)
    assert isinstance(moved, Markup)
    assert moved == CARD.replace(
        '<h3 class="card-title"><a href="/mo-hinh/a/">A &lt;/h3&gt; – B</a></h3>',
        f'<{tag} class="card-title"><a href="/mo-hinh/a/">A &lt;/h3&gt; – B</a></{tag}>',
    )
    assert moved.count("<h3>Tóm tắt</h3>") == 1  # a summary's own heading is kept


@pytest.mark.parametrize(
    ("card", "tag"),
    [(CARD, "h7"), (CARD, 'h2 onclick="x"'), ("<article>no title</article>", "h2")],
)
def test_card_heading_refuses_a_tag_or_a_card_it_does_not_know(card, tag):
    with pytest.raises(ValueError, match="card_heading"):
        card_heading(card, tag)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"SITEURL": ""}, LOCAL_SITEURL),
        ({"SITEURL": "", "FEED_DOMAIN": "https://a.example/"}, "https://a.example"),
        ({"SITEURL": "https://b.example/x/"}, "https://b.example/x"),
    ],
)
def test_feeds_take_an_absolute_base(settings, expected):
    assert absolute_site_url(settings) == expected


def _luminance(colour: str) -> float:
    """Return the WCAG relative luminance of #rrggbb."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [
        c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_chart_tones_pass_contrast_differ_in_pattern_and_match_the_css():
    css = CSS.read_text("utf-8")
    kinds = [kind for _, kind in charts.PALETTE]
    assert len(set(kinds)) == len(kinds)  # colour is never the only cue
    for index, (colour, _) in enumerate(charts.PALETTE):
        # white initials on the card placeholder need 4.5:1; bars need 3:1 on white
        assert 1.05 / (_luminance(colour) + 0.05) >= 4.5, colour
        assert f".tone-{index} {{ --tone: {colour}; }}" in css


def test_counts_per_field_and_year_and_stacked_chart():
    class Term:
        def __init__(self, slug, name):
            self.slug, self.name = slug, name

    class Item:
        def __init__(self, field, year, locality):
            self.field, self.year, self.locality = field, year, locality

    a, b = Term("a", "A"), Term("b", "B")
    items = [
        Item(a, 2019, "X"),
        Item(a, 2020, "X"),
        Item(b, 2020, "Y"),
        Item(None, 2020, "Y"),
    ]
    figures = count_figures("models", "mô hình", items, {"a": 0, "b": 1}, [a, b])
    assert figures.years == [2019, 2020]
    assert [(r.label, r.values) for r in figures.fields] == [
        ("A", (1, 1)),
        ("B", (0, 1)),
        ("Chưa phân loại", (0, 1)),
    ]
    assert figures.year_totals == [1, 3]
    assert figures.localities == [("Y", 2), ("X", 2)] or figures.localities == [
        ("X", 2),
        ("Y", 2),
    ]
    svg = charts.stacked_columns(
        "c",
        "T",
        "D",
        ["2019", "2020"],
        [charts.Series(r.label, r.tone, r.values) for r in figures.fields],
    )
    assert svg.count('fill="#a50e0e"') == 2 and svg.count('fill="#1456b8"') == 1
    assert '<title id="c-title">T</title><desc id="c-desc">D</desc>' in svg
    assert ">3</text>" in svg  # the 2020 total, written on top of its column
    defs = charts.patterns()
    ids = re.findall(r'<pattern id="([^"]+)"', defs)
    assert len(ids) == len(set(ids)) == len({k for _, k in charts.PALETTE} - {"solid"})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"url": "/thong-ke/"}, "must be relative"),
        ({"localities": -1}, "must be an int >= 0"),
        ({"colour": "red"}, "unknown STATISTICS keys: colour"),
    ],
)
def test_statistics_options_are_checked_once(given, message):
    with pytest.raises(OptionsError, match=message):
        get_options({"STATISTICS": given})


# ------------------------------------------------------------- the built site


def test_statistics_page_charts_have_title_desc_and_tables(sample):
    html = sample.page("thong-ke/")
    svgs = re.findall(r'<svg class="chart" id="([^"]+)"[^>]*>', html)
    assert len(svgs) == 4  # models and news: per year, per locality
    for chart_id in svgs:
        tag = re.search(rf'<svg class="chart" id="{chart_id}"[^>]*>', html).group(0)
        assert 'role="img"' in tag
        assert f'aria-labelledby="{chart_id}-title {chart_id}-desc"' in tag
        assert re.search(rf'<title id="{chart_id}-title">[^<]+</title>', html)
        assert re.search(rf'<desc id="{chart_id}-desc">[^<]+</desc>', html)
    totals = re.findall(
        r'<tfoot><tr><th scope="row">Tổng</th>.*?<td>(\d+)</td></tr></tfoot>', html
    )
    assert [int(t) for t in totals] == [N_MODELS, N_NEWS]
    per_year: dict[str, int] = {}
    for row in _models():
        per_year[row["year"]] = per_year.get(row["year"], 0) + 1
    head = re.search(
        r"<thead><tr><th scope=\"col\">Lĩnh vực</th>(.*?)</tr>", html
    ).group(1)
    years = re.findall(r"<th scope=\"col\">(\d{4})</th>", head)
    foot = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
    assert (
        dict(zip(years, map(int, re.findall(r"<td>(\d+)</td>", foot)), strict=False))
        == per_year
    )
    assert 'aria-current="page" href="/thong-ke/"' in html  # its tab


def test_menu_and_every_index_link_the_statistics_page(sample):
    for url in ("", "linh-vuc/", "dia-ban/", "nam/"):
        assert 'href="/thong-ke/"' in sample.page(url), url


def test_home_chips_count_models_only(sample):
    html = sample.page("")
    block = re.search(r'<section class="browse".*?</section>', html, re.S).group(0)
    years = re.findall(
        r'href="/nam/(\d{4})/">\d{4} <span class="count">\((\d+)<', block
    )
    expected: dict[str, int] = {}
    for row in _models():
        expected[row["year"]] = expected.get(row["year"], 0) + 1
    assert {y: int(n) for y, n in years} == expected  # 2021 has news only: no chip
    assert "mô hình" in block


@pytest.mark.parametrize("url", ["linh-vuc/", "dia-ban/", "nam/"])
def test_overview_cards_say_what_they_count(sample, url):
    html = sample.page(url)
    counts = re.findall(r'<span class="count">(\d+) mô hình · (\d+) tin</span>', html)
    assert sum(int(m) for m, _ in counts) == N_MODELS
    attribute = {"linh-vuc/": "category", "dia-ban/": "locality"}.get(url)
    news = [p.read_text("utf-8") for p in (CONTENT / "news").glob("*.md")]
    indexed = [t for t in news if not attribute or _field(t, attribute)]
    assert sum(int(n) for _, n in counts) == len(indexed)
    assert html.count('class="term-bar"') == len(counts)
    assert ('class="terms timeline"' in html) == (url == "nam/")
    assert '<nav class="tabs" aria-label="Xem theo">' in html


def test_models_without_a_picture_get_a_placeholder(sample):
    html = sample.page("mo-hinh/") + sample.page("mo-hinh/2/")
    cards = re.findall(r'<article class="card card-model">.*?</article>', html, re.S)
    assert len(cards) == N_MODELS
    placeholders = [c for c in cards if "card-placeholder" in c]
    assert len(placeholders) == sum(not row["image"] for row in _models()) > 0
    for card in placeholders:
        assert re.search(
            r'<div class="card-thumb card-placeholder tone-\d" aria-hidden="true">'
            r'<span class="ph-initials">\w{1,2}</span>',
            card,
        )
        assert "<img" not in card


def test_model_page_has_date_tags_and_creative_work(sample):
    html = sample.page(MODEL)
    assert re.search(
        r'Đăng ngày <time datetime="2020-12-18T[^"]+">18/12/2020</time>', html
    )
    assert (
        'href="/tim-kiem/?q=r%C3%A1c%20th%E1%BA%A3i%20nh%E1%BB%B1a" rel="tag"' in html
    )
    (data,) = [
        json.loads(text)
        for text in re.findall(
            r'<script type="application/ld\+json">(.*?)</script>', html
        )
    ]
    assert data["@type"] == "CreativeWork"
    assert data["publisher"] == {
        "@type": "GovernmentOrganization",
        "name": "Ban Dân vận Tỉnh ủy Bình Thuận",
    }
    assert data["datePublished"].startswith("2020-12-18")
    assert data["about"] == "Văn hóa – xã hội" and data["temporalCoverage"] == "2020"


def test_share_links_are_plain_links_with_the_absolute_address(sample):
    html = sample.page(MODEL)
    share = re.search(r'<section class="share".*?</section>', html, re.S).group(0)
    address = f"{LOCAL_SITEURL}/{MODEL}"
    assert (
        htmllib.escape(
            "https://www.facebook.com/sharer/sharer.php?u="
            + address.replace(":", "%3A").replace("/", "%2F")
        )
        in share
        or "sharer.php?u=http%3A//127.0.0.1%3A8000/" in share
    )
    assert 'class="share-copy"' in share and 'class="share-native"' in share
    assert "<script" not in share
    assert f"Địa chỉ bài viết: {address}</p>" in html  # printed only


def test_titles_keep_year_ranges_on_one_line(sample):
    html = sample.page(NEWS)
    assert "giai đoạn 2016\u00a0– 2020</h1>" in html
    assert "2016 – 2020</h1>" not in html


def test_feeds_and_sitemap_in_make_html_with_absolute_addresses(sample):
    for path in (
        "atom.xml",
        "tin-tuc/atom.xml",
        "mo-hinh/atom.xml",
        "linh-vuc/kinh-te/atom.xml",
    ):
        feed = ET.parse(sample.output / path).getroot()
        links = [e.find(f"{ATOM}link").get("href") for e in feed.iter(f"{ATOM}entry")]
        assert links and all(link.startswith(f"{LOCAL_SITEURL}/") for link in links), (
            path
        )
    sitemap = (sample.output / "sitemap.xml").read_text("utf-8")
    assert f"<loc>{LOCAL_SITEURL}/thong-ke/</loc>" in sitemap
    for url in ("", MODEL, "thong-ke/", "nam/", "gioi-thieu/"):
        html = sample.page(url)
        assert (
            '<link rel="alternate" type="application/atom+xml" title="Dân vận khéo: tất cả" href="/atom.xml">'
            in html
        )
        footer = html.split('<footer class="site-footer">')[1]
        assert 'href="/atom.xml">' in footer


def test_search_page_has_a_breadcrumb_and_one_search_box(sample):
    html = sample.page("tim-kiem/")
    assert (
        'aria-label="Đường dẫn"' in html
        and '<li aria-current="page">Tìm kiếm</li>' in html
    )
    assert html.count('type="search"') == 1
    assert 'placeholder="Tìm mô hình, tin tức…"' in sample.page("")


# ------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def served(sample):
    """Serve the shared sample build on 127.0.0.1 for the module."""
    with serve_directory(sample.output) as base:
        yield base


@pytest.fixture(scope="module")
def context(browser):
    """One browser context for the module's pages."""
    context = browser.new_context()
    yield context
    context.close()


@pytest.mark.browser
def test_menu_button_opens_the_menu_without_javascript(served, browser):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 375, "height": 800}
    )
    page = context.new_page()
    try:
        page.goto(f"{served}/")
        nav = page.get_by_role("navigation", name="Chuyên mục")
        assert nav.is_hidden() and page.locator(".header-top .search").is_hidden()
        page.get_by_text("Danh mục", exact=True).click()
        assert nav.is_visible() and page.locator("#q").is_visible()
        nav.get_by_role("link", name="Thống kê").click()
        assert page.locator("h1").inner_text() == "Thống kê"
    finally:
        context.close()


@pytest.mark.browser
def test_article_has_a_sidebar_and_short_lines_on_desktop(served, context):
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    try:
        page.goto(f"{served}/{NEWS}")
        body = page.locator(".item-body").bounding_box()
        side = page.locator(".item-side").bounding_box()
        per_line = page.evaluate(
            """() => {
              const p = document.querySelector('.prose p');
              const c = document.createElement('canvas').getContext('2d');
              c.font = getComputedStyle(p).font;
              const text = p.textContent;
              return p.clientWidth / (c.measureText(text).width / text.length);
            }"""
        )
    finally:
        page.close()
    assert side["x"] >= body["x"] + body["width"]
    assert side["y"] < body["y"] + 200
    assert per_line <= 78  # about 75 characters


@pytest.mark.browser
def test_print_shows_the_article_its_facts_and_address_only(served, context):
    page = context.new_page()
    try:
        page.goto(f"{served}/{MODEL}")
        page.emulate_media(media="print")
        for shown in ("h1", ".prose", "aside.facts", ".print-url"):
            assert page.locator(shown).first.is_visible(), shown
        for hidden in (
            ".site-header",
            ".site-footer",
            ".related",
            ".share",
            ".breadcrumbs",
        ):
            assert page.locator(hidden).first.is_hidden(), hidden
        page.screenshot(path=artifact("overview-model-print.png"), full_page=True)
    finally:
        page.close()


@pytest.mark.browser
def test_share_buttons_and_placeholders_in_the_browser(served, context):
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    try:
        page.goto(f"{served}/{MODEL}")
        facebook = page.locator(".share-facebook")
        assert facebook.get_attribute("href").startswith(
            "https://www.facebook.com/sharer/"
        )
        assert page.locator(".share-copy").is_visible()  # shown by js/share.js
        page.goto(f"{served}/mo-hinh/")
        rows = page.evaluate(
            """() => {
              const cards = [...document.querySelectorAll('.cards .card')];
              const top = cards[0].getBoundingClientRect().top;
              const row = cards.filter(c => c.getBoundingClientRect().top === top);
              return {
                heights: row.map(c => c.offsetHeight),
                thumbs: row.map(c => c.querySelector('.card-thumb').offsetHeight),
                tone: getComputedStyle(document.querySelector('.card-placeholder')).backgroundColor,
              };
            }"""
        )
    finally:
        page.close()
    assert len(rows["heights"]) == 4 and len(set(rows["heights"])) == 1  # even rows
    assert len(set(rows["thumbs"])) == 1 and rows["thumbs"][0] > 100
    assert rows["tone"] != "rgba(0, 0, 0, 0)"


def test_the_new_script_is_ours_and_listed(sample):
    scripts = {p.name for p in Path(ROOT, "theme", "static", "js").glob("*.js")}
    assert "share.js" in scripts
    assert "share" in sample.page(MODEL) and "js/share" not in sample.page("")
