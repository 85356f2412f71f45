"""search_index: the search page /tim-kiem/ and a Pagefind index built after the site.

Pagefind (1.5+) matches Vietnamese tones without diacritics ("phan thiet" finds
"Phan Thiết") but treats "đ" as a letter of its own. Each model and news page
therefore carries, in a hidden element inside its `data-pagefind-body`, every
word with "đ" folded to plain letters (`article.search_fold`), so "duong" finds
"đường"; search.js cuts that tail off before it draws an excerpt.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import pickle
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple

from pelican import signals
from pelican.generators import Generator

from portal import finishing, outputs, text
from portal.files import walk, write_atomic
from portal.options import check_whole_numbers, merge_options, workers_or_cores
from portal.stamps import load_notes, save_notes, vouches
from portal.text import fold, nfc

__all__ = [
    "SearchIndexError",
    "OptionsError",
    "SearchPageGenerator",
    "fold_tail",
    "get_options",
    "index_site",
    "make_index",
    "register",
    "run_pagefind",
    "shard_of",
    "split_shards",
]

log = logging.getLogger(__name__)
PREFIX = "search_index"
SETTING = "SEARCH"
DEFAULTS: Mapping[str, Any] = {
    "enabled": True,  # False: no index (tests that do not search)
    "url": "tim-kiem/",  # the search page
    "template": "search",
    "output_subdir": "pagefind",  # the index, under the output folder
    "args": [],  # more `pagefind` arguments, e.g. ["--verbose"]
    "timeout": 600,  # seconds
    "cache": True,  # keep each shard's bundle under CACHE_PATH/pagefind, by its inputs
    "shard_pages": 1280,  # pages per shard at most, on average (shards: a power of two)
    "workers": 0,  # Pagefind (and word-folding) processes at once; 0: one per core
    "early": True,  # start indexing once the item pages are written (a thread)
    "scratch": "/dev/shm",  # where Pagefind's copies are made (memory); "": the cache
}
CACHE_SUBDIR = "pagefind"
SHARDS_FILE = "shards.json"  # the merged shards' folders, read by search.js
# What a merged shard needs (pagefind.js, its worker and WebAssembly come from the first).
MERGED = {"pagefind-entry.json", "index", "filter", "fragment"}
PAGES_NOTES = "pagefind-pages.json"  # under CACHE_PATH: pages with a search body
# Under CACHE_PATH: each item's folded "đ" words by the hash of what they are made of.
FOLDS_NOTES = "search-folds.json"
NOTES_FORMAT = 1
BODY = re.compile(rb"<[A-Za-z][^<>]*\sdata-pagefind-body[\s=/>]")
_ATTRIBUTE = b"data-pagefind-body"  # what every match of BODY and _BODY_TAG holds
# What Pagefind is given of a page (search_copy): the element of its search body,
# found by its start tag and the matching end tag, when nothing can hide a tag.
_BODY_TAG = re.compile(rb"<([A-Za-z][A-Za-z0-9]*)[^<>]*\sdata-pagefind-body[\s=/>]")
_CUT_TAGS = frozenset({b"article", b"div", b"main", b"section"})
_HIDING = re.compile(rb"<!--|<!\[CDATA\[|<(?:script|style|template|textarea)\b", re.I)
_HTML_TAG = re.compile(rb"<html\b[^<>]*>", re.I)
_TITLE = re.compile(rb"<title>[^<]*</title>", re.I)
_D = re.compile("[đĐ]")  # the only letters whose case fold is "đ"
_WORD_END = re.compile(r"\w*")
POLL = 0.02  # seconds between two looks at a running Pagefind
FOLD_PARALLEL = 500  # items to fold per process at least (fewer: one process)


class OptionsError(ValueError):
    """The SEARCH setting is wrong."""


class SearchIndexError(RuntimeError):
    """Pagefind failed: the build fails (exit code 1); the dev server keeps watching."""

    reported = True  # its message says it all: no traceback (portal/buildpolicy.py)

    def __init__(self, message: str) -> None:
        super().__init__(message)


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the SEARCH setting with the defaults and check it once."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX, OptionsError)
    if not isinstance(options["enabled"], bool):
        raise OptionsError(f"{PREFIX}: {SETTING}['enabled'] must be True or False")
    if not str(options["url"]).endswith("/") or str(options["url"]).startswith("/"):
        raise OptionsError(
            f"{PREFIX}: {SETTING}['url'] must be relative and end with '/'"
        )
    subdir = str(options["output_subdir"]).strip("/")
    if not subdir or ".." in Path(subdir).parts:
        raise OptionsError(f"{PREFIX}: {SETTING}['output_subdir'] must be a sub-folder")
    options["output_subdir"] = subdir
    args = options["args"]
    if not isinstance(args, list | tuple) or not all(isinstance(a, str) for a in args):
        raise OptionsError(f"{PREFIX}: {SETTING}['args'] must be a list of strings")
    options["args"] = list(args)
    for key in ("cache", "early"):
        if not isinstance(options[key], bool):
            raise OptionsError(f"{PREFIX}: {SETTING}[{key!r}] must be True or False")
    if not isinstance(options["scratch"], str):
        raise OptionsError(f"{PREFIX}: {SETTING}['scratch'] must be a folder or ''")
    least = {"shard_pages": 1, "workers": 0}
    check_whole_numbers(options, least, SETTING, PREFIX, OptionsError)
    return options


class Page(NamedTuple):
    """A page Pagefind indexes: its path under the output and the SHA-256 of its bytes."""

    name: str
    digest: bytes


class Usage(NamedTuple):
    """What one Pagefind process used: wall seconds, CPU seconds, peak memory."""

    seconds: float
    cpu: float
    peak_mb: float


class _TextParser(HTMLParser):
    """Collect the text of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        """Keep one run of text."""
        self.parts.append(data)


