"""Vietnamese text helpers: normalisation, slugs, folding, sorting and dates."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata

from unidecode import unidecode

# The Vietnamese alphabet, with the Latin letters it lacks (f j w z) at their places.
ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_RANK = {letter: index for index, letter in enumerate(ALPHABET)}
# Tone marks in dictionary order: ngang, huyền, hỏi, ngã, sắc, nặng.
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


def nfc(text: str) -> str:
    """Return text in Unicode NFC, the form every page and file uses."""
    return unicodedata.normalize("NFC", text)


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """Turn a Vietnamese title into an ASCII URL slug ("Đổi rác" -> "doi-rac")."""
    return _NOT_SLUG.sub("-", unidecode(nfc(text)).lower()).strip("-")


def fold(text: str) -> str:
    """Fold case and strip every diacritic, đ included, for loose matching."""
    text = nfc(text).casefold().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())


@functools.lru_cache(maxsize=4096)  # the same few hundred names, in every file
def normalise_key(text: str) -> str:
    """Return text case-folded, white space collapsed, tone marks placed one way.

    Vietnamese writes a syllable's tone on either vowel ("Thuỷ" and "Thủy",
    "Hoà" and "Hòa"): both spellings give the same key.
    """
    folded = " ".join(nfc(text).casefold().split())
    return _SYLLABLE.sub(_tone_last, folded)


# Vietnamese tone marks (combining grave, acute, tilde, hook above, dot below).
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_SYLLABLE = re.compile(r"[^\W\d_]+")


def _tone_last(match: re.Match) -> str:
    """Key "hoà"/"hòa", "thuỷ"/"thủy" alike: the tone after the letters.

    Only open syllables ending in oa, oe, uy (not qu-) have the two placements;
    any other syllable is kept as written, so "Qúy" stays a misspelling of "Quý".
    """
    parts = unicodedata.normalize("NFD", match.group())
    tones = [c for c in parts if c in _TONE_MARKS]
    letters = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
    if len(tones) != 1 or letters.startswith("qu"):
        return match.group()
    if not letters.endswith(("oa", "oe", "uy")):
        return match.group()
    return letters + tones[0]


def _char_key(char: str) -> tuple[tuple[int, int | str], int]:
    """Return one character's place in the alphabet and its tone rank."""
    tone = 0
    kept = []
    for part in unicodedata.normalize("NFD", char):
        if part in _TONES:
            tone = _TONES[part]
        else:
            kept.append(part)
    base = unicodedata.normalize("NFC", "".join(kept))
    if base in _RANK:
        return (1, _RANK[base]), tone
    if base.isdigit():
        return (0, base), tone
    if base.isspace() or not base.isalnum():
        return (-1, " "), tone
    return (2, base), tone


def _char_code(char: str) -> str:
    """Return one character's place in the alphabet as text that sorts the same.

    Groups in order: spaces and punctuation, digits, letters of the alphabet,
    other letters; a digit or other letter is ended by NUL, so a longer one
    sorts after its prefix as its tuple would.
    """
    (group, value), _tone = _char_key(char)
    if group == -1:
        return "\x01"
    if group == 1:
        return "\x03" + chr(value + 1)
    return ("\x02" if group == 0 else "\x04") + value + "\x00"


class _Codes(dict):
    """Each character's code, made on first use (looked up in C by sort_key)."""

    def __init__(self, code) -> None:
        super().__init__()
        self.code = code

    def __missing__(self, char: str) -> str:
        code = self[char] = self.code(char)
        return code


_LETTERS = _Codes(_char_code)
_TONE_CODES = _Codes(lambda char: chr(_char_key(char)[1]))


@functools.lru_cache(maxsize=65536)  # titles are sorted by several indexes
def sort_key(text: str) -> tuple[str, str, str]:
    """Key that orders strings by the Vietnamese alphabet, then by tone.

    Its letters and tones are coded as text (_char_code), which compares
    faster than tuples and orders as the characters' keys (_char_key) would.
    """
    folded = nfc(text).casefold()
    letters = "".join(map(_LETTERS.__getitem__, folded))
    return letters, "".join(map(_TONE_CODES.__getitem__, folded)), text


def title_key(item) -> tuple[str, str, str]:
    """Return the sort key of an item's title, the one kept with it when it was read."""
    key = getattr(item, "title_key", None)
    title = item.title
    if key is None or key[2] != title:
        return sort_key(title)
    return key


def format_date(value: dt.date) -> str:
    """Format a date the Vietnamese way: 29/11/2026."""
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


def format_weekday_date(value: dt.date) -> str:
    """Format a date with its weekday: Chủ nhật, 29/11/2026."""
    return f"{WEEKDAYS[value.weekday()]}, {format_date(value)}"
