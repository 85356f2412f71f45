"""Configuration of the counter service, read from environment variables."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta, timezone, tzinfo
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal.origins import parse_origin

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_DATABASE_URL = "sqlite:///var/counter.sqlite3"
DEFAULT_PAGES = "output/counter-pages.json"
DEFAULT_RATE_LIMIT = "120/60"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_SQLITE_SYNCHRONOUS = "FULL"
DEFAULT_MAX_BATCH = 512
DEFAULT_MAX_PENDING = 20_000
DEFAULT_REQUEST_TIMEOUT = 10.0
DEFAULT_PAGES_CHECK_INTERVAL = 1.0
DEFAULT_LOG_LEVEL = "INFO"
DEFAULT_NEW_VISITORS_PER_ADDRESS = 20
DEFAULT_MODE = "production"
MODES = ("production", "development")
MIN_SECRET_BYTES = 32
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s"
# Matched case-insensitively against the User-Agent. "HeadlessChrome" (our own
# browser tests) is deliberately not matched: `headless(?!chrome)`.
DEFAULT_BOT_PATTERN = (
    r"(?<!cu)bot|crawl|spider|slurp|archiver|curl|wget|httpie|python|httpx|"
    r"aiohttp|go-http-client|java/|okhttp|node-fetch|axios|undici|libwww|lwp-|"
    r"scrapy|httrack|phantomjs|headless(?!chrome)|lighthouse|pagespeed|gtmetrix|"
    r"pingdom|uptime|statuscake|monitor|facebookexternalhit|embedly|preview|"
    r"feedfetcher|mediapartners|inspectiontool|whatsapp|telegram"
)

SYNCHRONOUS_MODES = ("NORMAL", "FULL", "EXTRA")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """An environment variable has a value the service cannot use."""


@dataclass(frozen=True)
class RateLimit:
    """Allow `hits` requests per `seconds` for one visitor identity."""

    hits: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Return the refill rate in tokens per second."""
        return self.hits / self.seconds


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Config:
    """Everything the service needs to know, frozen once read."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database_url: str = DEFAULT_DATABASE_URL
    pages_path: Path = Path(DEFAULT_PAGES)
    rate_limit: RateLimit | None = RateLimit(120, 60.0)
    trusted_proxies: tuple[Network, ...] = ()
    allowed_origins: frozenset[str] = frozenset()
    bot_pattern: str = DEFAULT_BOT_PATTERN
    timezone_name: str = DEFAULT_TIMEZONE
    sqlite_synchronous: str = DEFAULT_SQLITE_SYNCHRONOUS
    max_batch: int = DEFAULT_MAX_BATCH
    max_pending: int = DEFAULT_MAX_PENDING
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    pages_check_interval: float = DEFAULT_PAGES_CHECK_INTERVAL
    log_level: str = DEFAULT_LOG_LEVEL
    secret: bytes = field(default=b"", repr=False)
    mode: str = DEFAULT_MODE
    new_visitors_per_address: int = DEFAULT_NEW_VISITORS_PER_ADDRESS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        """Build a Config from COUNTER_* variables, raising ConfigError if invalid."""

        def get(name: str, default: str) -> str:
            """Return the stripped value of name, or default."""
            return environ.get(name, default).strip()

        config = cls(
            host=_parse_host(get("COUNTER_HOST", DEFAULT_HOST)),
            port=_parse_int(
                "COUNTER_PORT", get("COUNTER_PORT", str(DEFAULT_PORT)), 1, 65535
            ),
            database_url=_parse_database_url(
                get("COUNTER_DATABASE_URL", DEFAULT_DATABASE_URL)
            ),
            pages_path=Path(get("COUNTER_PAGES", DEFAULT_PAGES) or DEFAULT_PAGES),
            rate_limit=parse_rate_limit(get("COUNTER_RATE_LIMIT", DEFAULT_RATE_LIMIT)),
            trusted_proxies=_parse_networks(get("COUNTER_TRUSTED_PROXIES", "")),
            allowed_origins=_parse_origins(get("COUNTER_ALLOWED_ORIGINS", "")),
            bot_pattern=_parse_pattern(get("COUNTER_BOT_PATTERN", DEFAULT_BOT_PATTERN)),
            timezone_name=get("COUNTER_TIMEZONE", DEFAULT_TIMEZONE),
            sqlite_synchronous=_parse_choice(
                "COUNTER_SQLITE_SYNCHRONOUS",
                get("COUNTER_SQLITE_SYNCHRONOUS", DEFAULT_SQLITE_SYNCHRONOUS).upper(),
                SYNCHRONOUS_MODES,
            ),
            max_batch=_parse_int(
                "COUNTER_MAX_BATCH",
                get("COUNTER_MAX_BATCH", str(DEFAULT_MAX_BATCH)),
                1,
                100_000,
            ),
            max_pending=_parse_int(
                "COUNTER_MAX_PENDING",
                get("COUNTER_MAX_PENDING", str(DEFAULT_MAX_PENDING)),
                1,
                10_000_000,
            ),
            request_timeout=_parse_float(
                "COUNTER_REQUEST_TIMEOUT",
                get("COUNTER_REQUEST_TIMEOUT", str(DEFAULT_REQUEST_TIMEOUT)),
            ),
            pages_check_interval=_parse_float(
                "COUNTER_PAGES_CHECK_INTERVAL",
                get("COUNTER_PAGES_CHECK_INTERVAL", str(DEFAULT_PAGES_CHECK_INTERVAL)),
                minimum=0.0,
            ),
            log_level=_parse_choice(
                "COUNTER_LOG_LEVEL",
                get("COUNTER_LOG_LEVEL", DEFAULT_LOG_LEVEL).upper(),
                LOG_LEVELS,
            ),
            secret=environ.get("COUNTER_SECRET", "").encode("utf-8"),
            mode=_parse_choice(
                "COUNTER_MODE", get("COUNTER_MODE", DEFAULT_MODE).lower(), MODES
            ),
            new_visitors_per_address=_parse_int(
                "COUNTER_NEW_VISITORS_PER_ADDRESS",
                get(
                    "COUNTER_NEW_VISITORS_PER_ADDRESS",
                    str(DEFAULT_NEW_VISITORS_PER_ADDRESS),
                ),
                0,
                1_000_000,
            ),
        )
        config.tzinfo()  # fail early on an unknown time zone
        return config

    def check_secret(self) -> None:
        """Refuse a production service whose COUNTER_SECRET is missing or short."""
        if self.mode == "production" and len(self.secret) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"COUNTER_SECRET must be at least {MIN_SECRET_BYTES} bytes in "
                f"production (got {len(self.secret)}); generate one with "
                "`python3 -c 'import secrets; print(secrets.token_hex(32))'` and put "
                "it in /etc/dvk-counter.env, or set COUNTER_MODE=development"
            )

    @property
    def backend(self) -> str:
        """Return "sqlite" or "postgresql"."""
        return "postgresql" if self.database_url.startswith("postgres") else "sqlite"

    @property
    def sqlite_path(self) -> Path:
        """Return the SQLite file named by database_url."""
        if self.backend != "sqlite":
            raise ConfigError("COUNTER_DATABASE_URL does not name an SQLite database")
        return sqlite_path_of(self.database_url)

    def redacted_database_url(self) -> str:
        """Return database_url without any password, for logs."""
        return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", self.database_url)

    def tzinfo(self) -> tzinfo:
        """Return the time zone that decides which day a visit belongs to."""
        try:
            return ZoneInfo(self.timezone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            if self.timezone_name == DEFAULT_TIMEZONE:  # no tz database: UTC+7, no DST
                return timezone(timedelta(hours=7), DEFAULT_TIMEZONE)
            raise ConfigError(
                f"COUNTER_TIMEZONE: unknown time zone {self.timezone_name!r}"
            ) from exc


def sqlite_path_of(url: str) -> Path:
    """Return the file path of an sqlite:/// URL or of a bare path."""
    if url.startswith("sqlite:///"):
        return Path(unquote(url[len("sqlite:///") :]))
    return Path(url)


