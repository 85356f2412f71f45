"""The legacy importer on a legacy portal written by us (tests/legacy_site.py)."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import threading
import unicodedata
from dataclasses import dataclass
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from portal import check
from portal.attachments import check_attachments
from portal.frontmatter import parse_file
from portal.importer.__main__ import main
from portal.importer.dates import parse_date
from portal.importer.state import read_redirects
from tests.browser import QuietHandler
from tests.conftest import ROOT, Site
from tests.legacy_site import (
    A_ARTICLES,
    B_ARTICLES,
    BOILERPLATE,
    FEED_ARTICLES,
    FIXTURES,
    a_url,
    b_url,
    write_legacy_site,
)

EVERY = len(A_ARTICLES) + len(B_ARTICLES) + len(FEED_ARTICLES) + 1  # + the dump


@dataclass
class Imported:
    """A folder after importing the legacy site: import/, content/, reports."""

    root: Path
    outputs: list[str]

    @property
    def out(self) -> Path:
        return self.root / "import"

    @property
    def content(self) -> Path:
        return self.root / "content"

    def files(self) -> list[Path]:
        return sorted(self.out.rglob("*.md"))

    def by_url(self) -> dict[str, Path]:
        return {parse_file(p, str(p)).meta["legacy_url"]: p for p in self.files()}

    def run(self, *sources: str, profile: str | None = None, update=False) -> int:
        """Run the importer with this folder's paths; return its exit status."""
        argv = [*sources, "--out", str(self.out), "--content", str(self.content)]
        argv += ["--data", str(ROOT / "data"), "--report", str(self.report)]
        argv += ["--profile", str(FIXTURES / profile)] if profile else []
        return main(argv + (["--update"] if update else []))

    @property
    def report(self) -> Path:
        return self.root / "import-report.csv"

    def run_all(self, capsys, base_url: str) -> list[list[dict]]:
        """Import layout A (folder), layout B (URL list), the feed and the dump."""
        urls = self.root / "urls.txt"
        urls.write_text("".join(f"{base_url}/b/{a.slug}.html\n" for a in B_ARTICLES))
        reports = []
        legacy = self.root / "legacy"
        for sources, profile in (
            ([str(legacy / "a")], "profile-a.yml"),
            ([str(urls)], "profile-b.yml"),
            ([f"{base_url}/feed.xml", str(legacy / "dump.txt")], None),
        ):
            assert self.run(*sources, profile=profile) == 0
            if capsys is not None:
                self.outputs.append(capsys.readouterr().out)
            with self.report.open(encoding="utf-8-sig") as stream:
                reports.append(list(csv.DictReader(stream)))
        return reports


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Serve the legacy site on 127.0.0.1 (the layout B pages are fetched)."""
    root = write_legacy_site(tmp_path_factory.mktemp("legacy"))
    handler = partial(QuietHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def imported(server, tmp_path_factory):
    """The legacy site imported once; tests that change it work on a copy."""
    root = tmp_path_factory.mktemp("imported")
    shutil.copytree(server[0], root / "legacy")
    site = Imported(root, [])
    site.reports = site.run_all(None, server[1])
    return site


def copy_of(site: Imported, tmp_path: Path) -> Imported:
    """Return a copy of an imported folder to change."""
    shutil.copytree(site.root, tmp_path / "site")
    return Imported(tmp_path / "site", [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thứ Hai, 09/09/2019", dt.datetime(2019, 9, 9)),
        ("09-09-2019 08:30", dt.datetime(2019, 9, 9, 8, 30)),
        ("ngày 9 tháng 9 năm 2019", dt.datetime(2019, 9, 9)),
        ("Cập nhật lúc 16h45, Thứ Ba, 12/1/2021", dt.datetime(2021, 1, 12, 16, 45)),
        ("2021-06-03T07:05", dt.datetime(2021, 6, 3, 7, 5)),
        ("31/02/2020", None),
        ("không có ngày", None),
    ],
)
def test_vietnamese_dates_are_parsed(text, expected):
    assert parse_date(text) == expected


def test_every_article_becomes_a_draft_with_its_legacy_url(imported):
    files = imported.by_url()
    expected = [a_url(a) for a in A_ARTICLES] + [b_url(a) for a in B_ARTICLES]
    assert len(imported.files()) == EVERY
    assert set(expected) <= set(files)
    for path in imported.files():
        meta = parse_file(path, str(path)).meta
        assert meta["status"] == "draft"
    models = {p.parent.name for p in imported.files()}
    assert models == {"news", "models"}
    by_section = {a.number: a.category for a in A_ARTICLES + B_ARTICLES}
    for url, path in files.items():
        number = re.search(r"(\d+)(?:\.html)?$", url)
        if number and int(number.group(1)) in by_section:
            model = "Mô hình" in by_section[int(number.group(1))]
            assert path.parent.name == ("models" if model else "news"), url


def test_dates_are_read_in_every_format(imported):
    files = imported.by_url()
    for article, url in [(a, a_url(a)) for a in A_ARTICLES] + [
        (a, b_url(a)) for a in B_ARTICLES
    ]:
        meta = parse_file(files[url], "x").meta
        assert str(meta["date"]).startswith(article.date.strftime("%Y-%m-%d")), url
        if article.date.hour:
            assert article.date.strftime("%H:%M") in str(meta["date"]), url


def test_boilerplate_frames_and_scripts_are_removed(imported):
    for path in imported.files():
        text = path.read_text("utf-8")
        for phrase in (*BOILERPLATE, "Facebook", "quảng cáo", "tracker", "<iframe"):
            assert phrase not in text, (path, phrase)
    notes = [row["can_bien_tap"] for rows in imported.reports for row in rows]
    assert any("khung nhúng (iframe)" in note for note in notes)
    assert any("đoạn mã (script)" in note for note in notes)


def test_text_is_nfc(imported):
    for path in imported.files():
        text = path.read_text("utf-8")
        assert unicodedata.is_normalized("NFC", text), path
    tuy_phong = A_ARTICLES[2]  # its page was saved in NFD
    assert tuy_phong.title in imported.by_url()[a_url(tuy_phong)].read_text("utf-8")


def test_images_keep_their_captions_and_gif_is_converted(imported):
    files = imported.by_url()
    first_a = parse_file(files[a_url(A_ARTICLES[0])], "x").meta
    assert first_a["image_caption"] == "Ảnh: quang cảnh tại Phan Thiết"
    notes = [row["can_bien_tap"] for rows in imported.reports for row in rows]
    assert not any("quang-cao" in note for note in notes)  # not selected: not fetched
    jpeg = imported.content / "images" / first_a["image"]
    assert Image.open(jpeg).format == "JPEG"
    first_b = parse_file(files[b_url(B_ARTICLES[0])], "x").meta
    assert first_b["image_caption"] == "Người dân Đức Linh tham gia mô hình"
    assert first_b["image_alt"] == "Người dân Đức Linh"
    converted = imported.content / "images" / first_b["image"]
    assert converted.suffix == ".png" and Image.open(converted).format == "PNG"


def test_attachments_are_saved_and_linked(imported):
    text = imported.by_url()[a_url(A_ARTICLES[0])].read_text("utf-8")
    link = re.search(r"\(<?\.\./\.\./(files/imported/[a-z0-9-]+\.pdf)>?\)", text)
    assert link, text
    assert (imported.content / link.group(1)).read_bytes().startswith(b"%PDF")
    assert f"[bài ở La Gi](<{a_url(A_ARTICLES[1])}>)" in text


def test_field_and_locality_are_suggested_with_a_confidence(imported):
    rows = [row for rows in imported.reports for row in rows]
    assert len(rows) == EVERY
    by_url = {row["dia_chi_cu"]: row for row in rows}
    for article in A_ARTICLES:
        assert by_url[a_url(article)]["dia_ban_goi_y"].startswith(article.locality)
        assert "%" in by_url[a_url(article)]["dia_ban_goi_y"]
    model = imported.by_url()[b_url(B_ARTICLES[1])].read_text("utf-8")
    assert re.search(r'^locality: "Phú Quý"  # gợi ý', model, re.M)
    assert re.search(r"^unit:  # CẦN ĐIỀN", model, re.M)


def test_a_second_run_imports_nothing_new(imported, server, tmp_path, capsys):
    site = copy_of(imported, tmp_path)
    before = {p: p.read_bytes() for p in site.files()}
    site.run_all(capsys, server[1])
    assert {p: p.read_bytes() for p in site.files()} == before
    assert all(" 0 bài mới " in out for out in site.outputs)


def test_an_edited_file_is_never_overwritten(imported, server, tmp_path, capsys):
    site = copy_of(imported, tmp_path)
    path = site.by_url()[a_url(A_ARTICLES[0])]
    edited = path.read_text("utf-8").replace("Hội Liên hiệp", "Hội LHPN")
    path.write_text(edited, "utf-8")
    assert (
        site.run(str(site.root / "legacy" / "a"), profile="profile-a.yml", update=True)
        == 0
    )
    assert path.read_text("utf-8") == edited
    out = capsys.readouterr().out
    assert "1 bài đã được sửa (không ghi đè)" in out
    assert f"{len(A_ARTICLES) - 1} bài cập nhật" in out


def fill_flagged(path: Path) -> None:
    """Fill what the importer flagged, as an editor would."""
    values = {
        "date": "2020-12-23",
        "category": '"Văn hóa – xã hội"',
        "year": "2020",
        "kind": '"Mô hình"',
        "unit": '"Hội Liên hiệp Phụ nữ"',
        "image_alt": '"Ảnh minh họa"',
    }
    lines = []
    for line in path.read_text("utf-8").splitlines():
        name = line.split(":", 1)[0]
        lines.append(f"{name}: {values[name]}" if "# CẦN ĐIỀN" in line else line)
    path.write_text("\n".join(lines) + "\n", "utf-8")


def first_news(site: Imported) -> str:
    """Return the slug of the first layout A article (it links the attachment)."""
    for path in site.content.glob("news/*.md"):
        if parse_file(path, "x").meta.get("legacy_url") == a_url(A_ARTICLES[0]):
            return path.stem + "/"
    raise AssertionError("not accepted")


@pytest.mark.parametrize(
    ("name", "size", "expected"),
    [
        ("ke-hoach.pdf", 10, None),
        ("chuong-trinh.exe", 10, "không phải loại tệp đính kèm"),
        ("bao-cao.pdf", 21 * 2**20, "nặng hơn 20 MB"),
    ],
)
def test_attachments_have_a_kind_and_a_size_cap(tmp_path, name, size, expected):
    path = tmp_path / "files" / name
    path.parent.mkdir()
    with path.open("wb") as stream:
        stream.truncate(size)
    problems = [str(p) for p in check_attachments(tmp_path)]
    assert (expected is None and not problems) or expected in problems[0]


def test_accepted_files_pass_the_check(imported, tmp_path, capsys):
    site = copy_of(imported, tmp_path)
    redirects = site.root / "redirects.yml"
    argv = ["accept", "--out", str(site.out), "--content", str(site.content)]
    argv += ["--data", str(ROOT / "data"), "--redirects", str(redirects)]
    models = sorted(site.out.glob("models/*.md"))
    first = models[0]
    assert models and "# CẦN ĐIỀN" in first.read_text("utf-8")
    assert main([*argv, str(first)]) == 1  # flagged fields are errors
    assert "LỖI" in capsys.readouterr().out and first.is_file()
    for path in site.files():
        fill_flagged(path)
    assert main([*argv, *map(str, site.files())]) == 0, capsys.readouterr().out
    assert not site.files()
    assert (site.content / first.relative_to(site.out)).is_file()
    assert check.main([str(site.content), "--data", str(ROOT / "data")]) == 0
    assert "0 lỗi" in capsys.readouterr().out
    kept_draft = next(site.content.glob("news/tong-ket-*.md"))
    for path in site.content.rglob("*.md"):  # the editor publishes all but one
        if path != kept_draft:
            text = path.read_text("utf-8")
            path.write_text(text.replace("status: draft", "status: published"))
    built = Site(site.root).build(REDIRECTS={"path": str(redirects)})
    assert built.returncode == 0, built.stdout + built.stderr
    assert f"/tin-tuc/{kept_draft.stem}/” còn là bản nháp" in built.stderr
    nginx_map = (site.root / "output-server" / "redirects.map").read_text("utf-8")
    assert nginx_map.count(";\n") == EVERY - 1
    assert kept_draft.stem not in nginx_map
    page = Site(site.root).page("tin-tuc/" + first_news(site))
    link = re.search(
        r'href="\.\./\.\./(files/imported/ke-hoach-[0-9a-f-]+\.pdf)"', page
    )
    assert link and (site.root / "output" / link.group(1)).is_file()
    assert list((site.root / "output" / "files" / "imported").glob("*.pdf"))
    mapped = read_redirects(redirects)
    assert mapped["/portal/Pages/Article.aspx?ArticleID=123"].startswith("/tin-tuc/")
    assert len(mapped) == EVERY


def test_a_broken_page_is_reported_and_the_rest_imported(server, tmp_path, capsys):
    site = Imported(tmp_path, [])
    shutil.copytree(server[0] / "a", tmp_path / "legacy" / "a")
    broken = tmp_path / "legacy" / "a" / "hong.html"
    broken.write_text("<html><body><p>Trang lỗi</p></body></html>", "utf-8")
    assert site.run(str(tmp_path / "legacy" / "a"), profile="profile-a.yml") == 1
    out = capsys.readouterr().out
    assert f"LỖI {broken}: “{broken}”: không thấy vùng nội dung" in out
    assert len(site.files()) == len(A_ARTICLES)
