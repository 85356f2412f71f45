"""The one module that reads the vocabularies (fields, localities, kinds).

Each vocabulary is a YAML file in the data folder (`data/linh-vuc.yml`, …) that
editors may change. Everything else asks this module for terms.

Localities also change over time (data/dia-ban.yml, made by
scripts/update_localities.py): a term may have a level, a parent (`part_of`), an
official code, validity dates, and the terms it succeeded or was succeeded by.
`Term.valid_in(year)` tells whether an item of that year may name it,
`Vocabulary.successors/predecessors/parent` follow the links, `valid_at(year)`
gives the terms an editor may choose for a year, and `periods()` groups the terms
as the /dia-ban/ overview shows them. Files named in NOT_VOCABULARIES (the site's
identity, data/co-quan.yml, read by portal/identity.py) are skipped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import functools
import hashlib
import os
import pickle
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

import portal.text
from portal.files import keep_newest, write_atomic
from portal.text import fold, nfc, normalise_key, slugify, sort_key

# Which vocabulary each front-matter field is checked against.
FIELD_VOCABULARY = {"category": "linh-vuc", "locality": "dia-ban", "kind": "hinh-thuc"}


# Data files in the vocabulary folder that are not vocabularies (the site's
# identity; data/redirects.yml, read by plugins/redirects).
NOT_VOCABULARIES = frozenset({"co-quan", "redirects"})
# Levels a locality may have, from the top.
LEVELS = ("tỉnh", "huyện", "xã")
# The day Vietnam's two-level local government began (communes replaced districts).
REFORM_DATE = dt.date(2025, 7, 1)
MEMOS_KEPT = 4  # vocabularies kept in a cache folder (see load)


class VocabularyError(ValueError):
    """A vocabulary data file is wrong; the message says where and how to fix it."""


class DataLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML of the data files: dates stay text, so an impossible one is reported.

    (PyYAML's own dates raise a bare ValueError on "2025-06-31".) LibYAML's
    parser when PyYAML has it: the vocabularies are read on every build.
    """


DataLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str
)