def html_text(html: str) -> str:
    """Return the text of an HTML fragment, tags dropped."""
    parser = _TextParser()
    parser.feed(html or "")
    parser.close()
    return " ".join(parser.parts)


def fold_tail(texts: Iterable[str]) -> str:
    """Return every word that has "đ", folded ("Đức" -> "duc"), in reading order."""
    words = d_words(nfc(" ".join(t for t in texts if t)))
    return " ".join(_fold_word(word) for word in words)


def d_words(text: str) -> list[str]:
    """Return the words (runs of `\\w`) of a text that have "đ" or "Đ", in order.

    Found from each "đ" outwards: a regular expression for such words tries every
    position of the text, three times slower on a site's worth of pages.
    """
    words, end = [], 0
    for found in _D.finditer(text):
        if found.start() < end:
            continue  # a second "đ" of the word just taken
        start = found.start()
        while start and (text[start - 1].isalnum() or text[start - 1] == "_"):
            start -= 1  # exactly what `\w` matches: a letter, a digit, a number, "_"
        end = _WORD_END.match(text, found.start()).end()
        words.append(text[start:end])
    return words


@functools.lru_cache(maxsize=1 << 16)
def _fold_word(word: str) -> str:
    """Fold one word (memoised: a site repeats a few thousand words with "đ")."""
    return fold(word)


def article_sources(article) -> list[tuple[str, bool]]:
    """Return what a model or news page shows inside its search body, and which is HTML."""
    sources = [(article.title, False), (getattr(article, "summary", "") or "", True)]
    for attribute in ("field", "locality", "kind"):
        term = getattr(article, attribute, None)
        if term is not None:
            sources += [
                (term.name, False),
                (getattr(term, "full_name", "") or "", False),
            ]
    sources += [(getattr(article, "unit", "") or "", False), (article.content, True)]
    return sources


def source_texts(sources: list[tuple[str, bool]]) -> list[str]:
    """Return the texts an item's page shows inside its search body, from its sources."""
    return [html_text(s) if html else s for s, html in sources]


def sources_key(sources: list[tuple[str, bool]]) -> str:
    """Hash what an item's folded words are made from."""
    digest = hashlib.blake2b(digest_size=16)
    for source, html in sources:
        data = (source or "").encode("utf-8", "surrogatepass")
        digest.update(b"%d %d\0" % (html, len(data)) + data)
    return digest.hexdigest()


