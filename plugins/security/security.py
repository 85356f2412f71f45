"""security: one Content-Security-Policy, from a template and the counter's origin.

The policy is built once per build from `SECURITY["csp"]`, where `{counter_origin}`
becomes the origin of the `COUNTER_URL` environment variable (nothing when it is
empty or on the site's own origin). It goes to:
- `CSP_META` in the templates' context, for `<meta http-equiv="Content-Security-Policy">`
  (without `frame-ancestors`, which browsers ignore in a meta tag);
- `SECURITY["nginx_file"]` (default `csp.conf`) in the server's folder beside the
  output (`portal.serverfiles`, never the webroot): an nginx `add_header` line that
  `scripts/install-server-files.sh` validates and installs where the sample
  configuration in `deploy/` includes it.
`COUNTER_URL` must be an origin (`portal.origins`): scheme, host, optional port.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pelican import signals

from portal import finishing
from portal.options import merge_options
from portal.origins import ORIGIN_HELP, parse_origin
from portal.serverfiles import write_server_file

__all__ = [
    "SecurityError",
    "build_policy",
    "counter_origin",
    "get_options",
    "meta_policy",
    "register",
]

log = logging.getLogger(__name__)
PREFIX = "security"
SETTING = "SECURITY"
CSP_TEMPLATE = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data:; media-src 'self'; connect-src 'self' {counter_origin}; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
DEFAULTS: Mapping[str, Any] = {
    "csp": CSP_TEMPLATE,
    "counter_url_env": "COUNTER_URL",
    "nginx_file": "csp.conf",
    "meta": True,
}
# Directives a <meta> policy cannot carry (browsers ignore them there, with a warning).
META_IGNORED = ("frame-ancestors", "report-uri", "sandbox")


class SecurityError(ValueError):
    """The SECURITY setting or the counter's URL is wrong."""


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the SECURITY setting with the defaults and check it once."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX, SecurityError)
    if "{counter_origin}" not in options["csp"]:
        raise SecurityError(f"{PREFIX}: csp must contain {{counter_origin}}")
    if re.search(
        r'[\x00-\x1f\x7f"\\${}]', options["csp"].replace("{counter_origin}", "")
    ):
        raise SecurityError(
            f"{PREFIX}: csp must be one line without quotes, backslashes, $ or braces"
        )
    name = options["nginx_file"]
    if name and not re.fullmatch(r"[a-z0-9][a-z0-9._-]*\.conf", name):
        raise SecurityError(
            f"{PREFIX}: nginx_file must be a file name ending in .conf, got {name!r}"
        )
    return options


def counter_origin(url: str, site_url: str = "") -> str:
    """Return the origin of the counter's URL, or "" when it is the site's own."""
    url = url.strip()
    if not url:
        return ""
    try:
        origin = parse_origin(url)
    except ValueError:
        raise SecurityError(
            f"{PREFIX}: COUNTER_URL “{url}” không hợp lệ: phải có dạng {ORIGIN_HELP} "
            "(chỉ giao thức, tên máy và cổng; không đường dẫn, dấu cách hay dấu "
            "ngoặc kép). Sửa biến môi trường COUNTER_URL rồi dựng lại."
        ) from None
    site = urlsplit(site_url)
    return "" if origin == f"{site.scheme}://{site.netloc}".lower() else origin


def build_policy(template: str, origin: str) -> str:
    """Fill the template with the counter's origin and tidy the spaces."""
    policy = template.format(counter_origin=origin)
    return re.sub(r" +;", ";", re.sub(r" {2,}", " ", policy)).strip()


def meta_policy(policy: str) -> str:
    """Drop the directives a <meta> policy cannot carry."""
    kept = [
        part.strip()
        for part in policy.split(";")
        if part.strip() and part.split()[0] not in META_IGNORED
    ]
    return "; ".join(kept)


def site_policy(settings: Mapping) -> str:
    """Return the policy for this build."""
    options = get_options(settings)
    url = os.environ.get(options["counter_url_env"], "")
    return build_policy(
        options["csp"], counter_origin(url, settings.get("SITEURL", ""))
    )


def add_meta(generator) -> None:
    """Put the <meta> policy into the templates' context."""
    options = get_options(generator.settings)
    policy = site_policy(generator.settings)
    generator.context["CSP_META"] = meta_policy(policy) if options["meta"] else ""


def write_nginx_file(pelican) -> None:
    """Write the nginx `add_header` line that sends the policy, outside the webroot."""
    options = get_options(pelican.settings)
    if not options["nginx_file"]:
        return
    policy = site_policy(pelican.settings)
    text = (
        "# Written by the build (plugins/security); installed by "
        "scripts/install-server-files.sh.\n"
        f'add_header Content-Security-Policy "{policy}" always;\n'
    )
    path = write_server_file(pelican.settings, options["nginx_file"], text)
    log.debug("%s: policy %s written to %s", PREFIX, policy, path)


def check_settings(pelican) -> None:
    """Check the SECURITY setting and the counter's URL before anything is built."""
    site_policy(pelican.settings)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(check_settings)
    signals.generator_init.connect(add_meta)
    finishing.connect("server", write_nginx_file)
