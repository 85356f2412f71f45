"""frontmatter: read Markdown with YAML front matter, checked against the schema.

Every problem in every file is reported in Vietnamese, then the build stops before
anything is written (unless the options say to keep going, as the dev server does).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markupsafe import escape
from pelican import signals
from pelican.generators import ArticlesGenerator, PagesGenerator
from pelican.readers import BaseReader
from pelican.urlwrappers import Author, Category, Tag
from pelican.utils import SafeDatetime

from portal import imagecheck, outputs, readpool, vocab
from portal.attachments import check_attachments
from portal.check import unread_files
from portal.files import write_atomic
from portal.frontmatter import Document, Limits, parse_file
from portal.options import check_whole_numbers, merge_options
from portal.problems import ContentError, Problem
from portal.sanitize import BodyRenderer
from portal.schema import (
    SECTIONS,
    Context,
    Item,
    check_collection,
    check_document,
    kind_of,
)

__all__ = ["FrontMatterReader", "get_options", "register"]

log = logging.getLogger(__name__)
PREFIX = "frontmatter"
SETTING = "FRONTMATTER"
DEFAULTS: Mapping[str, Any] = {
    "drafts": False,  # True: drafts are built and marked "Bản nháp" (dev server)
    "fail_on_error": True,  # False: report errors, skip the files, keep building
    "images_dir": "images",  # under the content folder
    "limits": {},  # file size, nesting and field lengths: see portal.frontmatter.Limits
    "future_dates": "warning",  # a date over a day ahead: "warning" or "error"
    "iframe_hosts": [],  # hosts whose https iframes a body may embed
    "warnings_shown": 5,  # warnings logged per field; the rest are counted
}
FUTURE_DATES = ("warning", "error")
# In the cache folder: when the next item held by `scheduled: true` is due.
SCHEDULE_FILE = "frontmatter-scheduled.json"
DUE_SETTING = "FRONTMATTER_SCHEDULED_DUE"
SECTION_URLS = {kind: prefix.rstrip("/") for kind, prefix in SECTIONS.values()}


class OptionsError(ContentError):
    """The FRONTMATTER setting is wrong."""


class FileRefused(Exception):
    """A file has errors: Pelican skips it and the plugin reports why."""


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the FRONTMATTER setting with the defaults and check it once."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX, OptionsError)
    for key in ("drafts", "fail_on_error"):
        if not isinstance(options[key], bool):
            raise OptionsError(f"{PREFIX}: {SETTING}['{key}'] must be True or False")
    try:
        options["limits"] = Limits.from_mapping(options["limits"])
    except (TypeError, ValueError) as error:
        raise OptionsError(f"{PREFIX}: {SETTING}['limits']: {error}") from None
    if options["future_dates"] not in FUTURE_DATES:
        raise OptionsError(
            f"{PREFIX}: {SETTING}['future_dates'] must be 'warning' or 'error'"
        )
    check_whole_numbers(options, {"warnings_shown": 0}, SETTING, PREFIX, OptionsError)
    hosts = options["iframe_hosts"]
    if not isinstance(hosts, list | tuple) or not all(
        isinstance(h, str) for h in hosts
    ):
        raise OptionsError(
            f"{PREFIX}: {SETTING}['iframe_hosts'] must be a list of hosts"
        )
    return options


class _ErrorCounter(logging.Handler):
    """Count the errors any part of the build logs, so none passes unnoticed.

    Being a handler, it would stop Python's last-resort output (all that
    `--log-handler plain` has): a record no other handler shows is passed on to it,
    so Pelican's own "Could not process …", which names the file, still shows.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR and not record.name.startswith(__name__):
            self.count += 1
        if not _shown_elsewhere(logging.getLogger(record.name), self):
            logging.lastResort.handle(record)


