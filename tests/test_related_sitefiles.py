"""Related models, other news, section feeds (plugins/sections) and site files (plugins/sitefiles)."""

from __future__ import annotations

import datetime as dt
import random
import re
from types import SimpleNamespace

import pytest
from sections.sections import OptionsError as SectionsOptionsError
from sections.sections import (
    SectionsGenerator,
    buckets,
    get_options,
    neighbours_in,
    neighbours_of,
    related_of,
)
from sitefiles.sitefiles import OptionsError as SiteFilesOptionsError
from sitefiles.sitefiles import get_options as sitefiles_options
from sitefiles.sitefiles import render_robots, render_sitemap, sitemap_entries

from tests.conftest import model, news


def _item(name: str, field: str, locality: str, day: int) -> SimpleNamespace:
    return SimpleNamespace(
        title=name, field=field, locality=locality, date=dt.datetime(2020, 1, day)
    )


def test_neighbours_in_a_group_are_older_first_and_never_the_item_itself():
    items = [_item(str(n), "f", "l", 28 - n) for n in range(10)]
    assert neighbours_in(items[0], items, 3, {}) == items[1:4]
    assert neighbours_in(items[2], items, 3, {}) == items[3:6]
    assert neighbours_in(items[8], items, 3, {}) == [items[6], items[7], items[9]]
    assert neighbours_in(items[2], items, 0, {}) == []
    assert neighbours_in(items[0], items[:1], 5, {}) == []


@pytest.mark.parametrize("limit", [1, 3, 6])
def test_adding_the_newest_item_changes_few_related_lists(limit):
    """The related lists are neighbours too: an addition reaches only the newest few."""
    items = [_item(str(n), "f", "l" if n % 2 else "m", 29 - n) for n in range(29)]
    section = {"others": 0, "related": limit, "related_by": ("field", "locality")}
    SectionsGenerator.link_items(None, items, section)
    before = {item.title: [o.title for o in item.related] for item in items}
    newest = _item("new", "f", "l", 30)
    SectionsGenerator.link_items(None, [newest, *items], section)
    after = {item.title: [o.title for o in item.related] for item in items}
    changed = [title for title in before if before[title] != after[title]]
    assert len(changed) <= limit, changed  # with the old "newest of the group": 29
    assert all(item not in item.related for item in items)


def test_others_are_the_older_neighbours_completed_by_newer_ones():
    items = [_item(str(n), "f", "l", 28 - n) for n in range(10)]  # newest first
    assert neighbours_of(0, items, 3) == items[1:4]
    assert neighbours_of(4, items, 3) == items[5:8]
    assert neighbours_of(8, items, 3) == [items[6], items[7], items[9]]
    assert neighbours_of(9, items, 3) == items[6:9]
    assert neighbours_of(0, items[:1], 5) == []


@pytest.mark.parametrize("limit", [0, 1, 3, 12])
def test_adding_the_newest_item_changes_no_other_items_others(limit):
    items = [_item(str(n), "f", "l", 29 - n) for n in range(29)]
    section = {"others": limit, "related": 2, "related_by": ("field",)}
    SectionsGenerator.link_items(None, items, section)
    before = {item.title: [o.title for o in item.others] for item in items}
    newest = _item("new", "f", "l", 30)
    SectionsGenerator.link_items(None, [newest, *items], section)
    after = {item.title: [o.title for o in item.others] for item in items}
    assert after == before
    assert len(newest.others) == min(limit, len(items))
    assert all(item not in item.others for item in items)


def test_related_share_a_field_or_locality_and_both_rank_first():
    a = _item("a", "kinh-te", "la-gi", 10)
    both = _item("both", "kinh-te", "la-gi", 1)
    same_field = _item("field", "kinh-te", "phu-quy", 20)
    same_place = _item("place", "an-ninh", "la-gi", 15)
    stranger = _item("x", "an-ninh", "phu-quy", 25)
    items = sorted([a, both, same_field, same_place, stranger], key=lambda i: i.date)
    items.reverse()
    grouped = buckets(items, ("field", "locality"))
    related = related_of(a, grouped, ("field", "locality"), 6)
    assert related == [both, same_field, same_place]
    assert related_of(a, grouped, ("field", "locality"), 1) == [both]
    assert related_of(a, grouped, (), 6) == []


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"news": {"others": -1}}, "others must be an int >= 0"),
        ({"models": {"related": "6"}}, "related must be an int >= 0"),
        ({"models": {"related_by": "field"}}, "related_by must be a list"),
        ({"news": {"other": 8}}, "unknown SECTIONS\\['news'\\] keys: other"),
        ({"news": 8}, "SECTIONS\\['news'\\] must be a dict, not int"),
        ({"video": {"type": "video"}}, "section 'video' needs title, url"),
        ([], "SECTIONS must be a dict, not list"),
    ],
)
def test_sections_options_are_checked(setting, message):
    with pytest.raises(SectionsOptionsError, match=f"sections: .*{message}"):
        get_options({"SECTIONS": setting})


def test_sections_feed_url_follows_the_section_url():
    options = get_options({"SECTIONS": {"news": {"feed": False}}})
    assert options["models"]["feed_url"] == "mo-hinh/atom.xml"
    assert options["news"]["feed_url"] is None


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"sitemap": "/sitemap.xml"}, "'sitemap'] must be a path"),
        ({"robots": 1}, "'robots'] must be a path"),
        ({"disallow": "/x/"}, "must be a list of paths"),
        ({"sitmap": "x.xml"}, "unknown SITEFILES keys: sitmap"),
    ],
)
def test_sitefiles_options_are_checked(setting, message):
    with pytest.raises(
        SiteFilesOptionsError, match=f"sitefiles: .*{re.escape(message)}"
    ):
        sitefiles_options({"SITEFILES": setting})


