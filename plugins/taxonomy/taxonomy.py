"""taxonomy: index pages by field, locality, year (and any taxonomy in settings).

For each taxonomy of the TAXONOMIES setting it writes an overview page listing
every term with its counts (`/linh-vuc/`), one paginated page per term with its
models first, then its news (`/linh-vuc/kinh-te/`, `/linh-vuc/kinh-te/2/`), and
an Atom feed per term. Items are sorted once and dealt into their terms in one
pass, so the work grows with items × taxonomies, never items × terms.

A new index is a settings change only, e.g. in TAXONOMIES:
    "hinh-thuc": {"attribute": "kind", "vocabulary": "hinh-thuc",
                  "title": "Hình thức", "url": "hinh-thuc/"}
(a vocabulary lists all its terms, empty ones too; without one, the values
found are the terms). The templates taxonomy.html and term.html serve them all.

A vocabulary with dates (localities, portal/vocab.py) also gives the overview its
`periods` (from 01/7/2025, before it; terms in groups), and each term page its
period, parent, successors, predecessors and `successor_items` (the items of the
units that succeeded a former one); breadcrumbs follow the period and group.
Each term's `models`, `news`, `latest` and `successor_items` are named lists for
rebuilds (`portal.outputs.note_lists`, `taxonomy:<name>:<slug>:models`…).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pelican import signals
from pelican.generators import Generator

from portal import outputs, vocab
from portal.feeds import feed_context
from portal.options import merge_named_options
from portal.paginate import write_paginated
from portal.problems import ContentError
from portal.text import slugify, sort_key, title_key

__all__ = [
    "OptionsError",
    "Taxonomy",
    "TaxonomyGenerator",
    "TermPage",
    "get_options",
    "register",
]

log = logging.getLogger(__name__)
PREFIX = "taxonomy"
SETTING = "TAXONOMIES"
ORDERS = ("alphabetical", "newest", "oldest")
# Used when the TAXONOMIES setting is absent.
DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "linh-vuc": {
        "attribute": "field",
        "vocabulary": "linh-vuc",
        "title": "Lĩnh vực",
        "url": "linh-vuc/",
    },
    "dia-ban": {
        "attribute": "locality",
        "vocabulary": "dia-ban",
        "title": "Địa bàn",
        "url": "dia-ban/",
    },
    "nam": {"attribute": "year", "title": "Năm", "url": "nam/", "order": "newest"},
}
# Every key a taxonomy may have, with its default (None: required).
DEFAULT_TAXONOMY: Mapping[str, Any] = {
    "attribute": None,  # the article attribute holding the term(s)
    "title": None,  # label shown to readers ("Lĩnh vực")
    "url": None,  # overview URL, relative to the site root, ending with "/"
    "vocabulary": None,  # a portal.vocab vocabulary: list every term, even empty
    "per_page": 12,  # items per term page
    "order": "alphabetical",  # of the terms: alphabetical | newest | oldest
    "feed_items": 20,  # items in each term's Atom feed; 0 writes no feed
}
HOME = "Trang chủ"


class OptionsError(ContentError):
    """The TAXONOMIES setting is wrong: the build stops with a clear message."""


def _fail(name: str, message: str) -> OptionsError:
    """Return the error about one taxonomy of the setting."""
    return OptionsError(f"{PREFIX}: {SETTING}[{name!r}]: {message}")


def _check_taxonomy(
    name: str, options: dict[str, Any], vocabularies: Mapping
) -> dict[str, Any]:
    """Check every value of one taxonomy, merged with the defaults."""
    for key in ("attribute", "title", "url"):
        if not isinstance(options[key], str) or not options[key].strip():
            raise _fail(name, f"{key!r} is required and must be a non-empty string")
    url = options["url"]
    if url.startswith("/") or not url.endswith("/") or url != url.strip():
        raise _fail(name, f"url {url!r} must be relative and end with '/'")
    for key, low in (("per_page", 1), ("feed_items", 0)):
        value = options[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _fail(name, f"{key!r} must be an int >= {low}, not {value!r}")
    if options["order"] not in ORDERS:
        raise _fail(name, f"order {options['order']!r} must be one of {ORDERS}")
    vocabulary = options["vocabulary"]
    if vocabulary is not None:
        if vocabulary not in vocabularies:
            raise _fail(
                name,
                f"no vocabulary {vocabulary!r} in VOCABULARY_PATH;"
                f" there are: {', '.join(sorted(vocabularies)) or 'none'}",
            )
        if options["order"] != "alphabetical":
            raise _fail(name, "a vocabulary's terms can only be 'alphabetical'")
    return options


def get_options(settings: Mapping) -> dict[str, dict[str, Any]]:
    """Merge the TAXONOMIES setting with the defaults and check it once."""
    given = merge_named_options(
        settings, SETTING, DEFAULT_TAXONOMY, DEFAULTS, PREFIX, OptionsError, False
    )
    try:
        vocabularies = vocab.from_settings(settings)
    except (KeyError, vocab.VocabularyError) as error:
        raise OptionsError(f"{PREFIX}: cannot read the vocabularies: {error}") from None
    merged: dict[str, dict[str, Any]] = {}
    for name, taxonomy in given.items():
        if not isinstance(name, str) or slugify(name) != name:
            raise OptionsError(f"{PREFIX}: {SETTING} key {name!r} must be a slug")
        merged[name] = _check_taxonomy(name, taxonomy, vocabularies)
    urls = [t["url"] for t in merged.values()]
    shared = sorted({url for url in urls if urls.count(url) > 1})
    if shared:
        raise OptionsError(f"{PREFIX}: {SETTING}: two taxonomies use url {shared[0]!r}")
    return merged


@dataclass(eq=False)
class TermPage:
    """One term of a taxonomy with its items; `url` is None when it has none."""

    name: str
    full_name: str
    slug: str
    taxonomy: Taxonomy
    value: Any = None  # the item value it was made from (orders years)
    models: list = field(default_factory=list)
    news: list = field(default_factory=list)
    latest: list = field(default_factory=list)  # models and news, newest first
    url: str | None = None
    save_as: str | None = None
    feed_url: str | None = None
    # Localities over time (a vocabulary with dates): the term's place and history.
    period: PeriodPages | None = None
    group: GroupPages | None = None
    parent: TermPage | None = None
    successors: list[tuple[TermPage, str]] = field(default_factory=list)
    predecessors: list[tuple[TermPage, str]] = field(default_factory=list)
    successor_items: list = field(default_factory=list)  # items of successors

    @property
    def term(self) -> vocab.Term | None:
        """Return the vocabulary term of the page, if it has one."""
        return self.value if isinstance(self.value, vocab.Term) else None

    @property
    def count(self) -> int:
        """Return how many models and news the term has."""
        return len(self.models) + len(self.news)

    @property
    def items(self) -> list:
        """Return the models, then the news, as its pages list them."""
        return self.models + self.news

    def __str__(self) -> str:
        return self.name


@dataclass(eq=False)
class GroupPages:
    """Term pages shown together on an overview (one former province's, …)."""

    label: str
    page: TermPage | None  # the term page the group is named after, if any
    terms: list[TermPage]
    anchor: str = ""  # its id on the overview


@dataclass(eq=False)
class PeriodPages:
    """The term pages of one period of a vocabulary with dates, in groups."""

    label: str
    anchor: str
    groups: list[GroupPages]
    until: dt.date | None = None  # the last day of a period that ended

    @property
    def count(self) -> int:
        """Return how many terms of the period have items."""
        return sum(1 for g in self.groups for t in g.terms if t.count)

    @property
    def span(self) -> str:
        """Return the years an ended period's items cover: "2016 – 6/2025", or ""."""
        years = [
            _item_year(item) for g in self.groups for t in g.terms for item in t.latest
        ]
        years = [year for year in years if year is not None]
        if self.until is None or not years:
            return ""
        return f"{min(years)} – {self.until.month}/{self.until.year}"


def _item_year(item: Any) -> int | None:
    """Return the year an item is about: its year of recognition, or its date's."""
    year = getattr(item, "year", None)
    if isinstance(year, int) and not isinstance(year, bool):
        return year
    date = getattr(item, "date", None)
    return date.year if date is not None else None


@dataclass(eq=False)
class Taxonomy:
    """One way of indexing items (by field, locality, year…), with its terms."""

    name: str
    title: str
    url: str
    attribute: str
    per_page: int
    order: str
    feed_items: int
    vocabulary: vocab.Vocabulary | None = None
    terms: list[TermPage] = field(default_factory=list)
    periods: list[PeriodPages] = field(default_factory=list)  # empty: no dates
    _by_key: dict[str, TermPage] = field(default_factory=dict, repr=False)
    _by_value: dict[Any, TermPage | None] = field(default_factory=dict, repr=False)

    @property
    def save_as(self) -> str:
        """Return the overview page's output path."""
        return f"{self.url}index.html"

    def seed_vocabulary(self) -> None:
        """Create a term page for every term of the vocabulary, empty for now."""
        for term in self.vocabulary or ():
            self._by_key[term.slug] = TermPage(
                term.name, term.full_name, term.slug, self, term
            )

    def terms_of(self, item) -> list[TermPage]:
        """Return the term pages an item belongs to (none if it lacks the value)."""
        value = getattr(item, self.attribute, None)
        values = value if isinstance(value, (list, tuple, set)) else (value,)
        pages: list[TermPage] = []
        for one in values:
            if one is None or one == "":
                continue
            page = self._term_page(one, item)
            if page is not None and page not in pages:
                pages.append(page)
        return pages

    def _term_page(self, value: Any, item) -> TermPage | None:
        """Return the term page of one value (a dict look-up, never a scan)."""
        if self.vocabulary is not None:
            if getattr(value, "vocabulary", None) == self.vocabulary.name:
                page = self._by_key.get(value.slug)
                if page is not None:
                    return page
            term = self.vocabulary.lookup(str(value))
            if term is None:
                log.warning(
                    "%s: %s: “%s” of %s is not in vocabulary %s",
                    PREFIX,
                    self.name,
                    value,
                    getattr(item, "source_path", item),
                    self.vocabulary.name,
                )
                return None
            return self._by_key[term.slug]
        try:
            return self._by_value[value]  # seen before: no slugify per item
        except (KeyError, TypeError):
            pass
        slug = getattr(value, "slug", None) or slugify(str(value))
        page = self._by_key.get(slug)
        if page is None and slug:
            name = str(getattr(value, "name", value))
            full_name = str(getattr(value, "full_name", name))
            page = self._by_key[slug] = TermPage(name, full_name, slug, self, value)
        with contextlib.suppress(TypeError):  # an unhashable value is not cached
            self._by_value[value] = page
        return page

    def finish(self) -> None:
        """Order the terms, and give the ones with items their URLs."""
        pages = list(self._by_key.values())
        if self.order == "alphabetical":
            pages.sort(key=lambda page: sort_key(page.name))
        else:
            pages.sort(key=lambda page: page.value, reverse=self.order == "newest")
        self._link_history()
        for page in pages:
            if page.count or page.successor_items:
                page.url = f"{self.url}{page.slug}/"
                page.save_as = f"{page.url}index.html"
                if self.feed_items and page.count:
                    page.feed_url = f"{page.url}atom.xml"
        self.terms = pages

    def _link_history(self) -> None:
        """Give each term page its period, parent, successors and predecessors."""
        if self.vocabulary is None:
            return
        pages = self._by_key
        for period in self.vocabulary.periods():
            groups = [
                GroupPages(
                    g.label,
                    pages.get(g.term.slug) if g.term else None,
                    [pages[t.slug] for t in g.terms],
                    f"{period.anchor}-{index}",
                )
                for index, g in enumerate(period.groups, start=1)
            ]
            self.periods.append(
                PeriodPages(period.label, period.anchor, groups, period.until)
            )
            for group in groups:
                for page in group.terms:
                    page.period, page.group = self.periods[-1], group
        for page in pages.values():
            term = page.term
            if term is None:
                continue
            parent = self.vocabulary.parent(term)
            page.parent = pages.get(parent.slug) if parent else None
            page.successors = [
                (pages[t.slug], note) for t, note in self.vocabulary.successors(term)
            ]
            page.predecessors = [
                (pages[t.slug], note) for t, note in self.vocabulary.predecessors(term)
            ]
            if term.level != vocab.LEVELS[0]:
                own = {id(item) for item in page.latest}
                found = {}
                for successor, _ in page.successors:
                    for item in successor.latest:
                        if id(item) not in own:
                            found.setdefault(id(item), item)
                page.successor_items = newest_first(found.values())

    def crumbs(self, page: TermPage) -> list[tuple[str, str | None]]:
        """Return a term page's breadcrumbs: index, period, group, the term."""
        trail = [(HOME, ""), (self.title, self.url)]
        if page.period is not None:
            trail.append((page.period.label, f"{self.url}#{page.period.anchor}"))
        group = page.group
        if group is not None and group.label:
            link = group.page.url if group.page and group.page.url else None
            trail.append((group.label, link or f"{self.url}#{group.anchor}"))
        return [*trail, (page.name, None)]

    def neighbours(self) -> Iterator[tuple[TermPage | None, TermPage, TermPage | None]]:
        """Yield each term that has a page with the previous and next such terms."""
        shown = [page for page in self.terms if page.url]
        for index, page in enumerate(shown):
            previous = shown[index - 1] if index else None
            following = shown[index + 1] if index + 1 < len(shown) else None
            yield previous, page, following


def term_lists(taxonomy: Taxonomy) -> dict[str, list]:
    """Return the lists of items of a taxonomy's terms, by a stable name each."""
    return {
        f"{page.slug}:{name}": getattr(page, name)
        for page in taxonomy.terms
        for name in ("models", "news", "latest", "successor_items")
    }


def newest_first(items: Iterable) -> list:
    """Sort items newest first, then by title in Vietnamese order (keys made once)."""
    keyed = [
        (item.date, title_key(item), index, item) for index, item in enumerate(items)
    ]
    keyed.sort(key=lambda row: row[1:3])
    keyed.sort(key=lambda row: row[0], reverse=True)
    return [row[3] for row in keyed]


def build_taxonomies(
    options: Mapping[str, Mapping[str, Any]], settings: Mapping, items: Iterable
) -> list[Taxonomy]:
    """Deal the items, newest first, into the terms of every taxonomy in one pass."""
    vocabularies = vocab.from_settings(settings) if options else {}
    taxonomies = []
    for name, opts in options.items():
        taxonomy = Taxonomy(
            name=name,
            title=opts["title"],
            url=opts["url"],
            attribute=opts["attribute"],
            per_page=opts["per_page"],
            order=opts["order"],
            feed_items=opts["feed_items"],
            vocabulary=vocabularies.get(opts["vocabulary"]),
        )
        taxonomy.seed_vocabulary()
        taxonomies.append(taxonomy)
    shared: dict[tuple, list] = {}  # items with the same terms share one list
    for item in newest_first(items):
        term_pages = []
        for taxonomy in taxonomies:
            for page in taxonomy.terms_of(item):
                (page.models if item.type == "model" else page.news).append(item)
                page.latest.append(item)
                term_pages.append(page)
        item.term_pages = shared.setdefault(tuple(map(id, term_pages)), term_pages)
    for taxonomy in taxonomies:
        taxonomy.finish()
    return taxonomies


class TaxonomyGenerator(Generator):
    """Generate the overview, term pages and term feeds of every taxonomy."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.options = get_options(self.settings)  # fail before reading content
        if self.settings.get("CATEGORY_SAVE_AS"):
            log.warning(
                "%s: Pelican's category pages are on; set CATEGORY_SAVE_AS = ''"
                " so each concept has one index",
                PREFIX,
            )
        self.taxonomies: list[Taxonomy] = []

    def generate_context(self) -> None:
        """Build the taxonomies and give every article its term pages."""
        articles = [a for a in self.context.get("articles", []) if hasattr(a, "type")]
        self.taxonomies = build_taxonomies(self.options, self.settings, articles)
        self.context["taxonomies"] = self.taxonomies
        for taxonomy in self.taxonomies:
            outputs.note_lists(f"{PREFIX}:{taxonomy.name}:", term_lists(taxonomy))
        for taxonomy in self.taxonomies:
            log.debug(
                "%s: %s has %s term(s)", PREFIX, taxonomy.name, len(taxonomy.terms)
            )

    def generate_output(self, writer) -> None:
        """Write every taxonomy's overview, term pages and feeds."""
        for taxonomy in self.taxonomies:
            self.generate_overview(writer, taxonomy)
            for previous, term, following in taxonomy.neighbours():
                self.generate_term(writer, term, previous, following)
                self.generate_feed(writer, term)

    def generate_overview(self, writer, taxonomy: Taxonomy) -> None:
        """Write the page listing a taxonomy's terms with their counts."""
        writer.write_file(
            taxonomy.save_as,
            self.get_template("taxonomy"),
            self.context,
            self.settings["RELATIVE_URLS"],
            url=taxonomy.url,
            taxonomy=taxonomy,
            breadcrumbs=[(HOME, ""), (taxonomy.title, None)],
            page_name=taxonomy.url.rstrip("/"),
        )

    def generate_term(
        self,
        writer,
        term: TermPage,
        previous: TermPage | None,
        following: TermPage | None,
    ) -> None:
        """Write one term's pages: its models, then its news, paginated."""
        taxonomy = term.taxonomy
        write_paginated(
            writer,
            self.get_template("term"),
            self.context,
            save_as=term.save_as,
            url=term.url,
            items=term.items,
            per_page=taxonomy.per_page,
            relative_urls=self.settings["RELATIVE_URLS"],
            taxonomy=taxonomy,
            term=term,
            breadcrumbs=taxonomy.crumbs(term),
            first_page_only={"previous_term": previous, "next_term": following},
            page_name=term.url.rstrip("/"),
        )

    def generate_feed(self, writer, term: TermPage) -> None:
        """Write a term's Atom feed (absolute links, in `make html` too)."""
        if not term.feed_url:
            return
        writer.write_feed(
            term.latest[: term.taxonomy.feed_items],
            feed_context(self.context, self.settings),
            path=term.feed_url,
            url=term.feed_url,
            feed_type="atom",
            feed_title=f"{term.taxonomy.title}: {term.name}",
        )


def get_generators(pelican) -> type[TaxonomyGenerator]:
    """Return the generator of the taxonomy pages."""
    return TaxonomyGenerator


# Pelican's own index pages, which this plugin replaces: (setting, method).
PELICAN_INDEXES = (
    ("TAG_SAVE_AS", "generate_tags"),
    ("CATEGORY_SAVE_AS", "generate_categories"),
    ("AUTHOR_SAVE_AS", "generate_authors"),
)


def skip_unwritten_pelican_indexes(generator) -> None:
    """Skip Pelican's tag, category and author loops when they write no page.

    Each loop still filters every article's date against every term (articles x
    terms) before its writer call finds an empty file name.
    """
    for setting, method in PELICAN_INDEXES:
        if not generator.settings.get(setting):
            setattr(generator, method, _write_nothing)


def _write_nothing(write) -> None:
    """Write no page."""


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.get_generators.connect(get_generators)
    signals.article_generator_finalized.connect(skip_unwritten_pelican_indexes)
