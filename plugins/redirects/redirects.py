"""redirects: legacy addresses kept alive (data/redirects.yml → 301s and static pages).

Each line of the file maps a legacy path (with its query, if any) to one of our
pages. The build checks the map (targets exist, no chains, no loops, no redirect
shadowing a real page) and writes:

- an nginx `map` for `return 301`, outside the webroot (portal.serverfiles);
- a static redirect page (`<meta http-equiv="refresh">` + `rel=canonical`) for each
  legacy path without a query that ends in `/`, `.html` or `.htm`, for hosts that
  cannot send a 301 (GitHub Pages);
- a first-party script for the 404 page that redirects the other legacy URLs
  (with a query string, or `.aspx`/`.php` names) when JavaScript runs.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

import yaml
from pelican import signals
from pelican.generators import Generator

from portal import outputs
from portal.files import write_atomic
from portal.importer.state import legacy_path
from portal.options import merge_options
from portal.problems import ContentError, Problem
from portal.serverfiles import write_server_file

__all__ = [
    "Redirect",
    "RedirectsGenerator",
    "check_redirects",
    "get_generators",
    "read_redirects",
    "register",
]

log = logging.getLogger(__name__)
PREFIX = "redirects"
SETTING = "REDIRECTS"
DEFAULTS: Mapping[str, Any] = {
    "path": None,  # default <VOCABULARY_PATH>/redirects.yml
    "map": "redirects.map",  # the nginx map's name among the server's files
    "pages": True,  # static redirect pages for hosts without 301s
    "script": "chuyen-huong.js",  # the 404 page's redirect script; None: none
}
PAGE_SUFFIXES = (".html", ".htm")
# What the server answers beside the pages: a redirect there would hide it (nginx
# checks the map before every location). Folders end with "/".
SERVER_ROUTES = (
    "/api/",
    "/healthz",
    "/xem-truoc/",
    "/pagefind/",
    "/theme/",
    "/404.html",
    "/robots.txt",
    "/sitemap.xml",
)
# A later page of a paginated list: "/tin-tuc/2/" (portal/paginate.py).
_LIST_PAGE = re.compile(r"(.*/)[1-9][0-9]*/")
# What an unquoted nginx map token may hold: no space, quote, brace, ;, #, $ or \.
_NGINX_TOKEN = re.compile(r"[^\s\"'{};#$\\]+")


class OptionsError(ValueError):
    """The REDIRECTS setting is wrong."""


@dataclass(frozen=True)
class Redirect:
    """One line of the redirect file: a legacy path and query, our page, its line."""

    source: str
    target: str
    line: int

    @property
    def path(self) -> str:
        """Return the source without its query."""
        return self.source.split("?", 1)[0]

    @property
    def has_query(self) -> bool:
        """Tell whether the source has a query string."""
        return "?" in self.source


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the REDIRECTS setting with the defaults and check it once."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX, OptionsError)
    if options["path"] is None:
        options["path"] = str(Path(settings["VOCABULARY_PATH"]) / "redirects.yml")
    for key in ("map", "script"):
        value = options[key]
        if value is not None and (not isinstance(value, str) or "/" in value):
            raise OptionsError(f"{PREFIX}: {SETTING}['{key}'] must be a file name")
    return options


def read_redirects(path: Path, display: str) -> tuple[list[Redirect], list[Problem]]:
    """Read the redirect file: its lines, and what is wrong with their form."""
    if not path.is_file():
        return [], []
    fix_form = '“"/duong-dan-cu.html": /tin-tuc/ten-bai/”'
    try:
        node = yaml.compose(path.read_text("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        line = line + 1 if line is not None else None
        message = f"không đọc được tệp chuyển hướng: {error}"
        return [], [Problem(display, "", message, f"mỗi dòng dạng {fix_form}", line)]
    if node is None:
        return [], []
    if not isinstance(node, yaml.MappingNode):
        return [], [Problem(display, "", "phải là các dòng “cũ: mới”", fix_form, 1)]
    redirects, problems, seen = [], [], {}
    for key, value in node.value:
        line = key.start_mark.line + 1
        if not isinstance(key, yaml.ScalarNode) or not isinstance(
            value, yaml.ScalarNode
        ):
            problems.append(
                Problem(display, "", "dòng không đúng dạng", fix_form, line)
            )
            continue
        source, target = legacy_path(str(key.value)), str(value.value).strip()
        if not source.startswith("/") or not _clean_path(source):
            problems.append(
                Problem(
                    display,
                    "",
                    f"“{key.value}” không phải đường dẫn cũ",
                    fix_form,
                    line,
                )
            )
            continue
        if not target.startswith("/") or "://" in target or target.startswith("//"):
            problems.append(
                Problem(
                    display,
                    "",
                    f"đích “{target}” phải là một trang của cổng mới",
                    "viết đường dẫn bắt đầu bằng /, ví dụ “/tin-tuc/ten-bai/”",
                    line,
                )
            )
            continue
        if source in seen:
            problems.append(
                Problem(
                    display,
                    "",
                    f"“{source}” đã có ở dòng {seen[source]}",
                    "xóa một trong hai dòng",
                    line,
                )
            )
            continue
        seen[source] = line
        redirects.append(Redirect(source, page_path(target), line))
    return redirects, problems


def _clean_path(source: str) -> bool:
    """Tell whether a legacy path, decoded, has no ".", ".." or control characters.

    Browsers resolve such segments before they ask, so no request carries them;
    and the static page of such a path would be written outside the site folder.
    """
    path = unquote(source.split("?", 1)[0])
    if "\\" in path or any(ord(c) < 32 for c in path):
        return False
    return not any(part in (".", "..") for part in path.split("/"))


def page_path(path: str) -> str:
    """Return a page's path as the site links it: "/a/b/index.html" → "/a/b/"."""
    path = path.split("#", 1)[0].split("?", 1)[0]
    if path.endswith("/index.html"):
        path = path[: -len("index.html")]
    if not path.endswith("/") and not PurePosixPath(path).suffix:
        path += "/"
    return path


