"""Localities across the 2025 reorganisation: data, validation and pages on real builds."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

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


def _update_localities():
    spec = importlib.util.spec_from_file_location(
        "update_localities", ROOT / "scripts" / "update_localities.py"
    )
    update_localities = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(update_localities)
    return update_localities


def test_the_file_is_what_the_pinned_packages_give():
    assert _update_localities().main(["--check"]) == 0


def test_regenerating_keeps_hand_written_fields_and_restores_generated_ones(
    tmp_path,
):
    text = (ROOT / "data" / "dia-ban.yml").read_text("utf-8")
    edited = text.replace(
        "    full_name: Huyện Hàm Thuận Bắc\n",
        "    full_name: Huyện Hàm Thuận Bắc\n    aliases: [H. Hàm Thuận Bắc]\n"
        "    note: Ghi chú tay\n",
        1,
    ).replace("code: '22945'", "code: '99999'")  # Phường Phan Thiết's code
    # A hand-only term, written as editors may: no code, no full_name.
    edited += (
        "  - slug: khu-cong-nghiep\n    name: Khu công nghiệp\n    aliases: [KCN]\n"
    )
    path = tmp_path / "dia-ban.yml"
    path.write_text(edited, "utf-8")
    update_localities = _update_localities()
    assert update_localities.main(["--path", str(path)]) == 0
    assert update_localities.main(["--check", "--path", str(path)]) == 0
    regenerated = vocab.read_vocabulary(path)
    former = regenerated.by_slug("ham-thuan-bac")
    assert former.aliases == ("H. Hàm Thuận Bắc",) and former.note == "Ghi chú tay"
    assert regenerated.by_slug("phuong-phan-thiet").code == "22945"
    assert regenerated.lookup("KCN").slug == "khu-cong-nghiep"
    assert (
        len(regenerated)
        == len(vocab.read_vocabulary(ROOT / "data" / "dia-ban.yml")) + 1
    )


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
        "terms:\n  - {name: Z}\n  - {name: A, valid_to: 2025-06-30, succeeded_by: [b]}\n",
        "utf-8",
    )
    with pytest.raises(vocab.VocabularyError) as raised:
        vocab.load(tmp_path)
    assert str(raised.value).endswith(
        "dia-ban.yml:3: mục 2 “A”: succeeded_by “b” không có trong danh mục;"
        " ghi slug của một mục có trong tệp"
    )


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
    # The former units' period says the years its items cover, to its last month.
    assert re.search(
        r'id="truoc-2025-title">Trước 01/7/2025 <[^>]+>\(2019 – 6/2025\)', html
    )
    assert '<span class="term-name term-empty">Xã Đắk Mil</span>' in html
    assert 'href="/dia-ban/ham-liem/">Xã Hàm Liêm</a>' in html


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
    line = next(x for x in log.splitlines() if "old-district-2026" in x and "LỖI" in x)
    assert "không còn từ 01/7/2025" in line and "locality" in line
    assert "“Xã Hàm Thuận Bắc”" in line and "“Xã Hàm Thuận”" in line
    line = next(x for x in log.splitlines() if "alias-2026" in x and "LỖI" in x)
    assert "“Phường Phan Thiết”" in line


def test_the_sample_has_new_lam_dong_content_and_todays_agency(sample):
    html = sample.page("dia-ban/")
    for slug in ("xa-ham-thuan-bac", "phuong-phan-thiet", "xa-di-linh", "xa-dak-mil"):
        assert f'href="/dia-ban/{slug}/"' in html
    assert "Ban Dân vận Tỉnh ủy Lâm Đồng" in sample.page("")  # footer, build date
    assert "(2016 – 6/2025)" in html  # the archive's years


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


CHECK_CASES = {
    "htb-2026": (
        {"locality": "Hàm Thuận Bắc", "year": 2026},
        "LỖI content/models/htb-2026.md:4: locality: “Hàm Thuận Bắc” (Huyện Hàm"
        " Thuận Bắc) không còn từ 01/7/2025; năm 2026 phải ghi xã, phường, đặc khu"
        " mới; nơi này nay là nhiều đơn vị, hãy chọn đúng một trong số: “Xã Hàm"
        " Thuận Bắc”, “Xã Đông Giang”, “Xã Hàm Liêm”, “Xã Hàm Thuận”",
    ),
    "tp-phan-thiet-2026": (
        {"locality": "TP. Phan Thiết", "year": 2026},
        "hãy chọn đúng một trong số: “Phường Phan Thiết”, “Phường Mũi Né”",
    ),
    "phan-thiet-2026": (
        {"locality": "Phan Thiết", "year": 2026},
        "“Xã Tuyên Quang” (một phần)",
    ),
    "phu-quy-2026": ({"locality": "Phú Quý", "year": 2026}, "; ghi “Đặc khu Phú Quý”"),
    "da-lat-2026": (
        {"locality": "Đà Lạt", "year": 2026},
        "“Phường Xuân Hương - Đà Lạt”",
    ),
    "gia-nghia-2026": (
        {"locality": "Gia Nghĩa", "year": 2026},
        "“Phường Bắc Gia Nghĩa” (một phần)",
    ),
    "binh-thuan-2026": (
        {"locality": "Bình Thuận", "year": 2026},
        "phải ghi tỉnh mới; ghi “Lâm Đồng”",
    ),
    "mui-ne-2018": (
        {"locality": "Mũi Né", "year": 2018},
        "CẢNH BÁO content/models/mui-ne-2018.md:4: locality: “Mũi Né” chỉ có từ"
        " 01/7/2025; năm 2018 nơi này thuộc “Phan Thiết”",
    ),
    "phu-thuy-2026": ({"locality": "Phường Phú Thủy", "year": 2026}, None),
    "htb-2025": ({"locality": "Hàm Thuận Bắc", "year": 2025}, None),
    "dak-mil-2025": ({"locality": "Xã Đắk Mil", "year": 2025}, None),
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> str:
    """Run make check's command once on a model per case; return what it printed."""
    site = Site(tmp_path_factory.mktemp("check-localities"))
    for name, (fields, _) in CHECK_CASES.items():
        site.write(f"models/{name}.md", model(**fields))
    command = [sys.executable, "-m", "portal.check", str(site.content)]
    result = subprocess.run(
        [*command, "--data", str(ROOT / "data")],
        cwd=site.root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return result.stdout


@pytest.mark.parametrize("name", list(CHECK_CASES))
def test_make_check_names_the_units_a_former_one_became(checked, name):
    _, expected = CHECK_CASES[name]
    lines = [x for x in checked.splitlines() if f"models/{name}.md:" in x]
    if expected is None:
        assert lines == [], checked
    else:
        assert len(lines) == 1 and expected in lines[0], checked


def test_an_impossible_agency_date_is_a_clear_error(tmp_path):
    from portal import identity

    path = tmp_path / "co-quan.yml"
    path.write_text(
        "agencies:\n  - name: A\n    valid_to: 2025-06-30\n"
        "  - name: B\n    valid_from: 2025-07-32\n",
        "utf-8",
    )
    with pytest.raises(identity.IdentityError) as raised:
        identity.read_agencies(path)
    assert str(raised.value) == (
        f"{path}:4: mục 2: “valid_from: 2025-07-32” không phải ngày có thật;"
        " viết dạng năm-tháng-ngày, ví dụ 2025-07-01"
    )


def test_make_check_reports_an_impossible_locality_date_with_its_line(site):
    data = site.root / "data"
    data.mkdir()
    for path in (ROOT / "data").glob("*.yml"):
        (data / path.name).write_text(path.read_text("utf-8"), "utf-8")
    text = (data / "dia-ban.yml").read_text("utf-8")
    (data / "dia-ban.yml").write_text(
        text.replace("valid_to: 2025-06-30", "valid_to: 2025-06-31", 1), "utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "portal.check", str(site.content), "--data", "data"],
        cwd=site.root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = text[: text.index("valid_to: 2025-06-30")].count("\n") + 1
    start = text[: text.index("- slug: binh-thuan")].count("\n") + 1
    assert line - start < 8  # the entry's first line, a few above the field
    assert result.stdout.startswith(
        f"LỖI data/dia-ban.yml:{start}: mục 2: “valid_to: 2025-06-31” không phải ngày"
    ), result.stdout
