"""The published site served by the sample nginx configuration in deploy/.

Debian's nginx runs on 127.0.0.1 with deploy/nginx/dvk-portal.conf; the site is
published (`python -m portal.publish`) at the domain root and under a sub-path.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from tests.conftest import ROOT
from tests.nginx import Nginx, Upstream, fake_counter, free_port, has_brotli, run_nginx

CONTENT = ROOT / "content"
YEAR = "public, max-age=31536000, immutable"
CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@dataclass
class Served:
    """The published site behind nginx."""

    nginx: Nginx
    counter: Upstream
    prefix: str
    site: Path
    siteurl: str

    def get(self, path: str, **headers: str):
        """Fetch a path below the site's prefix."""
        return self.nginx.get(self.prefix + path, **headers)


def publish(site: Path, siteurl: str, counter_url: str, cache: Path) -> None:
    """Publish the sample content into a folder, as `make publish` does."""
    command = [sys.executable, "-m", "portal.publish", "--content", str(CONTENT)]
    command += ["--output", str(site), "-s", str(ROOT / "publishconf.py")]
    command += ["--", "-e", f"CACHE_PATH={json.dumps(str(cache))}"]
    env = {**os.environ, "SITEURL": siteurl, "COUNTER_URL": counter_url}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@contextmanager
def serve_published(prefix: str, tmp: Path) -> Iterator[Served]:
    """Publish the sample site and serve it with nginx at a prefix ("" or /portal)."""
    port = free_port()
    root = tmp / "www"
    site = root / prefix.strip("/") if prefix else root
    siteurl = f"http://127.0.0.1:{port}{prefix}"
    with fake_counter() as counter:
        publish(site, siteurl, f"http://127.0.0.1:{port}", tmp / "cache")
        upstream = f"127.0.0.1:{counter.port}"
        server_files = site.with_name(site.name + "-server")
        with run_nginx(
            root, site, port, upstream, tmp / "nginx", server_files
        ) as nginx:
            yield Served(nginx, counter, prefix, site, siteurl)


@pytest.fixture(scope="module")
def at_root(tmp_path_factory) -> Iterator[Served]:
    """The site published at the domain root."""
    with serve_published("", tmp_path_factory.mktemp("root")) as served:
        yield served


@pytest.fixture(scope="module")
def under_sub_path(tmp_path_factory) -> Iterator[Served]:
    """The site published under /portal/, as a GitHub Pages project site is."""
    with serve_published("/portal", tmp_path_factory.mktemp("sub")) as served:
        yield served


@pytest.fixture(params=["at_root", "under_sub_path"])
def served(request) -> Served:
    """Each of the two ways of publishing the site."""
    return request.getfixturevalue(request.param)


class Links(HTMLParser):
    """Collect every href and src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.urls.append(value)
            if name == "srcset" and value:
                self.urls += [part.split()[0] for part in value.split(",")]


def stylesheet(html: str) -> str:
    """Return the stylesheet URL a page links."""
    return re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)


def test_security_headers_on_every_response(served):
    status, headers, body = served.get("/")
    assert status == 200
    assert headers["strict-transport-security"].startswith("max-age=63072000")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert policy.startswith("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'")
    meta = re.search(
        r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">',
        body.decode(),
    ).group(1)
    assert meta == policy.replace("; frame-ancestors 'none'", "")
    missing = served.get("/khong-co-trang-nay/")
    assert missing[0] == 404
    assert missing[1]["content-security-policy"] == policy


def test_html_revalidated_hashed_assets_cached_for_a_year(served):
    _, headers, body = served.get("/")
    assert headers["cache-control"] == "no-cache"
    css = stylesheet(body.decode())
    assert re.fullmatch(
        re.escape(served.siteurl) + r"/theme/css/site\.[0-9a-f]{8}\.css", css
    )
    status, css_headers, _ = served.nginx.get(urlsplit(css).path)
    assert status == 200
    assert css_headers["cache-control"] == YEAR
    assert css_headers["content-type"].startswith("text/css")
    _, plain, _ = served.get("/theme/css/site.css")
    assert plain["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    ("encoding", "decompress"),
    [("gzip", gzip.decompress), ("br", None)],
    ids=["gzip", "brotli"],
)
def test_precompressed_copies_are_served(served, encoding, decompress):
    if encoding == "br":
        if not has_brotli():
            pytest.skip("needs Debian package 'libnginx-mod-http-brotli-static'")
        import brotli

        decompress = brotli.decompress
    compressed = sorted(served.site.rglob("*.gz"))
    files = [served.site / "index.html"]
    files += [f.with_suffix("") for f in compressed if f.suffixes[-2] != ".html"][:2]
    assert len(compressed) > 20
    for file in files:
        path = served.prefix + "/" + file.relative_to(served.site).as_posix()
        status, headers, body = served.nginx.get(path, **{"Accept-Encoding": encoding})
        assert status == 200
        assert headers.get("content-encoding") == encoding, path
        assert "Accept-Encoding" in headers.get("vary", "")
        assert decompress(body) == file.read_bytes()
    _, headers, body = served.get("/")
    assert "content-encoding" not in headers
    assert body == (served.site / "index.html").read_bytes()


def test_hidden_files_are_not_served(served):
    assert (served.site / ".dvk-site").is_file()
    assert served.get("/.dvk-site")[0] == 404


def test_server_files_are_outside_the_webroot(served):
    """The CSP is built beside the site and installed into nginx's own folder."""
    assert not list(served.site.rglob("*.conf"))
    built = served.site.with_name(served.site.name + "-server") / "csp.conf"
    assert "add_header Content-Security-Policy" in built.read_text("utf-8")
    assert "include " + str(served.site) not in served.nginx.config()


