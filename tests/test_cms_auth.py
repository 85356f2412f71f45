"""The GitHub OAuth helper (cms_auth) over real HTTP, with a fake GitHub beside it."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cms_auth import Settings, make_server


class FakeGitHub(BaseHTTPRequestHandler):
    """Answer the token exchange: code "good" gives a token, others an error."""

    def do_POST(self):  # noqa: N802
        form = dict(
            urllib.parse.parse_qsl(
                self.rfile.read(int(self.headers["Content-Length"])).decode()
            )
        )
        ok = form == {"client_id": "id1", "client_secret": "s3cret", "code": "good"}
        body = json.dumps(
            {"access_token": "tok<en>"} if ok else {"error_description": "bad code"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002
        pass


def _serve(server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def helper() -> Iterator[tuple[str, int]]:
    github = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    _serve(github)
    settings = Settings(
        "id1",
        "s3cret",
        "https://danvankheo.example.vn",
        port=0,
        github=f"http://127.0.0.1:{github.server_address[1]}",
    )
    server = make_server(settings)
    _serve(server)
    yield "127.0.0.1", server.server_address[1]
    for each in (server, github):
        each.shutdown()
        each.server_close()


def _get(address, path, cookie=""):
    connection = http.client.HTTPConnection(*address, timeout=10)
    connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    return response, response.read().decode("utf-8")


def _login(address) -> tuple[str, str]:
    """Start a login; return the state GitHub is given and the cookie."""
    response, _ = _get(address, "/auth?provider=github&scope=repo")
    assert response.status == 302
    target = urllib.parse.urlsplit(response.headers["Location"])
    query = dict(urllib.parse.parse_qsl(target.query))
    assert target.path == "/login/oauth/authorize" and query["client_id"] == "id1"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "s3cret" not in cookie
    return query["state"], cookie.split(";")[0]


def test_a_login_hands_the_token_to_the_site_origin_only(helper):
    state, cookie = _login(helper)
    response, page = _get(helper, f"/callback?code=good&state={state}", cookie)
    assert response.status == 200
    assert '"https://danvankheo.example.vn"' in page
    assert "authorization:github:success:" in page and "tok\\u003cen\\u003e" in page
    assert "<en>" not in page and "s3cret" not in page
    nonce = page.split('nonce="')[1].split('"')[0]
    assert f"script-src 'nonce-{nonce}'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("query", "status", "said"),
    [
        ("code=good&state=forged", 400, "Phiên đăng nhập không hợp lệ"),
        ("code=bad&state={state}", 200, "authorization:github:error:"),
    ],
)
def test_a_forged_state_or_a_refused_code_gives_no_token(helper, query, status, said):
    state, cookie = _login(helper)
    response, page = _get(helper, "/callback?" + query.format(state=state), cookie)
    assert response.status == status
    assert said in page and "tok" not in page


def test_settings_name_what_is_missing():
    with pytest.raises(ValueError, match="CMS_AUTH_CLIENT_SECRET"):
        Settings.from_env(
            {"CMS_AUTH_CLIENT_ID": "x", "CMS_AUTH_ORIGIN": "https://a.vn"}
        )
