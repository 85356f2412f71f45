"""Search: the Pagefind index, the search page, and real searches in headless Chromium."""

from __future__ import annotations

import functools
import gzip
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from search_index import OptionsError, fold_tail, get_options, shard_of, split_shards

from tests.browser import QuietHandler
from tests.conftest import ROOT, build_sample, model

CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data:; media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
ITEM_PAGES = ("mo-hinh/*/index.html", "tin-tuc/*/index.html")
SHARD_PAGES = 8  # the sample's 40-odd items in 8 shards, for the browser tests


class CSPHandler(QuietHandler):
    """Serve files with the portal's Content-Security-Policy header."""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        super().end_headers()


@contextmanager
def serve_with_csp(directory: Path) -> Iterator[str]:
    """Serve a folder on 127.0.0.1 with the strict CSP; yield its base URL."""
    handler = functools.partial(CSPHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ---- options and folding ---------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["Trưởng thôn làm đường"], "duong"),
        (["Huyện Đức Linh", "ĐOÀN KẾT"], "duc doan"),
        (["rác thải nhựa"], ""),
        (["<b>đất</b>", None, "Đảng"], "dat dang"),
        # Whole words of `\w` around each "đ": digits, "_", two "đ", "đ" last.
        (["x_đ2 (Đồng-đội) đđ 1đ, ab.đ"], "x_d2 dong doi dd 1d d"),
        (["\u0110u\u031bo\u031b\u0300ng đu\u0301"], "duong du"),  # NFD: made NFC first
    ],
)
def test_fold_tail_keeps_only_words_with_d_stroke(texts, expected):
    assert fold_tail(texts) == expected


def test_folded_words_are_kept_by_their_texts_and_computed_again_on_change(
    tmp_path, monkeypatch
):
    from types import SimpleNamespace

    import search_index.search_index as plugin

    def item(number: int, body: str) -> SimpleNamespace:
        return SimpleNamespace(
            title=f"Đường số {number}", summary="<p>Đoàn kết</p>", content=body
        )

    items = [item(n, f"<p>Đội {n} làm <b>đường</b> ở Đức Linh</p>") for n in range(3)]
    generator = plugin.SearchPageGenerator.__new__(plugin.SearchPageGenerator)
    generator.settings = {"CACHE_PATH": str(tmp_path)}
    generator.context = {"articles": items}
    folded = []
    real = plugin.fold_tail
    monkeypatch.setattr(plugin, "fold_tail", lambda t: folded.append(1) or real(t))

    def run() -> list[str]:
        folded.clear()
        generator.generate_context()
        return [i.search_fold for i in items]

    first = run()
    assert first == ["duong doan doi duong duc"] * 3 and len(folded) == 3
    assert run() == first and folded == []  # kept: none folded again
    items[1].content = "<p>Đổi mới</p>"
    assert run() == [first[0], "duong doan doi", first[2]] and len(folded) == 1
    notes = tmp_path / plugin.FOLDS_NOTES
    notes.write_text(notes.read_text().replace('"code": "', '"code": "other'))
    assert run() == [first[0], "duong doan doi", first[2]] and len(folded) == 3


def _fold_sources(count: int) -> list[list[tuple[str, bool]]]:
    """Return the sources of `count` items, each folding to its own words."""
    return [
        [(f"Đường số {n}", False), (f"<p>Đội {n} ở <b>Đức Linh</b> x{n}đ</p>", True)]
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("items", "workers", "forked"),
    [(999, 2, 0), (1200, 2, 1), (1500, 3, 2), (1500, 8, 2)],
)
def test_items_are_folded_alike_on_several_processes(
    items, workers, forked, monkeypatch
):
    import search_index.search_index as plugin

    sources = _fold_sources(items)
    alone = [fold_tail(plugin.source_texts(each)) for each in sources]
    assert len(set(alone)) == items  # each item's words are its own: order shows
    forks = []
    real = plugin._fork_folding
    monkeypatch.setattr(plugin, "_fork_folding", lambda s: forks.append(1) or real(s))
    assert plugin.fold_all(sources, workers) == alone
    assert len(forks) == forked


def test_a_folding_process_that_fails_leaves_its_share_to_the_build(monkeypatch):
    import pickle

    import search_index.search_index as plugin

    class Broken:
        """pickle, except that no result can be sent."""

        loads = staticmethod(pickle.loads)

        @staticmethod
        def dumps(_data: object) -> bytes:
            raise RuntimeError("a bug in the folding process")

    sources = _fold_sources(1200)
    alone = [fold_tail(plugin.source_texts(each)) for each in sources]
    monkeypatch.setattr(plugin, "pickle", Broken)
    shares = []
    real = plugin.fold_all
    monkeypatch.setattr(
        plugin, "fold_all", lambda s, w: shares.append(len(s)) or real(s, w)
    )
    assert plugin.fold_all(sources, 2) == alone
    assert shares == [1200, 600]  # the child's share, folded again by the build


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("yes", "must be a dict"),
        ({"colour": 1}, "unknown SEARCH keys: colour"),
        ({"enabled": "yes"}, "True or False"),
        ({"early": 1}, "['early'] must be True or False"),
        ({"url": "/tim-kiem"}, "end with '/'"),
        ({"output_subdir": "../x"}, "sub-folder"),
        ({"args": "--verbose"}, "list of strings"),
        ({"shard_pages": 0}, "'shard_pages'] must be a whole number >= 1"),
        ({"shard_pages": "640"}, "'shard_pages'] must be a whole number >= 1"),
        ({"workers": -1}, "'workers'] must be a whole number >= 0"),
        ({"workers": True}, "'workers'] must be a whole number >= 0"),
    ],
)
def test_bad_options_are_refused(setting, message):
    with pytest.raises(OptionsError, match=re.escape(message)) as error:
        get_options({"SEARCH": setting})
    assert str(error.value).startswith("search_index:")