def check_redirects(
    redirects: Iterable[Redirect],
    pages: set[str],
    display: str,
    drafts: frozenset[str] = frozenset(),
    taken: Iterable[str] = SERVER_ROUTES,
) -> list[Problem]:
    """Check that targets exist and that no redirect chains, loops or shadows a page.

    `taken` holds what the site serves besides its pages (files, and folders
    ending in "/"): a redirect there, with or without a query, hides it too.

    A redirect to a draft (an accepted import not published yet) is a warning: it
    is left out of the outputs until the draft is published.
    """
    redirects = list(redirects)
    by_path = {page_path(r.path): r for r in redirects if not r.has_query}
    taken = tuple(taken)
    problems = []
    for redirect in redirects:
        source = page_path(redirect.path)
        if (not redirect.has_query and _is_page(source, pages)) or _is_taken(
            redirect.path, taken
        ):
            problems.append(
                Problem(
                    display,
                    "",
                    f"“{redirect.source}” là một trang đang có của cổng mới;"
                    " chuyển hướng sẽ che mất trang đó",
                    "xóa dòng này hoặc đổi đường dẫn cũ",
                    redirect.line,
                )
            )
            continue
        if redirect.target == source and not redirect.has_query:
            problems.append(
                Problem(
                    display,
                    "",
                    f"“{redirect.source}” chuyển về chính nó (vòng lặp)",
                    "xóa dòng này",
                    redirect.line,
                )
            )
            continue
        following = by_path.get(redirect.target)
        if following is not None:
            final = _final(redirect, by_path)
            fix = (
                f"trỏ thẳng tới “{final.target}”"
                if final is not None
                else "sửa để các dòng không trỏ vòng lại nhau"
            )
            kind = (
                "chuỗi chuyển hướng" if final is not None else "vòng lặp chuyển hướng"
            )
            problems.append(
                Problem(
                    display,
                    "",
                    f"{kind}: “{redirect.target}” lại được chuyển hướng ở dòng"
                    f" {following.line}",
                    fix,
                    redirect.line,
                )
            )
            continue
        if redirect.target in drafts and redirect.target not in pages:
            problems.append(
                Problem(
                    display,
                    "",
                    f"trang “{redirect.target}” còn là bản nháp: chuyển hướng này"
                    " chưa được bật",
                    "đổi bài thành “status: published” khi đã duyệt xong",
                    redirect.line,
                    "warning",
                )
            )
            continue
        if redirect.target not in pages:
            problems.append(
                Problem(
                    display,
                    "",
                    f"không có trang “{redirect.target}” trên cổng mới",
                    "kiểm tra tên tệp (slug) của bài đích; bài nháp không có trang",
                    redirect.line,
                )
            )
    return problems


