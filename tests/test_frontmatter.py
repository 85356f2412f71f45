"""The front-matter plugin: every mistake in an editor's file is a clear error."""

import datetime as dt
import os
import unicodedata

import pytest
from PIL import Image

from tests.conftest import MODEL, front_matter, get_settings, model, news, read_item

NEXT_YEAR = dt.date.today().year + 1


def _good(site):
    """Write valid files beside the bad one, to show they are not the problem."""
    site.write("models/mo-hinh-tot.md", model(title="Mô hình tốt"))
    site.write("news/tin-tot.md", news(title="Tin tốt", models=["mo-hinh-tot"]))


CASES = {
    "no front matter": (
        "models/a.md",
        "Chỉ có nội dung.\n",
        "content/models/a.md:1: thiếu phần thông tin đầu",
    ),
    "front matter not closed": (
        "models/a.md",
        "---\ntitle: A\n",
        "content/models/a.md:1: phần thông tin đầu không có dòng “---” kết thúc",
    ),
    "invalid YAML": (
        "news/b.md",
        "---\ntitle: Tin\nsummary: Hội nghị: tổng kết\ndate: 2021-01-01\n---\n",
        "content/news/b.md:3: giá trị có dấu hai chấm “:” mà không đặt trong ngoặc kép",
    ),
    "front matter not a mapping": (
        "news/b.md",
        "---\n- a\n- b\n---\n",
        "content/news/b.md:2: phần thông tin đầu phải là",
    ),
    "missing required field": (
        "models/a.md",
        model(unit=None),
        "content/models/a.md: unit: thiếu trường bắt buộc (đơn vị thực hiện)",
    ),
    "missing title": (
        "news/b.md",
        news(title=None),
        "content/news/b.md: title: thiếu trường bắt buộc (tiêu đề)",
    ),
    "year as text": (
        "models/a.md",
        model(year="2020"),
        "content/models/a.md:5: year: phải là một số năm, không phải chữ “2020”",
    ),
    "year too old": (
        "models/a.md",
        model(year=1985),
        "content/models/a.md:5: year: năm 1985 nằm ngoài khoảng 1990–",
    ),
    "year in the future": (
        "models/a.md",
        model(year=NEXT_YEAR),
        f"year: năm {NEXT_YEAR} nằm ngoài khoảng",
    ),
    "featured not a flag": (
        "models/a.md",
        model(featured="có"),
        "featured: phải là true hoặc false",
    ),
    "impossible date": (
        "news/b.md",
        "---\ntitle: Tin\ndate: 2020-13-45\nsummary: Tóm tắt\n---\n",
        "content/news/b.md:3: date: “2020-13-45” không phải một ngày hợp lệ",
    ),
    "bad date": (
        "news/b.md",
        news(date="31/02/2021"),
        "content/news/b.md:3: date: “31/02/2021” không phải một ngày hợp lệ",
    ),
    "unknown category": (
        "models/a.md",
        model(category="Kinh te"),
        "content/models/a.md:3: category: không có lĩnh vực “Kinh te” trong danh mục data/linh-vuc.yml; có phải ý bạn là “Kinh tế”?",
    ),
    "unknown locality": (
        "models/a.md",
        model(locality="Phan Thiet"),
        "content/models/a.md:4: locality: không có địa bàn “Phan Thiet” trong danh mục data/dia-ban.yml; có phải ý bạn là “Phan Thiết”?",
    ),
    "unknown locality in news": (
        "news/b.md",
        news(locality="Huế"),
        "content/news/b.md:5: locality: không có địa bàn “Huế” trong danh mục data/dia-ban.yml; chọn một tên (trường name) trong data/dia-ban.yml",
    ),
    "unknown kind": (
        "models/a.md",
        model(kind="Mô hinh"),
        "kind: không có hình thức “Mô hinh”",
    ),
    "unknown related model": (
        "news/b.md",
        news(models=["mo-hinh-tot-x"]),
        "content/news/b.md:5: models: không có mô hình “mo-hinh-tot-x”; có phải ý bạn là “mo-hinh-tot”?",
    ),
    "bad status": (
        "news/b.md",
        news(status="nháp"),
        "status: không có trạng thái “nháp”",
    ),
    "bad slug": (
        "news/b.md",
        news(slug="Tin Mới"),
        "slug: “Tin Mới” không dùng được làm địa chỉ web",
    ),
    "file name not a slug": (
        "models/Đổi Rác.md",
        model(),
        "content/models/Đổi Rác.md:1: slug: tên tệp “Đổi Rác.md” không dùng được làm địa chỉ web; đổi tên tệp thành “doi-rac.md”",
    ),
    "missing image": (
        "models/a.md",
        model(image="khong-co.jpg", image_alt="Ảnh"),
        "content/models/a.md:10: image: không tìm thấy ảnh “khong-co.jpg”",
    ),
    "image outside the image folder": (
        "models/a.md",
        model(image="../../../etc/passwd", image_alt="x"),
        "image: không tìm thấy ảnh",
    ),
}