def test_default_options():
    options = get_options({})
    assert options["enabled"] is True
    assert options["url"] == "tim-kiem/"
    assert options["output_subdir"] == "pagefind"


# ---- the built site --------------------------------------------------------


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """The sample content built with its index split into 8 shards."""
    return build_sample(
        tmp_path_factory, "sharded", SEARCH={"shard_pages": SHARD_PAGES}
    )


def shard_urls(bundle: Path) -> dict[str, set[str]]:
    """Map each shard of a bundle ("" for the first) to the URLs of its pages."""
    merge = json.loads((bundle / "shards.json").read_text())["merge"]
    found = {}
    for folder in ["", *merge]:
        fragments = (bundle / folder / "fragment").glob("*.pf_fragment")
        found[folder] = {
            json.loads(gzip.decompress(path.read_bytes())[len(b"pagefind_dcd") :])[
                "url"
            ]
            for path in fragments
        }
    return found


@pytest.mark.parametrize(("name", "shards"), [("sample", 1), ("sharded", 8)])
def test_only_models_and_news_are_indexed(request, name, shards):
    site = request.getfixturevalue(name)
    bundle = site.output / "pagefind"
    urls = shard_urls(bundle)
    assert len(urls) == shards
    indexed = 0
    for folder in urls:
        entry = json.loads((bundle / folder / "pagefind-entry.json").read_text())
        assert list(entry["languages"]) == ["vi"]
        indexed += entry["languages"]["vi"]["page_count"]
    items = [p for pattern in ITEM_PAGES for p in site.output.glob(pattern)]
    items = [p for p in items if "data-pagefind-body" in p.read_text("utf-8")]
    sources = [
        p for f in ("models", "news") for p in (ROOT / "content" / f).glob("*.md")
    ]
    assert indexed == len(items) == len(sources) == sum(map(len, urls.values()))
    wanted = {"/" + p.parent.relative_to(site.output).as_posix() + "/" for p in items}
    assert set().union(*urls.values()) == wanted
    # Each page is in the shard its path hashes to, whatever else the site holds.
    numbers = {"": 0} | {f"shard-{n}/": n for n in range(1, shards)}
    for folder, pages in urls.items():
        for url in pages:
            assert shard_of(url.strip("/") + "/index.html", shards) == numbers[folder]
    for listing in ("index.html", "mo-hinh/index.html", "tin-tuc/index.html"):
        assert "data-pagefind-body" not in (site.output / listing).read_text()
    assert "data-pagefind-body" not in site.page("tim-kiem/")


def fragments(bundle: Path) -> list[dict]:
    """Return every page's fragment (its content and meta) in a bundle's shards."""
    return [
        json.loads(gzip.decompress(path.read_bytes())[len(b"pagefind_dcd") :])
        for path in bundle.glob("**/fragment/*.pf_fragment")
    ]


def test_a_result_shows_its_own_picture_or_none(sample):
    """An item without a picture gets none in the index, not a related card's."""
    own_pictures = without = 0
    for page in fragments(sample.output / "pagefind"):
        html = (sample.output / page["url"].strip("/") / "index.html").read_text()
        article = html[html.index("data-pagefind-body") : html.index("</article>")]
        found = re.search(r'<img src="([^"]+)"[^>]* alt="([^"]*)"', article)
        picture, alt = found.groups() if found else ("", "")
        assert (page["meta"].get("image", ""), page["meta"].get("image_alt", "")) == (
            picture,
            alt,
        ), page["url"]
        own_pictures += bool(found)
        without += not found and "card-thumb" in html  # a related card's picture
    assert own_pictures and without  # both cases are in the sample


def test_item_pages_carry_filters_meta_and_the_folded_d_words(sample):
    html = sample.page("mo-hinh/truong-thon-van-dong-hien-dat-lam-duong/")
    assert re.search(r'<article class="item[^"]*" data-pagefind-body>', html)
    for attribute in (
        'data-pagefind-filter="loai:Mô hình"',
        'data-pagefind-filter="nam:2018"',
        'data-pagefind-filter="linh-vuc:Kinh tế"',
        'data-pagefind-filter="dia-ban:Tánh Linh"',
        'data-pagefind-meta="year:2018"',
    ):
        assert attribute in html
    tail = re.search(
        r'data-pagefind-meta="fold:(\d+)"></span>\s*<p>([a-z ]+)</p>', html
    )
    assert tail and len(tail[2].split()) == int(tail[1])
    assert "duong" in tail[2].split() and "duc" in tail[2].split()
    news = sample.page(
        "tin-tuc/duc-linh-bieu-duong-khen-thuong-dien-hinh-dan-van-kheo/"
    )
    assert 'data-pagefind-filter="loai:Tin tức"' in news
    assert 'data-pagefind-meta="date:25/09/2020"' in news


