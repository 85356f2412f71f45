"""statistics_page: the "Thống kê" page (/thong-ke/), the movement at a glance.

For models and for news it counts items per year stacked by field, per locality,
and field × year, and draws each as a static SVG chart (`charts.py`, no script)
beside the table of its numbers. It also gives every template `field_tones`
(field slug → tone index), so cards colour a picture-less model like its field.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from pelican import signals
from pelican.generators import Generator

from portal import vocab
from portal.options import merge_options
from portal.text import sort_key

from . import charts

__all__ = [
    "Figures",
    "OptionsError",
    "StatisticsGenerator",
    "count_figures",
    "get_options",
    "register",
]

log = logging.getLogger(__name__)
PREFIX = "statistics_page"
SETTING = "STATISTICS"
DEFAULTS: Mapping[str, Any] = {
    "url": "thong-ke/",  # the page's URL, relative to the site root
    "title": "Thống kê",  # its title, in the menu too
    "template": "statistics",  # the template that renders it
    "field_vocabulary": "linh-vuc",  # fields: their order and tones
    "localities": 0,  # bars in the locality charts; 0: every locality with items
}
UNCLASSIFIED = "Chưa phân loại"
KINDS = (("models", "model", "mô hình, điển hình"), ("news", "news", "tin"))


class OptionsError(ValueError):
    """The STATISTICS setting is wrong."""


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the STATISTICS setting with the defaults and check it once."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX, OptionsError)
    url = options["url"]
    if not isinstance(url, str) or url.startswith("/") or not url.endswith("/"):
        raise OptionsError(f"{PREFIX}: {SETTING}['url'] must be relative, end with /")
    limit = options["localities"]
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise OptionsError(f"{PREFIX}: {SETTING}['localities'] must be an int >= 0")
    return options


@dataclass
class Row:
    """A field's counts per year, in the order of the figures' years."""

    label: str
    tone: int
    slug: str
    values: tuple[int, ...]

    @property
    def total(self) -> int:
        """Return the row's sum."""
        return sum(self.values)


@dataclass
class Figures:
    """The counts of one kind of item (models or news) and their charts."""

    name: str
    noun: str
    total: int = 0
    years: list[int] = field(default_factory=list)
    fields: list[Row] = field(default_factory=list)
    year_totals: list[int] = field(default_factory=list)
    localities: list[tuple[str, int]] = field(default_factory=list)
    by_year_chart: Markup = Markup("")
    by_locality_chart: Markup = Markup("")
    legend: list[tuple[str, Markup]] = field(default_factory=list)


def year_of(item) -> int:
    """Return the item's year: its `year`, else its date's."""
    return int(getattr(item, "year", None) or item.date.year)


def count_figures(
    name: str, noun: str, items: Iterable, tones: Mapping[str, int], fields: Sequence
) -> Figures:
    """Count items per field × year and per locality."""
    items = list(items)
    figures = Figures(name=name, noun=noun, total=len(items))
    if not items:
        return figures
    years = sorted({year_of(item) for item in items})
    figures.years = years
    cells: Counter = Counter()
    places: Counter = Counter()
    for item in items:
        term = getattr(item, "field", None)
        cells[getattr(term, "slug", None), year_of(item)] += 1
        place = getattr(item, "locality", None)
        if place is not None:
            places[str(getattr(place, "name", place))] += 1
    rows = [
        Row(
            term.name,
            tones[term.slug],
            term.slug,
            tuple(cells[term.slug, y] for y in years),
        )
        for term in fields
    ]
    other = tuple(cells[None, y] for y in years)
    if any(other):
        rows.append(Row(UNCLASSIFIED, -1, "", other))
    figures.fields = [row for row in rows if row.total]
    figures.year_totals = [
        sum(row.values[i] for row in rows) for i in range(len(years))
    ]
    figures.localities = sorted(
        places.items(), key=lambda kv: (-kv[1], sort_key(kv[0]))
    )
    return figures


def draw(figures: Figures, noun_title: str, limit: int) -> None:
    """Draw the figures' charts and legend."""
    if not figures.total:
        return
    span = f"{figures.years[0]}–{figures.years[-1]}"
    series = [charts.Series(r.label, r.tone, r.values) for r in figures.fields]
    busiest = max(range(len(figures.years)), key=figures.year_totals.__getitem__)
    figures.by_year_chart = charts.stacked_columns(
        f"tk-{figures.name}-nam",
        f"{noun_title} theo năm và lĩnh vực, {span}",
        f"Biểu đồ cột chồng: {figures.total} {figures.noun} trong {len(figures.years)}"
        f" năm; nhiều nhất năm {figures.years[busiest]}"
        f" ({figures.year_totals[busiest]}). Số liệu chi tiết ở bảng bên dưới.",
        [str(year) for year in figures.years],
        series,
    )
    rows = figures.localities[:limit] if limit else figures.localities
    if rows:
        first, count = rows[0]
        figures.by_locality_chart = charts.bars(
            f"tk-{figures.name}-dia-ban",
            f"{noun_title} theo địa bàn",
            f"Biểu đồ thanh: {len(rows)} địa bàn; nhiều nhất {first} ({count})."
            " Số liệu ở bảng bên dưới.",
            rows,
        )
    figures.legend = [(row.label, charts.swatch(row.tone)) for row in figures.fields]


@dataclass
class Statistics:
    """What the statistics template reads: the page, its figures, the patterns."""

    url: str
    title: str
    save_as: str
    models: Figures | None = None
    news: Figures | None = None
    patterns: Markup = Markup("")


class StatisticsGenerator(Generator):
    """Generate the statistics page."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.options = get_options(self.settings)  # fail before reading content
        self.statistics: Statistics | None = None

    def field_terms(self) -> list:
        """Return the fields in their vocabulary's order (none without one)."""
        name = self.options["field_vocabulary"]
        vocabularies = vocab.from_settings(self.settings)
        return list(vocabularies[name]) if name in vocabularies else []

    def generate_context(self) -> None:
        """Count the items and put `statistics` and `field_tones` in the context."""
        fields = self.field_terms()
        tones = {term.slug: index for index, term in enumerate(fields)}
        self.context["field_tones"] = tones
        url = self.options["url"]
        stats = Statistics(
            url=url, title=self.options["title"], save_as=f"{url}index.html"
        )
        articles = [a for a in self.context.get("articles", []) if hasattr(a, "type")]
        for name, kind, noun in KINDS:
            items = [a for a in articles if a.type == kind]
            figures = count_figures(name, noun, items, tones, fields)
            noun_title = "Mô hình, điển hình" if name == "models" else "Tin tức"
            draw(figures, noun_title, self.options["localities"])
            setattr(stats, name, figures)
        stats.patterns = charts.patterns()
        self.statistics = stats
        self.context["statistics"] = stats

    def generate_output(self, writer) -> None:
        """Write the statistics page."""
        stats = self.statistics
        writer.write_file(
            stats.save_as,
            self.get_template(self.options["template"]),
            self.context,
            self.settings["RELATIVE_URLS"],
            url=stats.url,
            breadcrumbs=[("Trang chủ", ""), (stats.title, None)],
            page_name=stats.url.rstrip("/"),
        )
        log.debug("%s: wrote %s", PREFIX, stats.save_as)


def get_generators(pelican) -> type[StatisticsGenerator]:
    """Return the generator of the statistics page."""
    return StatisticsGenerator


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.get_generators.connect(get_generators)