@pytest.mark.parametrize(
    ("path", "text", "message"), list(CASES.values()), ids=list(CASES)
)
def test_a_bad_file_fails_the_build_with_a_clear_message(site, path, text, message):
    _good(site)
    site.write(path, text)
    result = site.build()
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    reported = _error_lines(result)
    assert "content/models/mo-hinh-tot.md" not in reported, "a good file was reported"
    assert "content/news/tin-tot.md" not in reported, "a good file was reported"
    assert not (site.output / "index.html").exists(), "half a site was written"


def _error_lines(result) -> str:
    """Return the lines of the build's output that report a problem."""
    lines = (result.stderr + result.stdout).splitlines()
    return "\n".join(line for line in lines if "ERROR" in line or "LỖI" in line)


def test_every_problem_in_every_file_is_reported_in_one_run(site):
    _good(site)
    site.write("models/a.md", model(locality="Phan Thiet", year="2020"))
    site.write("news/b.md", news(summary=None, models=["khong-co"]))
    site.write("models/c.md", "không có gì\n")
    result = site.build()
    out = result.stderr
    assert result.returncode == 1
    for expected in (
        "content/models/a.md:4: locality",
        "content/models/a.md:5: year",
        "content/news/b.md: summary: thiếu trường bắt buộc",
        "content/models/c.md:1: thiếu phần thông tin đầu",
    ):
        assert expected in out
    assert "content/news/b.md:4: models: không có mô hình “khong-co”" in out
    assert "5 lỗi trong nội dung" in out


def test_a_file_that_is_not_utf8_is_reported_with_its_line(site):
    _good(site)
    site.write("news/b.md", model().encode("utf-8") + "\nCafé\n".encode("latin-1"))
    result = site.build()
    assert result.returncode == 1
    assert (
        "content/news/b.md:13: tệp không phải mã UTF-8; mở tệp bằng trình soạn thảo và lưu lại với mã hóa UTF-8"
        in result.stderr
    )


def test_duplicate_slugs_name_both_files(site):
    _good(site)
    site.write("models/mo-hinh-khac.md", model(slug="mo-hinh-tot"))
    result = site.build()
    assert result.returncode == 1
    assert (
        "content/models/mo-hinh-khac.md:10: slug: địa chỉ /mo-hinh/mo-hinh-tot/ trùng với content/models/mo-hinh-tot.md"
        in result.stderr
    )
    assert (
        "content/models/mo-hinh-tot.md:1: slug: địa chỉ /mo-hinh/mo-hinh-tot/ trùng với content/models/mo-hinh-khac.md"
        in result.stderr
    )


def test_a_page_cannot_take_a_section_url(site):
    _good(site)
    site.write("pages/mo-hinh.md", front_matter(title="Mô hình"))
    result = site.build()
    assert result.returncode == 1
    assert (
        "content/pages/mo-hinh.md:1: slug: địa chỉ /mo-hinh/ đã dành cho trang của hệ thống"
        in result.stderr
    )


def test_an_image_needs_its_alt_text(site):
    _good(site)
    Image.new("RGB", (40, 30), "red").save(site.content / "images" / "cho.jpg")
    site.write("models/a.md", model(image="cho.jpg"))
    result = site.build()
    assert result.returncode == 1
    assert (
        "content/models/a.md: image_alt: ảnh chưa có lời mô tả cho người khiếm thị"
        in result.stderr
    )


def test_an_image_over_40_megapixels_is_an_error(site):
    _good(site)
    Image.new("1", (8000, 5100)).save(site.content / "images" / "lon.png")
    site.write("models/a.md", model(image="lon.png", image_alt="Ảnh lớn"))
    result = site.build()
    assert result.returncode == 1
    assert (
        "image: ảnh “lon.png” có 8000×5100 điểm ảnh, quá 40 megapixel" in result.stderr
    )


def test_an_image_over_25_megabytes_is_an_error(site):
    _good(site)
    with open(site.content / "images" / "nang.jpg", "wb") as handle:
        handle.truncate(26 * 1024 * 1024)
    site.write("models/a.md", model(image="nang.jpg", image_alt="Ảnh nặng"))
    result = site.build()
    assert result.returncode == 1
    assert "image: ảnh “nang.jpg” nặng hơn 25 MB" in result.stderr