def fold_all(sources: list[list[tuple[str, bool]]], workers: int) -> list[str]:
    """Return the folded words of each item's sources, on `workers` processes.

    With FOLD_PARALLEL items or more per process, the build process forks one
    process per other worker and folds a share itself: after reading, the other
    core would idle (1.7 s of one core at 5,000 items). A process that fails
    gives no result: its share is folded here, where an error is raised as in one
    process.
    """
    count = min(workers, len(sources) // FOLD_PARALLEL)
    if count < 2:
        return [fold_tail(source_texts(each)) for each in sources]
    size = -(-len(sources) // count)
    shares = [sources[i : i + size] for i in range(0, len(sources), size)]
    children = [_fork_folding(share) for share in shares[1:]]
    tails = [fold_tail(source_texts(each)) for each in shares[0]]
    for share, child in zip(shares[1:], children, strict=True):
        done = _folded_by(*child)
        tails += done if done is not None else fold_all(share, 1)
    return tails


def _fork_folding(share: list[list[tuple[str, bool]]]) -> tuple[int, int]:
    """Fold a share of the items in a forked process; return its pid and pipe."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child never returns into Pelican
        code = 0
        try:
            os.close(read_end)
            data = pickle.dumps([fold_tail(source_texts(each)) for each in share])
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
        except BaseException:  # noqa: BLE001 - the parent folds this share itself
            code = 70
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _folded_by(pid: int, fd: int) -> list[str] | None:
    """Return what a folding process sent, None when it sent nothing whole."""
    with os.fdopen(fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not data:
        return None
    return pickle.loads(data)


@functools.cache
def folding_code() -> str:
    """Hash what folding depends on: this code, portal/text.py, Python's version."""
    digest = hashlib.blake2b(sys.version.encode(), digest_size=16)
    digest.update(unicodedata.unidata_version.encode())
    for module in (__file__, text.__file__):
        digest.update(Path(module).read_bytes())
    return digest.hexdigest()


def load_folds(path: Path | None) -> dict:
    """Return the folded words of the last build's items by their key (none: {})."""
    try:
        data = json.loads(path.read_bytes()) if path else {}
        folds = data["folds"] if data["code"] == folding_code() else {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return folds if isinstance(folds, dict) else {}


def save_folds(path: Path, folds: Mapping[str, str]) -> None:
    """Keep this build's folded words by their item's key, for the next build."""
    data = {"code": folding_code(), "folds": dict(folds)}
    write_atomic(path, json.dumps(data, ensure_ascii=False).encode())


class SearchPageGenerator(Generator):
    """Give every item its folded "đ" words and write the search page."""

    def generate_context(self) -> None:
        """Compute `search_fold` for every article (and draft)."""
        self.options = get_options(self.settings)
        items = [*self.context.get("articles", []), *self.context.get("drafts", [])]
        notes = None
        if self.options["cache"] and self.settings.get("CACHE_PATH"):
            notes = Path(self.settings["CACHE_PATH"]) / FOLDS_NOTES
        known, folds = load_folds(notes), {}
        sources = [article_sources(article) for article in items]
        keys = [sources_key(each) for each in sources]
        todo = [i for i, key in enumerate(keys) if not isinstance(known.get(key), str)]
        workers = workers_or_cores(self.options["workers"])
        tails = fold_all([sources[i] for i in todo], workers)
        made = dict(zip(todo, tails, strict=True))
        for i, (article, key) in enumerate(zip(items, keys, strict=True)):
            tail = made[i] if i in made else known[key]
            folds[key] = article.search_fold = tail
            article.search_fold_words = len(tail.split())
        outputs.note_item_fields("search_fold", "search_fold_words")  # its own text
        if notes is not None and folds != known:
            save_folds(notes, folds)
        self.context["search_url"] = self.options["url"]

    def generate_output(self, writer) -> None:
        """Write the search page."""
        self.generate_search_page(writer)

    def generate_search_page(self, writer) -> None:
        """Write /tim-kiem/ from the search template."""
        url = self.options["url"]
        writer.write_file(
            f"{url}index.html",
            self.get_template(self.options["template"]),
            self.context,
            self.settings["RELATIVE_URLS"],
            url=url,
            page_name=url.rstrip("/"),
            search=self.options,
        )


def pagefind_command(
    site: str | Path, target: str | Path, options: Mapping
) -> list[str]:
    """Return the command that indexes the pages under `site` into `target`."""
    return [
        sys.executable,
        "-m",
        "pagefind",
        "--site",
        str(site),
        "--output-path",
        str(target),
        "--quiet",
        *options["args"],
    ]


def wait_with_usage(child: subprocess.Popen, timeout: float) -> tuple[int, Usage]:
    """Wait for a child process; return its exit status and what it used."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
            return child.returncode, Usage(0.0, cpu, usage.ru_maxrss / 1024)
        if time.monotonic() > deadline:
            child.kill()
            child.wait()
            raise subprocess.TimeoutExpired(child.args, timeout)
        time.sleep(POLL)


def run_pagefind(site: str | Path, target: str | Path, options: Mapping) -> Usage:
    """Index every page under `site` into the bundle folder `target`; return its usage."""
    command = pagefind_command(site, target, options)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as messages:
        child = subprocess.Popen(command, stdout=messages, stderr=messages)
        try:
            status, usage = wait_with_usage(child, options["timeout"])
        except subprocess.TimeoutExpired:
            raise SearchIndexError(
                f"{PREFIX}: Pagefind chạy quá {options['timeout']} giây mà chưa xong; "
                "không tạo được chỉ mục tìm kiếm."
            ) from None
        messages.seek(0)
        detail = messages.read().decode("utf-8", "replace").strip()
    if status != 0:
        if "No module named pagefind" in detail:
            detail = "chưa cài gói pagefind[bin]; chạy `make venv` để cài."
        raise SearchIndexError(
            f"{PREFIX}: không tạo được chỉ mục tìm kiếm (Pagefind báo lỗi, "
            f"mã {status}): {detail}"
        )
    return usage._replace(seconds=time.perf_counter() - started)


def indexed_pages(output: Path, bundle: Path, known: Path | None = None) -> list[Page]:
    """Return every page of the output that has a search body, with its SHA-256.

    With `known` (a JSON file under CACHE_PATH), a page whose size and time are
    those noted there is not read again (portal.stamps); the notes are rewritten.
    """
    notes, taken = load_notes(known, output, NOTES_FORMAT) if known else ({}, 0)
    fresh: dict[str, list] = {}
    pages = []
    started = time.time_ns()
    root, skipped = os.fspath(output), os.path.normpath(bundle)
    for top, dirs, files in os.walk(root):
        if os.path.normpath(top) == skipped:
            dirs[:] = []
            continue
        dirs.sort()
        folder = top[len(root) + 1 :].replace(os.sep, "/")  # no Path per file
        for file in files:
            if not file.endswith(".html"):
                continue
            path = os.path.join(top, file)
            name = f"{folder}/{file}" if folder else file
            status = os.stat(path)
            note = notes.get(name)
            if note is None or not vouches(note[0], note[1], status, taken):
                data = Path(path).read_bytes()
                body = first_tag(data, BODY)
                digest = hashlib.sha256(data).hexdigest() if body else ""
                note = [status.st_size, status.st_mtime_ns, digest]
            fresh[name] = note
            if note[2]:
                pages.append(Page(name, bytes.fromhex(note[2])))
    if known is not None:
        save_notes(known, output, NOTES_FORMAT, fresh, started)
    return sorted(pages)


def shard_count(pages: int, shard_pages: int) -> int:
    """Return the smallest power of two of shards holding at most `shard_pages` each."""
    count = 1
    while pages > count * shard_pages:
        count *= 2
    return count


def shard_of(name: str, count: int) -> int:
    """Return the shard of a page: a stable hash of its path, modulo the count."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def split_shards(pages: list[Page], shard_pages: int) -> dict[int, list[Page]]:
    """Split the pages into shards by their path; return the non-empty ones by number."""
    count = shard_count(len(pages), shard_pages)
    shards: dict[int, list[Page]] = {}
    for page in pages:
        shards.setdefault(shard_of(page.name, count), []).append(page)
    return dict(sorted(shards.items()))


def shard_key(pages: list[Page], options: Mapping) -> str:
    """Hash what a shard's bundle depends on: Pagefind's version, options, pages."""
    digest = hashlib.sha256()
    version = importlib.metadata.version("pagefind_bin")
    digest.update(repr((version, options["args"])).encode())
    for page in pages:
        digest.update(page.name.encode("utf-8") + b"\0" + page.digest)
    return digest.hexdigest()


def first_tag(data: bytes, pattern: re.Pattern) -> re.Match | None:
    """Return pattern.search(data) for a tag pattern that needs the body attribute.

    Only the tag around each `data-pagefind-body` is tried (from the last `<`
    before it, where any match holding it must start), not every tag of the
    page: the same first match, for a fortieth of the time (1.5 s of the build
    process's CPU at 5,000 items).
    """
    at = data.find(_ATTRIBUTE)
    while at >= 0:
        start = data.rfind(b"<", 0, at)
        found = pattern.match(data, start) if start >= 0 else None
        if found is not None:
            return found
        at = data.find(_ATTRIBUTE, at + 1)
    return None


def _outside(data: bytes, start: int, end: int, text: bytes) -> bool:
    """Tell whether text is in the page with data[start:end] cut out."""
    reach = len(text) - 1  # also across the cut, as in the joined bytes
    seam = data[max(0, start - reach) : start] + data[end : end + reach]
    return text in seam or data.find(text, 0, start) >= 0 or data.find(text, end) >= 0


def search_copy(data: bytes) -> bytes:
    """Return what Pagefind reads of a page: its `<html>` tag, title and search body.

    Pagefind takes a page's words, meta and filters from its `data-pagefind-body`
    element and its language from `<html lang>`; parsing the rest (head, header,
    related cards: 60 % of an item page) was a fifth of its CPU for the same
    fragments (docs/BENCHMARKS.md, "Publish"). A page not cut safely (another
    `data-pagefind-*` outside the body, a comment or script inside it, an
    unmatched end tag) is given whole.
    """
    found = first_tag(data, _BODY_TAG)
    if found is None or found.group(1).lower() not in _CUT_TAGS:
        return data
    end = _element_end(data, found.group(1), found.start())
    html = _HTML_TAG.search(data, 0, found.start())
    if end is None or html is None:
        return data
    body = data[found.start() : end]
    if _outside(data, found.start(), end, b"data-pagefind") or _HIDING.search(body):
        return data
    title = _TITLE.search(data, html.end(), found.start())
    head = b'<head><meta charset="utf-8">' + (title.group() if title else b"")
    return data[: html.end()] + head + b"</head><body>" + body + b"</body></html>\n"


def _element_end(data: bytes, tag: bytes, start: int) -> int | None:
    """Return where the element starting at `start` ends (after its end tag)."""
    depth = 0
    tags = re.compile(rb"<(/?)" + re.escape(tag) + rb"(?=[\s/>])", re.I)
    for found in tags.finditer(data, start):
        depth += -1 if found.group(1) else 1
        if depth == 0:
            close = data.find(b">", found.end())
            return None if close < 0 else close + 1
    return None


def stage(output: Path, pages: list[Page], folder: Path) -> list[str]:
    """Write the shard's pages, cut to what Pagefind reads, into a folder of their own.

    Each copy is made from bytes checked against the page's digest, so the bundle
    Pagefind makes from the folder is the one its key names, whatever happens to
    the output meanwhile. Return the pages whose bytes are no longer those listed.
    """
    changed = []
    for page in pages:
        try:
            data = (output / page.name).read_bytes()
        except OSError:
            data = b""
        if hashlib.sha256(data).digest() != page.digest:
            changed.append(page.name)
            continue
        copy = folder / page.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        # A scratch folder of this process, read by Pagefind, then deleted: no
        # reader can see a half-written file (write_atomic would add a temporary
        # file and a rename per page).
        copy.write_bytes(search_copy(data))
    return changed


def index_shard(output: Path, pages: list[Page], kept: Path, options: Mapping) -> Usage:
    """Index one shard's pages into the cache folder `kept`; return Pagefind's usage."""
    temporary = kept.with_name(f".{kept.name}.tmp")
    site, changed = staged_copies(output, pages, kept, options)
    try:
        if changed:  # the bundle is kept by the pages' bytes: it must be theirs
            raise SearchIndexError(
                f"{PREFIX}: trang {changed[0]} bị ghi lại trong lúc lập chỉ mục"
                f" tìm kiếm ({len(changed)} trang); chạy lại lệnh dựng trang."
            )
        shutil.rmtree(temporary, ignore_errors=True)
        usage = run_pagefind(site, temporary, options)
        temporary.rename(kept)
    finally:
        drop_copies(site, kept.parent)
        shutil.rmtree(temporary, ignore_errors=True)
    return usage


def staged_copies(
    output: Path, pages: list[Page], kept: Path, options: Mapping
) -> tuple[Path, list[str]]:
    """Copy a shard's pages for Pagefind, in memory if it can; return folder, changed.

    The scratch folder (`scratch`, /dev/shm: a tmpfs) makes and removes the
    1,250 copies of a shard for a fraction of what a disk's file system takes;
    when it is missing or full (a container's 64 MB), beside the cache.
    """
    scratch = options["scratch"]
    if scratch and os.path.isdir(scratch) and os.access(scratch, os.W_OK | os.X_OK):
        site = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-pages-", dir=scratch))
        try:
            return site, stage(output, pages, site)
        except BaseException as error:
            shutil.rmtree(site, ignore_errors=True)
            if not isinstance(error, OSError):
                raise  # an OSError (full): the copies go beside the cache instead
    site = Path(tempfile.mkdtemp(prefix=".pages-", dir=kept.parent))
    try:
        return site, stage(output, pages, site)
    except BaseException:
        set_aside(site, kept.parent)
        raise


def drop_copies(site: Path, cache: Path) -> None:
    """Remove the copies Pagefind read: at once in memory, else by prune_cache."""
    if site.parent == cache:
        set_aside(site, cache)  # 2,500 files and folders on disk: a thread deletes them
    else:
        shutil.rmtree(site, ignore_errors=True)


def pagefind_workers(jobs: int, options: Mapping) -> int:
    """Return how many Pagefind processes run at once for this many shards."""
    return min(jobs, workers_or_cores(options["workers"]))


def index_shards(
    output: Path, todo: dict[Path, list[Page]], options: Mapping
) -> list[Usage]:
    """Index the shards that have no kept bundle, on as many processes as allowed."""
    workers = pagefind_workers(len(todo), options)
    if workers <= 1:
        return [index_shard(output, p, kept, options) for kept, p in todo.items()]
    with ThreadPoolExecutor(workers) as pool:
        jobs = [
            pool.submit(index_shard, output, p, kept, options)
            for kept, p in todo.items()
        ]
        return [job.result() for job in jobs]


def merged_files(kept: Path) -> list[Path]:
    """Return what a merged shard needs: its entry, metadata, index, filters, fragments."""
    return [
        p for p in sorted(kept.iterdir()) if p.name in MERGED or p.suffix == ".pf_meta"
    ]


def bundle_files(kept: dict[int, Path]) -> dict[str, Path]:
    """Map each file of the bundle (path under it) to the kept file it is a copy of."""
    primary, *others = kept.items()
    wanted = {name: primary[1] / name for name, _ in walk(primary[1])}
    for number, folder in others:
        for path in merged_files(folder):
            names = [rel for rel, _ in walk(path)] if path.is_dir() else [""]
            for rel in names:
                name = f"{path.name}/{rel}" if rel else path.name
                wanted[f"shard-{number}/{name}"] = folder / name
    return wanted


def assemble(bundle: Path, kept: dict[int, Path]) -> None:
    """Write the bundle: the first shard whole, the others under shard-<n>/, the list.

    Only what differs is written: a file already there with the bytes of its kept
    copy stays (most of the bundle when one shard changed: 5,000 files, 3 s to
    remove and copy again at 5,000 pages); any other file is removed.
    """
    # Copies with their times (an unchanged shard's files keep theirs, so the
    # output record vouches for them without reading them); never hard links: a
    # file of the output written into in place would change the kept shard.
    wanted = bundle_files(kept)
    wanted[SHARDS_FILE] = None  # written below
    if bundle.is_symlink() or (bundle.exists() and not bundle.is_dir()):
        bundle.unlink()
    now = time.time_ns()
    folders: set[str] = set()
    for name, status in list(walk(bundle, folders)):
        source = wanted.get(name)
        if source is not None and _same_copy(source, bundle / name, status, now):
            del wanted[name]
        elif name != SHARDS_FILE:
            (bundle / name).unlink()
    for folder in sorted(folders, reverse=True):  # an emptied folder goes too
        if not any((bundle / folder).iterdir()):
            (bundle / folder).rmdir()
    for name, source in wanted.items():
        if source is not None:
            (bundle / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, bundle / name)
    merge = [f"shard-{number}/" for number in list(kept)[1:]]
    shards = json.dumps({"merge": merge}, separators=(",", ":")) + "\n"
    write_atomic(bundle / SHARDS_FILE, shards.encode())


def _same_copy(source: Path, copy: Path, status: os.stat_result, now: int) -> bool:
    """Tell whether a file is still the copy of a kept file (then it gets its time).

    Same size and time: the copy made by an earlier build. Same size, other time:
    the bytes are compared; most of an indexed-again shard's files (a fragment per
    page, named by its contents) are the same as in the shard it replaces, and
    reading them costs less than removing and writing them again.
    """
    kept = source.stat()
    if not stat.S_ISREG(status.st_mode) or status.st_size != kept.st_size:
        return False
    if vouches(kept.st_size, kept.st_mtime_ns, status, now):
        return True
    if copy.read_bytes() != source.read_bytes():
        return False
    os.utime(copy, ns=(kept.st_atime_ns, kept.st_mtime_ns))
    return True


def prepared_name(kept: dict[int, Path]) -> str:
    """Name the bundle assembled ahead from these kept shards (by number and key)."""
    names = [f"{number}:{folder.name}" for number, folder in kept.items()]
    return ".bundle-" + hashlib.sha256("\n".join(names).encode()).hexdigest()


def prepare(cache: Path, kept: dict[int, Path]) -> None:
    """Assemble the bundle of these kept shards in the cache, ahead of the final run.

    The early run does it beside the rest of the build when the output has no
    bundle yet (a publish from nothing, CI with an empty output/): the final run
    then moves it into the output in one rename instead of copying 5,000 files
    in the build's one-core tail. Made under a temporary name and renamed once
    complete, so a prepared bundle is always whole.
    """
    target = cache / prepared_name(kept)
    if target.exists():
        return
    temporary = cache / f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        assemble(temporary, kept)
        temporary.rename(target)
    finally:
        if temporary.exists():
            set_aside(temporary, cache)


def take_prepared(cache: Path, kept: dict[int, Path], bundle: Path) -> bool:
    """Move the bundle prepared from exactly these kept shards into place, if any.

    Only into an output without a bundle, and only within one file system (the
    rename); otherwise, or with no such bundle, assemble() makes it as ever (the
    prepared one is removed with the cache's unused folders).
    """
    prepared = cache / prepared_name(kept)
    if not kept or not prepared.is_dir() or os.path.lexists(bundle):
        return False
    try:
        prepared.rename(bundle)
    except OSError:
        return False
    return True


def prune_cache(cache: Path, keep: Iterable[Path]) -> threading.Thread:
    """Delete the kept bundles this build did not use and what it set aside, in a thread.

    Each bundle is first renamed out of the cache, at once: removing a shard's
    1,250 files, and the folder of copies Pagefind read it from, took 2.5 and 3.6 s
    of the CI row under load, now spent while the build compresses and records
    (the process waits for the thread before it exits).
    """
    wanted = set(keep)
    for path in cache.iterdir():
        if path in wanted:
            continue
        if not path.is_dir() or path.is_symlink():
            path.unlink()
        else:
            set_aside(path, cache)
    # What this build set aside, and what an interrupted one left.
    doomed = list(cache.parent.glob(f".{cache.name}-unused-*"))
    thread = threading.Thread(target=_remove_all, args=(doomed,), name=PREFIX)
    thread.start()
    return thread


def set_aside(folder: Path, cache: Path) -> None:
    """Move a folder out of the cache, to be deleted by the next `prune_cache`."""
    unique = f"{folder.name}.{os.getpid()}.{threading.get_ident()}.{time.time_ns()}"
    folder.rename(cache.with_name(f".{cache.name}-unused-{unique}"))


def _remove_all(folders: list[Path]) -> None:
    """Remove folders (one may be gone already: another build's thread took it)."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def cache_folder(settings: Mapping, options: Mapping) -> Iterator[Path]:
    """Yield the folder kept bundles live in (a temporary one when not caching)."""
    if options["cache"] and settings.get("CACHE_PATH"):
        folder = Path(settings["CACHE_PATH"]) / CACHE_SUBDIR
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="pagefind-") as temporary:
        yield Path(temporary)


def report(usages: list[Usage], seconds: float, shards: int, options: Mapping) -> None:
    """Log what Pagefind did: shards indexed, seconds, peak memory, CPU."""
    workers = pagefind_workers(len(usages), options)
    # Processes run `workers` at a time: at most the largest peaks, added.
    peaks = sorted((usage.peak_mb for usage in usages), reverse=True)
    # The bench (bench/run.py) reads the seconds and peak memory from this line.
    log.info(
        "%s: indexed %d of %d shards in %.1f s, Pagefind's peak memory %.0f MB "
        "(%d at once), CPU %.1f s",
        PREFIX,
        len(usages),
        shards,
        seconds,
        sum(peaks[:workers]),
        workers,
        sum(usage.cpu for usage in usages),
    )


class Indexed(NamedTuple):
    """What one indexing did: pages, shards, shards indexed again, their usage."""

    pages: int
    shards: int
    usages: list[Usage]
    seconds: float


def pages_notes(settings: Mapping, options: Mapping) -> Path | None:
    """Return the page notes' file, its folder made (None when not caching)."""
    if not (options["cache"] and settings.get("CACHE_PATH")):
        return None
    known = Path(settings["CACHE_PATH"]) / PAGES_NOTES
    known.parent.mkdir(parents=True, exist_ok=True)
    return known


def index_missing(
    output: Path, shards: dict[int, list[Page]], cache: Path, options: Mapping
) -> tuple[dict[int, Path], int, list[Usage]]:
    """Index into the cache the shards it has no bundle of; return kept, count, usage."""
    started = time.perf_counter()
    kept = {n: cache / shard_key(p, options) for n, p in shards.items()}
    todo = {kept[n]: p for n, p in shards.items() if not kept[n].is_dir()}
    usages = index_shards(output, todo, options) if todo else []
    if usages:
        report(usages, time.perf_counter() - started, len(shards), options)
    return kept, len(todo), usages


def make_index(
    output: Path, settings: Mapping, options: Mapping, pages: list[Page] | None = None
) -> Indexed:
    """Index the output shard by shard, copying the shards whose pages are unchanged.

    `pages`: the output's pages as indexed_pages listed them once every page of
    the build was written (listed here when not given).
    """
    bundle = output / options["output_subdir"]
    if pages is None:
        pages = indexed_pages(output, bundle, pages_notes(settings, options))
    if not pages:
        shutil.rmtree(bundle, ignore_errors=True)
        log.warning("%s: no page has data-pagefind-body; no search index", PREFIX)
        return Indexed(0, 0, [], 0.0)
    shards = split_shards(pages, options["shard_pages"])
    started = time.perf_counter()
    with cache_folder(settings, options) as cache:
        kept, again, usages = index_missing(output, shards, cache, options)
        if not take_prepared(cache, kept, bundle):
            assemble(bundle, kept)
        prune_cache(cache, kept.values())
    outputs.declare_tree(bundle)
    seconds = time.perf_counter() - started
    log.info(
        "%s: %d pages in %d shards (%d indexed again), bundle written in %.1f s",
        PREFIX,
        len(pages),
        len(shards),
        again,
        seconds,
    )
    return Indexed(len(pages), len(shards), usages, seconds)


class EarlyRun(threading.Thread):
    """Index, into the cache, the shards of the item pages written so far."""

    def __init__(self, output: Path, settings: Mapping, options: Mapping) -> None:
        super().__init__(name=f"{PREFIX}-early")
        self.output, self.settings, self.options = output, settings, options
        self.error: BaseException | None = None
        self.listed = threading.Event()  # its page list (and notes) done, or failed

    def run(self) -> None:
        """Index the shards whose bundle is not kept yet; keep any error for later."""
        try:
            output, settings, options = self.output, self.settings, self.options
            known = pages_notes(settings, options)
            pages = indexed_pages(output, output / options["output_subdir"], known)
            self.listed.set()  # its notes saved: the final run may list the output
            shards = split_shards(pages, options["shard_pages"])
            with cache_folder(settings, options) as cache:
                kept, _, _ = index_missing(output, shards, cache, options)
                bundle = output / options["output_subdir"]
                if kept and not bundle.exists():
                    prepare(cache, kept)
        except BaseException as error:  # noqa: BLE001 - handed to the final run
            self.error = error
        finally:
            self.listed.set()  # also when it failed before its list

    def finish(self) -> None:
        """Wait for the run; raise a bug it met (Pagefind's own failures are retried)."""
        self.join()
        if self.error is not None and not isinstance(
            self.error, SearchIndexError | OSError
        ):
            raise self.error


_early: dict[Path, EarlyRun] = {}  # by output folder: started, not yet finished


def index_items_early(generator) -> None:
    """Start indexing as soon as every page is written (`finishing.pages_written`).

    Pagefind then runs beside the rest of the build (static files, images, the
    page list), compression is still to come. Sent only by the build process
    (renderpool), never in a process that writes a part of the pages. The
    final index (`finalized`) takes every shard this run made whose pages did not
    change since and indexes the others: the result never depends on this run.
    """
    settings = generator.settings
    options = get_options(settings)
    if options["enabled"] and options["early"] and options["cache"]:
        if not settings.get("CACHE_PATH"):
            return
        output = Path(settings["OUTPUT_PATH"])
        finish_early(output)  # one at a time per output folder
        _early[output] = run = EarlyRun(output, settings, options)
        run.start()


def finish_early(output: Path) -> None:
    """Wait for the early run of an output folder, if one was started."""
    run = _early.pop(output, None)
    if run is not None:
        run.finish()


def index_site(pelican) -> None:
    """Build the search index once the site is written (`finalized`)."""
    output = Path(pelican.settings["OUTPUT_PATH"])
    options = get_options(pelican.settings)
    pages = None
    run = _early.get(output)
    try:
        if (
            options["enabled"]
            and run is not None
            and (run.is_alive() or run.listed.is_set())
        ):
            # Every page is final now: list them while the early run's last
            # Pagefind processes finish, not after them in the build's one-core
            # tail (once that run saved its notes: only newer pages are read).
            run.listed.wait()
            bundle = output / options["output_subdir"]
            known = pages_notes(pelican.settings, options)
            pages = indexed_pages(output, bundle, known)
    finally:
        finish_early(output)
    if options["enabled"]:
        make_index(output, pelican.settings, options, pages)


def get_generators(pelican) -> type[SearchPageGenerator]:
    """Return the generator of the search page."""
    return SearchPageGenerator


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.get_generators.connect(get_generators)
    finishing.pages_written.connect(index_items_early)
    finishing.connect("index", index_site)
