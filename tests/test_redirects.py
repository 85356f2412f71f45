"""Legacy URLs kept alive: the redirect map checked, served by nginx and in Chromium."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from redirects import check_redirects, read_redirects

import tests.nginx
from tests.browser import QuietHandler
from tests.conftest import Site, model, news
from tests.nginx import fake_counter, free_port, run_nginx

PAGES = {"/", "/tin-tuc/tin-a/", "/tin-tuc/tin-b/", "/mo-hinh/mo-hinh-a/"}
REDIRECTS = """\
# legacy addresses
"/portal/Pages/Article.aspx?ArticleID=123": /tin-tuc/tin-a/
"/tin-tuc-su-kien/tin-b-45.html": /tin-tuc/tin-b/
"http://cong-cu.example.gov.vn/portal/mo-hinh/mo-hinh-a/": /mo-hinh/mo-hinh-a/
"/tin-tuc-su-kien/đổi-rác.html": /mo-hinh/mo-hinh-a/index.html
"/tin-tuc-su-kien/bai's-1.html": /tin-tuc/tin-a/
"""
# legacy URL as a browser sends it -> the new page's path
EXPECTED = {
    "/portal/Pages/Article.aspx?ArticleID=123": "/tin-tuc/tin-a/",
    "/tin-tuc-su-kien/tin-b-45.html": "/tin-tuc/tin-b/",
    "/portal/mo-hinh/mo-hinh-a/": "/mo-hinh/mo-hinh-a/",
    "/tin-tuc-su-kien/%C4%91%E1%BB%95i-r%C3%A1c.html": "/mo-hinh/mo-hinh-a/",
}


def problems_of(text: str, tmp_path: Path) -> list[str]:
    """Return the problems of a redirect file's text, as the editor sees them."""
    path = tmp_path / "redirects.yml"
    path.write_text(text, "utf-8")
    redirects, problems = read_redirects(path, "data/redirects.yml")
    problems += check_redirects(redirects, PAGES, "data/redirects.yml")
    return [str(problem) for problem in problems]


def test_a_good_map_has_no_problem(tmp_path):
    assert problems_of(REDIRECTS, tmp_path) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"/a.html": /tin-tuc/khong-co/\n', "data/redirects.yml:1: không có trang"),
        (
            '"/a/": /b/\n"/b/": /tin-tuc/tin-a/\n',
            "data/redirects.yml:1: chuỗi chuyển hướng",
        ),
        ('"/a/": /b/\n"/b/": /a/\n', "data/redirects.yml:1: vòng lặp chuyển hướng"),
        ('"/a/": /a/\n', "data/redirects.yml:1: “/a/” chuyển về chính nó"),
        (
            '"/tin-tuc/tin-a/": /tin-tuc/tin-b/\n',
            "data/redirects.yml:1: “/tin-tuc/tin-a/” là một trang đang có",
        ),
        (
            '"/a.html": /tin-tuc/tin-a/\n"/a.html": /tin-tuc/tin-b/\n',
            "data/redirects.yml:2: “/a.html” đã có ở dòng 1",
        ),
        (
            '"/a.html": https://example.org/\n',
            "data/redirects.yml:1: đích “https://example.org/”",
        ),
        ("- /a.html\n", "data/redirects.yml:1: phải là các dòng"),
        ('"/a.html": [/b/]\n', "data/redirects.yml:1: dòng không đúng dạng"),
    ],
)
def test_a_wrong_map_names_the_line(text, expected, tmp_path):
    problems = problems_of("# chú thích\n" * 0 + text, tmp_path)
    assert any(problem.startswith(expected) for problem in problems), problems


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Site:
    """A small site with a redirect file, built once."""
    site = Site(tmp_path_factory.mktemp("redirects"))
    site.write("news/tin-a.md", news(title="Tin A"))
    site.write("news/tin-b.md", news(title="Tin B"))
    site.write("models/mo-hinh-a.md", model())
    (site.root / "redirects.yml").write_text(REDIRECTS, "utf-8")
    result = site.build(REDIRECTS={"path": str(site.root / "redirects.yml")})
    assert result.returncode == 0, result.stdout + result.stderr
    site.log = result.stdout + result.stderr
    return site


def test_the_build_fails_on_a_broken_map_naming_the_line(tmp_path):
    site = Site(tmp_path)
    site.write("news/tin-a.md", news(title="Tin A"))
    (site.root / "redirects.yml").write_text('"/x.html": /tin-tuc/tin-c/\n', "utf-8")
    result = site.build(REDIRECTS={"path": str(site.root / "redirects.yml")})
    assert result.returncode != 0
    assert (
        "redirects.yml:1: không có trang “/tin-tuc/tin-c/”"
        in result.stdout + result.stderr
    )
    assert "Traceback" not in result.stderr


def test_the_map_is_written_outside_the_webroot(built):
    text = (built.root / "output-server" / "redirects.map").read_text("utf-8")
    assert "/portal/Pages/Article.aspx?ArticleID=123 /tin-tuc/tin-a/;" in text
    assert not list(built.output.rglob("*.map"))
    # What the server files' install step accepts (scripts/install-server-files.sh):
    # comments and `key value;` lines of unquoted tokens.
    token = r"[^\s\"'{};#]+"
    for line in text.splitlines():
        assert line.startswith("#") or re.fullmatch(rf"{token}\s+{token};", line), line
    assert "bai's" not in text  # cannot be an unquoted token: left to the 404 script
    assert "“/tin-tuc-su-kien/bai's-1.html” có ký tự nginx không nhận" in built.log


def test_nginx_answers_301_for_every_legacy_url(built, tmp_path):
    template = tests.nginx.TEMPLATE.read_text("utf-8")
    assert "include @SERVER_FILES@/redirects*.map;" in template
    port = free_port()
    with (
        fake_counter() as counter,
        run_nginx(
            built.output,
            built.output,
            port,
            f"127.0.0.1:{counter.port}",
            tmp_path / "n",
            server_files=built.root / "output-server",
        ) as nginx,
    ):
        for legacy, target in EXPECTED.items():
            status, headers, _ = nginx.get(legacy)
            assert status == 301, legacy
            assert headers["location"] == f"http://127.0.0.1:{port}{target}", legacy
            status, _, _ = nginx.get(target)
            assert status == 200, target
        assert nginx.get("/portal/Pages/Article.aspx?ArticleID=124")[0] == 404
        assert nginx.get("/tin-tuc/tin-a/")[0] == 200


class PagesHandler(QuietHandler):
    """Serve files like GitHub Pages: 404.html (status 404) for what is missing."""

    def send_error(self, code, message=None, explain=None):  # noqa: D102
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None


@contextmanager
def serve_like_pages(directory: Path) -> Iterator[str]:
    """Serve a folder as GitHub Pages would (static files only, its 404 page)."""
    handler = functools.partial(PagesHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_static_redirect_pages_work_in_chromium(built, browser):
    with serve_like_pages(built.output) as base:
        page = browser.new_page()
        violations = []
        page.on(
            "console",
            lambda m: (
                violations.append(m.text)
                if "Content Security Policy" in m.text
                else None
            ),
        )
        for legacy, target in EXPECTED.items():
            page.goto(base + legacy)
            page.wait_for_url(base + target, timeout=5000)
            assert page.title().startswith("Tin") or "mo-hinh" in target
        assert violations == []
        page.close()