def _is_page(path: str, pages: set[str]) -> bool:
    """Tell whether a path is one of our pages, or a later page of a list ("…/2/")."""
    listed = _LIST_PAGE.fullmatch(path)
    return path in pages or (listed is not None and listed.group(1) in pages)


def _is_taken(path: str, taken: tuple[str, ...]) -> bool:
    """Tell whether a legacy path is one of the site's files or inside its folders."""
    return any(
        path.startswith(served) if served.endswith("/") else path == served
        for served in taken
    )


def served_paths(context: Mapping, settings: Mapping) -> tuple[str, ...]:
    """Return what the site serves besides its pages: routes, editor, static files."""
    cms = settings.get("CMS") or {}
    editor = "/" + str(cms.get("url", "quan-tri/")).strip("/") + "/"
    static = ("/" + str(item.url) for item in context.get("staticfiles") or [])
    return (*SERVER_ROUTES, editor, *static)


def draft_pages(content: Path) -> frozenset[str]:
    """Return the paths the content's drafts will have once published."""
    from portal.frontmatter import parse_file
    from portal.schema import SECTIONS

    paths = set()
    for section, (_kind, prefix) in SECTIONS.items():
        for path in sorted((content / section).rglob("*.md")):
            meta = parse_file(path, str(path)).meta
            if meta.get("status") == "draft":
                paths.add(f"/{prefix}{meta.get('slug') or path.stem}/")
    return frozenset(paths)


def _final(redirect: Redirect, by_path: Mapping[str, Redirect]) -> Redirect | None:
    """Follow a chain of redirects; return its last one, or None for a loop."""
    seen = {page_path(redirect.path)}
    current = redirect
    while current.target in by_path:
        if current.target in seen:
            return None
        seen.add(current.target)
        current = by_path[current.target]
    return current


def site_pages(context: Mapping) -> set[str]:
    """Return the path of every page the build writes that a redirect may target."""
    # Pelican loads plugins by name into sys.modules, in PLUGINS order: import the
    # other plugins' helpers when the build runs, when every plugin is loaded.
    from sitefiles.sitefiles import sitemap_entries

    return {"/" + url for url, _ in sitemap_entries(context, dated=False)}


def render_map(redirects: Iterable[Redirect], site_url: str) -> str:
    """Render the nginx map lines: `legacy-path?query our-absolute-URL;`.

    Tokens are unquoted, as the server files' install step accepts them
    (scripts/install-server-files.sh); redirects that cannot be written so are
    left out (see `nginx_safe`).
    """
    lines = [
        "# Built from data/redirects.yml by plugins/redirects: legacy URL -> new page.",
        "# The lines of `map $request_uri $dvk_redirect` in deploy/nginx/dvk-portal.conf.",
    ]
    for redirect in redirects:
        target = site_url + redirect.target
        if nginx_safe(redirect.source) and nginx_safe(target):
            lines.append(f"{redirect.source} {target};")
    return "\n".join(lines) + "\n"


def nginx_safe(value: str) -> bool:
    """Tell whether a value can be an unquoted token of an nginx map line."""
    return bool(value) and _NGINX_TOKEN.fullmatch(value) is not None


def render_page(target: str) -> str:
    """Render a static redirect page: meta refresh and canonical link, no script."""
    url = html.escape(target, quote=True)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="vi"><head><meta charset="utf-8">\n'
        "<title>Trang đã chuyển</title>\n"
        '<meta name="robots" content="noindex">\n'
        f'<link rel="canonical" href="{url}">\n'
        f'<meta http-equiv="refresh" content="0; url={url}">\n'
        "</head><body>\n"
        f'<p>Trang này đã chuyển tới <a href="{url}">{url}</a>.</p>\n'
        "</body></html>\n"
    )


