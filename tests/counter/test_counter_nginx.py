"""The counter as deployed: Debian's nginx with the sample config before the real service.

Clients bind to several loopback addresses (127.0.0.2, .3, …) with
`source_address`, so nginx sees distinct visitors as it would on the Internet.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.counter.counter_helpers import (
    BROWSER_UA,
    PAGES,
    Server,
    launch_server,
    wait_healthy,
    write_pages,
)
from tests.nginx import Nginx, free_port, run_nginx

TIMEOUT = 2  # seconds: the sample's client_header/body_timeout, shortened for tests
CONN_LIMIT = 32  # the sample's limit_conn per address


@dataclass
class Deployed:
    """nginx on a free port in front of a real counter service."""

    nginx: Nginx
    counter: Server
    origin: str

    def request(
        self,
        method: str,
        path: str,
        source: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict]:
        """Send one request to nginx from a loopback address; return status and JSON."""
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.nginx.port, timeout=10, source_address=(source, 0)
        )
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            try:
                answer = json.loads(data) if data else {}
            except ValueError:
                answer = {"html": data.decode("utf-8", "replace")}
            return response.status, answer
        finally:
            conn.close()

    def hit(self, page: str, source: str, **headers: str) -> tuple[int, dict]:
        """POST a visit as the site's own script would, from source."""
        sent = {
            "Content-Type": "text/plain;charset=UTF-8",
            "User-Agent": BROWSER_UA,
            "Origin": self.origin,
            "Sec-Fetch-Site": "same-origin",
            **headers,
        }
        body = json.dumps({"page": page}).encode()
        return self.request("POST", "/api/hit", source, body, sent)


def shorten_timeouts(text: str) -> str:
    """Cut the sample's 10 s client timeouts to TIMEOUT seconds."""
    for name in ("client_header_timeout", "client_body_timeout"):
        assert f"{name} 10s;" in text
        text = text.replace(f"{name} 10s;", f"{name} {TIMEOUT}s;")
    return text


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """Run the service with its production settings behind the sample nginx config."""
    tmp = tmp_path_factory.mktemp("deployed")
    site = tmp / "www"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>Trang chủ</title>")
    (site / "404.html").write_text("<!doctype html><title>Không tìm thấy</title>")
    pages = tmp / "counter-pages.json"
    write_pages(pages, PAGES)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    counter = launch_server(
        tmp,
        f"sqlite:///{tmp}/counter.sqlite3",
        pages,
        tmp / "counter.log",
        COUNTER_TRUSTED_PROXIES="127.0.0.1,::1",  # as deploy/dvk-counter.service
        COUNTER_ALLOWED_ORIGINS=origin,
        COUNTER_RATE_LIMIT="10/60",
    )
    try:
        wait_healthy(counter)
        upstream = f"127.0.0.1:{counter.port}"
        with run_nginx(
            site, site, port, upstream, tmp / "nginx", edit=shorten_timeouts
        ) as nginx:
            yield Deployed(nginx, counter, origin)
    finally:
        counter.stop()


def test_three_addresses_are_three_visits(deployed: Deployed) -> None:
    """One browser's User-Agent from three addresses counts three times."""
    answers = [deployed.hit("/tin-tuc/a/", f"127.0.0.{n}")[1] for n in (2, 3, 4)]
    assert [a["counted"] for a in answers] == [True, True, True]
    assert answers[-1]["page"] == 3