def test_every_page_has_the_header_search_form(sample):
    form = (
        '<form class="search" role="search" action="/tim-kiem/" method="get">'
        '<label for="q">Tìm kiếm</label> <input id="q" name="q" type="search"'
        ' placeholder="Tìm mô hình, tin tức…"> '
        '<button type="submit">Tìm</button></form>'
    )
    for page in ("", "mo-hinh/", "tin-tuc/", "gioi-thieu/"):
        assert form in sample.page(page)
    # The search page has its own box: the header's is left out there.
    assert '<form class="search"' not in sample.page("tim-kiem/")


def test_search_page_without_javascript_links_to_the_indexes(sample):
    html = sample.page("tim-kiem/")
    # The taxonomy indexes (/linh-vuc/, /dia-ban/, /nam/) are listed when that plugin is on.
    for url in ("/mo-hinh/", "/tin-tuc/"):
        assert f'href="{url}"' in html
    assert "Tìm kiếm cần JavaScript" in html
    # The assets plugin may give theme files content-hashed names.
    assert re.search(
        r'<script type="module" src="/theme/js/search(\.\w+)?\.js"></script>', html
    )
    assert "pagefind.js" not in re.sub(r'data-pagefind="[^"]*"', "", html)
    assert "<style" not in html and "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_pagefind_failure_stops_the_build_in_vietnamese(site):
    site.write("models/a.md", model())
    result = site.build(SEARCH={"args": ["--no-such-option"]})
    assert result.returncode == 1
    assert "search_index: không tạo được chỉ mục tìm kiếm" in result.stderr
    assert "Traceback" not in result.stderr


def test_search_can_be_disabled(site):
    site.write("models/a.md", model())
    result = site.build(SEARCH={"enabled": False})
    assert result.returncode == 0, result.stderr
    assert not (site.output / "pagefind").exists()
    assert (site.output / "tim-kiem/index.html").exists()


# ---- real searches in headless Chromium -------------------------------------


@pytest.fixture(scope="module")
def search_page(sharded, browser):
    """Open one browser page on the sample site in 8 shards; record errors and fetches."""
    with serve_with_csp(sharded.output) as base:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        page.set_default_timeout(15_000)
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                # a 404 is reported with its URL by the response handler below
                and not message.text.startswith("Failed to load resource")
                and page.errors.append(message.text)
            ),
        )
        page.on(
            "requestfailed", lambda request: page.errors.append(f"failed {request.url}")
        )
        page.on(
            "response",
            lambda response: (
                response.status >= 400
                and not response.url.endswith("/favicon.ico")
                and page.errors.append(f"{response.status} {response.url}")
            ),
        )
        page.base = base
        yield page
        page.close()


def wait_for_results(page) -> str:
    """Wait until the search has finished; return the status line."""
    # A locator assertion, not wait_for_function: the page's CSP forbids eval.
    finished = re.compile(r"^(Tìm thấy|Không tìm thấy|Chưa tải được)")
    expect(page.locator("#search-status")).to_have_text(finished)
    return page.text_content("#search-status")


def type_query(page, query: str) -> str:
    """Type a query into the search page as a reader would; return the status."""
    if "/tim-kiem/" not in page.url:
        page.goto(page.base + "/tim-kiem/")
    page.fill("#search-q", "")
    page.evaluate("document.getElementById('search-status').textContent = ''")
    page.type("#search-q", query, delay=10)
    page.press("#search-q", "Enter")
    return wait_for_results(page)


def results(page) -> list[dict]:
    """Return the drawn results: title, facts line, excerpt and marked words."""
    return page.eval_on_selector_all(
        ".search-result",
        """items => items.map(item => ({
            title: item.querySelector('h2 a').textContent,
            href: item.querySelector('h2 a').getAttribute('href'),
            facts: item.querySelector('.meta').textContent,
            excerpt: item.querySelector('.search-excerpt').textContent,
            marks: [...item.querySelectorAll('mark')].map(m => m.textContent),
        }))""",
    )


def filter_options(page, key: str) -> dict[str, str]:
    """Return a filter's options: value -> label with its count."""
    return page.eval_on_selector_all(
        f"#search-{key} option",
        "options => Object.fromEntries(options.map(o => [o.value, o.textContent]))",
    )


def fold(text: str) -> str:
    from portal.text import fold as fold_text

    return fold_text(text)


def test_search_code_loads_only_when_used(search_page):
    page = search_page
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(page.base + "/tim-kiem/")
    page.wait_for_load_state("networkidle")
    assert not [url for url in fetched if "/pagefind/" in url]
    assert page.is_hidden("#search-filters")
    fetched.clear()
    page.goto(page.base + "/mo-hinh/")
    page.wait_for_load_state("networkidle")
    assert not [url for url in fetched if "/js/search" in url or "/pagefind/" in url]
    page.click(".menu-button")  # on a phone the header's search box is in the menu
    page.fill("#q", "duong")
    page.press("#q", "Enter")
    page.wait_for_url("**/tim-kiem/?q=duong")
    assert wait_for_results(page).startswith("Tìm thấy")
    assert [url for url in fetched if url.endswith("/pagefind/pagefind.js")]


