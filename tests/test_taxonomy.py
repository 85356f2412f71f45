"""The taxonomy plugin: index pages by field, locality, year (and any taxonomy in settings)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import ROOT, Site, get_settings, model, news

CONTENT = ROOT / "content"
ATOM = "{http://www.w3.org/2005/Atom}"

# slug -> front matter. Units double as a plain (vocabulary-less) taxonomy.
MODELS = {
    "m-pt-2020": dict(
        category="Kinh tế",
        locality="Phan Thiết",
        year=2020,
        date="2020-12-18",
        kind="Mô hình",
        unit="Đức Linh",
    ),
    "m-pt-2019": dict(
        category="Kinh tế",
        locality="Phan Thiết",
        year=2019,
        date="2019-05-01",
        kind="Điển hình tập thể",
        unit="Dương",
    ),
    "m-dl-2019": dict(
        category="Kinh tế",
        locality="Đức Linh",
        year=2019,
        date="2019-06-01",
        kind="Mô hình",
        unit="Âu Cơ",
    ),
    "m-bb-2018": dict(
        category="Văn hóa – xã hội",
        locality="Bắc Bình",
        year=2018,
        date="2018-03-03",
        kind="Mô hình",
        unit="Anh Đào",
    ),
    "m-pt-qp": dict(
        category="Quốc phòng – an ninh",
        locality="Phan Thiết",
        year=2020,
        date="2020-02-02",
        kind="Mô hình",
        unit="Bắc",
    ),
}
NEWS = {
    "n-pt": dict(date="2021-01-15", category="Kinh tế", locality="Phan Thiết"),
    "n-none": dict(date="2020-06-01"),
    "n-dl": dict(date="2019-09-09", locality="Đức Linh"),
}
# A draft is not published: its field stays empty.
DRAFT = dict(
    category="Xây dựng hệ thống chính trị",
    locality="Tuy Phong",
    year=2020,
    date="2020-01-01",
    status="draft",
)
SLUGS = {  # value -> slug, as the vocabularies and slugify give them
    "Kinh tế": "kinh-te",
    "Văn hóa – xã hội": "van-hoa-xa-hoi",
    "Quốc phòng – an ninh": "quoc-phong-an-ninh",
    "Phan Thiết": "phan-thiet",
    "Đức Linh": "duc-linh",
    "Bắc Bình": "bac-binh",
    "Mô hình": "mo-hinh",
    "Điển hình tập thể": "dien-hinh-tap-the",
}
TAXONOMIES = {
    "linh-vuc": {
        "attribute": "field",
        "vocabulary": "linh-vuc",
        "title": "Lĩnh vực",
        "url": "linh-vuc/",
        "per_page": 2,
    },
    "dia-ban": {
        "attribute": "locality",
        "vocabulary": "dia-ban",
        "title": "Địa bàn",
        "url": "dia-ban/",
        "per_page": 2,
    },
    "nam": {
        "attribute": "year",
        "title": "Năm",
        "url": "nam/",
        "per_page": 2,
        "order": "newest",
    },
    # Added in settings only: no code knows about them.
    "hinh-thuc": {
        "attribute": "kind",
        "vocabulary": "hinh-thuc",
        "title": "Hình thức",
        "url": "hinh-thuc/",
    },
    "don-vi": {"attribute": "unit", "title": "Đơn vị", "url": "don-vi/"},
}
ATTRIBUTES = {"linh-vuc": "category", "dia-ban": "locality", "nam": "year"}
ATTRIBUTES |= {"hinh-thuc": "kind", "don-vi": "unit"}
CARD = re.compile(
    r'<h[23] class="card-title"><a href="/((?:mo-hinh|tin-tuc)/[a-z0-9-]+/)">'
)


def _year(meta: dict) -> int:
    return meta.get("year") or int(meta["date"][:4])


def expected_terms() -> dict[tuple[str, str], list[str]]:
    """Return (taxonomy, term slug) -> item URLs, computed from the fixtures."""
    expected: dict[tuple[str, str], list[str]] = {}
    items = [(f"mo-hinh/{s}/", m) for s, m in MODELS.items()]
    items += [(f"tin-tuc/{s}/", n) for s, n in NEWS.items()]
    for url, meta in items:
        for taxonomy, attribute in ATTRIBUTES.items():
            value = _year(meta) if attribute == "year" else meta.get(attribute)
            if value is None:
                continue
            slug = SLUGS.get(value) or re.sub(
                r"[^a-z0-9]+", "-", _ascii(str(value))
            ).strip("-")
            expected.setdefault((taxonomy, slug), []).append(url)
    return expected


def _ascii(text: str) -> str:
    from portal.text import slugify

    return slugify(text)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Site:
    """Build one small site with five taxonomies (two of them settings-only)."""
    site = Site(tmp_path_factory.mktemp("taxonomy"))
    for slug, fields in MODELS.items():
        site.write(f"models/{slug}.md", model(title=f"Mô hình {slug}", **fields))
    for slug, fields in NEWS.items():
        site.write(f"news/{slug}.md", news(title=f"Tin {slug}", **fields))
    site.write("models/m-draft.md", model(title="Bản nháp", **DRAFT))
    result = site.build(TAXONOMIES=TAXONOMIES)
    assert result.returncode == 0, result.stderr
    return site


def term_pages(site: Site, url: str) -> list[str]:
    """Return the HTML of every page of a term, following the "next" links."""
    pages = [site.page(url)]
    while match := re.search(r'<a rel="next" href="/([^"]+)"', pages[-1]):
        pages.append(site.page(match.group(1)))
        assert len(pages) < 50
    return pages


def cards(html: str) -> list[str]:
    return CARD.findall(html)


def test_every_item_is_on_exactly_its_term_pages(built):
    expected = expected_terms()
    found: dict[tuple[str, str], list[str]] = {}
    for taxonomy in TAXONOMIES:
        folder = built.output / taxonomy
        for term in sorted(p.name for p in folder.iterdir() if p.is_dir()):
            items = [
                u
                for page in term_pages(built, f"{taxonomy}/{term}/")
                for u in cards(page)
            ]
            found[(taxonomy, term)] = items
    assert {k: sorted(v) for k, v in found.items()} == {
        k: sorted(v) for k, v in expected.items()
    }
    assert all(len(v) == len(set(v)) for v in found.values())


def test_overview_counts_equal_the_items(built):
    expected = expected_terms()
    for taxonomy in TAXONOMIES:
        html = built.page(f"{taxonomy}/")
        rows = re.findall(
            rf'<a class="term-name" href="/{taxonomy}/([a-z0-9-]+)/">[^<]+</a>\s*'
            r'<span class="count">(\d+) mô hình · (\d+) tin</span>',
            html,
        )
        counts = {slug: (int(m), int(n)) for slug, m, n in rows}
        want = {
            slug: (
                sum(u.startswith("mo-hinh/") for u in urls),
                sum(u.startswith("tin-tuc/") for u in urls),
            )
            for (name, slug), urls in expected.items()
            if name == taxonomy
        }
        assert counts == want, taxonomy


def test_term_pages_paginate_models_first_newest_first(built):
    first, second = term_pages(built, "linh-vuc/kinh-te/")
    assert cards(first) == ["mo-hinh/m-pt-2020/", "mo-hinh/m-dl-2019/"]
    assert cards(second) == ["mo-hinh/m-pt-2019/", "tin-tuc/n-pt/"]
    assert 'href="/linh-vuc/kinh-te/2/"' in first and "« Mới nhất" not in first
    assert '<a rel="prev" href="/linh-vuc/kinh-te/"' in second
    assert "« Mới nhất" in second and 'rel="next"' not in second
    # Pages are named by their items' dates, never "Trang 2/2" (older pages keep
    # their bytes when a page is added: portal/paginate.py).
    assert re.search(r"Đăng (từ|ngày) \d\d/\d\d/\d{4}", second)
    assert not re.search(r"Trang \d+/\d+", first + second)
    assert second.index("<h2>Mô hình, điển hình</h2>") < second.index(
        "<h2>Tin tức</h2>"
    )
    assert not (built.output / "linh-vuc/kinh-te/3").exists()


def test_a_term_without_items_is_listed_but_gets_no_page(built):
    html = built.page("linh-vuc/")
    assert re.search(
        r'<span class="term-name term-empty">Xây dựng hệ thống chính trị</span>\s*'
        r'<span class="count">chưa có bài</span>',
        html,
    )
    assert 'href="/linh-vuc/xay-dung-he-thong-chinh-tri/"' not in html
    assert not (built.output / "linh-vuc/xay-dung-he-thong-chinh-tri").exists()
    assert not (built.output / "dia-ban/tuy-phong").exists()  # a draft only
    assert "Hàm Tân" in built.page("dia-ban/")  # every vocabulary term is listed


def _listed(html: str) -> list[str]:
    block = html.split('<ul class="terms ', 1)[1].split("</ul>", 1)[0]
    return re.findall(
        r'(?:<a class="term-name" href="[^"]+">|<span class="term-name term-empty">)'
        r"([^<]+)<",
        block,
    )


def test_terms_are_in_vietnamese_order_and_years_newest_first(built):
    # Localities are grouped by period (tests/test_localities.py): the former
    # districts of Bình Thuận are the first group before 01/7/2025.
    former = built.page("dia-ban/").split('id="truoc-2025"', 1)[1]
    assert _listed(former) == [
        "Bắc Bình",
        "Đức Linh",
        "Hàm Tân",
        "Hàm Thuận Bắc",
        "Hàm Thuận Nam",
        "La Gi",
        "Phan Thiết",
        "Phú Quý",
        "Tánh Linh",
        "Tuy Phong",
    ]
    # a before â, d before đ ("Đức Linh" after "Dương"), unlike code-point order.
    assert _listed(built.page("don-vi/")) == [
        "Anh Đào",
        "Âu Cơ",
        "Bắc",
        "Dương",
        "Đức Linh",
    ]
    assert _listed(built.page("nam/")) == ["2021", "2020", "2019", "2018"]


def test_a_taxonomy_added_in_settings_gets_its_pages(built):
    overview = built.page("hinh-thuc/")
    assert "<h1>Hình thức</h1>" in overview
    assert "Điển hình cá nhân" in overview  # in the vocabulary, no item
    assert cards(built.page("hinh-thuc/dien-hinh-tap-the/")) == ["mo-hinh/m-pt-2019/"]
    assert (built.output / "don-vi/duc-linh/atom.xml").is_file()
    assert 'href="/hinh-thuc/"' in built.page("linh-vuc/")  # the overviews link


def test_item_pages_link_to_their_term_pages(built):
    facts = built.page("mo-hinh/m-pt-2020/").split('<dl class="facts">')[1]
    facts = facts.split("</dl>")[0]
    for href in (
        "/linh-vuc/kinh-te/",
        "/dia-ban/phan-thiet/",
        "/nam/2020/",
        "/hinh-thuc/mo-hinh/",
        "/don-vi/duc-linh/",
    ):
        assert f'href="{href}"' in facts
    news_facts = built.page("tin-tuc/n-dl/").split('<dl class="facts">')[1]
    assert 'href="/dia-ban/duc-linh/"' in news_facts.split("</dl>")[0]
    assert "/linh-vuc/" not in news_facts.split("</dl>")[0]  # it has no field


def test_term_pages_have_breadcrumbs_and_neighbours(built):
    html = built.page("dia-ban/duc-linh/")
    crumbs = html.split('<nav class="breadcrumbs" aria-label="Đường dẫn">')[1]
    crumbs = crumbs.split("</nav>")[0]
    # A locality's trail goes through its period and group (test_localities.py).
    assert re.findall(r'href="([^"]*)"', crumbs) == [
        "/",
        "/dia-ban/",
        "/dia-ban/#truoc-2025",
        "/dia-ban/#truoc-2025-1",
    ]
    assert '<li aria-current="page">Đức Linh</li>' in crumbs
    neighbours = html.split('class="term-neighbours"')[1].split("</nav>")[0]
    # Neighbours that have a page, skipping the empty "Cấp tỉnh" and "Hàm Tân"…
    assert re.findall(r'href="/dia-ban/([a-z-]*)/?"', neighbours) == [
        "bac-binh",
        "",
        "phan-thiet",
    ]


def test_dev_feeds_link_to_the_local_server(built):
    # SITEURL is empty in `make html`: feeds still need absolute links (portal.feeds).
    feed = ET.parse(built.output / "dia-ban/phan-thiet/atom.xml").getroot()
    links = [e.find(f"{ATOM}link").get("href") for e in feed.iter(f"{ATOM}entry")]
    assert links == [
        f"http://127.0.0.1:8000{path}"
        for path in (
            "/tin-tuc/n-pt/",
            "/mo-hinh/m-pt-2020/",
            "/mo-hinh/m-pt-qp/",
            "/mo-hinh/m-pt-2019/",
        )
    ]
    assert 'href="/dia-ban/phan-thiet/atom.xml"' in built.page("dia-ban/phan-thiet/")


def test_published_feeds_are_absolute_and_dated_by_content(site):
    site.write("models/a.md", model(date="2019-02-03", year=2019))
    site.write("models/b.md", model(date="2020-12-18"))
    site.write("news/c.md", news(date="2018-05-06"))
    taxonomies = {**TAXONOMIES, "nam": {**TAXONOMIES["nam"], "feed_items": 1}}
    result = site.build(
        "publishconf.py", SITEURL="https://dvk.example", TAXONOMIES=taxonomies
    )
    assert result.returncode == 0, result.stderr
    feed = ET.parse(site.output / "dia-ban/phan-thiet/atom.xml").getroot()
    assert feed.find(f"{ATOM}updated").text == "2020-12-18T00:00:00+07:00"
    links = [e.find(f"{ATOM}link").get("href") for e in feed.iter(f"{ATOM}entry")]
    assert links == ["https://dvk.example/mo-hinh/b/", "https://dvk.example/mo-hinh/a/"]
    year = ET.parse(site.output / "nam/2020/atom.xml").getroot()
    assert len(list(year.iter(f"{ATOM}entry"))) == 1
    assert not (site.output / "dia-ban/cap-tinh/atom.xml").exists()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("linh-vuc", "taxonomy: TAXONOMIES must be a dict, not str"),
        ({"nam": "year"}, "taxonomy: TAXONOMIES['nam'] must be a dict, not str"),
        (
            {"nam": {"title": "Năm", "url": "nam/"}},
            "taxonomy: TAXONOMIES['nam']: 'attribute' is required",
        ),
        (
            {"nam": {"attribute": "year", "title": "Năm", "url": "/nam"}},
            "taxonomy: TAXONOMIES['nam']: url '/nam' must be relative and end with '/'",
        ),
        (
            {"x": {"attribute": "year", "title": "X", "url": "x/", "per_page": 0}},
            "taxonomy: TAXONOMIES['x']: 'per_page' must be an int >= 1, not 0",
        ),
        (
            {
                "x": {
                    "attribute": "kind",
                    "title": "X",
                    "url": "x/",
                    "vocabulary": "kind",
                }
            },
            "taxonomy: TAXONOMIES['x']: no vocabulary 'kind' in VOCABULARY_PATH;"
            " there are: dia-ban, hinh-thuc, linh-vuc",
        ),
        (
            {"x": {"attribute": "year", "title": "X", "url": "x/", "sort": "newest"}},
            "taxonomy: unknown TAXONOMIES['x'] keys: sort; allowed: attribute,",
        ),
        (
            {"x": {"attribute": "year", "title": "X", "url": "x/", "order": "random"}},
            "taxonomy: TAXONOMIES['x']: order 'random' must be one of",
        ),
        (
            {
                "a": {"attribute": "year", "title": "A", "url": "n/"},
                "b": {"attribute": "unit", "title": "B", "url": "n/"},
            },
            "taxonomy: TAXONOMIES: two taxonomies use url 'n/'",
        ),
    ],
)
def test_a_wrong_setting_is_a_clear_error(setting, message):
    from taxonomy import OptionsError, get_options

    with pytest.raises(OptionsError) as error:
        get_options(get_settings(TAXONOMIES=setting))
    assert str(error.value).startswith(message)


def test_a_wrong_setting_stops_the_build_without_a_traceback(site):
    site.write("models/a.md", model())
    result = site.build(TAXONOMIES={"nam": {"attribute": "year", "url": "nam/"}})
    assert result.returncode == 1
    assert "taxonomy: TAXONOMIES['nam']: 'title' is required" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (site.output / "mo-hinh").exists()


def test_the_defaults_apply_without_the_setting():
    from taxonomy.taxonomy import DEFAULTS, get_options

    settings = {k: v for k, v in get_settings().items() if k != "TAXONOMIES"}
    options = get_options(settings)
    assert list(options) == list(DEFAULTS) == ["linh-vuc", "dia-ban", "nam"]
    assert options["nam"]["order"] == "newest" and options["dia-ban"]["per_page"] == 12


def test_sample_indexes_exist_and_every_link_resolves(sample):
    for taxonomy in ("linh-vuc", "dia-ban", "nam"):
        assert (sample.output / taxonomy / "index.html").is_file()
    assert not (sample.output / "hinh-thuc").exists()  # not in the settings
    assert not (sample.output / "category").exists()  # Pelican's own is off
    pages = [
        p
        for t in ("linh-vuc", "dia-ban", "nam")
        for p in (sample.output / t).rglob("*.html")
    ]
    pages += list((sample.output / "mo-hinh").rglob("*.html"))
    checked = 0
    for page in pages:
        html = page.read_text("utf-8")
        # strict CSP: scripts are files or JSON-LD data, never inline code
        inline = re.search(r"<script(?![^>]*(src=|application/ld\+json))", html)
        assert inline is None and 'style="' not in html
        for href in re.findall(r'href="/([^"#?]*)', html):
            target = sample.output / href
            assert (
                target / "index.html" if href.endswith("/") or not href else target
            ).is_file(), (
                page,
                href,
            )
            checked += 1
    assert checked > 500


def test_sample_counts_match_the_content(sample):
    models = len(list((CONTENT / "models").glob("*.md")))
    html = sample.page("nam/")
    counts = re.findall(r"(\d+) mô hình · (\d+) tin", html)
    assert sum(int(m) for m, _ in counts) == models
    assert sum(int(n) for _, n in counts) == len(list((CONTENT / "news").glob("*.md")))
