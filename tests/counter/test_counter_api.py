"""The HTTP API of a real server: counting rules, bad input, CORS, limits, reload."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.counter.counter_helpers import (
    BROWSER_UA,
    PAGES,
    Server,
    StartServer,
    run_server,
    write_pages,
)

HEADLESS_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36"
)
OTHER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture(scope="module")
def shared_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """One server for the cases that must leave every count at zero."""
    folder = tmp_path_factory.mktemp("shared")
    with run_server(folder, COUNTER_RATE_LIMIT="off") as server:
        yield server
        assert server.count("/").json["site"] == 0


def test_counts_once_per_visitor_page_and_day(
    start_server: StartServer, database_url: str
) -> None:
    """Repeat visits (under any spelling of the page) count once; others count."""
    server = start_server(database_url)
    first = server.hit("/tin-tuc/a/")
    assert (first.status, first.json) == (200, {"page": 1, "site": 1, "counted": True})
    for spelling in (
        "/tin-tuc/a/",
        "/tin-tuc/a/index.html",
        "/tin-tuc/a",
        "/tin-tuc/a/?x=1#top",
    ):
        again = server.hit(spelling)
        assert (again.status, again.json) == (
            200,
            {"page": 1, "site": 1, "counted": False},
        ), spelling
    other = server.hit("/tin-tuc/a/", ua=OTHER_UA, content_type="application/json")
    assert other.json == {"page": 2, "site": 2, "counted": True}
    home = server.hit("/index.html")
    assert home.json == {"page": 1, "site": 3, "counted": True}
    assert server.count("/tin-tuc/a/").json == {"page": 2, "site": 3, "counted": False}
    assert server.count("/tin-tuc/b/").json == {"page": 0, "site": 3, "counted": False}


@pytest.mark.parametrize(
    ("ua", "headers"),
    [
        pytest.param("Mozilla/5.0 (compatible; Googlebot/2.1)", {}, id="googlebot"),
        pytest.param("curl/8.5.0", {}, id="curl"),
        pytest.param("python-requests/2.32", {}, id="python-requests"),
        pytest.param("", {}, id="no-user-agent"),
        pytest.param("Mozilla/5.0 HeadlessFirefox", {}, id="headless-not-chrome"),
        pytest.param(BROWSER_UA, {"Sec-Purpose": "prefetch"}, id="sec-purpose"),
        pytest.param(BROWSER_UA, {"Sec-Purpose": "prefetch;prerender"}, id="prerender"),
        pytest.param(BROWSER_UA, {"Purpose": "prefetch"}, id="purpose"),
        pytest.param(BROWSER_UA, {"X-Moz": "prefetch"}, id="x-moz"),
    ],
)
def test_bots_and_prefetches_count_zero(
    shared_server: Server, ua: str, headers: dict[str, str]
) -> None:
    """Bots and prefetches get 200 counted:false and change no count."""
    server = shared_server
    reply = server.hit("/tin-tuc/a/", ua=ua, headers=headers)
    assert (reply.status, reply.json) == (200, {"page": 0, "site": 0, "counted": False})
    assert server.count("/tin-tuc/a/").json["page"] == 0


def test_headless_chrome_counts(start_server: StartServer) -> None:
    """Our own browser tests (HeadlessChrome) are visitors, not bots."""
    server = start_server()
    assert server.hit("/", ua=HEADLESS_UA).json == {
        "page": 1,
        "site": 1,
        "counted": True,
    }


def test_bot_pattern_is_configurable(start_server: StartServer) -> None:
    """COUNTER_BOT_PATTERN replaces the default list."""
    server = start_server(COUNTER_BOT_PATTERN="headlesschrome|mybot")
    assert server.hit("/", ua=HEADLESS_UA).json["counted"] is False
    assert server.hit("/", ua="curl/8.5.0").json["counted"] is True


def test_unknown_page_is_404_and_counts_zero(
    start_server: StartServer, database_url: str
) -> None:
    """A page that is not in the build's list is 404 and counts nothing."""
    server = start_server(database_url)
    for page in ("/khong-co/", "/tin-tuc/a/b/"):
        reply = server.hit(page)
        assert reply.status == 404
        assert reply.json == {"error": "unknown page"}
    assert server.count("/khong-co/").status == 404
    assert server.count("/").json == {"page": 0, "site": 0, "counted": False}


