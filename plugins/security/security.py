"""security: one Content-Security-Policy, from a template and the counter's origin.

The policy is built once per build from `SECURITY["csp"]`, where `{counter_origin}`
becomes the origin of the `COUNTER_URL` environment variable (nothing when it is
empty or on the site's own origin). It goes to:
- `CSP_META` in the templates' context, for `<meta http-equiv="Content-Security-Policy">`
  (without `frame-ancestors`, which browsers ignore in a meta tag);
- `SECURITY["nginx_file"]` in the output (default `.nginx/csp.conf`): an nginx
  `add_header` line that the sample configuration in `deploy/` includes.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pelican import signals

from portal import outputs
from portal.options import merge_options

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
    "img-src 'self' data:; connect-src 'self' {counter_origin}; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
DEFAULTS: Mapping[str, Any] = {
    "csp": CSP_TEMPLATE,
    "counter_url_env": "COUNTER_URL",
    "nginx_file": ".nginx/csp.conf",
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
    if '"' in options["csp"] or "\n" in options["csp"]:
        raise SecurityError(f"{PREFIX}: csp must be one line without double quotes")
    return options


def counter_origin(url: str, site_url: str = "") -> str:
    """Return the origin of the counter's URL, or "" when it is the site's own."""
    url = url.strip()
    if not url or url.startswith("/"):
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SecurityError(
            f"{PREFIX}: COUNTER_URL “{url}” phải là một địa chỉ http(s)://… "
            "hoặc một đường dẫn bắt đầu bằng /"
        )
    origin = f"{parts.scheme}://{parts.netloc}"
    site = urlsplit(site_url)
    return "" if origin == f"{site.scheme}://{site.netloc}" else origin


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
    """Write the nginx `add_header` line that sends the policy."""
    options = get_options(pelican.settings)
    if not options["nginx_file"]:
        return
    policy = site_policy(pelican.settings)
    target = Path(pelican.output_path) / options["nginx_file"]
    target.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# Written by the build (plugins/security); included by deploy/nginx.\n"
        f'add_header Content-Security-Policy "{policy}" always;\n'
    )
    if not target.is_file() or target.read_text("utf-8") != text:
        target.write_text(text, "utf-8")
    outputs.declare(target)
    log.debug("%s: policy %s", PREFIX, policy)


def check_settings(pelican) -> None:
    """Check the SECURITY setting and the counter's URL before anything is built."""
    site_policy(pelican.settings)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(check_settings)
    signals.generator_init.connect(add_meta)
    signals.finalized.connect(write_nginx_file)
