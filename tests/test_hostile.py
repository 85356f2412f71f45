"""Hostile or oversized content: each case ends quickly, bounded, and says why.

Every case is a real build of a small site (and `make check`'s own command): the
exit status, the Vietnamese message naming file and line, the time taken, and an
`output/` left exactly as it was for errors.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from portal.frontmatter import parse_text
from portal.reserved import RESERVED_PATHS, is_reserved
from tests.conftest import ROOT, _env, get_settings, model, news, pelican_command

SECONDS = 10  # the most processor time any case may take, build or check
MEMORY = 2 * 1024**3  # address space for one run: an alias bomb would need far more
TODAY = dt.date.today()


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Run a command with bounded memory; return its result and seconds of work.

    The time is the processor time the run used (its children's included), not
    the wall clock that other work on a shared machine stretches; the wall clock
    is bounded by the timeout.
    """
    started = _cpu_seconds()
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        preexec_fn=_limit_memory,
    )
    return result, _cpu_seconds() - started


def build(site, conf: str = "pelicanconf.py", **settings):
    """Build the site as `make html` does (or `make publish`, with its conf)."""
    settings.setdefault("CACHE_PATH", str(site.root / "cache"))
    command = pelican_command(site.content, site.output, conf, settings)
    return _run(command, site.root)


def check(site, *options: str):
    """Run `make check`'s command on the site's content."""
    command = [sys.executable, "-m", "portal.check", str(site.content), *options]
    command += ["--data", str(ROOT / "data"), "-s", str(ROOT / "pelicanconf.py")]
    return _run(command, site.root)


def png_header_only(width: int, height: int) -> bytes:
    """Return a valid black 1-bit PNG of any size, compressed on the fly (small)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    squeeze = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    data = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", data)
        + chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    """Return a JPEG whose header reads but whose data stops half-way."""
    out = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(out, "JPEG")
    return out.getvalue()[: len(out.getvalue()) // 2]


def _small_jpeg() -> bytes:
    """Return a small whole JPEG."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "JPEG")
    return out.getvalue()


def _bomb_line(n: int) -> str:
    """Return level n of the bomb: nine aliases of level n - 1 (9**9 strings)."""
    item = f"*l{n - 1}" if n else "ha"
    return f"l{n}: &l{n} [{', '.join([item] * 9)}]\n"


ALIAS_BOMB = "---\ntitle: Bom\ndate: 2021-01-01\n" + "".join(map(_bomb_line, range(10)))


def _alias_bomb(site) -> None:
    site.write("news/bom.md", ALIAS_BOMB + "summary: Tóm tắt\n---\nNội dung.\n")


def _oversized(site) -> None:
    big = "x" * (50 * 1024 * 1024)
    site.write("news/lon.md", news(summary=big))
    site.write("news/dai.md", news(title="T" * 301, summary="s" * 1001))
    site.write("news/the.md", news(tags=[f"thẻ {n}" for n in range(31)]))
    site.write("news/sau.md", news(extra={"a": {"b": {"c": {"d": [1]}}}}))
    site.write("news/tab.md", "---\ntitle: Tin\n\tsummary: x\n---\n")
    # 50 000 fields, each a warning, took the build 10 s: a value budget.
    fields = "".join(f"k{n}: 1\n" for n in range(50000))
    site.write("news/nhieu.md", f"---\ntitle: Tin\n{fields}---\nNội dung.\n")
    # Many elements side by side: Python-Markdown takes minutes over them.
    site.write("news/dam.md", news() + "*a* " * 40000)
    site.write("news/dong.md", news() + "x\n\n" * 3000)
    # Nested tags, 300 KB: Markdown and nh3 would take minutes to parse them.
    site.write("news/long.md", news() + "<div>" * 30000 + "x" + "</div>" * 30000)


def _images(site) -> None:
    site.write("images/khong-lo.png", png_header_only(20000, 20000))
    site.write("images/cut.jpg", truncated_jpeg())
    site.write("images/ve.svg", '<svg xmlns="http://www.w3.org/2000/svg"/>')
    (site.root / "ngoai.jpg").write_bytes(_small_jpeg())
    (site.content / "images" / "lien-ket.jpg").symlink_to(site.root / "ngoai.jpg")
    for name in ("khong-lo.png", "cut.jpg", "ve.svg", "lien-ket.jpg"):
        stem = name.split(".")[0]
        site.write(f"models/{stem}.md", model(image=name, image_alt="Ảnh"))