BIG = json.dumps({"page": "/tin-tuc/a/", "pad": "x" * 2100}).encode()
TEXT = {"Content-Type": "text/plain", "User-Agent": BROWSER_UA}
BAD_REQUESTS = [
    # (id, method, path, body, headers, status)
    ("malformed-json", "POST", "/api/hit", b'{"page": "/tin-tuc/a/"', TEXT, 400),
    ("not-an-object", "POST", "/api/hit", b'["/tin-tuc/a/"]', TEXT, 400),
    ("missing-page", "POST", "/api/hit", b'{"path": "/tin-tuc/a/"}', TEXT, 400),
    ("page-not-string", "POST", "/api/hit", b'{"page": 17}', TEXT, 400),
    ("page-empty", "POST", "/api/hit", b'{"page": ""}', TEXT, 400),
    ("page-relative", "POST", "/api/hit", b'{"page": "tin-tuc/a/"}', TEXT, 400),
    ("page-url", "POST", "/api/hit", b'{"page": "https://x.vn/tin-tuc/a/"}', TEXT, 400),
    ("control-char", "POST", "/api/hit", b'{"page": "/tin-tuc/a/\\u0007"}', TEXT, 400),
    ("raw-control-char", "POST", "/api/hit", b'{"page": "/tin-tuc/a/\x01"}', TEXT, 400),
    ("escaped-nul", "POST", "/api/hit", b'{"page": "/tin-tuc/a%00/"}', TEXT, 400),
    ("dot-dot", "POST", "/api/hit", b'{"page": "/tin-tuc/../a/"}', TEXT, 400),
    ("lone-surrogate", "POST", "/api/hit", b'{"page": "/\\ud800/"}', TEXT, 400),
    ("bad-utf8", "POST", "/api/hit", b'{"page": "/tin-tuc/\xff/"}', TEXT, 400),
    ("deep-nesting", "POST", "/api/hit", b"[" * 1000 + b"]" * 1000, TEXT, 400),
    (
        "too-long-page",
        "POST",
        "/api/hit",
        b'{"page": "/%s/"}' % (b"a" * 600),
        TEXT,
        400,
    ),
    ("oversized", "POST", "/api/hit", BIG, TEXT, 413),
    (
        "form-encoded",
        "POST",
        "/api/hit",
        b"page=/tin-tuc/a/",
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
    ),
    ("no-content-type", "POST", "/api/hit", b'{"page": "/tin-tuc/a/"}', {}, 415),
    ("get-hit", "GET", "/api/hit", None, {}, 405),
    ("put-hit", "PUT", "/api/hit", b'{"page": "/"}', TEXT, 405),
    ("post-count", "POST", "/api/count?page=/", b"{}", TEXT, 405),
    ("delete-count", "DELETE", "/api/count?page=/", None, {}, 405),
    ("post-healthz", "POST", "/healthz", b"{}", TEXT, 405),
    ("count-no-page", "GET", "/api/count", None, {}, 400),
    ("count-bad-page", "GET", "/api/count?page=%01", None, {}, 400),
    ("count-bad-utf8", "GET", "/api/count?page=/%FF/", None, {}, 400),
    ("count-unknown", "GET", "/api/count?page=/khong-co/", None, {}, 404),
    ("no-such-path", "GET", "/api/other", None, {}, 404),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_REQUESTS],
)
def test_bad_input_gets_4xx_json_and_changes_nothing(
    shared_server: Server,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
) -> None:
    """Each bad request gets its status and {"error": …}; no count moves."""
    server = shared_server
    reply = server.request(method, path, body, headers)
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/json"
    assert set(reply.json) == {"error"} and reply.json["error"]
    if status == 405:
        assert "allow" in reply.headers
    assert server.count("/tin-tuc/a/").json == {"page": 0, "site": 0, "counted": False}


def test_oversized_chunked_body_is_413(shared_server: Server) -> None:
    """A body over 2 KB without Content-Length (chunked) is refused too."""
    server = shared_server
    reply = server.request(
        "POST", "/api/hit", iter([BIG[:1000], BIG[1000:]]), TEXT, chunked=True
    )
    assert (reply.status, set(reply.json)) == (413, {"error"})
    bot = {**TEXT, "User-Agent": "curl/8"}  # a bot: the shared server counts nothing
    small = server.request(
        "POST", "/api/hit", iter([b'{"page": ', b'"/tin-tuc/a/"}']), bot, chunked=True
    )
    assert small.json == {"page": 0, "site": 0, "counted": False}


def test_cors_only_for_allowed_origins(start_server: StartServer) -> None:
    """Preflight and Access-Control-Allow-Origin only for the site's origins."""
    server = start_server(
        COUNTER_ALLOWED_ORIGINS="https://danvankheo.vn, http://localhost:8000"
    )
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    good = server.request(
        "OPTIONS", "/api/hit", headers={"Origin": "https://danvankheo.vn", **preflight}
    )
    assert good.status == 204
    assert good.headers["access-control-allow-origin"] == "https://danvankheo.vn"
    assert "POST" in good.headers["access-control-allow-methods"]
    bad = server.request(
        "OPTIONS", "/api/hit", headers={"Origin": "https://evil.example", **preflight}
    )
    assert bad.status == 403 and "access-control-allow-origin" not in bad.headers
    assert set(bad.json) == {"error"}

    allowed = server.hit("/", headers={"Origin": "http://localhost:8000"})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:8000"
    plain = server.count("/")
    assert "access-control-allow-origin" not in plain.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {},
        {"Origin": "https://danvankheo.vn", "Sec-Fetch-Site": "cross-site"},
    ],
    ids=["other-origin", "no-origin", "cross-site"],
)
def test_hits_from_other_origins_are_refused(
    start_server: StartServer, headers: dict[str, str]
) -> None:
    """With COUNTER_ALLOWED_ORIGINS, a hit from elsewhere gets 403 and counts nothing."""
    server = start_server(COUNTER_ALLOWED_ORIGINS="https://danvankheo.vn")
    refused = server.hit("/tin-tuc/a/", headers=headers)
    assert refused.status == 403 and refused.json == {"error": "origin not allowed"}
    same = {"Origin": "https://danvankheo.vn", "Sec-Fetch-Site": "same-origin"}
    assert server.hit("/tin-tuc/a/", headers=same).json["page"] == 1


