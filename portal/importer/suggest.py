"""Suggesting an article's field and locality from the vocabularies' spellings."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from portal.text import nfc
from portal.vocab import Vocabulary

TITLE_WEIGHT = 3
# At or above this confidence a suggestion fills the field; below, it is only shown.
SURE = 0.6


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


def suggest(vocabulary: Vocabulary, title: str, body: str) -> Suggestion | None:
    """Return the term named most in the title and body, with a confidence."""
    title, body = nfc(title).casefold(), nfc(body).casefold()
    scores: dict[str, int] = {}
    for term in vocabulary:
        score = 0
        for spelling in {term.name, term.full_name, *term.aliases}:
            pattern = _pattern(spelling)
            score += TITLE_WEIGHT * len(pattern.findall(title))
            score += len(pattern.findall(body))
        if score:
            scores[term.name] = score
    if not scores:
        return None
    best = max(scores, key=lambda name: (scores[name], name))
    share = scores[best] / sum(scores.values())
    strength = min(1.0, scores[best] / 3)
    return Suggestion(best, round(share * strength, 2))


def suggest_all(
    vocabularies: Mapping[str, Vocabulary], title: str, body: str
) -> dict[str, Suggestion | None]:
    """Return the suggested field ("category") and locality of an article."""
    return {
        "category": suggest(vocabularies["linh-vuc"], title, body),
        "locality": suggest(vocabularies["dia-ban"], title, body),
    }


@functools.lru_cache(maxsize=1024)
def _pattern(spelling: str) -> re.Pattern:
    """Return a case-folded, whole-word pattern for one spelling of a term."""
    words = [re.escape(word) for word in nfc(spelling).casefold().split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")
