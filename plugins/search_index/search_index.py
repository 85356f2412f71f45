"""search_index: the search page /tim-kiem/ and a Pagefind index built after the site.

Pagefind (1.5+) matches Vietnamese tones without diacritics ("phan thiet" finds
"Phan Thiết") but treats "đ" as a letter of its own. Each model and news page
therefore carries, in a hidden element inside its `data-pagefind-body`, every
word with "đ" folded to plain letters (`article.search_fold`), so "duong" finds
"đường"; search.js cuts that tail off before it draws an excerpt.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pelican import signals
from pelican.generators import Generator

from portal import outputs
from portal.options import merge_options
from portal.text import fold, nfc

__all__ = [
    "SearchIndexError",
    "OptionsError",
    "SearchPageGenerator",
    "fold_tail",
    "get_options",
    "register",
    "run_pagefind",
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
    "cache": True,  # keep the bundle under CACHE_PATH/pagefind, by its inputs' hash
}
CACHE_SUBDIR = "pagefind"
_WORD = re.compile(r"\w+", re.UNICODE)
POLL = 0.02  # seconds between two looks at a running Pagefind


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
    if not isinstance(options["cache"], bool):
        raise OptionsError(f"{PREFIX}: {SETTING}['cache'] must be True or False")
    return options


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
    words = _WORD.findall(nfc(" ".join(t for t in texts if t)))
    return " ".join(fold(word) for word in words if "đ" in word.casefold())


def article_texts(article) -> list[str]:
    """Return the texts a model or news page shows inside its search body."""
    texts = [article.title, html_text(getattr(article, "summary", "") or "")]
    for attribute in ("field", "locality", "kind"):
        term = getattr(article, attribute, None)
        if term is not None:
            texts += [term.name, getattr(term, "full_name", "") or ""]
    texts += [getattr(article, "unit", "") or "", html_text(article.content)]
    return texts


class SearchPageGenerator(Generator):
    """Give every item its folded "đ" words and write the search page."""

    def generate_context(self) -> None:
        """Compute `search_fold` for every article (and draft)."""
        self.options = get_options(self.settings)
        items = [*self.context.get("articles", []), *self.context.get("drafts", [])]
        for article in items:
            tail = fold_tail(article_texts(article))
            article.search_fold = tail
            article.search_fold_words = len(tail.split())
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


def pagefind_command(output: str | Path, options: Mapping[str, Any]) -> list[str]:
    """Return the command that indexes the built site."""
    return [
        sys.executable,
        "-m",
        "pagefind",
        "--site",
        str(output),
        "--output-subdir",
        options["output_subdir"],
        "--quiet",
        *options["args"],
    ]


def wait_with_usage(child: subprocess.Popen, timeout: float) -> tuple[int, float]:
    """Wait for a child process; return its exit status and peak memory in MB."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return child.returncode, usage.ru_maxrss / 1024
        if time.monotonic() > deadline:
            child.kill()
            child.wait()
            raise subprocess.TimeoutExpired(child.args, timeout)
        time.sleep(POLL)


def run_pagefind(output: str | Path, options: Mapping[str, Any]) -> float:
    """Index the built site with Pagefind; return the seconds it took."""
    command = pagefind_command(output, options)
    # Pagefind writes content-hashed files: clear the previous bundle so none go stale.
    shutil.rmtree(Path(output) / options["output_subdir"], ignore_errors=True)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as messages:
        child = subprocess.Popen(command, stdout=messages, stderr=messages)
        try:
            status, peak = wait_with_usage(child, options["timeout"])
        except subprocess.TimeoutExpired:
            raise SearchIndexError(
                f"{PREFIX}: Pagefind chạy quá {options['timeout']} giây mà chưa xong; "
                "không tạo được chỉ mục tìm kiếm."
            ) from None
        messages.seek(0)
        detail = messages.read().decode("utf-8", "replace").strip()
    seconds = time.perf_counter() - started
    if status != 0:
        if "No module named pagefind" in detail:
            detail = "chưa cài gói pagefind[bin]; chạy `make venv` để cài."
        raise SearchIndexError(
            f"{PREFIX}: không tạo được chỉ mục tìm kiếm (Pagefind báo lỗi, "
            f"mã {status}): {detail}"
        )
    outputs.declare_tree(Path(output) / options["output_subdir"])
    # The bench (bench/run.py) reads Pagefind's peak memory from this line.
    log.info(
        "%s: indexed %s in %.1f s, Pagefind's peak memory %.0f MB",
        PREFIX,
        output,
        seconds,
        peak,
    )
    return seconds


def inputs_key(output: Path, options: Mapping[str, Any]) -> str:
    """Hash everything Pagefind's bundle depends on: version, options, HTML files."""
    digest = hashlib.sha256()
    version = importlib.metadata.version("pagefind_bin")
    digest.update(repr((version, options["output_subdir"], options["args"])).encode())
    bundle = output / options["output_subdir"]
    for path in sorted(output.rglob("*.html")):
        if not path.is_relative_to(bundle):
            digest.update(path.relative_to(output).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def restore_bundle(cache: Path, key: str, bundle: Path) -> bool:
    """Copy the bundle kept for these inputs into the output; tell whether there was one."""
    kept = cache / key
    if not kept.is_dir():
        return False
    shutil.rmtree(bundle, ignore_errors=True)
    shutil.copytree(kept, bundle)
    return True


def keep_bundle(cache: Path, key: str, bundle: Path) -> None:
    """Keep this build's bundle under its inputs' key, in place of any older one."""
    shutil.rmtree(cache, ignore_errors=True)
    temporary = cache / f".{key}.tmp"
    shutil.copytree(bundle, temporary)
    temporary.rename(cache / key)


def index_site(pelican) -> None:
    """Build the search index once the site is written (or copy the kept one)."""
    options = get_options(pelican.settings)
    if not options["enabled"]:
        return
    output = Path(pelican.settings["OUTPUT_PATH"])
    if not (options["cache"] and pelican.settings.get("CACHE_PATH")):
        run_pagefind(output, options)
        return
    cache = Path(pelican.settings["CACHE_PATH"]) / CACHE_SUBDIR
    bundle = output / options["output_subdir"]
    key = inputs_key(output, options)
    if restore_bundle(cache, key, bundle):
        log.info(
            "%s: the indexed pages did not change; index copied from %s", PREFIX, cache
        )
        outputs.declare_tree(bundle)
        return
    run_pagefind(output, options)
    keep_bundle(cache, key, bundle)


def get_generators(pelican) -> type[SearchPageGenerator]:
    """Return the generator of the search page."""
    return SearchPageGenerator


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.get_generators.connect(get_generators)
    signals.finalized.connect(index_site)
