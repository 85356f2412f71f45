"""cms_auth: the agency's own OAuth helper for the web editor's GitHub logins.

Decap CMS's `github` back-end opens a window on `<base_url>/auth`; this helper sends
it to GitHub's authorisation page, receives GitHub's answer on `/callback`, trades the
code for a token (with the OAuth App's secret, which never reaches the browser) and
hands the token to the editor's page by `postMessage`, to the one origin it serves.
Standard library only; run it with `python -m cms_auth` behind nginx (README "Web
editor"). Settings, from the environment:

| variable | meaning |
| --- | --- |
| `CMS_AUTH_CLIENT_ID`, `CMS_AUTH_CLIENT_SECRET` | the GitHub OAuth App's |
| `CMS_AUTH_ORIGIN` | the site's origin, e.g. `https://danvankheo.example.vn` |
| `CMS_AUTH_HOST`, `CMS_AUTH_PORT` | where to listen (default `127.0.0.1:8790`) |
| `CMS_AUTH_GITHUB` | GitHub's address (default `https://github.com`; GitHub Enterprise) |
| `CMS_AUTH_SCOPE` | the scopes asked for (default `repo,user`) |
"""

from __future__ import annotations

import hmac
import html
import http.cookies
import json
import logging
import secrets
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Settings", "make_server"]

log = logging.getLogger("cms_auth")
COOKIE = "dvk_oauth_state"


@dataclass(frozen=True)
class Settings:
    """What the helper needs, read once from the environment."""

    client_id: str
    client_secret: str
    origin: str
    host: str = "127.0.0.1"
    port: int = 8790
    github: str = "https://github.com"
    scope: str = "repo,user"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings; a missing one is an error naming the variable."""
        missing = [
            name
            for name in (
                "CMS_AUTH_CLIENT_ID",
                "CMS_AUTH_CLIENT_SECRET",
                "CMS_AUTH_ORIGIN",
            )
            if not environ.get(name)
        ]
        if missing:
            raise ValueError(f"cms_auth: thiếu biến môi trường {', '.join(missing)}")
        origin = environ["CMS_AUTH_ORIGIN"].rstrip("/")
        if not origin.startswith(("https://", "http://127.", "http://localhost")):
            raise ValueError("cms_auth: CMS_AUTH_ORIGIN phải là https://… của trang")
        return cls(
            environ["CMS_AUTH_CLIENT_ID"],
            environ["CMS_AUTH_CLIENT_SECRET"],
            origin,
            environ.get("CMS_AUTH_HOST", "127.0.0.1"),
            int(environ.get("CMS_AUTH_PORT", "8790")),
            environ.get("CMS_AUTH_GITHUB", "https://github.com").rstrip("/"),
            environ.get("CMS_AUTH_SCOPE", "repo,user"),
        )


def exchange_code(settings: Settings, code: str) -> str:
    """Trade GitHub's code for an access token; raise ValueError with GitHub's reason."""
    body = urllib.parse.urlencode(
        {
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
            "code": code,
        }
    ).encode()
    request = urllib.request.Request(
        f"{settings.github}/login/oauth/access_token",
        body,
        {"Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        answer = json.loads(response.read())
    if not answer.get("access_token"):
        raise ValueError(answer.get("error_description") or "GitHub không trả mã")
    return answer["access_token"]


def _js(value: str) -> str:
    """Return a JavaScript string literal safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def message_page(settings: Settings, status: str, content: dict) -> tuple[str, str]:
    """Return (CSP, HTML) of the page that hands the outcome to the editor's window."""
    nonce = secrets.token_urlsafe(16)
    message = f"authorization:github:{status}:{json.dumps(content)}"
    origin, message = (_js(settings.origin), _js(message))
    script = (
        f"(function(){{var origin={origin},message={message};"
        "function answer(e){if(e.origin!==origin)return;"
        "window.removeEventListener('message',answer);"
        "window.opener.postMessage(message,origin);}"
        "window.addEventListener('message',answer);"
        "window.opener.postMessage('authorizing:github',origin);})();"
    )
    text = "Đăng nhập thành công." if status == "success" else "Đăng nhập không được."
    page = (
        '<!doctype html><html lang="vi"><meta charset="utf-8">'
        f"<title>{text}</title><p>{html.escape(text)} Cửa sổ này sẽ tự đóng.</p>"
        f'<script nonce="{nonce}">{script}</script></html>'
    )
    policy = f"default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'"
    return policy, page


class Handler(BaseHTTPRequestHandler):
    """Serve /auth and /callback."""

    settings: Settings
    server_version = "cms_auth"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        """Route a GET request."""
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path.rstrip("/").endswith("/auth") or url.path == "/auth":
            self.start()
        elif url.path.rstrip("/").endswith("/callback"):
            self.finish_login(query)
        else:
            self.reply(404, "text/plain", "Không có trang này.")

    def start(self) -> None:
        """Send the browser to GitHub's authorisation page, with a fresh state."""
        state = secrets.token_urlsafe(24)
        target = (
            f"{self.settings.github}/login/oauth/authorize?"
            + urllib.parse.urlencode(
                {
                    "client_id": self.settings.client_id,
                    "scope": self.settings.scope,
                    "state": state,
                }
            )
        )
        secure = "; Secure" if self.settings.origin.startswith("https://") else ""
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header(
            "Set-Cookie",
            f"{COOKIE}={state}; Path=/; Max-Age=600; HttpOnly; SameSite=Lax{secure}",
        )
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def finish_login(self, query: Mapping[str, str]) -> None:
        """Check the state, trade the code, hand the token to the editor."""
        cookies = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
        expected = cookies[COOKIE].value if COOKIE in cookies else ""
        state = query.get("state", "")
        if not expected or not hmac.compare_digest(expected, state):
            self.reply(400, "text/plain", "Phiên đăng nhập không hợp lệ: hãy thử lại.")
            return
        try:
            if "code" not in query:
                raise ValueError(query.get("error_description") or "thiếu mã")
            content = {
                "token": exchange_code(self.settings, query["code"]),
                "provider": "github",
            }
            status = "success"
        except (ValueError, OSError) as error:
            log.warning("cms_auth: login failed: %s", error)
            content, status = {"message": f"Đăng nhập không được: {error}"}, "error"
        policy, page = message_page(self.settings, status, content)
        self.reply(200, "text/html; charset=utf-8", page, policy)

    def reply(self, code: int, kind: str, text: str, policy: str = "") -> None:
        """Send a short answer that is never cached."""
        data = text.encode("utf-8")
        self.send_response(code)
        self.send_header(
            "Content-Type", kind if "charset" in kind else kind + "; charset=utf-8"
        )
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", policy or "default-src 'none'")
        self.send_header("Set-Cookie", f"{COOKIE}=; Path=/; Max-Age=0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        """Log without client addresses (the site's privacy rule)."""
        log.info("cms_auth: %s", format % args)


def make_server(settings: Settings) -> ThreadingHTTPServer:
    """Return the helper's HTTP server, bound but not yet serving."""
    handler = type("BoundHandler", (Handler,), {"settings": settings})
    return ThreadingHTTPServer((settings.host, settings.port), handler)