def _symlink(site) -> None:
    secret = site.root / "bi-mat.md"
    secret.write_text(news(title="Bí mật ngoài kho"), "utf-8")
    (site.content / "news" / "lien-ket.md").symlink_to(secret)
    # Attachments are copied as they are: the build checks them as make check does.
    site.write("files/trang.html", "<script>alert(1)</script>")
    (site.content / "files" / "bi-mat.pdf").symlink_to(secret)
    # Files Pelican would never read: an error, not a page silently missing.
    site.write("tin.md", news(title="Tin đặt nhầm chỗ"))
    site.write("news/hoa.MD", news(title="Tin đuôi chữ hoa"))
    site.write("news/ghi-chu.txt", "Ghi chú")


def _reserved(site) -> None:
    site.write("news/thiet-bi.md", news(slug="con"))
    site.write("pages/nul.md", "---\ntitle: Trang\n---\nNội dung.\n")
    site.write("pages/may-chu.md", "---\ntitle: API\nslug: api\n---\nNội dung.\n")
    # In capitals: not a slug, and the fix offered is not a reserved one either.
    site.write("pages/API.md", "---\ntitle: API\n---\nNội dung.\n")
    site.write("news/quan-tri.md", news(slug="Quan-Tri"))


ERRORS = {
    "yaml alias bomb": (
        _alias_bomb,
        [
            "content/news/bom.md:4: phần thông tin đầu dùng neo hoặc bí danh YAML"
            " (“&…”, “*…”)"
        ],
    ),
    "sizes, lengths, nesting, tab": (
        _oversized,
        [
            "content/news/lon.md: tệp nặng 50 MB, quá giới hạn 1 MB",
            "content/news/dai.md:2: title: dài 301 ký tự, quá giới hạn 300 ký tự",
            "content/news/dai.md:4: summary: dài 1.001 ký tự, quá giới hạn 1.000",
            "content/news/the.md:5: tags: có 31 mục, quá giới hạn 30 mục",
            "content/news/sau.md:5: phần thông tin đầu lồng nhau quá 4 cấp",
            "content/news/tab.md:3: dòng này thụt lề bằng phím Tab",
            "content/news/dam.md:6: phần bài viết có 80.000 ký tự định dạng"
            " (* _ ` [ <), quá giới hạn 20.000",
            "content/news/dong.md:6: phần bài viết có 6.002 dòng, quá giới hạn 5.000",
            "content/news/nhieu.md:501: phần thông tin đầu có hơn 1000 giá trị",
            "content/news/long.md:7: html: các thẻ HTML trong bài lồng nhau quá 100 cấp",
        ],
    ),
    "images": (
        _images,
        [
            "content/models/khong-lo.md:10: image: ảnh “khong-lo.png” lớn quá"
            " 40 megapixel",
            "content/models/cut.md:10: image: ảnh “cut.jpg” bị hỏng hoặc không đọc"
            " hết được",
            "content/models/ve.md:10: image: ảnh “ve.svg” là ảnh SVG, không được dùng",
            "content/models/lien-ket.md:10: image: ảnh “lien-ket.jpg”: tệp là liên kết"
            " tượng trưng (symlink)",
        ],
    ),
    "symlinks, files never read": (
        _symlink,
        [
            "content/news/lien-ket.md: tệp là liên kết tượng trưng (symlink)",
            "content/files/bi-mat.pdf: tệp là liên kết tượng trưng (symlink)",
            "content/files/trang.html: tệp “trang.html” không phải loại tệp đính kèm",
            "content/tin.md: tệp Markdown nằm ngoài các thư mục bài nên không được"
            " đăng; chuyển tệp vào một trong các thư mục content/models/",
            "content/news/hoa.MD: tệp không có đuôi .md nên không được đăng;"
            " đổi đuôi tệp thành “.md”",
            "content/news/ghi-chu.txt: tệp không có đuôi .md",
        ],
    ),
    "reserved slugs": (
        _reserved,
        [
            "content/news/thiet-bi.md:5: slug: “con” là tên thiết bị dành riêng",
            "content/pages/nul.md:1: slug: địa chỉ /nul/ đã dành cho trang của hệ thống",
            "content/pages/may-chu.md:3: slug: địa chỉ /api/ đã dành cho trang",
            "content/pages/API.md:1: slug: tên tệp “API.md” không dùng được làm địa chỉ"
            " web; đổi tên tệp thành “api-1.md”",
            "content/news/quan-tri.md:5: slug: “Quan-Tri” không dùng được làm địa chỉ"
            " web: chỉ chữ thường không dấu, số và gạch ngang; ví dụ “quan-tri-1”",
        ],
    ),
}


@pytest.fixture
def old_output(site) -> dict:
    """Put a previous site in output/ and return its files, to see it untouched."""
    (site.output / "cu").mkdir(parents=True)
    (site.output / "index.html").write_text("trang cũ", "utf-8")
    (site.output / "cu" / "index.html").write_text("trang cũ", "utf-8")
    return _files(site.output)