@pytest.mark.parametrize(
    ("query", "word", "title"),
    [
        ("duong", "đường", "Trưởng thôn vận động nhân dân hiến đất làm đường"),
        (
            "rac thai",
            "rác thải",
            "Phan Thiết nhân rộng mô hình đổi rác thải nhựa lấy khẩu trang",
        ),
        ("phan thiet", "Phan Thiết", "Đổi rác thải nhựa lấy khẩu trang y tế"),
        (
            "duc linh",
            "Đức Linh",
            "Tuyến đường xanh và bồn hoa làm từ chai nhựa tái chế",
        ),
        (
            "Đức Linh",
            "Đức Linh",
            "Đức Linh biểu dương, khen thưởng các mô hình, điển hình “Dân vận khéo”",
        ),
        ("rác thải", "rác thải", "Chợ dân sinh giảm thiểu rác thải nhựa"),
    ],
)
def test_queries_with_or_without_diacritics_find_vietnamese_text(
    search_page, query, word, title
):
    page = search_page
    status = type_query(page, query)
    found = results(page)
    assert re.fullmatch(r"Tìm thấy \d+ kết quả", status), status
    assert int(status.split()[2]) >= len(found) > 0
    assert title in [item["title"] for item in found]
    # Excerpts are the real Vietnamese text, with the matches marked.
    assert any(word in item["excerpt"] for item in found)
    marked = {fold(mark) for item in found for mark in item["marks"]}
    assert set(fold(query).split()) <= marked
    assert any(word.split()[0] in item["marks"] for item in found)
    for item in found:
        assert item["marks"], item
        assert not re.search(
            r"\b(duoc|dong|dan van) (duoc|dong|dat|duong)\b", item["excerpt"]
        )
        assert re.search(
            r"^(Mô hình · Năm \d{4}|Tin tức · \d\d/\d\d/\d{4})", item["facts"]
        )
    parsed = parse_qs(urlsplit(page.url).query)
    assert parsed == {"q": [query]}
    assert not page.errors


def test_query_typed_with_diacritics_ranks_exact_words_first(search_page):
    page = search_page
    status = type_query(page, "phần")
    page.click("#search-more")  # ten a page: show the next ones
    page.locator(".search-result").nth(10).wait_for()
    found = results(page)
    assert len(found) == min(20, int(status.split()[2]))
    assert {"phân", "phận", "Phan"} & {m for item in found for m in item["marks"]}
    exact = [any(m.lower() == "phần" for m in item["marks"]) for item in found]
    assert exact[0] and exact.index(False) > 0
    assert all(exact[: exact.index(False)]) and not any(exact[exact.index(False) :])


def test_no_result(search_page):
    page = search_page
    status = type_query(page, "khủng long bạo chúa")
    assert status.startswith("Không tìm thấy kết quả")
    assert results(page) == []
    assert not page.errors


def test_filters_count_combine_and_live_in_the_url(search_page):
    page = search_page
    total = int(type_query(page, "rac thai").split()[2])
    kinds = filter_options(page, "loai")
    assert kinds[""] == f"Tất cả ({total})"
    counts = {
        value: int(re.search(r"\((\d+)\)$", label)[1])
        for value, label in kinds.items()
        if value
    }
    assert set(counts) == {"Mô hình", "Tin tức"} and sum(counts.values()) == total

    page.select_option("#search-loai", "Tin tức")
    status = wait_for_results(page)
    assert status == f"Tìm thấy {counts['Tin tức']} kết quả"
    assert all(item["facts"].startswith("Tin tức") for item in results(page))
    # The chosen filter keeps its neighbours' counts; the others count within it.
    assert filter_options(page, "loai")["Mô hình"] == f"Mô hình ({counts['Mô hình']})"
    places = {v: t for v, t in filter_options(page, "dia-ban").items() if v}
    place, label = next(iter(places.items()))
    n = int(re.search(r"\((\d+)\)$", label)[1])

    page.select_option("#search-dia-ban", place)
    status = wait_for_results(page)
    assert status == f"Tìm thấy {n} kết quả"
    found = results(page)
    assert len(found) == n
    assert all(
        item["facts"].startswith("Tin tức") and place in item["facts"] for item in found
    )
    assert parse_qs(urlsplit(page.url).query) == {
        "q": ["rac thai"],
        "loai": ["Tin tức"],
        "dia-ban": [place],
    }

    # Reloading (or sharing) the URL restores the query, the filters and the results.
    page.reload()
    assert wait_for_results(page) == status
    assert page.input_value("#search-q") == "rac thai"
    assert page.input_value("#search-loai") == "Tin tức"
    assert page.input_value("#search-dia-ban") == place
    assert [item["title"] for item in results(page)] == [
        item["title"] for item in found
    ]
    assert not page.errors


def test_a_page_of_another_shard_is_found_and_filtered(search_page, sharded):
    page = search_page
    camera = "/mo-hinh/camera-an-ninh-vi-cong-dong/"
    shards = shard_urls(sharded.output / "pagefind")
    # "camera" is in that page only, which is not in the first shard: found only if
    # the others are merged. The other shards have no word starting with "camera", so
    # Pagefind answers them with its longest prefix ("ca…"): search.js drops those.
    assert [folder for folder, urls in shards.items() if camera in urls] != [""]
    page.goto(page.base + "/tim-kiem/")  # no filter left from an earlier test
    assert type_query(page, "camera") == "Tìm thấy 1 kết quả"
    assert [item["href"] for item in results(page)] == [camera]
    assert "camera" in results(page)[0]["marks"]
    assert filter_options(page, "loai") == {"": "Tất cả (1)", "Mô hình": "Mô hình (1)"}
    for query, status in [
        ("loai=Mô+hình&nam=2019&dia-ban=Phan+Thiết", "Tìm thấy 1 kết quả"),
        ("loai=Tin+tức", "Không tìm thấy kết quả cho “camera”."),
        ("nam=2020", "Không tìm thấy kết quả cho “camera”."),
    ]:
        page.goto(f"{page.base}/tim-kiem/?q=camera&{query}")
        assert wait_for_results(page) == status
    assert not page.errors


