"""The visitor counter's plugin: the script, the slots and the page list."""

import json

import pytest
from visitor_counter import OptionsError, get_options, page_id

from tests.conftest import get_settings, model, news

COUNTER_URL = "http://127.0.0.1:8787"


@pytest.fixture
def small_site(site):
    site.write("models/mo-hinh-a.md", model())
    site.write("news/tin-a.md", news(models=["mo-hinh-a"]))
    return site


@pytest.mark.parametrize(
    ("output_file", "expected"),
    [
        ("index.html", "/"),
        ("tin-tuc/x/index.html", "/tin-tuc/x/"),
        ("mo-hinh/2/index.html", "/mo-hinh/2/"),
        ("404.html", "/404.html"),
    ],
)
def test_page_ids_are_paths_from_the_site_root(output_file, expected):
    assert page_id(output_file) == expected


def test_unconfigured_the_pages_carry_no_counter(small_site):
    result = small_site.build()
    assert result.returncode == 0, result.stderr
    for url in ("", "mo-hinh/mo-hinh-a/", "tin-tuc/tin-a/"):
        html = small_site.page(url)
        assert "counter.js" not in html
        assert "data-counter" not in html
        assert "Số lượt truy cập" not in html


def test_the_page_list_names_every_countable_page(small_site):
    assert small_site.build().returncode == 0
    pages = json.loads((small_site.output / "counter-pages.json").read_text("utf-8"))[
        "pages"
    ]
    assert pages == sorted(pages)
    assert {
        "/",
        "/mo-hinh/",
        "/tin-tuc/",
        "/mo-hinh/mo-hinh-a/",
        "/tin-tuc/tin-a/",
    } <= set(pages)
    written = {
        "/" + p.relative_to(small_site.output).as_posix().removesuffix("index.html")
        for p in small_site.output.rglob("*.html")
        if p.name != "404.html"  # not a countable page
        and "quan-tri" not in p.parts  # the web editor (plugins/cms) is not counted
    }
    assert set(pages) == written


def test_configured_every_page_gets_the_script_and_its_slots(small_site):
    result = small_site.build(env={"COUNTER_URL": COUNTER_URL + "/"})
    assert result.returncode == 0, result.stderr
    home = small_site.page("")
    assert f'data-counter-url="{COUNTER_URL}" data-page="/"' in home
    assert (
        'Số lượt truy cập: <span class="counter-value" data-counter="site">—</span>'
        in home
    )
    for url in ("mo-hinh/mo-hinh-a/", "tin-tuc/tin-a/"):
        html = small_site.page(url)
        assert f'data-page="/{url}"' in html
        assert (
            'Lượt xem: <span class="counter-value" data-counter="page">—</span>' in html
        )
    assert 'data-counter="page"' not in home
    assert "<script>" not in home, "no inline script: the CSP forbids it"


def test_the_script_is_first_party_and_small(small_site):
    assert small_site.build(env={"COUNTER_URL": COUNTER_URL}).returncode == 0
    scripts = list(small_site.output.rglob("counter*.js"))
    assert scripts and all(p.stat().st_size < 2048 for p in scripts)


def test_settings_choose_what_to_show(small_site):
    result = small_site.build(
        env={"COUNTER_URL": COUNTER_URL}, COUNTER={"show_views": False}
    )
    assert result.returncode == 0, result.stderr
    assert 'data-counter="page"' not in small_site.page("tin-tuc/tin-a/")
    assert 'data-counter="site"' in small_site.page("tin-tuc/tin-a/")


@pytest.mark.parametrize(
    ("counter", "message"),
    [
        ({"urll": "x"}, "visitor_counter: unknown COUNTER keys: urll"),
        ({"url": "ftp://x"}, "visitor_counter: the counter URL must be http(s)"),
        (
            {"url": 'https://a.vn/"><script>'},
            "visitor_counter: the counter URL must be http(s)://host[:port]",
        ),
        (
            {"timeout_ms": 0},
            "visitor_counter: COUNTER['timeout_ms'] must be a positive int",
        ),
    ],
)
def test_wrong_options_are_clear_errors(counter, message):
    with pytest.raises(
        OptionsError,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        get_options(get_settings(COUNTER=counter), environ={})


@pytest.mark.parametrize(
    "url", ['https://a.vn/"><script>', "https://a.vn/api", "https://[:::]", "a.vn"]
)
def test_a_bad_counter_url_stops_the_build_with_its_reason(small_site, url):
    result = small_site.build(env={"COUNTER_URL": url})
    assert result.returncode != 0
    said = result.stdout + result.stderr
    assert "địa chỉ bộ đếm phải có dạng http(s)://tên-máy[:cổng]" in said, said
    assert repr(url) in said
    assert not (small_site.output / "index.html").exists()


def test_the_environment_gives_the_url_when_settings_do_not():
    options = get_options(
        get_settings(), environ={"COUNTER_URL": "https://dem.example.vn/"}
    )
    assert options["url"] == "https://dem.example.vn"
