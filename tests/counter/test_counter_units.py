"""Unit tests: page ids, the page list, identity helpers, rate limits, config."""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from pathlib import Path

import pytest

from counter.config import (
    DEFAULT_BOT_PATTERN,
    Config,
    ConfigError,
    RateLimit,
    parse_rate_limit,
)
from counter.identity import (
    BotDetector,
    RateLimiter,
    TrustedProxies,
    is_prefetch,
    new_salt,
    visitor_digest,
)
from counter.pages import InvalidPage, PageList, normalise_page


@pytest.mark.parametrize(
    ("raw", "page"),
    [
        ("/", "/"),
        ("/index.html", "/"),
        ("/tin-tuc/a/", "/tin-tuc/a/"),
        ("/tin-tuc/a", "/tin-tuc/a/"),
        ("/tin-tuc/a/index.html", "/tin-tuc/a/"),
        ("/tin-tuc/a/INDEX.HTML", "/tin-tuc/a/"),
        ("/tin-tuc/a/?utm_source=zalo", "/tin-tuc/a/"),
        ("/tin-tuc/a/#binh-luan", "/tin-tuc/a/"),
        ("/tin-tuc/a/index.html?x=1#y", "/tin-tuc/a/"),
        ("//tin-tuc//a//", "/tin-tuc/a/"),
        ("/tin-t%E1%BB%A9c/", "/tin-tức/"),
        ("/tin-tức/", "/tin-tức/"),
        ("/a.b/c.html", "/a.b/c.html/"),
    ],
)
def test_normalise_page(raw: str, page: str) -> None:
    """Page ids are root paths with a trailing slash, whatever the spelling."""
    assert normalise_page(raw) == page


@pytest.mark.parametrize(
    "raw",
    [
        None,
        17,
        "",
        "tin-tuc/a/",
        "https://x.vn/a/",
        "?x=1",
        "/a\x00/",
        "/a\n/",
        "/a%0A/",
        "/a\x85/",
        "/../etc/",
        "/a/./b/",
        "/%FF/",
        "/\ud800/",
        "/" + "a" * 600,
    ],
)
def test_invalid_pages_are_refused(raw: object) -> None:
    """Anything that is not a clean root path raises InvalidPage."""
    with pytest.raises(InvalidPage):
        normalise_page(raw)


def test_page_list_reloads_when_the_file_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The list is re-read at most once per interval, and only when changed."""
    now = [0.0]
    path = tmp_path / "pages.json"
    path.write_text(json.dumps({"pages": ["/", "/a/index.html", 5]}))
    pages = PageList(path, check_interval=1.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="counter.pages"):
        assert "/a/" in pages and "/" in pages and len(pages) == 2
    assert "counter: loaded 2 countable pages" in caplog.text
    assert "skipped 1 invalid" in caplog.text
    path.write_text(json.dumps({"pages": ["/", "/a/", "/b/"]}))
    now[0] = 0.5
    assert "/b/" not in pages  # not checked again within the interval
    now[0] = 1.5
    assert "/b/" in pages
    path.write_text("{not json")
    now[0] = 3.0
    with caplog.at_level(logging.ERROR, logger="counter.pages"):
        assert "/b/" in pages  # a half-written file keeps the old list
    assert "cannot read pages file" in caplog.text


def test_missing_page_list_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A missing file means no countable page, said once in the log."""
    now = [0.0]
    pages = PageList(tmp_path / "none.json", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="counter.pages"):
        for step in range(3):
            now[0] = step * 2.0
            assert "/" not in pages
    assert caplog.text.count("is missing") == 1
    assert "counter: pages file" in caplog.text


@pytest.mark.parametrize(
    ("ua", "bot"),
    [
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            True,
        ),
        ("Mozilla/5.0 (compatible; bingbot/2.0)", True),
        ("facebookexternalhit/1.1", True),
        ("Mozilla/5.0 (compatible; Yahoo! Slurp)", True),
        ("curl/8.5.0", True),
        ("Wget/1.21", True),
        ("python-requests/2.32.3", True),
        ("Python-urllib/3.11", True),
        ("Mozilla/5.0 (X11; Linux x86_64) HeadlessFirefox", True),
        ("Mozilla/5.0 AppleWebKit Chrome-Lighthouse", True),
        ("", True),
        ("   ", True),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/131.0.0.0 Safari/537.36",
            False,
        ),
        (
            "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 Chrome/120",
            False,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Version/18.1 "
            "Mobile/15E148 Safari/604.1",
            False,
        ),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Firefox/133.0", False),
        ("Mozilla/5.0 (Linux; Android 14) Chrome/131 Mobile Safari/537.36 Zalo", False),
    ],
)
def test_bot_detection(ua: str, bot: bool) -> None:
    """Bots by User-Agent; headless Chrome (our browser tests) is no bot."""
    assert BotDetector(DEFAULT_BOT_PATTERN).is_bot(ua) is bot