def test_without_javascript_the_form_leads_to_the_indexes(sample, browser):
    with serve_with_csp(sample.output) as base:
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(base + "/mo-hinh/")
        page.fill("#q", "đường")
        page.press("#q", "Enter")
        page.wait_for_url("**/tim-kiem/?q=*")
        assert parse_qs(urlsplit(page.url).query) == {"q": ["đường"]}
        assert "Tìm kiếm cần JavaScript" in page.text_content("#search-nojs")
        links = page.eval_on_selector_all(
            "#search-browse a", "links => links.map(a => a.getAttribute('href'))"
        )
        assert links[-2:] == ["/mo-hinh/", "/tin-tuc/"]
        assert page.is_hidden("#search-filters")
        context.close()


def test_rebuilding_leaves_no_stale_index_files(site):
    site.write("models/a.md", model())
    assert site.build().returncode == 0
    first = {p.name for p in (site.output / "pagefind/fragment").iterdir()}
    site.write("models/a.md", model(summary="Một tóm tắt khác hẳn."))
    assert site.build().returncode == 0
    second = {p.name for p in (site.output / "pagefind/fragment").iterdir()}
    assert len(second) == 1 and second != first


def _indexed_site(folder: Path, pages: dict[str, str]) -> None:
    """Write a site of item pages Pagefind can index, and one listing it must not."""
    for name, words in pages.items():
        page = folder / name / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            f'<html lang="vi"><body><main data-pagefind-body><h1>{name}</h1>'
            f"<p>{words}</p></main></body></html>",
            "utf-8",
        )
    listing = folder / "index.html"
    listing.write_text('<html lang="vi"><body><p>danh sách</p></body></html>')


def _bundle(folder: Path) -> dict[str, bytes]:
    """Map every file of a Pagefind bundle to its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("pages", "shard_pages", "shards"),
    [(0, 640, 1), (1, 640, 1), (640, 640, 1), (641, 640, 2), (5000, 640, 8)],
)
def test_the_shard_count_is_a_power_of_two(pages, shard_pages, shards):
    from search_index.search_index import Page, shard_count

    assert shard_count(pages, shard_pages) == shards
    split = split_shards([Page(f"p{n}/index.html", b"") for n in range(pages)], 640)
    assert sum(map(len, split.values())) == pages
    assert all(n < shards for n in split)


def test_one_edited_page_indexes_its_shard_again_and_no_stale_shard_survives(
    tmp_path, monkeypatch, caplog
):
    import search_index.search_index as plugin

    from bench.run import PAGEFIND_LINE

    caplog.set_level(logging.INFO, logger=plugin.__name__)
    cache = tmp_path / "cache"
    ran = []
    real = plugin.run_pagefind
    monkeypatch.setattr(plugin, "run_pagefind", lambda *a: ran.append(a) or real(*a))

    def build(name: str, pages: dict[str, str], cache: Path = cache):
        ran.clear()
        output = tmp_path / name
        _indexed_site(output, pages)
        settings = {"OUTPUT_PATH": str(output), "CACHE_PATH": str(cache)}
        settings["SEARCH"] = {"shard_pages": 2, "workers": 2}
        plugin.index_site(type("Pelican", (), {"settings": settings})())
        return output / "pagefind"

    pages = {f"trang-{n}": f"Dân vận khéo số {n}" for n in range(8)}
    first = build("first", pages)
    urls = shard_urls(first)
    assert len(urls) == len(ran) == len(list((cache / "pagefind").iterdir())) == 4
    assert sorted(set().union(*urls.values())) == sorted(f"/{n}/" for n in pages)
    assert _bundle(build("again", pages)) == _bundle(first) and ran == []

    edited = build("edited", {**pages, "trang-5": "Dân vận khéo, đã sửa"})
    assert len(ran) == 1 and len(list((cache / "pagefind").iterdir())) == 4
    # The line make bench reads Pagefind's seconds and peak memory from.
    assert [r for r in caplog.messages if PAGEFIND_LINE.search(r)][-1].startswith(
        "search_index: indexed 1 of 4 shards in "
    )
    before, after = _bundle(first), _bundle(edited)
    changed = {
        name.split("/")[0] + "/" if name.startswith("shard-") else ""
        for name in before.keys() | after.keys()
        if before.get(name) != after.get(name)
    }
    assert changed == {next(f for f, found in urls.items() if "/trang-5/" in found)}
    # A clean build (no cache) puts every page in the same shard.
    clean = build("clean", {**pages, "trang-5": "Dân vận khéo, đã sửa"}, tmp_path / "c")
    assert shard_urls(clean) == shard_urls(edited)

    # Fewer pages, fewer shards: none of the old ones is left behind.
    for name in pages:
        shutil.rmtree(tmp_path / "edited" / name)
    shrunk = build("edited", {"trang-1": "Một trang"})
    assert shard_urls(shrunk) == {"": {"/trang-1/"}}
    assert (
        not list(shrunk.glob("shard-*"))
        and len(list((cache / "pagefind").iterdir())) == 1
    )
    # The unused bundles were moved out of the cache, then deleted by a thread.
    for thread in threading.enumerate():
        if thread.name == "search_index":
            thread.join()
    assert not list(cache.glob(".pagefind-unused-*")) and (cache / "pagefind").is_dir()


def _kept_shard(folder: Path, files: dict[str, str]) -> Path:
    """Write a stand-in for a kept Pagefind bundle, its files' times an hour old."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        os.utime(path, ns=(1, path.stat().st_mtime_ns - 3600 * 10**9))
    return folder