def _files(folder: Path) -> dict:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(("make", "messages"), list(ERRORS.values()), ids=list(ERRORS))
def test_hostile_content_is_an_error_fast_named_and_writes_nothing(
    site, old_output, make, messages
):
    site.write("models/mo-hinh-tot.md", model(title="Mô hình tốt"))
    make(site)
    checked, check_seconds = check(site)
    built, build_seconds = build(site)
    for result, seconds in ((checked, check_seconds), (built, build_seconds)):
        out = result.stdout + result.stderr
        assert result.returncode == 1, out
        assert "Traceback" not in out and "MemoryError" not in out, out
        for message in messages:
            assert message in out, out
        assert "mo-hinh-tot.md" not in out, "a good file was blamed"
        assert seconds < SECONDS
    assert _files(site.output) == old_output


RAW_HTML = """\
Đoạn đầu.

<script>alert(1)</script>

<meta http-equiv="refresh" content="0;url=https://example.org/">

Ảnh <img src="/images/a.jpg" alt="a" onerror="alert(1)"> và [liên kết](javascript:alert(1)).

<table><thead><tr><th>Năm</th></tr></thead><tbody><tr><td>2020</td></tr></tbody></table>
"""


def test_raw_html_is_sanitised_with_a_warning_per_removal(site):
    site.write("news/html.md", news() + RAW_HTML)
    # In the same build: an item scheduled for a date now past is published.
    site.write("news/hen.md", news(title="Tin hẹn ngày đã đến", scheduled=True))
    checked, check_seconds = check(site, "--github")
    built, build_seconds = build(site)
    assert checked.returncode == 0 and built.returncode == 0, built.stderr
    for line, what in (
        (9, "đã bỏ thẻ <script>"),
        (11, "đã bỏ thẻ <meta>"),
        (13, "đã bỏ thuộc tính sự kiện onerror= của thẻ <img>"),
        (13, "đã bỏ địa chỉ href= của thẻ <a>"),
    ):
        assert f"content/news/html.md:{line}: html: {what}" in built.stderr
        assert f"::warning file=content/news/html.md,line={line}::" in checked.stdout
        assert what in checked.stdout
    assert check_seconds < SECONDS and build_seconds < SECONDS
    page = site.page("tin-tuc/html/")
    body = page[page.index("Đoạn đầu.") :]
    for gone in ("alert(", "http-equiv", "onerror", "javascript:"):
        assert gone not in body
    assert "<table><thead><tr><th>Năm</th></tr></thead>" in body
    assert "Tin hẹn ngày đã đến" in site.page("tin-tuc/hen/")


FUTURE = (TODAY + dt.timedelta(days=3)).isoformat()


def test_a_future_date_warns_in_check_and_html_and_stops_publish(site, old_output):
    site.write("news/xa.md", news(date="9999-12-31"))
    site.write("news/hen.md", news(title="Tin hẹn ngày", date=FUTURE, scheduled=True))
    site.write("news/nay.md", news(title="Tin hôm nay"))
    site.write("pages/trang.md", "---\ntitle: Trang\ndate: 9999-12-31\n---\nChữ.\n")
    message = "content/news/xa.md:3: date: ngày 31/12/9999 còn ở tương lai"
    checked, seconds = check(site)
    assert checked.returncode == 0 and seconds < SECONDS
    # A page cannot be scheduled: it is not told to be.
    assert (
        "CẢNH BÁO content/pages/trang.md:3: date: ngày 31/12/9999 còn ở tương lai;"
        " sửa lại ngày\n" in checked.stdout
    )
    assert f"CẢNH BÁO {message}" in checked.stdout
    published, seconds = build(site, "publishconf.py")
    assert published.returncode == 1 and seconds < SECONDS
    assert f"LỖI {message}" in published.stderr
    assert "hen.md" not in published.stderr, "a scheduled item was blamed"
    assert _files(site.output) == old_output
    built, seconds = build(site)
    assert built.returncode == 0 and seconds < SECONDS, built.stderr
    assert f"CẢNH BÁO {message}" in built.stderr
    assert not (site.output / "tin-tuc" / "hen").exists(), "published before its date"
    held = json.loads((site.root / "cache" / "frontmatter-scheduled.json").read_text())
    assert held["next"].startswith(FUTURE)
    assert "Tin hẹn ngày" not in site.page("")
    assert "Tin hôm nay" in site.page("")