def test_an_allowed_origin_written_with_its_default_port_still_matches(
    start_server: StartServer,
) -> None:
    """A browser's Origin never has :443: "https://site:443/" must still admit it."""
    server = start_server(COUNTER_ALLOWED_ORIGINS="https://DanVanKheo.vn:443/")
    same = {"Origin": "https://danvankheo.vn", "Sec-Fetch-Site": "same-origin"}
    assert server.hit("/tin-tuc/a/", headers=same).json["page"] == 1


def test_rate_limit_429(start_server: StartServer) -> None:
    """Over COUNTER_RATE_LIMIT an address gets 429, whatever its User-Agent."""
    server = start_server(COUNTER_RATE_LIMIT="3/60")
    statuses = [server.hit(page).status for page in PAGES[:5]]
    assert statuses == [200, 200, 200, 429, 429]
    limited = server.hit("/gioi-thieu/", ua=OTHER_UA)
    assert limited.status == 429 and set(limited.json) == {"error"}
    assert int(limited.headers["retry-after"]) >= 1
    other = server.hit("/gioi-thieu/", source="127.0.0.2")
    assert other.json["counted"] is True
    assert server.count("/", ua=OTHER_UA).status == 429
    assert server.count("/", source="127.0.0.3").json["site"] == 4


def test_rate_limit_is_on_by_default(start_server: StartServer) -> None:
    """Without COUNTER_RATE_LIMIT the default (120 per 60 s) applies."""
    server = start_server()
    statuses = [server.count("/").status for _ in range(125)]
    assert statuses[:120] == [200] * 120 and 429 in statuses[120:]


def test_forwarded_for_trusted_only_from_configured_proxies(
    start_server: StartServer, tmp_path: Path
) -> None:
    """X-Forwarded-For makes distinct visitors only behind a trusted proxy."""
    untrusted = start_server()
    for address in ("198.51.100.1", "198.51.100.2"):
        untrusted.hit("/", headers={"X-Forwarded-For": address})
    assert untrusted.count("/").json["page"] == 1  # both came from 127.0.0.1

    trusted = start_server(
        str(tmp_path / "trusted.sqlite3"),
        COUNTER_TRUSTED_PROXIES="127.0.0.1/32, 10.0.0.0/8",
    )
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.2, 10.1.1.1"):
        trusted.hit("/", headers={"X-Forwarded-For": address})
    assert trusted.count("/").json["page"] == 2


def test_new_pages_count_without_restart(
    start_server: StartServer, pages_path: Path
) -> None:
    """Rewriting counter-pages.json makes a new article countable within seconds."""
    server = start_server()
    assert server.hit("/tin-tuc/moi/").status == 404
    write_pages(pages_path, [*PAGES, "/tin-tuc/moi/"])
    deadline = time.monotonic() + 6
    while (
        reply := server.hit("/tin-tuc/moi/")
    ).status == 404 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert reply.json == {"page": 1, "site": 1, "counted": True}
    write_pages(pages_path, ["/"])  # and removed pages stop counting
    deadline = time.monotonic() + 6
    while (
        reply := server.hit("/tin-tuc/a/")
    ).status != 404 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert reply.status == 404


def test_missing_page_list_starts_and_waits(
    start_server: StartServer, pages_path: Path
) -> None:
    """Without the file the service starts, says so, and 404s until it appears."""
    pages_path.unlink()
    server = start_server()
    assert server.request("GET", "/healthz").json["pages"] == 0
    assert server.hit("/").status == 404
    assert "pages file" in server.log_text() and "missing" in server.log_text()
    write_pages(pages_path, ["/"])
    deadline = time.monotonic() + 6
    while (reply := server.hit("/")).status == 404 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert reply.json == {"page": 1, "site": 1, "counted": True}


def test_healthz(shared_server: Server) -> None:
    """/healthz answers 200 with the storage and page count; HEAD works too."""
    server = shared_server
    reply = server.request("GET", "/healthz")
    assert reply.status == 200
    assert reply.json == {"status": "ok", "storage": "sqlite", "pages": len(PAGES)}
    head = server.request("HEAD", "/healthz")
    assert head.status == 200 and head.body == b""


def test_bad_configuration_exits_with_a_clear_error(start_server: StartServer) -> None:
    """An invalid variable stops the service with a message naming it."""
    server = start_server(COUNTER_RATE_LIMIT="lots", wait=False)
    assert server.proc.wait(timeout=20) == 2
    assert "COUNTER_RATE_LIMIT" in server.log_text()