def test_the_bundle_is_rewritten_only_where_it_differs_from_the_kept_shards(
    tmp_path, monkeypatch
):
    from search_index.search_index import assemble

    def shard(name: str, word: str, *kept: str) -> Path:
        return _kept_shard(
            tmp_path / name,
            {
                **{f"fragment/vi_{k}.pf_fragment": k for k in kept},
                "pagefind.js": "js",
                "wasm.vi.pagefind": "wasm",  # not needed by a merged shard
                "pagefind-entry.json": f"entry {word}",
                f"pagefind.vi_{word}.pf_meta": word,
                f"index/vi_{word}.pf_index": word,
                f"filter/vi_{word}.pf_filter": word,
                f"fragment/vi_{word}.pf_fragment": word,
            },
        )

    one, two, three = shard("k1", "mot"), shard("k2", "hai"), shard("k3", "ba")
    edited = shard("k3b", "bon", "ba")  # one page unchanged: the same fragment
    bundle = tmp_path / "output" / "pagefind"
    assemble(bundle, {0: one, 1: two, 3: three})
    assemble(tmp_path / "clean", {0: one, 1: two, 3: edited})
    # A stray file, a folder, a file changed in place, a file gone.
    (bundle / "stray.txt").write_text("x")
    (bundle / "shard-5" / "index").mkdir(parents=True)
    (bundle / "shard-5" / "index" / "old.pf_index").write_text("x")
    (bundle / "fragment" / "vi_mot.pf_fragment").write_text("MOT")
    (bundle / "shard-1" / "filter" / "vi_hai.pf_filter").unlink()
    copied = []
    copy = shutil.copy2
    monkeypatch.setattr(shutil, "copy2", lambda a, b: copied.append(b) or copy(a, b))

    assemble(bundle, {0: one, 1: two, 3: edited})
    assert _bundle(bundle) == _bundle(tmp_path / "clean")
    assert "shard-1/wasm.vi.pagefind" not in _bundle(bundle)
    assert json.loads((bundle / "shards.json").read_text()) == {
        "merge": ["shard-1/", "shard-3/"]
    }
    assert not (bundle / "shard-5").exists()
    # Only the edited shard's new files and the files changed or removed are
    # copied again; a file with the same bytes takes its kept copy's time.
    same = (bundle / "shard-3/fragment/vi_ba.pf_fragment").stat().st_mtime_ns
    assert same == (edited / "fragment/vi_ba.pf_fragment").stat().st_mtime_ns
    assert sorted(Path(p).relative_to(bundle).as_posix() for p in copied) == sorted(
        [
            "fragment/vi_mot.pf_fragment",
            "shard-1/filter/vi_hai.pf_filter",
            *(n for n in _bundle(bundle) if n.startswith("shard-3/") and "ba" not in n),
        ]
    )


def _note_threads(monkeypatch, module, name: str, calls: list) -> Callable:
    """Make module.name note the thread that calls it in `calls`; return the real one."""
    real = getattr(module, name)

    def noted(*args):
        calls.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(module, name, noted)
    return real


def test_an_early_run_indexes_ahead_and_never_decides_the_result(
    tmp_path, monkeypatch, caplog
):
    from types import SimpleNamespace

    import search_index.search_index as plugin

    from bench.run import PAGEFIND_LINE

    caplog.set_level(logging.INFO, logger=plugin.__name__)

    ran, assembled, events = [], [], []
    _note_threads(monkeypatch, plugin, "run_pagefind", ran)
    real_assemble = _note_threads(monkeypatch, plugin, "assemble", assembled)
    _note_threads(monkeypatch, plugin, "indexed_pages", events)
    real_finish = plugin.finish_early
    monkeypatch.setattr(
        plugin, "finish_early", lambda *a: events.append("join") or real_finish(*a)
    )

    def build(name: str, pages: dict[str, str], edit=None, early: bool = True):
        output = tmp_path / name
        _indexed_site(output, pages)
        settings = {"OUTPUT_PATH": str(output), "CACHE_PATH": str(tmp_path / name)}
        settings["CACHE_PATH"] += "-cache"
        # One Pagefind at a time: each runs in the thread that asked for it.
        settings["SEARCH"] = {"shard_pages": 2, "workers": 1, "early": early}
        ran.clear()
        assembled.clear()
        events.clear()
        plugin.index_items_early(SimpleNamespace(settings=settings))
        if edit:  # a page written again after the early run looked
            plugin._early[output].join()
            _indexed_site(output, edit)
        plugin.index_site(SimpleNamespace(settings=settings))
        return output / "pagefind"

    def fragments(bundle: Path) -> dict[str, bytes]:
        return {k: v for k, v in _bundle(bundle).items() if "fragment/" in k}

    pages = {f"trang-{n}": f"Dân vận khéo số {n}" for n in range(8)}
    ahead = build("ahead", pages)
    shards = len(shard_urls(ahead))
    assert shards > 1 and ran == ["search_index-early"] * shards
    # No bundle in the output yet: the early run assembled it in the cache, the
    # final run moved it in, and it is what assembling the kept shards gives.
    assert assembled == ["search_index-early"]
    # The final list is made before waiting for the early run, once it listed.
    assert events == ["join", "search_index-early", "MainThread", "join"]
    options = plugin.get_options({"SEARCH": {"shard_pages": 2}})
    output, cache = ahead.parent, tmp_path / "ahead-cache" / plugin.CACHE_SUBDIR
    listed = plugin.split_shards(plugin.indexed_pages(output, ahead), 2)
    kept = {n: cache / plugin.shard_key(p, options) for n, p in listed.items()}
    real_assemble(tmp_path / "reassembled", kept)
    assert _bundle(ahead) == _bundle(tmp_path / "reassembled")
    assert not list(cache.glob(".bundle-*"))
    # The line make bench reads Pagefind's seconds and peak memory from.
    assert any(
        PAGEFIND_LINE.search(m) and f"indexed {shards} of {shards} shards" in m
        for m in caplog.messages
    )
    edited = {"trang-2": "Dân vận khéo, đã sửa"}
    late = build("late", pages, edited)
    assert ran[:shards] == ["search_index-early"] * shards and len(ran) == shards + 1
    # A shard indexed again: the bundle made ahead is not this run's, never taken.
    assert assembled == ["search_index-early", "MainThread"]
    assert not ran[-1].startswith("search_index")  # the final run
    clean = tmp_path / "clean"
    _indexed_site(clean, {**pages, **edited})
    plugin.make_index(clean, {}, plugin.get_options({"SEARCH": {"shard_pages": 2}}))
    assert shard_urls(late) == shard_urls(clean / "pagefind")
    assert fragments(late) == fragments(clean / "pagefind")
    build("after", pages, early=False)
    assert len(ran) == shards and "search_index-early" not in ran
    assert assembled == ["MainThread"]
    assert events == ["join", "MainThread"]  # no early run: listed by make_index