@pytest.mark.parametrize(("days", "due"), [(-1, True), (2, False)])
def test_a_build_after_a_held_item_is_due_is_a_full_one(tmp_path, days, due):
    from types import SimpleNamespace

    from frontmatter.frontmatter import DUE_SETTING, start_build

    when = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    (tmp_path / "frontmatter-scheduled.json").write_text(
        json.dumps({"next": when.isoformat()})
    )
    pelican = SimpleNamespace(settings=get_settings(CACHE_PATH=str(tmp_path)))
    start_build(pelican)
    logging.getLogger("pelican").removeHandler(_counter())
    assert (DUE_SETTING in pelican.settings) is due


def _counter():
    from frontmatter.frontmatter import _counter

    return _counter


def test_a_news_item_linking_a_broken_model_blames_only_the_model(site):
    site.write("models/hong.md", model(locality="Không có"))
    site.write("news/tin.md", news(models=["hong"]))
    checked, _ = check(site)
    assert checked.returncode == 1
    assert "LỖI content/models/hong.md:4: locality" in checked.stdout
    assert (
        "CẢNH BÁO content/news/tin.md:5: models: mô hình “hong” đang có lỗi riêng"
        " trong tệp content/models/hong.md" in checked.stdout
    )
    assert "không có mô hình" not in checked.stdout
    built, seconds = build(site)
    assert built.returncode == 1 and seconds < SECONDS
    assert (
        "CẢNH BÁO content/news/tin.md:5: models: mô hình “hong” đang có lỗi riêng"
        in built.stderr
    )
    assert "LỖI content/news/tin.md" not in built.stderr


YAML_MISTAKES = {
    "tab": (
        "title: Tin\n\tsummary: x\n",
        3,
        "dòng này thụt lề bằng phím Tab (chi tiết: found character '\\t'",
        "thụt lề bằng dấu cách",
    ),
    "colon in a value": (
        "title: Hội nghị: tổng kết\n",
        2,
        "giá trị có dấu hai chấm “:” mà không đặt trong ngoặc kép"
        " (chi tiết: mapping values are not allowed here)",
        'ví dụ title: "Hội nghị: tổng kết"',
    ),
    "unclosed quote": (
        'title: "Hội nghị\ndate: 2021-01-01\n',
        2,
        "dấu ngoặc kép mở ở dòng này chưa được đóng",
        "thêm dấu ngoặc kép đóng",
    ),
    "no space after a colon": (
        "title: Tin\ndate:2021-01-01\nsummary: x\n",
        3,
        "thiếu dấu cách sau dấu hai chấm ở “date:”",
        "viết “date: …”",
    ),
    "a YAML tag": (
        "title: !!python/object/apply:os.system ['echo x']\n",
        2,
        "giá trị mang nhãn YAML “!!python/object/apply:os.system”, không được dùng",
        "xóa nhãn bắt đầu bằng “!”",
    ),
    "a local tag": (
        "title: Tin\nsummary: !tom Tắt\n",
        3,
        "giá trị mang nhãn YAML “!tom”, không được dùng",
        'title: "!Tên"',
    ),
    "no space, only field": (
        "title:Tin\n",
        2,
        "thiếu dấu cách sau dấu hai chấm ở “title:”",
        "viết “title: …”",
    ),
}


@pytest.mark.parametrize(
    ("yaml_text", "line", "message", "fix"),
    list(YAML_MISTAKES.values()),
    ids=list(YAML_MISTAKES),
)
def test_common_yaml_mistakes_are_explained_in_vietnamese(
    yaml_text, line, message, fix
):
    doc = parse_text("content/news/a.md", f"---\n{yaml_text}---\nNội dung.\n")
    [problem] = doc.problems
    assert problem.line == line
    assert problem.message.startswith(message), problem.message
    assert fix in problem.fix


def test_every_top_level_folder_of_the_built_site_is_reserved(sample):
    pages = {p.stem for p in (sample.content / "pages").glob("*.md")}
    # A dot-folder (the server's files) is no URL a slug could take.
    folders = {
        p.name
        for p in sample.output.iterdir()
        if p.is_dir() and not p.name.startswith(".")
    }
    assert folders - pages <= RESERVED_PATHS, folders - pages - RESERVED_PATHS
    assert not any(is_reserved(page) for page in pages)


def test_errors_logged_by_pelican_still_show_under_the_plain_handler(capsys):
    from frontmatter.frontmatter import _counter

    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()  # what `--log-handler plain` leaves
    pelican = logging.getLogger("pelican")
    pelican.addHandler(_counter)
    try:
        _counter.count = 0
        logging.getLogger("pelican.generators").error("Could not process %s", "a.md")
        assert _counter.count == 1
    finally:
        pelican.removeHandler(_counter)
        root.handlers[:] = saved
    assert "Could not process a.md" in capsys.readouterr().err
