"""Localities across the 2025 reorganisation: data, validation and pages on real builds."""

from __future__ import annotations

import importlib.util
import re

import pytest

from portal import vocab
from tests.conftest import ROOT, Site, model, news

FORMER_SLUGS = [
    "phan-thiet",
    "la-gi",
    "tuy-phong",
    "bac-binh",
    "ham-thuan-bac",
    "ham-thuan-nam",
    "ham-tan",
    "tanh-linh",
    "duc-linh",
    "phu-quy",
]


@pytest.fixture(scope="module")
def localities() -> vocab.Vocabulary:
    return vocab.load(ROOT / "data")["dia-ban"]


def test_the_file_is_what_the_pinned_packages_give():
    spec = importlib.util.spec_from_file_location(
        "update_localities", ROOT / "scripts" / "update_localities.py"
    )
    update_localities = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(update_localities)
    assert update_localities.main(["--check"]) == 0


def test_the_new_units_are_the_packages_124_with_their_codes(localities):
    from vietnam_provinces import Province, Ward

    province = next(p for p in Province.iter_all() if p.name == "Lâm Đồng")
    expected = {
        f"{w.code.value:05d}": w.name for w in Ward.iter_by_province(province.code)
    }
    new = {t.code: t.name for t in localities if t.level == "xã" and t.valid_from}
    assert new == expected and len(new) == 124
    assert all(t.part_of == "lam-dong" for t in localities if t.code in expected)


def test_former_districts_keep_their_slugs_and_end_on_30_june_2025(localities):
    for slug in FORMER_SLUGS:
        term = localities.by_slug(slug)
        assert term.level == "huyện" and term.part_of == "binh-thuan"
        assert str(term.valid_to) == "2025-06-30" and term.succeeded_by
    assert localities.by_slug("cap-tinh").timed is False  # hand-written, kept


def test_a_colliding_new_unit_gets_its_level_in_the_slug(localities):
    assert localities.lookup("Hàm Thuận Bắc").slug == "ham-thuan-bac"
    assert localities.lookup("Xã Hàm Thuận Bắc").slug == "xa-ham-thuan-bac"
    assert localities.lookup("Hàm Liêm").slug == "ham-liem"  # no collision
    assert localities.lookup("TP Phan Thiết").slug == "phan-thiet"
    names = [t.name for t, _ in localities.successors(localities.by_slug("phan-thiet"))]
    assert "Phường Phan Thiết" in names and "Phường Mũi Né" in names
    before = localities.predecessors(localities.by_slug("xa-ham-thuan-bac"))
    assert [t.slug for t, _ in before] == ["ham-thuan-bac"]


def test_a_vocabulary_link_to_a_missing_term_is_a_clear_error(tmp_path):
    (tmp_path / "dia-ban.yml").write_text(
        "terms:\n  - {name: A, valid_to: 2025-06-30, succeeded_by: [b]}\n", "utf-8"
    )
    with pytest.raises(vocab.VocabularyError, match="succeeded_by “b” không có"):
        vocab.load(tmp_path)


def _write(site: Site, files: dict[str, str]) -> None:
    for path, text in files.items():
        site.write(path, text)


@pytest.fixture(scope="module")
def accepted(tmp_path_factory) -> tuple[Site, str]:
    """Build a site whose localities are all accepted (one with a warning)."""
    site = Site(tmp_path_factory.mktemp("localities"))
    _write(
        site,
        {
            "models/old-district-2025.md": model(locality="Hàm Thuận Bắc", year=2025),
            "models/new-commune-2025.md": model(locality="Xã Hàm Liêm", year=2025),
            "models/new-commune-2019.md": model(locality="Xã Hàm Liêm", year=2019),
            "models/alias-2019.md": model(locality="TP Phan Thiết", year=2019),
            "news/new-ward-2026.md": news(
                locality="Phường Phan Thiết", date="2026-03-02"
            ),
        },
    )
    # Built as on 30/6/2025: the footer shows that day's agency.
    result = site.build(env={"BUILD_DATE": "2025-06-30"})
    assert result.returncode == 0, result.stderr
    return site, result.stdout + result.stderr


def test_2025_accepts_units_on_both_sides_and_aliases_resolve(accepted):
    site, log = accepted
    assert "old-district-2025" not in log and "new-commune-2025" not in log
    assert "alias-2019" not in log
    assert "Phan Thiết" in site.page("mo-hinh/alias-2019/")


def test_a_2019_model_in_a_2025_commune_gets_a_warning(accepted):
    _, log = accepted
    line = next(x for x in log.splitlines() if "new-commune-2019" in x)
    assert "CẢNH BÁO" in line and "chỉ có từ 01/7/2025" in line
    assert "Hàm Thuận Bắc" in line  # what it belonged to then


def test_a_former_district_page_links_successors_and_lists_their_items(accepted):
    site, _ = accepted
    html = site.page("dia-ban/phan-thiet/")
    assert "không còn từ 01/7/2025" in html
    assert re.search(
        r'Nay là các xã, phường:.*href="/dia-ban/phuong-phan-thiet/"', html, re.S
    )
    section = html.split('id="tren-dia-ban-moi"', 1)[1]
    assert "/tin-tuc/new-ward-2026/" in section
    assert "/mo-hinh/alias-2019/" in html.split('id="tren-dia-ban-moi"', 1)[0]
    # A former district with no items of its own still gets a page for its successors'.
    assert "/mo-hinh/new-commune-2025/" in site.page("dia-ban/ham-thuan-bac/")