def test_bot_pattern_with_capitals_is_still_case_insensitive() -> None:
    """A configured pattern matches regardless of case."""
    detector = BotDetector("MyCrawler|HeadlessChrome")
    assert detector.is_bot("mozilla headlesschrome/1")
    assert detector.is_bot("a MYCRAWLER")
    assert not detector.is_bot("Mozilla/5.0 Firefox")
    assert not BotDetector("").is_bot("curl/8")


@pytest.mark.parametrize(
    ("headers", "prefetch"),
    [
        ({b"sec-purpose": b"prefetch"}, True),
        ({b"sec-purpose": b"prefetch;prerender"}, True),
        ({b"purpose": b"prefetch"}, True),
        ({b"x-moz": b"prefetch"}, True),
        ({b"x-purpose": b"preview"}, True),
        ({b"sec-fetch-mode": b"navigate"}, False),
        ({}, False),
    ],
)
def test_prefetch_detection(headers: dict[bytes, bytes], prefetch: bool) -> None:
    """Prefetch and prerender requests are recognised by their headers."""
    assert is_prefetch(headers) is prefetch


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", b"198.51.100.1", "203.0.113.9"),  # untrusted peer: ignore
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", b"198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", b"198.51.100.1, 10.0.0.5", "198.51.100.1"),  # through 2 proxies
        ("127.0.0.1", b"6.6.6.6, 198.51.100.1", "198.51.100.1"),  # spoofed left part
        ("127.0.0.1", b"junk", "127.0.0.1"),
        ("127.0.0.1", b"198.51.100.1:4711", "198.51.100.1"),
        ("127.0.0.1", b"[2001:DB8::1]:443", "2001:db8::1"),
        ("::ffff:127.0.0.1", b"2001:db8::1", "2001:db8::1"),
        ("10.0.0.5", b"10.0.0.6", "10.0.0.6"),  # all trusted: the leftmost
    ],
)
def test_forwarded_for_from_trusted_proxies(
    peer: str, forwarded: bytes | None, client: str
) -> None:
    """X-Forwarded-For is believed only as far back as trusted proxies go."""
    proxies = TrustedProxies(
        [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]
    )
    assert proxies.client_address(peer, forwarded) == client


def test_no_trusted_proxies_means_the_peer() -> None:
    """With no COUNTER_TRUSTED_PROXIES the header is ignored."""
    assert (
        TrustedProxies([]).client_address("127.0.0.1", b"198.51.100.1") == "127.0.0.1"
    )


def test_visitor_digest_depends_on_everything() -> None:
    """The hash changes with salt, address, User-Agent, page and secret."""
    salt = new_salt()
    base = visitor_digest(salt, "198.51.100.1", "UA", "/a/")
    assert base == visitor_digest(salt, "198.51.100.1", "UA", "/a/")
    variants = [
        visitor_digest(new_salt(), "198.51.100.1", "UA", "/a/"),
        visitor_digest(salt, "198.51.100.2", "UA", "/a/"),
        visitor_digest(salt, "198.51.100.1", "UA2", "/a/"),
        visitor_digest(salt, "198.51.100.1", "UA", "/b/"),
        visitor_digest(salt, "198.51.100.1", "UA", "/a/", secret=b"s"),
    ]
    assert base not in variants and len(set(variants)) == len(variants)
    assert b"198.51.100.1" not in base and len(base) == 16
    message = b"198.51.100.1\nUA\n/a/"
    assert base == hmac.digest(salt, message, "sha256")[:16]  # it is HMAC-SHA256
    long_key = b"k" * 100
    assert (
        visitor_digest(long_key, "198.51.100.1", "UA", "/a/")
        == (hmac.digest(long_key, message, "sha256")[:16])
    )