def test_a_page_changed_since_it_was_listed_is_never_indexed(tmp_path):
    import search_index.search_index as plugin

    output = tmp_path / "output"
    _indexed_site(output, {"trang": "Dân vận khéo", "khac": "Mô hình"})
    pages = plugin.indexed_pages(output, output / "pagefind")
    _indexed_site(output, {"trang": "Đã sửa sau khi liệt kê"})
    kept = tmp_path / "cache" / "key"
    kept.parent.mkdir()
    with pytest.raises(plugin.SearchIndexError, match="trang/index.html bị ghi lại"):
        plugin.index_shard(output, pages, kept, plugin.get_options({}))
    assert not kept.exists()


def test_pagefind_indexes_the_listed_bytes_while_the_output_changes(
    tmp_path, monkeypatch
):
    import search_index.search_index as plugin

    output = tmp_path / "output"
    _indexed_site(output, {"trang": "Dân vận khéo"})
    pages = plugin.indexed_pages(output, output / "pagefind")
    real = plugin.run_pagefind

    def rewriting(*args):
        _indexed_site(output, {"trang": "Đã sửa trong lúc đọc"})
        return real(*args)

    monkeypatch.setattr(plugin, "run_pagefind", rewriting)
    kept = tmp_path / "cache" / "key"
    kept.parent.mkdir()
    plugin.index_shard(output, pages, kept, plugin.get_options({}))
    # The bundle is kept by the listed bytes, and it is theirs.
    (found,) = fragments(kept)
    assert "Dân vận khéo" in found["content"]
    assert "sửa" not in found["content"]


PAGE = (
    '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">'
    "<title>Chợ – Dân vận khéo</title>"
    '<link rel="stylesheet" href="/theme/site.css"></head><body>'
    '<header><nav><a href="/">Trang chủ</a></nav></header>{before}'
    '<article class="item" data-pagefind-body><h1>Chợ</h1>'
    "<article><p>lồng</p></article>{inside}</article>{after}"
    "<footer>Ban Dân vận</footer></body></html>\n"
)


@pytest.mark.parametrize(
    ("before", "inside", "after", "cut"),
    [
        ("", "", "", True),
        (
            "",
            '<span data-pagefind-filter="nam:2020"></span>',
            "<section>x</section>",
            True,
        ),
        ('<p data-pagefind-meta="image:/a.jpg"></p>', "", "", False),
        ("", "", '<div data-pagefind-filter="nam:2020">2020</div>', False),
        ("", "<!-- </article> -->", "", False),
        ("", "<script>var a = '</article>';</script>", "", False),
        ("", "</article>", "", True),  # ends early: the rest falls outside, uncut
    ],
)
def test_pagefind_is_given_the_search_body_or_the_whole_page(
    before, inside, after, cut
):
    from search_index.search_index import search_copy

    page = PAGE.format(before=before, inside=inside, after=after).encode()
    copy = search_copy(page)
    if not cut:
        assert copy == page
        return
    # The body is its element up to the matching end tag (a stray one ends it).
    end = page.rindex(b"</article>") + (0 if inside == "</article>" else 10)
    assert copy == (
        b'<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">'
        + "<title>Chợ – Dân vận khéo</title>".encode()
        + b"</head><body>"
        + page[page.index(b"<article class") : end]
        + b"</body></html>\n"
    )
    assert b"<nav>" not in copy and b"<footer>" not in copy


TAGS = [
    b'<div data-pagefind-body class="a">',
    b"<p>data-pagefind-body in text</p>",
    b'<a title="x data-pagefind-body">',
    b"<main\tdata-pagefind-body>",
    b"<1 data-pagefind-body>",
    b"< data-pagefind-body>",
    b"<div data-pagefind-bodyx>",
    b'<section data-pagefind-body="">',
    b"<b data-pagefind-body data-pagefind-body/>",
    b"<i x=> data-pagefind-body>",
    b"<<article data-pagefind-body>",
    b"data-pagefind-body>",
]