def test_a_new_unit_page_links_its_predecessors_and_breadcrumbs(accepted):
    site, _ = accepted
    html = site.page("dia-ban/phuong-phan-thiet/")
    assert re.search(r'Trước 01/7/2025 thuộc:\s*<a href="/dia-ban/phan-thiet/">', html)
    crumbs = html.split('class="breadcrumbs"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/dia-ban/#tu-2025"' in crumbs and "Từ 01/7/2025" in crumbs
    group = re.search(
        r'href="/dia-ban/#(tu-2025-\d+)">Khu vực Bình Thuận \(cũ\)<', crumbs
    )
    assert group and f'<h3 id="{group.group(1)}">' in site.page("dia-ban/")


def test_the_overview_groups_by_period_and_lists_empty_terms(accepted):
    site, _ = accepted
    html = site.page("dia-ban/")
    new, old = html.index('id="tu-2025"'), html.index('id="truoc-2025"')
    assert new < old
    assert "Khu vực Bình Thuận (cũ)" in html and "Khu vực Đắk Nông (cũ)" in html
    assert '<span class="term-empty">Xã Đắk Mil</span>' in html
    assert '<a href="/dia-ban/ham-liem/">Xã Hàm Liêm</a>' in html


def test_search_facets_carry_the_former_area_and_the_period(accepted):
    site, _ = accepted
    html = site.page("tin-tuc/new-ward-2026/")
    assert 'data-pagefind-filter="dia-ban:Phường Phan Thiết"' in html
    assert 'data-pagefind-filter="dia-ban:Phan Thiết"' in html
    assert 'data-pagefind-filter="giai-doan:Từ 01/7/2025"' in html


def test_items_show_the_agency_of_their_date(accepted):
    site, _ = accepted
    old = site.page("mo-hinh/alias-2019/")
    assert "Cơ quan ghi nhận: Ban Dân vận Tỉnh ủy Bình Thuận" in old
    new = site.page("tin-tuc/new-ward-2026/")
    assert '"Ban Dân vận Tỉnh ủy Lâm Đồng"' in new  # structured data: its date
    footer = new.split('class="site-footer"', 1)[1]
    assert "Ban Dân vận Tỉnh ủy Bình Thuận" in footer  # the build date's
    assert "Lâm Đồng" not in footer


def test_a_ceased_district_in_2026_is_an_error_naming_its_successors(site):
    site.write(
        "models/old-district-2026.md", model(locality="Hàm Thuận Bắc", year=2026)
    )
    site.write("news/alias-2026.md", news(locality="TP Phan Thiết", date="2026-02-01"))
    result = site.build()
    assert result.returncode != 0 and "Traceback" not in result.stderr
    log = result.stdout + result.stderr
    line = next(x for x in log.splitlines() if "old-district-2026" in x)
    assert "LỖI" in line and "không còn từ 01/7/2025" in line and "locality" in line
    assert "“Xã Hàm Thuận Bắc”" in line and "“Xã Hàm Thuận”" in line
    line = next(x for x in log.splitlines() if "alias-2026" in x)
    assert "LỖI" in line and "“Phường Phan Thiết”" in line


def test_the_sample_has_new_lam_dong_content_and_todays_agency(sample):
    html = sample.page("dia-ban/")
    for slug in ("xa-ham-thuan-bac", "phuong-phan-thiet", "xa-di-linh", "xa-dak-mil"):
        assert f'href="/dia-ban/{slug}/"' in html
    assert "Ban Dân vận Tỉnh ủy Lâm Đồng" in sample.page("")  # footer, build date


@pytest.mark.parametrize(
    ("day", "agency"),
    [
        ("2019-05-01", "Ban Dân vận Tỉnh ủy Bình Thuận"),
        ("2025-06-30", "Ban Dân vận Tỉnh ủy Bình Thuận"),
        ("2025-07-01", "Ban Dân vận Tỉnh ủy Lâm Đồng"),
        ("2026-12-06", "Ban Dân vận Tỉnh ủy Lâm Đồng"),
    ],
)
def test_the_agency_changes_on_1_july_2025(day, agency):
    import datetime as dt

    from portal import identity

    agencies = identity.Agencies(ROOT / "data" / "co-quan.yml")
    assert agencies(dt.date.fromisoformat(day))["name"] == agency


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"BUILD_DATE": "2025-06-30"}, "2025-06-30"),
        ({"SOURCE_DATE_EPOCH": "1751302800"}, "2025-07-01"),  # 00:00 in Vietnam
    ],
)
def test_the_build_date_is_an_input(environ, expected):
    from portal import identity

    assert str(identity.build_date(environ)) == expected


def test_a_wrong_agency_file_is_a_clear_error(tmp_path):
    from portal import identity

    path = tmp_path / "co-quan.yml"
    path.write_text("agencies:\n  - {name: A, valid_to: sau này}\n", "utf-8")
    with pytest.raises(identity.IdentityError, match="không phải ngày"):
        identity.read_agencies(path)


def test_a_unit_spanning_two_former_districts_is_noted_as_partial(localities):
    ward = localities.by_slug("phuong-binh-thuan")
    assert [(t.slug, note) for t, note in localities.predecessors(ward)] == [
        ("phan-thiet", "một phần"),
        ("ham-thuan-bac", "một phần"),
    ]
    city = localities.by_slug("phan-thiet")
    after = {t.slug: note for t, note in localities.successors(city)}
    assert after["phuong-binh-thuan"] == "một phần" and after["mui-ne"] == ""