def test_a_forged_forwarded_for_is_ignored(deployed: Deployed) -> None:
    """The client's own X-Forwarded-For is overwritten by nginx: one visit, not 10."""
    counted = [
        deployed.hit(
            "/tin-tuc/b/",
            "127.0.0.5",
            **{"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"203.0.113.{n}"},
        )[1]["counted"]
        for n in range(1, 11)  # the address's whole allowance (10 a minute)
    ]
    assert counted.count(True) == 1
    assert deployed.hit("/tin-tuc/b/", "127.0.0.6")[1]["page"] == 2


def test_each_address_has_its_own_rate_limit_bucket(deployed: Deployed) -> None:
    """140 requests from 14 addresses leave a fresh address its whole allowance."""
    for n in range(20, 34):
        statuses = [deployed.hit(PAGES[k], f"127.0.0.{n}")[0] for k in range(4, 14)]
        assert statuses == [200] * 10
    assert deployed.hit(PAGES[20], "127.0.0.20")[0] == 429
    status, answer = deployed.hit(PAGES[20], "127.0.0.40")
    assert (status, answer["page"], answer["counted"]) == (200, 1, True)


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["other-origin", "cross-site"],
)
def test_other_websites_cannot_count(deployed: Deployed, headers: dict) -> None:
    """A cross-origin text/plain POST (no preflight needed) is refused with 403."""
    status, answer = deployed.hit("/gioi-thieu/", "127.0.0.7", **headers)
    assert (status, answer) == (403, {"error": "origin not allowed"})


def test_missing_pages_get_the_sites_404_page(deployed: Deployed) -> None:
    """nginx answers an unknown path with the site's own 404.html."""
    status, answer = deployed.request("GET", "/khong-co/", "127.0.0.8")
    assert status == 404 and "Không tìm thấy" in answer["html"]


def slow_client(port: int, source: str) -> socket.socket:
    """Open a connection and send half a request's headers, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), 10, (source, 0))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow")
    return sock


def healthz_seconds(deployed: Deployed) -> float:
    """Time one GET /healthz through nginx from 127.0.0.1."""
    started = time.perf_counter()
    status, answer = deployed.request("GET", "/healthz", "127.0.0.1")
    assert (status, answer["status"]) == (200, "ok")
    return time.perf_counter() - started


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Tell whether the server closes the connection within that many seconds."""
    sock.settimeout(within)
    try:
        while sock.recv(4096):  # nginx may send a 408 before closing
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def test_slow_clients_are_cut_off_and_do_not_slow_healthz(deployed: Deployed) -> None:
    """200 slow clients hold connections; /healthz stays fast; nginx drops them."""
    slow = [
        slow_client(deployed.nginx.port, f"127.0.1.{n % 250 + 1}") for n in range(200)
    ]
    try:
        times = [healthz_seconds(deployed) for _ in range(5)]
        assert statistics.median(times) < 0.1, times
        started = time.monotonic()
        assert all(closed_by_server(sock, TIMEOUT + 3) for sock in slow)
        assert time.monotonic() - started < TIMEOUT + 3
    finally:
        for sock in slow:
            sock.close()


def test_a_slow_body_is_cut_off(deployed: Deployed) -> None:
    """A client that stops in the middle of its body is disconnected after the timeout."""
    sock = socket.create_connection(
        ("127.0.0.1", deployed.nginx.port), 10, ("127.0.0.9", 0)
    )
    with sock:
        sock.sendall(
            b"POST /api/hit HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            b'Content-Length: 40\r\n\r\n{"page":'
        )
        started = time.monotonic()
        assert closed_by_server(sock, TIMEOUT + 3)
        assert time.monotonic() - started >= TIMEOUT - 0.5


def test_connections_per_address_are_limited(deployed: Deployed) -> None:
    """Past limit_conn, one address gets 429 while another is still served."""
    held = []
    try:
        for _ in range(CONN_LIMIT + 8):
            sock = socket.create_connection(
                ("127.0.0.1", deployed.nginx.port), 10, ("127.0.0.10", 0)
            )
            sock.sendall(  # /healthz has no limit_req: only limit_conn applies
                b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n"
            )
            held.append(sock)
        refused = 0
        for sock in held:
            sock.settimeout(0.5)
            with contextlib.suppress(TimeoutError):
                refused += sock.recv(4096).startswith(b"HTTP/1.1 429")
        assert refused == 8
        assert deployed.hit("/tin-tuc/bai-30/", "127.0.0.11")[0] == 200
    finally:
        for sock in held:
            sock.close()


def test_error_log_has_no_client_address(deployed: Deployed) -> None:
    """Timeouts, limits and missing files leave no client address in the error log."""
    deployed.request("GET", "/khong-co/", "127.0.0.12")
    text = Path(deployed.nginx.tmp / "site-error.log").read_text("utf-8")
    assert "127.0." not in text, text[-1000:]