def test_a_corrupt_image_is_an_error(site):
    _good(site)
    (site.content / "images" / "hong.jpg").write_bytes(b"not a jpeg at all")
    site.write("models/a.md", model(image="hong.jpg", image_alt="Ảnh hỏng"))
    result = site.build()
    assert result.returncode == 1
    assert (
        "image: ảnh “hong.jpg” không phải ảnh JPEG, PNG hay WebP đọc được"
        in result.stderr
    )


def test_an_unknown_key_is_a_warning_and_the_build_goes_on(site):
    _good(site)
    site.write("models/a.md", model(loaclity="x"))
    result = site.build()
    assert result.returncode == 0, result.stderr
    assert "frontmatter: CẢNH BÁO content/models/a.md:10" in result.stderr
    assert (
        "content/models/a.md:10: loaclity: trường này không có trong mẫu nên sẽ bị bỏ qua; có phải ý bạn là “locality”?"
        in result.stderr
    )
    assert (site.output / "mo-hinh" / "a" / "index.html").exists()


@pytest.mark.parametrize("shown", [-1, True, "5", 2.5])
def test_warnings_shown_must_be_a_whole_number(shown):
    from frontmatter.frontmatter import OptionsError, get_options

    with pytest.raises(OptionsError, match=r"\['warnings_shown'\] must be a whole"):
        get_options({"FRONTMATTER": {"warnings_shown": shown}})
    assert get_options({"FRONTMATTER": {"warnings_shown": 0}})["warnings_shown"] == 0


def test_the_build_logs_every_error_and_counts_warnings_past_a_few_per_field(site):
    _good(site)
    for number in range(7):  # recorded under today's locality: a warning each
        site.write(f"models/cu-{number}.md", model(locality="Mũi Né", year=2018))
    site.write("models/go.md", model(loaclity="x"))
    for number in range(3):
        site.write(f"models/sai-{number}.md", model(locality="Phan Thiet"))
    shown = {"fail_on_error": False, "warnings_shown": 2}
    result = site.build(FRONTMATTER=shown)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    errors = [x for x in lines if "LỖI content/models/sai-" in x]
    assert len(errors) == 3 and all(
        "có phải ý bạn là “Phan Thiết”" in x for x in errors
    )
    assert sum("CẢNH BÁO content/models/cu-" in x for x in lines) == 2
    assert sum("CẢNH BÁO content/models/go.md:10: loaclity:" in x for x in lines) == 1
    assert (
        "frontmatter: CẢNH BÁO còn 5 cảnh báo nữa ở trường “locality” (tất cả 7)"
        " không in ra đây; xem hết bằng lệnh `make check`" in result.stderr
    )
    assert "ở trường “loaclity”" not in result.stderr


def test_the_dev_server_build_reports_errors_and_builds_the_good_files(site):
    _good(site)
    site.write("models/a.md", model(locality="Phan Thiet"))
    result = site.build("devconf.py")
    assert result.returncode == 0
    assert "content/models/a.md:4: locality" in result.stderr
    assert (site.output / "mo-hinh" / "mo-hinh-tot" / "index.html").exists()
    assert (site.output / "tin-tuc" / "tin-tot" / "index.html").exists()
    assert not (site.output / "mo-hinh" / "a").exists()


def test_drafts_are_left_out_of_the_site_and_shown_by_the_dev_server(site):
    _good(site)
    site.write("news/ban-nhap.md", news(title="Tin đang viết", status="draft"))
    assert site.build().returncode == 0
    assert not (site.output / "tin-tuc" / "ban-nhap").exists()
    assert "Tin đang viết" not in site.page("tin-tuc/")
    assert not list(site.output.rglob("drafts"))
    result = site.build("devconf.py")
    assert result.returncode == 0
    page = (site.output / "tin-tuc" / "ban-nhap" / "index.html").read_text("utf-8")
    assert "Bản nháp" in page


def test_values_keep_their_yaml_types(site):
    path = site.write(
        "models/a.md", model(tags=["rác thải nhựa", "môi trường"], featured=True)
    )
    meta = read_item(path)
    assert meta["year"] == 2020 and isinstance(meta["year"], int)
    assert [t.name for t in meta["tags"]] == ["rác thải nhựa", "môi trường"]
    assert meta["featured"] is True
    assert meta["date"] == dt.datetime(2020, 12, 18)
    assert meta["field"].slug == "van-hoa-xa-hoi"
    assert meta["locality"].full_name == "Thành phố Phan Thiết"
    assert meta["kind"].name == "Mô hình"