def test_sitemap_escapes_urls_and_skips_repeats():
    text = render_sitemap(
        "https://x.example", [("a/?b=1&c=2", dt.date(2020, 1, 2)), ("a/?b=1&c=2", None)]
    )
    assert text.count("<url>") == 1
    assert "<loc>https://x.example/a/?b=1&amp;c=2</loc>" in text
    assert "<lastmod>2020-01-02</lastmod>" in text


def _reference_entries(context):
    """The sitemap's entries as they were made before each date was taken once."""

    def changed(item):
        when = getattr(item, "modified", None) or getattr(item, "date", None)
        return when.date() if isinstance(when, dt.datetime) else when

    def published(items):
        return [item for item in items if not getattr(item, "is_draft", False)]

    def newest(items):
        return max((d for d in map(changed, items) if d), default=None)

    articles = published(context["articles"])
    yield "", newest(articles)
    for name, section in context["sections"].items():
        yield section["url"], newest(published(context[name]))
    for item in articles:
        yield item.url, changed(item)
    for page in published(context["pages"]):
        yield page.url, changed(page)
    yield context["statistics"].url, newest(articles)
    for taxonomy in context["taxonomies"]:
        terms = [term for term in taxonomy.terms if term.url]
        every = [i for term in terms for i in [*term.models, *term.news]]
        yield taxonomy.url, newest(published(every))
        for term in terms:
            yield term.url, newest(published([*term.models, *term.news]))


def _sitemap_context(seed: int) -> dict:
    """A context of items with dates, modified dates, drafts and undated ones."""
    rng = random.Random(seed)

    def item(n: int, kind: str) -> SimpleNamespace:
        when = dt.datetime(2020, 1, 1) + dt.timedelta(days=rng.randrange(900))
        fields = {"url": f"{kind}/{n}/", "date": rng.choice([when, when.date(), None])}
        if rng.random() < 0.3:
            fields["modified"] = when + dt.timedelta(days=rng.randrange(1, 400))
        if rng.random() < 0.2:
            fields["is_draft"] = True
        return SimpleNamespace(**fields)

    models = [item(n, "mo-hinh") for n in range(40)]
    news = [item(n, "tin-tuc") for n in range(40)]
    taxonomies = []
    for t in range(3):
        terms = []
        for k in range(5):
            terms.append(
                SimpleNamespace(
                    url=f"t{t}/{k}/" if k else "",  # a term without a page
                    models=rng.sample(models, rng.randrange(0, 12)),
                    news=rng.sample(news, rng.randrange(0, 12)),
                )
            )
        taxonomies.append(SimpleNamespace(url=f"t{t}/", terms=terms))
    return {
        "articles": models + news,
        "models": models,
        "news": news,
        "sections": {"models": {"url": "mo-hinh/"}, "news": {"url": "tin-tuc/"}},
        "pages": [item(n, "trang") for n in range(4)],
        "statistics": SimpleNamespace(url="thong-ke/"),
        "taxonomies": taxonomies,
    }


@pytest.mark.parametrize("seed", range(6))
def test_sitemap_entries_take_each_date_once_with_the_same_result(seed):
    context = _sitemap_context(seed)
    expected = list(_reference_entries(context))
    assert list(sitemap_entries(context)) == expected
    assert list(sitemap_entries(context, dated=False)) == [
        (url, None) for url, _ in expected
    ]


def test_robots_without_site_url_has_no_sitemap_line():
    assert render_robots("", "sitemap.xml", ["/nhap/"]) == (
        "User-agent: *\nDisallow: /nhap/\n"
    )


def test_a_small_site_links_related_models_and_leaves_drafts_out(site):
    site.write("models/a.md", model(title="Mô hình A", locality="La Gi"))
    site.write(
        "models/b.md",
        model(
            title="Mô hình B", locality="La Gi", category="Kinh tế", date="2021-01-01"
        ),
    )
    site.write(
        "models/c.md",
        model(
            title="Mô hình C",
            locality="Phú Quý",
            category="Kinh tế",
            kind="Điển hình tập thể",
        ),
    )
    site.write("news/n1.md", news(title="Tin một", date="2021-02-01"))
    site.write("news/n2.md", news(title="Tin hai", date="2021-03-01"))
    site.write("news/n3.md", news(title="Tin nháp", date="2021-04-01", status="draft"))
    result = site.build(
        "publishconf.py", SITEURL="https://x.example", FEED_DOMAIN="https://x.example"
    )
    assert result.returncode == 0, result.stderr
    related = site.page("mo-hinh/a/").split('id="mo-hinh-lien-quan"')[1]
    assert "/mo-hinh/b/" in related and "/mo-hinh/c/" not in related
    other = site.page("tin-tuc/n1/").split('id="cac-tin-khac"')[1]
    assert "/tin-tuc/n2/" in other and "/tin-tuc/n1/" not in other
    assert "n3" not in other
    sitemap = (site.output / "sitemap.xml").read_text("utf-8")
    assert "https://x.example/tin-tuc/n2/" in sitemap and "n3" not in sitemap
    feed = (site.output / "tin-tuc" / "atom.xml").read_text("utf-8")
    assert "Tin hai" in feed and "Mô hình A" not in feed
    assert (site.output / "404.html").exists()