def render_script(redirects: Iterable[Redirect], site_url: str) -> str:
    """Render the 404 page's script: go to the new page of a known legacy URL."""
    table = {r.source: site_url + r.target for r in redirects}
    data = json.dumps(table, ensure_ascii=False, sort_keys=True, indent=0)
    return (
        "// Built by plugins/redirects from data/redirects.yml: on the 404 page,\n"
        "// go to the new page of a legacy URL (those with a query string, too).\n"
        f"(function () {{\n  var map = {data};\n"
        "  var target = map[location.pathname + location.search];\n"
        "  if (target) { location.replace(target); }\n})();\n"
    )


def page_file(redirect: Redirect) -> str | None:
    """Return where a static redirect page goes in the output, or None."""
    if redirect.has_query or not _clean_path(redirect.path):
        return None
    # A static host looks up the decoded path: "%C4%91" is the file name's "đ".
    path = unquote(redirect.path).lstrip("/")
    if not path or path.endswith("/"):
        return path + "index.html"
    if path.lower().endswith(PAGE_SUFFIXES):
        return path
    return None


class RedirectsGenerator(Generator):
    """Check the redirect map; write the nginx map, redirect pages and the script."""

    def generate_context(self) -> None:
        """Read the redirect file and offer the 404 page its script."""
        self.options = get_options(self.settings)
        path = Path(self.options["path"])
        self.display = _display(path)
        self.redirects, self.problems = read_redirects(path, self.display)
        script = self.options["script"] if self.redirects else None
        self.context["REDIRECTS_SCRIPT"] = script

    def generate_output(self, writer) -> None:
        """Check the map against the site's pages, then write its files."""
        pages = site_pages(self.context)
        waiting = {r.target for r in self.redirects} - pages
        drafts = draft_pages(Path(self.settings["PATH"])) if waiting else frozenset()
        taken = served_paths(self.context, self.settings)
        problems = self.problems + check_redirects(
            self.redirects, pages, self.display, drafts, taken
        )
        errors = [problem for problem in problems if problem.is_error]
        for problem in problems:
            if problem.is_error:
                log.error("%s: LỖI %s", PREFIX, problem)
            else:
                log.warning("%s: CẢNH BÁO %s", PREFIX, problem)
        if errors:
            raise ContentError(
                f"{PREFIX}: {len(errors)} lỗi trong {self.display} (xem bên trên)"
            )
        self.redirects = [r for r in self.redirects if r.target in pages]
        for redirect in self.redirects:
            if not nginx_safe(redirect.source):
                log.warning(
                    "%s: CẢNH BÁO %s:%d: “%s” có ký tự nginx không nhận trong bảng"
                    " chuyển hướng (khoảng trắng, ngoặc kép, ; { } # $): chỉ trang 404"
                    " chuyển hướng được (khi có JavaScript)",
                    PREFIX,
                    self.display,
                    redirect.line,
                    redirect.source,
                )
        site_url = str(self.settings.get("SITEURL") or "").rstrip("/")
        write_server_file(
            self.settings, self.options["map"], render_map(self.redirects, site_url)
        )
        if self.options["pages"]:
            for redirect in self.redirects:
                name = page_file(redirect)
                if name:
                    self._write(name, render_page(site_url + redirect.target))
        if self.context.get("REDIRECTS_SCRIPT"):
            self._write(self.options["script"], render_script(self.redirects, site_url))
        log.info("%s: %d chuyển hướng từ %s", PREFIX, len(self.redirects), self.display)

    def _write(self, relative: str, text: str) -> None:
        """Write a file of the output (unchanged bytes left alone) and declare it."""
        path = Path(self.output_path, relative)
        data = text.encode("utf-8")
        if not (path.is_file() and path.read_bytes() == data):
            write_atomic(path, data)
        outputs.declare(path)


def _display(path: Path) -> str:
    """Show a path relative to the working folder when it is inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def get_generators(pelican) -> type[RedirectsGenerator]:
    """Return the generator of the redirects."""
    return RedirectsGenerator


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.get_generators.connect(get_generators)