def test_a_date_written_day_first_is_understood(site):
    path = site.write("news/b.md", news(date="15/01/2021"))
    assert read_item(path)["date"] == dt.datetime(2021, 1, 15)


def test_text_is_nfc_normalised(site):
    nfd = unicodedata.normalize("NFD", "Đổi rác thải nhựa")
    assert nfd != "Đổi rác thải nhựa"
    path = site.write("models/a.md", model(title=nfd))
    assert read_item(path)["title"] == unicodedata.normalize("NFC", nfd)


def test_urls_come_from_the_file_name_unless_a_slug_is_given(site):
    site.write(
        "models/doi-rac-thai-nhua.md", model(title="Đổi rác thải nhựa (đã sửa tên)")
    )
    site.write("news/tin-a.md", news(slug="hoi-nghi-tong-ket"))
    assert site.build().returncode == 0
    assert "Đổi rác thải nhựa (đã sửa tên)" in site.page("mo-hinh/doi-rac-thai-nhua/")
    assert (site.output / "tin-tuc" / "hoi-nghi-tong-ket" / "index.html").exists()
    assert not (site.output / "tin-tuc" / "tin-a").exists()


def test_related_models_link_both_ways(site):
    _good(site)
    assert site.build().returncode == 0
    assert 'href="/mo-hinh/mo-hinh-tot/"' in site.page("tin-tuc/tin-tot/")
    assert 'href="/tin-tuc/tin-tot/"' in site.page("mo-hinh/mo-hinh-tot/")


def test_a_wrong_frontmatter_setting_is_a_clear_error(site):
    _good(site)
    result = site.build(FRONTMATTER={"draft": True})
    assert result.returncode == 1
    assert "frontmatter: unknown FRONTMATTER keys: draft" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_vocabulary_stops_the_build_clearly(site, tmp_path):
    _good(site)
    data = tmp_path / "data"
    data.mkdir()
    (data / "dia-ban.yml").write_text("terms: [\n", "utf-8")
    result = site.build(VOCABULARY_PATH=str(data))
    assert result.returncode == 1
    assert (
        "frontmatter:" in result.stderr
        and "không đọc được tệp danh mục" in result.stderr
    )


def test_the_model_defaults_cover_every_required_field():
    # Guards the fixtures above: a model with all of MODEL is valid on its own.
    assert set(MODEL) >= {
        "title",
        "category",
        "locality",
        "year",
        "kind",
        "unit",
        "summary",
        "date",
    }
    assert os.path.exists(__file__)


def test_a_body_line_like_key_value_is_kept(site):
    site.write(
        "news/b.md", news().replace("Nội dung.", "Nguon: Ban Dan van\n\nNội dung.")
    )
    site.write("news/c.mkd", news(title="Tin khác"))
    result = site.build()
    assert result.returncode == 0, result.stderr
    assert "Nguon: Ban Dan van" in site.page("tin-tuc/b/")
    assert (site.output / "tin-tuc" / "c" / "index.html").exists()


SYMLINK = "liên kết tượng trưng (symlink), không phải tệp thật"
OUTSIDE_CASES = {
    "a regular file": ("real/news/a.md", None),
    "a missing file": ("real/news/none.md", "không phải một tệp thường"),
    "a folder": ("real/news", "không phải một tệp thường"),
    "a named pipe": ("real/news/pipe.md", "không phải một tệp thường"),
    "a symlinked file": ("real/news/link.md", f"tệp là {SYMLINK}"),
    "a file in a symlinked folder": (
        "real/linked/a.md",
        f"thư mục “linked” chứa tệp là {SYMLINK}",
    ),
    "a symlinked folder": ("real/linked", f"thư mục là {SYMLINK}"),
    "“..” leading out": (
        "real/news/../../secret.md",
        "tệp trỏ ra ngoài thư mục nội dung",
    ),
    "“..” staying in": ("real/news/../news/a.md", None),
    "not under the folder": ("secret.md", "tệp nằm ngoài thư mục nội dung"),
    "through a symlinked content folder": ("link-to-real/news/a.md", None),
}


@pytest.mark.parametrize("given", OUTSIDE_CASES, ids=list(OUTSIDE_CASES))
def test_outside_says_why_a_file_is_not_a_regular_one_inside(tmp_path, given):
    """Symlinks on the way, “..” out, or not a regular file; each in its words."""
    from portal.frontmatter import outside

    relative, expected = OUTSIDE_CASES[given]
    news_folder = tmp_path / "real" / "news"
    news_folder.mkdir(parents=True)
    (news_folder / "a.md").write_text("---\n")
    (tmp_path / "secret.md").write_text("---\n")
    os.mkfifo(news_folder / "pipe.md")
    (news_folder / "link.md").symlink_to(tmp_path / "secret.md")
    (tmp_path / "real" / "linked").symlink_to(news_folder)
    (tmp_path / "link-to-real").symlink_to(tmp_path / "real")
    root = tmp_path / ("link-to-real" if relative.startswith("link-") else "real")
    assert outside(tmp_path / relative, root) == expected


