"""The one module that reads the vocabularies (fields, localities, kinds).

Each vocabulary is a YAML file in the data folder (`data/linh-vuc.yml`, …) that
editors may change. Everything else asks this module for terms.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from portal.text import fold, nfc, normalise_key, slugify, sort_key

# Which vocabulary each front-matter field is checked against.
FIELD_VOCABULARY = {"category": "linh-vuc", "locality": "dia-ban", "kind": "hinh-thuc"}
# Data files that are not vocabularies (plugins/redirects reads redirects.yml).
NOT_VOCABULARIES = frozenset({"redirects.yml"})


class VocabularyError(ValueError):
    """A vocabulary data file is wrong; the message says where and how to fix it."""


@dataclass(frozen=True)
class Term:
    """One entry of a vocabulary: its slug, short name, full name and aliases."""

    slug: str
    name: str
    full_name: str
    aliases: tuple[str, ...] = ()
    vocabulary: str = ""

    def __str__(self) -> str:
        return self.name

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
    )


def read_vocabulary(path: Path) -> Vocabulary:
    """Read one vocabulary file, checking that slugs and spellings are unique."""
    name = path.stem
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise VocabularyError(f"{path}: không đọc được tệp danh mục: {error}") from None
    raw_terms = data.get("terms") if isinstance(data, dict) else None
    if not isinstance(raw_terms, list):
        raise VocabularyError(f"{path}: cần có danh sách “terms:”")
    terms = [
        _read_term(raw, name, f"{path}: mục {number}")
        for number, raw in enumerate(raw_terms, start=1)
    ]
    slugs = [term.slug for term in terms]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise VocabularyError(f"{path}: slug trùng nhau: {', '.join(duplicates)}")
    return Vocabulary(name=name, label=str(data.get("label") or name), terms=terms)


@functools.lru_cache(maxsize=8)
def _load(directory: str, stamp: tuple) -> Mapping[str, Vocabulary]:
    """Read every vocabulary in a folder (cached while its files are unchanged)."""
    return {path.stem: read_vocabulary(path) for path in _files(Path(directory))}


def _files(folder: Path) -> list[Path]:
    """Return the vocabulary files of a data folder, in a stable order."""
    return sorted(p for p in folder.glob("*.yml") if p.name not in NOT_VOCABULARIES)


def load(directory: str | Path) -> Mapping[str, Vocabulary]:
    """Return the vocabularies of a folder by name ("linh-vuc", "dia-ban", …)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise VocabularyError(f"{folder}: không có thư mục danh mục")
    stamp = tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in _files(folder)
    )
    return _load(str(folder.resolve()), stamp)


def from_settings(settings: Mapping) -> Mapping[str, Vocabulary]:
    """Return the vocabularies named by the VOCABULARY_PATH setting."""
    return load(settings["VOCABULARY_PATH"])