@pytest.mark.parametrize("first", range(len(TAGS)))
def test_the_body_tag_is_found_as_the_pattern_would_find_it(first):
    """first_tag gives the regex's own first match; _outside, the joined bytes' test."""
    from search_index.search_index import _BODY_TAG, BODY, _outside, first_tag

    for second in TAGS:
        data = b"<html><p>x</p>" + TAGS[first] + b"y" + second + b"</html>"
        for pattern in (_BODY_TAG, BODY):
            found, expected = first_tag(data, pattern), pattern.search(data)
            assert (found and found.span()) == (expected and expected.span())
            assert (found and found.groups()) == (expected and expected.groups())
        for start in range(0, len(data), 3):
            for end in range(start, len(data) + 1, 5):
                joined = data[:start] + data[end:]
                assert _outside(data, start, end, b"data-pagefind") == (
                    b"data-pagefind" in joined
                )


def test_the_search_body_alone_gives_pagefind_the_same_fragments(sample, tmp_path):
    import search_index.search_index as plugin

    pages = [
        p
        for pattern in ITEM_PAGES
        for p in sample.output.glob(pattern)
        if b"data-pagefind-body" in p.read_bytes()
    ]
    cut = 0
    for kind in ("whole", "cut"):
        for page in pages:
            data = page.read_bytes()
            copy = tmp_path / kind / page.relative_to(sample.output)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(data if kind == "whole" else plugin.search_copy(data))
            cut += kind == "cut" and len(copy.read_bytes()) < len(data) / 2
        plugin.run_pagefind(
            tmp_path / kind,
            tmp_path / f"{kind}-bundle",
            {"args": [], "timeout": 120},
        )
    assert cut == len(pages)  # every item page of the theme is cut to its body
    whole, cut_down = tmp_path / "whole-bundle", tmp_path / "cut-bundle"
    names = sorted(p.name for p in whole.glob("fragment/*"))
    assert names and names == sorted(p.name for p in cut_down.glob("fragment/*"))
    assert _bundle(whole / "index") == _bundle(cut_down / "index")
    assert sorted(fragments(whole), key=str) == sorted(fragments(cut_down), key=str)
    entry = json.loads((cut_down / "pagefind-entry.json").read_text())
    assert entry["languages"]["vi"]["page_count"] == len(pages)


def test_indexed_pages_are_read_again_only_when_their_stamps_change(tmp_path):
    """The notes under CACHE_PATH spare reading unchanged pages, never a changed one."""
    from search_index.search_index import indexed_pages

    output, notes = tmp_path / "output", tmp_path / "cache" / "notes.json"
    page = output / "tin-tuc" / "a" / "index.html"
    page.parent.mkdir(parents=True)
    notes.parent.mkdir()
    body = "<article data-pagefind-body>{}</article>"
    page.write_text(body.format("một"), "utf-8")
    (output / "index.html").write_text("<p>danh sách</p>", "utf-8")
    first = indexed_pages(output, output / "pagefind", notes)
    assert [p.name for p in first] == ["tin-tuc/a/index.html"]
    os.utime(page, ns=(1, 1_000_000_000))  # old enough not to be racy
    os.utime(output / "index.html", ns=(1, 1_000_000_000))
    indexed_pages(output, output / "pagefind", notes)  # notes these stamps
    page.write_text(body.format("hai"), "utf-8")  # same size, new bytes
    os.utime(page, ns=(1, 2_000_000_000))
    (output / "index.html").write_text(body.format("ba!"), "utf-8")
    os.utime(output / "index.html", ns=(1, 1_000_000_000))  # size changed too
    again = indexed_pages(output, output / "pagefind", notes)
    assert [p.name for p in again] == ["index.html", "tin-tuc/a/index.html"]
    assert again[1].digest != first[0].digest


@pytest.mark.parametrize("way", ["memory", "memory full", "no scratch"])
def test_pagefind_reads_its_copies_from_the_scratch_folder_or_beside_the_cache(
    tmp_path, monkeypatch, way
):
    import errno

    import search_index.search_index as plugin

    output, scratch = tmp_path / "output", tmp_path / "shm"
    scratch.mkdir()
    _indexed_site(output, {"trang": "Dân vận khéo", "khac": "Mô hình"})
    pages = plugin.indexed_pages(output, output / "pagefind")
    kept = tmp_path / "cache" / "key"
    kept.parent.mkdir()
    read, real_stage, real_run = [], plugin.stage, plugin.run_pagefind

    def staging(output, pages, folder):
        if way == "memory full" and folder.parent == scratch:
            (folder / "half").write_bytes(b"")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_stage(output, pages, folder)

    def running(site, target, options):
        read.append((site.parent, sorted(p.name for p in site.rglob("*.html"))))
        return real_run(site, target, options)

    monkeypatch.setattr(plugin, "stage", staging)
    monkeypatch.setattr(plugin, "run_pagefind", running)
    options = plugin.get_options(
        {"SEARCH": {"scratch": "" if way == "no scratch" else str(scratch)}}
    )
    plugin.index_shard(output, pages, kept, options)
    where = scratch if way == "memory" else kept.parent
    assert read == [(where, ["index.html", "index.html"])]
    assert list(scratch.iterdir()) == []  # removed at once, or never made
    assert sorted(p.name for p in kept.parent.iterdir()) == ["key"]  # set aside
    assert sorted(f["url"] for f in fragments(kept)) == ["/khac/", "/trang/"]