def item_lines(text: str, key: str) -> list[int]:
    """Return the line where each entry of the list under key starts (1-based)."""
    try:
        root = yaml.compose(text, Loader=DataLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for name, value in root.value:
        if name.value == key and isinstance(value, yaml.SequenceNode):
            return [node.start_mark.line + 1 for node in value.value]
    return []


@dataclass(frozen=True)
class Link:
    """A term named by another (a successor, a predecessor), with an optional note."""

    slug: str
    note: str = ""


@dataclass(frozen=True)
class Term:
    """One entry of a vocabulary: its slug, short name, full name and aliases.

    Localities may also know their level, parent, validity dates, official code,
    and the terms that preceded or succeeded them (see data/dia-ban.yml).
    """

    slug: str
    name: str
    full_name: str
    aliases: tuple[str, ...] = ()
    vocabulary: str = ""
    level: str = ""
    part_of: str = ""
    code: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    preceded_by: tuple[Link, ...] = ()
    succeeded_by: tuple[Link, ...] = ()
    note: str = ""

    @property
    def timed(self) -> bool:
        """Tell whether the term has a start or an end."""
        return self.valid_from is not None or self.valid_to is not None

    def valid_on(self, day: dt.date) -> bool:
        """Tell whether the term existed on a day."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_to is None or day <= self.valid_to

    def valid_in(self, year: int) -> bool:
        """Tell whether the term existed on any day of a year."""
        if self.valid_from is not None and year < self.valid_from.year:
            return False
        return self.valid_to is None or year <= self.valid_to.year

    def ceased_by(self, year: int) -> bool:
        """Tell whether the term no longer existed in a year."""
        return self.valid_to is not None and year > self.valid_to.year

    def __str__(self) -> str:
        return self.name

    def __hash__(self) -> int:
        """Hash by vocabulary and slug: equal terms share both, in two cached hashes.

        (The dataclass's own hash covers every field, links included, and the
        sections and taxonomy plugins hash each item's terms on every build.)
        """
        return hash((self.vocabulary, self.slug))

    @property
    def sort_key(self) -> tuple:
        """Key ordering terms by the Vietnamese alphabet."""
        return sort_key(self.name)

    def spellings(self) -> Iterator[str]:
        """Yield every way an editor may name this term."""
        yield self.name
        yield self.full_name
        yield self.slug
        yield from self.aliases


@dataclass
class Vocabulary:
    """A controlled list of terms, looked up by any of their spellings."""

    name: str
    label: str
    terms: list[Term]
    _index: dict[str, Term] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for term in self.terms:
            for spelling in term.spellings():
                key = normalise_key(spelling)
                other = self._index.get(key)
                if other is not None and other is not term:
                    raise VocabularyError(
                        f"{self.name}: cách gọi “{spelling}” dùng cho cả “{other.name}”"
                        f" và “{term.name}”; mỗi cách gọi chỉ được thuộc một mục"
                    )
                self._index[key] = term

    def __iter__(self) -> Iterator[Term]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def lookup(self, value: str) -> Term | None:
        """Return the term named by value (name, full name, slug or alias), if any."""
        return self._index.get(normalise_key(value))

    def by_slug(self, slug: str) -> Term | None:
        """Return the term with this slug, if any."""
        return next((term for term in self.terms if term.slug == slug), None)

    def suggest(self, value: str) -> list[str]:
        """Return the names of the terms closest to a misspelt value, best first."""
        folded = fold(value)
        exact = [
            t.name for t in self.terms if any(fold(s) == folded for s in t.spellings())
        ]
        if exact:
            return exact
        choices = {fold(s): t.name for t in self.terms for s in t.spellings()}
        close = difflib.get_close_matches(folded, list(choices), n=3, cutoff=0.6)
        return list(dict.fromkeys(choices[c] for c in close))

    def sorted_terms(self) -> list[Term]:
        """Return the terms in Vietnamese alphabetical order."""
        return sorted(self.terms, key=lambda term: term.sort_key)

    def parent(self, term: Term) -> Term | None:
        """Return the term a term is part of, if any."""
        return self.by_slug(term.part_of) if term.part_of else None

    def successors(self, term: Term) -> list[tuple[Term, str]]:
        """Return the terms that succeeded a term, each with its note."""
        return self._linked(term.succeeded_by)

    def predecessors(self, term: Term) -> list[tuple[Term, str]]:
        """Return the terms that preceded a term, each with its note."""
        return self._linked(term.preceded_by)

    def _linked(self, links: tuple[Link, ...]) -> list[tuple[Term, str]]:
        """Return the terms of links, in their order, with their notes."""
        found = [(self.by_slug(link.slug), link.note) for link in links]
        return [(term, note) for term, note in found if term is not None]

    def former_area(self, term: Term) -> Term | None:
        """Return the former top-level unit a new unit mostly came from."""
        for previous, _ in self.predecessors(term):
            top = previous
            while self.parent(top) is not None and self.parent(top).timed:
                top = self.parent(top)
            if top.level == LEVELS[0]:
                return top
        return None

    def valid_at(self, year: int) -> list[Term]:
        """Return the terms that existed in a year (those without dates too)."""
        return [term for term in self.terms if term.valid_in(year)]

    def periods(self) -> list[Period]:
        """Group the terms by period and level as readers look for them.

        Terms from 01/7/2025 come first: the province, then the communes grouped by
        the former province they came from; then the former units by province; then
        the terms without dates. A vocabulary without dates has no periods.
        """
        if not any(term.timed for term in self.terms):
            return []
        new = [t for t in self.terms if t.valid_from and t.valid_from >= REFORM_DATE]
        old = [t for t in self.terms if t.valid_to and t.valid_to < REFORM_DATE]
        timeless = [t for t in self.terms if not t.timed]
        periods = []
        if new:
            groups = [Group("Cấp tỉnh", None, [t for t in new if t.level == LEVELS[0]])]
            by_area: dict[str, Group] = {}
            for term in new:
                if term.level == LEVELS[0]:
                    continue
                area = self.former_area(term)
                label = f"Khu vực {_former(area.name)}" if area else "Khác"
                by_area.setdefault(label, Group(label, area, [])).terms.append(term)
            groups += sorted(by_area.values(), key=lambda g: sort_key(g.label))
            periods.append(Period(f"Từ {short_date(REFORM_DATE)}", "tu-2025", groups))
        if old:
            provinces = [t for t in old if t.level == LEVELS[0]]
            groups = [
                Group(p.full_name, p, [t for t in old if t.part_of == p.slug])
                for p in provinces
            ]
            placed = {t.slug for g in groups for t in g.terms} | {
                p.slug for p in provinces
            }
            rest = [t for t in old if t.slug not in placed]
            if rest:
                groups.append(Group("Khác", None, rest))
            last_day = REFORM_DATE - dt.timedelta(days=1)
            periods.append(
                Period(
                    f"Trước {short_date(REFORM_DATE)}", "truoc-2025", groups, last_day
                )
            )
        if timeless:
            periods.append(
                Period("Không theo địa giới", "chung", [Group("", None, timeless)])
            )
        for period in periods:
            period.groups = [g for g in period.groups if g.terms]
            for group in period.groups:
                group.terms.sort(key=lambda term: term.sort_key)
        return periods


def short_date(day: dt.date) -> str:
    """Write a date as legal texts do: 01/7/2025."""
    return f"{day.day:02d}/{day.month}/{day.year}"


def short_date_after(day: dt.date) -> str:
    """Write the day after a date as legal texts do (a unit's last day -> its end)."""
    return short_date(day + dt.timedelta(days=1))


def _former(name: str) -> str:
    """Mark a former unit's name as former: "Bình Thuận (cũ)"."""
    return name if name.endswith("(cũ)") else f"{name} (cũ)"


@dataclass
class Group:
    """Terms shown together (the communes of one former province, …)."""

    label: str
    term: Term | None  # the term the group is named after, if any
    terms: list[Term]


@dataclass
class Period:
    """The terms of one period (from 01/7/2025, before it), in groups."""

    label: str
    anchor: str
    groups: list[Group]
    until: dt.date | None = None  # its last day, for a period that ended


def _date(raw: dict, key: str, where: str) -> dt.date | None:
    """Read an optional date field (YYYY-MM-DD)."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise VocabularyError(
            f"{where}: “{key}: {value}” không phải ngày; viết dạng năm-tháng-ngày,"
            " ví dụ 2025-07-01"
        ) from None


def _links(raw: dict, key: str, where: str) -> tuple[Link, ...]:
    """Read a list of slugs, each maybe as {term: slug, note: …}."""
    value = raw.get(key) or []
    if isinstance(value, (str, dict)):
        value = [value]
    links = []
    for entry in value:
        if isinstance(entry, dict) and isinstance(entry.get("term"), str):
            links.append(Link(entry["term"], nfc(str(entry.get("note") or ""))))
        elif isinstance(entry, str):
            links.append(Link(entry))
        else:
            raise VocabularyError(
                f"{where}: “{key}” cần là danh sách slug, hoặc"
                " {term: slug, note: một phần}"
            )
    return tuple(links)


def _read_term(raw: object, vocabulary: str, where: str) -> Term:
    """Build one term from its YAML mapping, or say what is wrong with it."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise VocabularyError(f"{where}: mỗi mục cần có “name” (tên hiển thị)")
    name = nfc(raw["name"].strip())
    slug = str(raw.get("slug") or slugify(name))
    if slug != slugify(slug):
        raise VocabularyError(
            f"{where}: slug “{slug}” không hợp lệ; dùng chữ thường không dấu và"
            f" gạch ngang, ví dụ “{slugify(slug)}”"
        )
    aliases = raw.get("aliases") or []
    if isinstance(aliases, str):
        aliases = [aliases]
    return Term(
        slug=slug,
        name=name,
        full_name=nfc(str(raw.get("full_name") or name).strip()),
        aliases=tuple(nfc(str(alias).strip()) for alias in aliases),
        vocabulary=vocabulary,
        **_locality_fields(raw, where),
    )


def _locality_fields(raw: dict, where: str) -> dict:
    """Read the optional fields of a locality: level, parent, dates, code, links."""
    level = str(raw.get("level") or "")
    if level and level not in LEVELS:
        raise VocabularyError(
            f"{where}: level “{level}” không có; chọn một trong: {', '.join(LEVELS)}"
        )
    fields = {
        "level": level,
        "part_of": str(raw.get("part_of") or ""),
        "code": str(raw.get("code") or ""),
        "valid_from": _date(raw, "valid_from", where),
        "valid_to": _date(raw, "valid_to", where),
        "preceded_by": _links(raw, "preceded_by", where),
        "succeeded_by": _links(raw, "succeeded_by", where),
        "note": nfc(str(raw.get("note") or "")),
    }
    start, end = fields["valid_from"], fields["valid_to"]
    if start and end and end < start:
        raise VocabularyError(f"{where}: valid_to ({end}) trước valid_from ({start})")
    return fields


def _check_links(vocabulary: Vocabulary, path: Path, lines: list[int]) -> None:
    """Check that every part_of, preceded_by and succeeded_by names a term."""
    slugs = {term.slug for term in vocabulary}
    for number, term in enumerate(vocabulary, start=1):
        named = [("part_of", term.part_of)] if term.part_of else []
        named += [("preceded_by", link.slug) for link in term.preceded_by]
        named += [("succeeded_by", link.slug) for link in term.succeeded_by]
        for key, slug in named:
            if slug not in slugs:
                raise VocabularyError(
                    f"{_where(path, lines, number)} “{term.name}”: {key} “{slug}”"
                    " không có trong danh mục; ghi slug của một mục có trong tệp"
                )


def _shown(path: Path) -> Path:
    """Return path as an editor knows it: relative to the current folder if inside."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _where(path: Path, lines: list[int], number: int) -> str:
    """Name an entry of a data file: "data/dia-ban.yml:28: mục 2"."""
    line = f":{lines[number - 1]}" if number <= len(lines) else ""
    return f"{path}{line}: mục {number}"


def read_vocabulary(path: Path, source: bytes | None = None) -> Vocabulary:
    """Read one vocabulary file (or its bytes), checking slugs and spellings are unique."""
    name = path.stem
    path = _shown(path)
    try:
        text = _text(path.read_bytes() if source is None else source)
        data = yaml.load(text, Loader=DataLoader) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise VocabularyError(f"{path}: không đọc được tệp danh mục: {error}") from None
    raw_terms = data.get("terms") if isinstance(data, dict) else None
    if not isinstance(raw_terms, list):
        raise VocabularyError(f"{path}: cần có danh sách “terms:”")
    lines = item_lines(text, "terms")
    terms = [
        _read_term(raw, name, _where(path, lines, number))
        for number, raw in enumerate(raw_terms, start=1)
    ]
    slugs = [term.slug for term in terms]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise VocabularyError(f"{path}: slug trùng nhau: {', '.join(duplicates)}")
    vocabulary = Vocabulary(
        name=name, label=str(data.get("label") or name), terms=terms
    )
    _check_links(vocabulary, path, lines)
    return vocabulary


def _text(raw: bytes) -> str:
    """Decode a data file as Path.read_text does (UTF-8, newlines made "\\n")."""
    return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


@functools.lru_cache(maxsize=8)
def _load(directory: str, stamp: tuple, cache: str | None) -> Mapping[str, Vocabulary]:
    """Read every vocabulary in a folder (cached while its files are unchanged)."""
    paths = [
        path
        for path in sorted(Path(directory).glob("*.yml"))
        if path.stem not in NOT_VOCABULARIES
    ]
    if cache is None:
        return {path.stem: read_vocabulary(path) for path in paths}
    files = [(path, path.read_bytes()) for path in paths]
    memo = Path(cache) / f"vocabularies-{_memo_key(files)}.pickle"
    try:
        return pickle.loads(memo.read_bytes())
    except Exception:  # none yet, or damaged: read the files (below)
        pass
    found = {path.stem: read_vocabulary(path, data) for path, data in files}
    with contextlib.suppress(OSError):  # a cache that cannot be written: none
        write_atomic(memo, pickle.dumps(found, pickle.HIGHEST_PROTOCOL))
        keep_newest(cache, "vocabularies-*.pickle", MEMOS_KEPT)
    return found


def _memo_key(files: list[tuple[Path, bytes]]) -> str:
    """Return the digest of what the vocabularies are read from: files and code."""
    parser = DataLoader.__mro__[1].__name__  # LibYAML's or PyYAML's own
    digest = hashlib.sha256(f"{sys.version}\0{yaml.__version__}\0{parser}".encode())
    for module in (__file__, portal.text.__file__):
        digest.update(b"\0" + Path(module).read_bytes())
    for path, data in files:
        digest.update(f"\0{path.name}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()[:32]


def load(directory: str | Path, cache: str | None = None) -> Mapping[str, Vocabulary]:
    """Return the vocabularies of a folder by name ("linh-vuc", "dia-ban", …).

    With a cache folder, what was read is kept there by the SHA-256 of the
    files' bytes and of this code: a build does not parse the same YAML again
    (0.04-0.1 s per build).
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise VocabularyError(f"{folder}: không có thư mục danh mục")
    stamp = tuple(
        (p.name, status.st_mtime_ns, status.st_size)
        for p in sorted(folder.glob("*.yml"))
        for status in (p.stat(),)
    )
    return _load(str(folder.resolve()), stamp, cache)


def from_settings(settings: Mapping) -> Mapping[str, Vocabulary]:
    """Return the vocabularies named by the VOCABULARY_PATH setting.

    Kept in `<CACHE_PATH>/vocabularies` when the settings name a cache folder.
    """
    cache = settings.get("CACHE_PATH")
    folder = os.path.join(cache, "vocabularies") if cache else None
    return load(settings["VOCABULARY_PATH"], folder)