def parse_rate_limit(value: str) -> RateLimit | None:
    """Parse "HITS/SECONDS" (or "off") into a RateLimit."""
    if value.lower() in ("off", "none", "0"):
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*", value)
    if not match or int(match[1]) < 1 or float(match[2]) <= 0:
        raise ConfigError(
            f"COUNTER_RATE_LIMIT must look like 120/60 (hits per seconds) or off, "
            f"got {value!r}"
        )
    return RateLimit(int(match[1]), float(match[2]))


def _parse_host(value: str) -> str:
    """Check that the listen host is an IP address or a host name."""
    if not value or not re.fullmatch(r"[A-Za-z0-9.:\-]+", value):
        raise ConfigError(
            f"COUNTER_HOST must be an address or host name, got {value!r}"
        )
    return value


def _parse_int(name: str, value: str, low: int, high: int) -> int:
    """Parse an integer within [low, high]."""
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ConfigError(
            f"{name} must be an integer from {low} to {high}, got {value!r}"
        )
    return number


def _parse_float(name: str, value: str, minimum: float = 0.001) -> float:
    """Parse a number of seconds no smaller than minimum."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number >= minimum:
        raise ConfigError(f"{name} must be a number >= {minimum}, got {value!r}")
    return number


def _parse_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """Check that value is one of choices."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _parse_database_url(value: str) -> str:
    """Accept postgresql://…, sqlite:///path or a bare SQLite file path."""
    if not value:
        raise ConfigError("COUNTER_DATABASE_URL must not be empty")
    scheme = urlsplit(value).scheme
    if scheme in ("postgres", "postgresql"):
        return value
    if scheme == "sqlite":
        if not value.startswith("sqlite:///") or len(value) == len("sqlite:///"):
            raise ConfigError(
                "COUNTER_DATABASE_URL: write sqlite:///relative/path or "
                f"sqlite:////absolute/path, got {value!r}"
            )
        return value
    if scheme and len(scheme) > 1:  # "C:" is a drive, anything else is unsupported
        raise ConfigError(
            f"COUNTER_DATABASE_URL: unsupported scheme {scheme!r} "
            "(use sqlite:///… or postgresql://…)"
        )
    return "sqlite:///" + value


def _parse_networks(value: str) -> tuple[Network, ...]:
    """Parse comma-separated IPs and CIDRs of trusted reverse proxies."""
    networks = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ConfigError(
                f"COUNTER_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR"
            ) from exc
    return tuple(networks)


def _parse_origins(value: str) -> frozenset[str]:
    """Parse comma-separated site origins such as https://example.vn."""
    origins = set()
    for item in filter(None, (part.strip() for part in value.split(","))):
        try:
            origins.add(parse_origin(item))
        except ValueError:
            raise ConfigError(
                "COUNTER_ALLOWED_ORIGINS: each origin must look like "
                f"https://example.vn (scheme, host, optional port), got {item!r}"
            ) from None
    return frozenset(origins)


def _parse_pattern(value: str) -> str:
    """Check that the bot pattern is a valid regular expression."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ConfigError(f"COUNTER_BOT_PATTERN is not a valid regex: {exc}") from exc
    return value