def test_rate_limiter_token_bucket() -> None:
    """A full bucket of `hits`, refilled at hits/seconds, per identity."""
    now = [100.0]
    limiter = RateLimiter(RateLimit(3, 3.0), clock=lambda: now[0])
    assert [limiter.check("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.check("a") == pytest.approx(1.0)
    assert limiter.check("b") == 0.0
    now[0] += 1.0
    assert limiter.check("a") == 0.0 and limiter.check("a") > 0
    now[0] += 10.0  # everybody refilled: the idle buckets are forgotten
    assert limiter.check("c") == 0.0
    assert len(limiter) == 1


def test_rate_limiter_memory_is_bounded() -> None:
    """A flood of identities cannot grow the table past max_keys."""
    limiter = RateLimiter(RateLimit(1, 3600.0), clock=lambda: 0.0, max_keys=100)
    for key in range(1000):
        limiter.check(key)
    assert len(limiter) <= 100


def test_config_defaults() -> None:
    """An empty environment gives the documented defaults."""
    config = Config.from_env({})
    assert (config.host, config.port) == ("127.0.0.1", 8787)
    assert config.database_url == "sqlite:///var/counter.sqlite3"
    assert config.sqlite_path == Path("var/counter.sqlite3")
    assert config.pages_path == Path("output/counter-pages.json")
    assert config.rate_limit == RateLimit(120, 60.0)
    assert config.sqlite_synchronous == "FULL"
    assert config.backend == "sqlite"
    assert config == Config()


def test_config_from_environment() -> None:
    """Every variable is read and parsed."""
    config = Config.from_env(
        {
            "COUNTER_HOST": "0.0.0.0",
            "COUNTER_PORT": "9000",
            "COUNTER_DATABASE_URL": "postgresql://u:secret@db/counter",
            "COUNTER_PAGES": "/srv/site/counter-pages.json",
            "COUNTER_RATE_LIMIT": "off",
            "COUNTER_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1",
            "COUNTER_ALLOWED_ORIGINS": "https://DanVanKheo.vn/, http://localhost:8000",
            "COUNTER_SQLITE_SYNCHRONOUS": "normal",
            "COUNTER_SECRET": "pepper",
        }
    )
    assert config.backend == "postgresql" and config.port == 9000
    assert config.rate_limit is None
    assert len(config.trusted_proxies) == 3
    assert config.allowed_origins == {"https://danvankheo.vn", "http://localhost:8000"}
    assert config.sqlite_synchronous == "NORMAL"
    assert "secret" not in config.redacted_database_url()
    assert "pepper" not in repr(config)
    assert Config.from_env({"COUNTER_DATABASE_URL": "/tmp/c.db"}).sqlite_path == Path(
        "/tmp/c.db"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COUNTER_PORT", "http"),
        ("COUNTER_PORT", "70000"),
        ("COUNTER_RATE_LIMIT", "fast"),
        ("COUNTER_RATE_LIMIT", "0/60"),
        ("COUNTER_TRUSTED_PROXIES", "proxy.local"),
        ("COUNTER_ALLOWED_ORIGINS", "danvankheo.vn"),
        ("COUNTER_ALLOWED_ORIGINS", "*"),
        ("COUNTER_DATABASE_URL", "mysql://x/y"),
        ("COUNTER_DATABASE_URL", "sqlite://relative"),
        ("COUNTER_SQLITE_SYNCHRONOUS", "OFF"),
        ("COUNTER_BOT_PATTERN", "bot("),
        ("COUNTER_TIMEZONE", "Mars/Olympus"),
        ("COUNTER_MAX_BATCH", "0"),
        ("COUNTER_REQUEST_TIMEOUT", "soon"),
        ("COUNTER_LOG_LEVEL", "LOUD"),
        ("COUNTER_HOST", "a b"),
    ],
)
def test_invalid_config_names_the_variable(name: str, value: str) -> None:
    """A bad value raises ConfigError naming the variable."""
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


def test_rate_limit_parsing() -> None:
    """HITS/SECONDS, with optional spaces and fractional seconds."""
    assert parse_rate_limit("120/60") == RateLimit(120, 60.0)
    assert parse_rate_limit(" 5 / 0.5 ") == RateLimit(5, 0.5)
    assert parse_rate_limit("OFF") is None