def _shown_elsewhere(logger: logging.Logger | None, counter: logging.Handler) -> bool:
    """Tell whether a logger or its parents have a handler besides the counter."""
    while logger is not None:
        if any(handler is not counter for handler in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False


_counter = _ErrorCounter()


class FrontMatterReader(BaseReader):
    """Read `---` fenced YAML front matter and a Markdown body."""

    enabled = True
    # Every extension Pelican's own Markdown reader claims: that reader would add the
    # "meta" extension to the shared settings and eat body lines like "Key: value".
    file_extensions = ["md", "markdown", "mkd", "mdown"]

    def __init__(self, settings: Mapping) -> None:
        super().__init__(settings)
        self.options = get_options(settings)
        self.content_root = Path(settings["PATH"])
        self.context = Context(
            vocab.from_settings(settings),
            self.content_root / self.options["images_dir"],
            limits=self.options["limits"],
            future_dates=self.options["future_dates"],
            max_pixels=max_pixels(settings),
        )
        self.refused: list[Item] = []
        self._renderer: BodyRenderer | None = None
        self._authors: dict[str, Author] = {}

    def read(self, source_path: str) -> tuple[str, dict[str, Any]]:
        """Parse and check one file; refuse it, with its problems, if it has errors."""
        # Parsed ahead by the readpool plugin on a full build, else here.
        item, html = readpool.take(source_path) or self.parse(source_path)
        if not item.ok:
            self.refused.append(item)
            raise FileRefused(f"{PREFIX}: {item.path} có lỗi (xem bên dưới)")
        return html, self._metadata(item)

    def parse(self, source_path: str) -> tuple[Item, str | None]:
        """Parse and check one file; return it checked, and its HTML if it has no error."""
        path = Path(source_path)
        relative = path.relative_to(self.content_root).as_posix()
        display = path.relative_to(self.content_root.parent).as_posix()
        doc = parse_file(path, display, self.options["limits"], self.content_root)
        item = check_document(doc, kind_of(relative) or "page", self.context)
        if not item.ok:
            return item, None
        html, removals = self._to_html(doc)
        item.problems += removals
        return item, html

    def _to_html(self, doc: Document) -> tuple[str, list[Problem]]:
        """Convert a body to clean HTML; return it and a warning per removal."""
        if self._renderer is None:
            self._renderer = BodyRenderer(
                self.settings["MARKDOWN"], self.options["iframe_hosts"]
            )
        return self._renderer.render(doc.path, doc.body, doc.body_line)

    def _metadata(self, item: Item) -> dict[str, Any]:
        """Turn checked values into the metadata Pelican and the theme use."""
        meta = dict(item.meta)
        meta["type"] = item.kind
        meta["problems"] = list(item.problems)  # warnings travel with the cache
        meta["source_lines"] = item.lines
        if item.kind != "page":
            meta["section"] = SECTION_URLS[item.kind]
            meta["template"] = item.kind
        if "date" in meta:
            meta["date"] = SafeDatetime.fromtimestamp(meta["date"].timestamp())
        if "summary" in meta:
            meta["summary"] = str(escape(meta["summary"]))
        if "category" in meta:
            meta["field"] = meta.pop("category")
        meta["category"] = _category(meta.get("field"), self.settings)
        if item.kind == "news" and "date" in meta:
            meta["year"] = meta["date"].year
        if "tags" in meta:
            meta["tags"] = [Tag(tag, self.settings) for tag in meta["tags"]]
        if "author" in meta:
            meta["author"] = self._author(meta["author"])
        elif "AUTHOR" in self.settings:
            # Pelican would make one per item and slugify its name each time.
            meta["author"] = self._author(self.settings["AUTHOR"])
        meta["is_draft"] = meta.get("status") == "draft"
        if meta["is_draft"] and self.options["drafts"]:
            meta["status"] = "published"
        return meta

    def _author(self, name: str) -> Author:
        """Return the one Author of this name (as the content cache shares them)."""
        author = self._authors.get(name)
        if author is None:
            author = self._authors[name] = Author(name, self.settings)
        return author


def max_pixels(settings: Mapping) -> int:
    """Return the images plugin's pixel limit, so both check an image alike."""
    images = settings.get("IMAGES") or {}
    return images.get("max_pixels", imagecheck.MAX_IMAGE_PIXELS)


def _category(term: vocab.Term | None, settings: Mapping) -> Category:
    """Make Pelican's category of an item its field (or the default one)."""
    if term is None:
        return Category(settings["DEFAULT_CATEGORY"], settings)
    category = Category(term.name, settings)
    category.slug = term.slug
    return category


def use_reader(readers) -> None:
    """Make our reader read Markdown in place of Pelican's own."""
    for extension in FrontMatterReader.file_extensions:
        readers.reader_classes[extension] = FrontMatterReader


def start_build(pelican) -> None:
    """Check the options once; make a due scheduled item a change of settings."""
    get_options(pelican.settings)
    due = _scheduled_due(pelican.settings)
    if due:
        # A setting, so the incremental plugin's fingerprint changes: the build
        # is a full one, even with no file changed since the last build.
        pelican.settings[DUE_SETTING] = due


def start_reading(pelican) -> list:
    """Check the vocabularies and start counting errors (at the start of a run).

    Not on `initialized`: a run that finds nothing changed (plugins/incremental)
    reads no vocabulary; a changed one changes the settings' fingerprint.
    """
    try:
        vocab.from_settings(pelican.settings)
    except vocab.VocabularyError as error:
        raise ContentError(f"{PREFIX}: {error}") from None
    imagecheck.keep_verdicts(Path(pelican.settings["CACHE_PATH"]) / "imagecheck")
    _counter.count = 0
    logging.getLogger("pelican").addHandler(_counter)
    return []


def _contents(generators) -> list:
    """Return every article and page the build read, drafts and hidden ones too."""
    found = []
    for generator in generators:
        if isinstance(generator, ArticlesGenerator):
            found += generator.articles + generator.drafts + generator.hidden_articles
        elif isinstance(generator, PagesGenerator):
            found += generator.pages + generator.draft_pages + generator.hidden_pages
    return found


def _as_item(content, prefix: str) -> Item:
    """Describe a read content object for the cross-file checks."""
    meta = {"slug": content.slug, "models": getattr(content, "models", [])}
    path = f"{prefix}/{content.relative_source_path}"
    return Item(path, content.type, meta, [], content.source_lines)


def collect_problems(generators) -> list[Problem]:
    """Gather every file's problems and those only the whole collection shows."""
    refused = []
    for generator in generators:
        reader = getattr(getattr(generator, "readers", None), "readers", {}).get("md")
        if isinstance(reader, FrontMatterReader):
            refused += reader.refused
    contents = [c for c in _contents(generators) if hasattr(c, "type")]
    problems = [p for item in refused for p in item.problems]
    problems += [p for c in contents for p in c.problems]
    content = Path(generators[0].settings["PATH"])
    items = [_as_item(c, content.name) for c in contents]
    # Attachments are copied as they are: checked here too, as by `make check`.
    problems += check_attachments(content) + unread_files(content)
    return problems + check_collection(items + refused)


def hold_scheduled(generator: ArticlesGenerator) -> None:
    """Keep items scheduled for a later date out of the site until that date.

    Decided at every build (not when the file is read and cached), so the first
    build on or after the date, such as CI's daily run, publishes the item.
    """
    held = [a for a in generator.articles if _is_scheduled(a)]
    if not held:
        _save_next_scheduled(generator.settings, None)
        return
    for article in held:
        article.status = "draft"
        article.is_draft = True
        log.info("%s: %s hẹn đăng ngày %s", PREFIX, article.source_path, article.date)
    generator.articles = [a for a in generator.articles if a not in held]
    generator.drafts += held
    _save_next_scheduled(generator.settings, min(a.date for a in held))


def _schedule_file(settings: Mapping) -> Path:
    return Path(settings["CACHE_PATH"]) / SCHEDULE_FILE


def _save_next_scheduled(settings: Mapping, date: SafeDatetime | None) -> None:
    """Remember when the next held item is due (none: forget)."""
    path = _schedule_file(settings)
    if date is None:
        path.unlink(missing_ok=True)
    else:
        write_atomic(path, json.dumps({"next": date.isoformat()}).encode())


def _scheduled_due(settings: Mapping) -> str | None:
    """Return the date of the item held by the last build, if it is due now."""
    try:
        data = json.loads(_schedule_file(settings).read_bytes())
        due = SafeDatetime.fromisoformat(data["next"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data["next"] if due <= SafeDatetime.now(due.tzinfo) else None


def _is_scheduled(article) -> bool:
    """Tell whether an article says `scheduled: true` and its date is still ahead."""
    if not getattr(article, "scheduled", False):
        return False
    date = article.date
    return date > SafeDatetime.now(date.tzinfo)


def link_related(generators) -> None:
    """Give each news item its models and each model the news about it."""
    articles = next((g for g in generators if isinstance(g, ArticlesGenerator)), None)
    if articles is None:
        return
    models = {a.slug: a for a in articles.articles if a.type == "model"}
    for model in models.values():
        model.news = []
    related: dict[str, list] = {}
    for article in articles.articles:
        if article.type == "news":
            found = [models[s] for s in getattr(article, "models", ()) if s in models]
            article.related_models = found
            for model in found:
                model.news.append(article)
            if found and isinstance(article.source_path, str):
                related[article.source_path] = found
    # Only models have `news`, only news `related_models` (each asked of its kind).
    outputs.note_lists(
        f"{PREFIX}:news:",
        {
            a.source_path: a.news
            for a in articles.articles
            if a.type == "model"
            and getattr(a, "news", None)
            and isinstance(a.source_path, str)
        },
    )
    outputs.note_lists(f"{PREFIX}:related_models:", related)


def log_problems(problems: list[Problem], shown: int) -> None:
    """Log every error, the first warnings of each field, and a count of the rest.

    Thousands of warnings of one kind (a whole archive recorded under today's
    localities) would bury the errors and take seconds to print; `make check`
    lists them all.
    """
    warnings: Counter[str] = Counter()
    for problem in problems:
        if problem.is_error:
            log.error("%s: LỖI %s", PREFIX, problem)
            continue
        warnings[problem.field] += 1
        if warnings[problem.field] <= shown:
            log.warning("%s: CẢNH BÁO %s", PREFIX, problem)
    for field, count in warnings.items():
        if count > shown:
            log.warning(
                "%s: CẢNH BÁO còn %d cảnh báo nữa %s (tất cả %d) không in ra đây;"
                " xem hết bằng lệnh `make check`",
                PREFIX,
                count - shown,
                f"ở trường “{field}”" if field else "không thuộc trường nào",
                count,
            )


def finish_reading(generators) -> None:
    """Report every problem; stop the build before writing if there is an error."""
    logging.getLogger("pelican").removeHandler(_counter)
    problems = sorted(set(collect_problems(generators)), key=Problem.order.fget)
    options = get_options(generators[0].settings)
    log_problems(problems, options["warnings_shown"])
    # Pelican logs an error for each file we refuse; count others only when alone.
    errors = sum(p.is_error for p in problems) or _counter.count
    if errors and options["fail_on_error"]:
        raise ContentError(
            f"{PREFIX}: {errors} lỗi trong nội dung, chưa dựng trang nào."
            " Sửa các lỗi ở trên rồi chạy lại (kiểm tra nhanh: make check)."
        )
    link_related(generators)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(start_build)
    signals.get_generators.connect(start_reading)
    signals.readers_init.connect(use_reader)
    signals.article_generator_pretaxonomy.connect(hold_scheduled)
    signals.all_generators_finalized.connect(finish_reading)