def test_missing_pages_get_the_sites_own_404_page(served):
    status, headers, body = served.get("/khong-co-trang-nay/")
    assert status == 404
    assert headers["content-type"].startswith("text/html")
    assert body == (served.site / "404.html").read_bytes()


def test_counter_is_proxied(served):
    before = len(served.counter.requests)
    status, headers, body = served.nginx.get("/api/count?page=mo-hinh/x/")
    assert status == 200
    assert json.loads(body) == {"path": "/api/count?page=mo-hinh/x/", "count": 7}
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert served.nginx.get("/healthz")[0] == 200
    method, path, sent = served.counter.requests[before]
    assert (method, path) == ("GET", "/api/count?page=mo-hinh/x/")
    assert sent["X-Forwarded-For"] == sent["X-Real-IP"] == "127.0.0.1"
    assert "Forwarded" not in sent
    assert served.counter.requests[-1][1] == "/healthz"


def test_access_log_has_no_client_address(served):
    served.get("/")
    log = served.nginx.access_log.read_text("utf-8")
    assert '"GET ' + served.prefix + '/ HTTP/1.1" 200' in log
    assert "127.0.0.1" not in log


def crawl(served: Served) -> list[str]:
    """Follow every internal link from the home page; return the HTML page paths."""
    start = served.prefix + "/"
    seen, queue, pages, broken = {start}, deque([start]), [], []
    while queue:
        path = queue.popleft()
        status, headers, body = served.nginx.get(path)
        if status != 200:
            broken.append(f"{path}: {status}")
            continue
        if not headers["content-type"].startswith("text/html"):
            continue
        pages.append(path)
        parser = Links()
        parser.feed(body.decode())
        for url in parser.urls:
            target = urlsplit(
                urljoin(f"http://127.0.0.1:{served.nginx.port}{path}", url)
            )
            if target.scheme not in ("http", "https"):
                continue
            assert target.netloc == urlsplit(served.siteurl).netloc, (path, url)
            assert target.path.startswith(served.prefix + "/"), (path, url)
            if target.path not in seen:
                seen.add(target.path)
                queue.append(target.path)
    assert not broken, broken
    return pages


def test_every_link_and_asset_resolves(served):
    pages = crawl(served)
    assert served.prefix + "/mo-hinh/" in pages
    assert len(pages) >= 20


@pytest.mark.browser
def test_no_page_violates_the_csp(at_root, browser):
    served = at_root
    context = browser.new_context()
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    violations = {}
    for path in crawl(served):
        page.goto(f"http://127.0.0.1:{served.nginx.port}{path}")
        page.wait_for_load_state("load")
        found = page.evaluate("window.__csp")
        if found:
            violations[path] = found
    context.close()
    assert not violations, violations
    assert not [m for m in console if "Content Security Policy" in m], console


@pytest.mark.browser
def test_csp_listener_catches_a_violation(at_root, browser):
    served = at_root
    (served.site / "csp-control.html").write_text(
        '<!doctype html><p style="color:red">x</p><script>window.x = 1</script>',
        "utf-8",
    )
    context = browser.new_context()
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.goto(f"{served.siteurl}/csp-control.html")
    page.wait_for_load_state("load")
    found = page.evaluate("window.__csp")
    context.close()
    (served.site / "csp-control.html").unlink()
    assert any(v.startswith("script-src") for v in found), found
    assert any(v.startswith("style-src") for v in found), found


@pytest.mark.parametrize(
    ("name", "cache_control"),
    [
        ("images/cho-nhua-1a2b3c4d-480.webp", YEAR),
        ("theme/img/logo.0a1b2c3d.svg", YEAR),
        ("images/20201218-le-hoi.jpg", "public, max-age=86400"),
        ("tai-lieu/20201218.pdf", "no-cache"),
    ],
)
def test_cache_lifetimes_follow_the_names(under_sub_path, name, cache_control):
    served = under_sub_path
    file = served.site / name
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(b"\x89PNG")
    try:
        status, headers, _ = served.get("/" + name)
    finally:
        file.unlink()
    assert status == 200
    assert headers["cache-control"] == cache_control
