"""Suggesting an article's field and locality from the vocabularies' spellings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from portal.text import nfc
from portal.vocab import Term, Vocabulary

TITLE_WEIGHT = 3
# At or above this confidence a suggestion fills the field; below, it is only shown.
SURE = 0.6
# One matcher per vocabulary object: (the vocabulary, its pattern, spelling -> term).
_MATCHERS: dict[int, tuple[Vocabulary, re.Pattern, dict[str, Term]]] = {}


@dataclass(frozen=True)
class Suggestion:
    """A term of a vocabulary suggested for an article, with a confidence in 0–1."""

    name: str
    confidence: float

    @property
    def sure(self) -> bool:
        """Tell whether the suggestion is confident enough to fill the field."""
        return self.confidence >= SURE

    def __str__(self) -> str:
        return f"{self.name} ({round(self.confidence * 100)}%)"


def suggest(
    vocabulary: Vocabulary, title: str, body: str, year: int | None = None
) -> Suggestion | None:
    """Return the term named most in the title and body, with a confidence.

    Where spellings overlap ("Hàm Thuận" in "Hàm Thuận Bắc") the longest counts;
    given the article's year, terms that did not exist then are not counted.
    """
    scores: dict[str, int] = {}
    for text, weight in ((title, TITLE_WEIGHT), (body, 1)):
        for term in _mentions(vocabulary, text):
            if year is None or term.valid_in(year):
                scores[term.name] = scores.get(term.name, 0) + weight
    if not scores:
        return None
    best = max(scores, key=lambda name: (scores[name], name))
    share = scores[best] / sum(scores.values())
    strength = min(1.0, scores[best] / 3)
    return Suggestion(best, round(share * strength, 2))


def suggest_all(
    vocabularies: Mapping[str, Vocabulary],
    title: str,
    body: str,
    year: int | None = None,
) -> dict[str, Suggestion | None]:
    """Return the suggested field ("category") and locality of an article."""
    return {
        "category": suggest(vocabularies["linh-vuc"], title, body),
        "locality": suggest(vocabularies["dia-ban"], title, body, year),
    }


def _mentions(vocabulary: Vocabulary, text: str) -> list[Term]:
    """Return the terms a text names, leftmost-longest, without overlaps."""
    pattern, terms = _matcher(vocabulary)
    key = " ".join(nfc(text).casefold().split())
    return [terms[match.group(0)] for match in pattern.finditer(key)]


def _matcher(vocabulary: Vocabulary) -> tuple[re.Pattern, dict[str, Term]]:
    """Return one whole-word pattern of every spelling, longest first, and its terms."""
    cached = _MATCHERS.get(id(vocabulary))
    if cached is not None and cached[0] is vocabulary:
        return cached[1], cached[2]
    terms: dict[str, Term] = {}
    for term in vocabulary:
        for spelling in (term.name, term.full_name, *term.aliases):
            terms.setdefault(" ".join(nfc(spelling).casefold().split()), term)
    spellings = sorted(terms, key=len, reverse=True)
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(s) for s in spellings) + r")(?!\w)"
    )
    _MATCHERS[id(vocabulary)] = (vocabulary, pattern, terms)
    return pattern, terms