def test_items_share_one_author_per_name(tmp_path):
    """The site's author (and an item's own) is one object, slugified once."""
    from frontmatter import FrontMatterReader
    from pelican.contents import Article

    settings = get_settings(PATH=str(tmp_path))
    (tmp_path / "news").mkdir()
    for name, extra in (("a", {}), ("b", {}), ("c", {"author": "Tổ biên tập"})):
        path = tmp_path / "news" / f"{name}.md"
        path.write_text(news(title=name.upper(), **extra), encoding="utf-8")
    reader = FrontMatterReader(settings)
    items = []
    for name in "abc":
        path = str(tmp_path / "news" / f"{name}.md")
        html, meta = reader.read(path)
        items.append(Article(html, meta, settings, path))
    a, b, c = (item.author for item in items)
    assert (
        a is b
        and a.name == settings["AUTHOR"]
        and a.slug == "ban-dan-van-tinh-uy-binh-thuan"
    )
    assert c.name == "Tổ biên tập" and c.slug == "to-bien-tap"
    assert [item.authors for item in items] == [[a], [a], [c]]


# Front matters checked on their node tree: refused at the same value and line as
# by walking their events (the depth, the count of values, keys as values).
TREE_CASES = [
    "title: Tin\na: {b: {c: [1]}}\n",
    "title: Tin\na: {b: {c: {d: [1]}}}\n",
    "title: Tin\na:\n  b:\n    c:\n      d: 1\n",
    "title: Tin\na:\n  b:\n    c:\n      d:\n        - 1\n",
    "- - - x\n",
    "- - - - - x\n",
    "? [a, [b, [c, [d]]]]\n: 1\n",
    "a: [1, 2]\nb: {c: [3, 4]}\n" + "".join(f"k{n}: {n}\n" for n in range(600)),
    "a: [" + ", ".join(["1"] * 998) + "]\n",
    "a: [" + ", ".join(["1"] * 999) + "]\n",
    "".join(f"k{n}: 1\n" for n in range(499)) + "z: [1, 2]\n",
    "x\n",
    "",
]


@pytest.mark.parametrize("text", TREE_CASES)
@pytest.mark.parametrize(
    "limits", [{}, {"depth": 2, "values": 7}, {"depth": 1, "values": 1}]
)
def test_a_front_matter_checked_on_its_tree_is_refused_as_by_its_events(text, limits):
    from portal.frontmatter import (
        FastLoader,
        Limits,
        _compose,
        _refuse,
        _tree_checkable,
    )

    limits = Limits.from_mapping(limits)
    assert _tree_checkable(text)
    by_events = _refuse(FastLoader, text, limits)
    by_tree = _compose(FastLoader, text, limits)
    if by_events is None:
        assert by_tree[1] == _compose(FastLoader, text)[1]  # (node, data): not refused
    else:
        assert by_tree == by_events


@pytest.mark.parametrize(
    "text",
    ["a: &x 1\n", "a: *x\n", "title: Vui & khỏe\n", "a: [" + "1, " * 6000 + "1]\n"],
)
def test_an_anchor_an_alias_or_a_long_front_matter_has_its_events_walked(text):
    from portal.frontmatter import _tree_checkable

    assert not _tree_checkable(text)


def test_an_anchor_alone_is_refused_before_anything_is_built():
    from portal.frontmatter import parse_text

    doc = parse_text("content/news/a.md", "---\ntitle: Tin\nsummary: &s Tóm\n---\n")
    assert len(doc.problems) == 1
    assert "neo hoặc bí danh" in doc.problems[0].message
    assert doc.problems[0].line == 3 and doc.meta == {}


@pytest.mark.parametrize("depth", [999, 2000])
def test_nesting_deeper_than_libyaml_takes_is_refused_at_its_line(depth):
    from portal.frontmatter import _tree_checkable, parse_text

    text = "title: Tin\na: " + "[" * depth + "]" * depth + "\n"
    assert _tree_checkable(text)
    doc = parse_text("content/news/a.md", f"---\n{text}---\n")
    assert [(p.message, p.line) for p in doc.problems] == [
        ("phần thông tin đầu lồng nhau quá 4 cấp", 3)
    ]
