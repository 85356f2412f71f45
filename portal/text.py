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


def slugify(text: str) -> str:
    """Turn a Vietnamese title into an ASCII URL slug ("Đổi rác" -> "doi-rac")."""
    ascii_text = unidecode(nfc(text)).lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def fold(text: str) -> str:
    """Fold case and strip every diacritic, đ included, for loose matching."""
    text = nfc(text).casefold().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())


def normalise_key(text: str) -> str:
    """Return text NFC-normalised, case-folded and with white space collapsed."""
    return " ".join(nfc(text).casefold().split())


@functools.lru_cache(maxsize=4096)  # few distinct characters: sort keys get cheap
def _split_tone(char: str) -> tuple[str, int]:
    """Split one character into its toneless letter and its tone rank."""
    tone = 0
    kept = []
    for part in unicodedata.normalize("NFD", char):
        if part in _TONES:
            tone = _TONES[part]
        else:
            kept.append(part)
    return unicodedata.normalize("NFC", "".join(kept)), tone


def sort_key(text: str) -> tuple:
    """Key that orders strings by the Vietnamese alphabet, then by tone."""
    letters: list[tuple[int, int | str]] = []
    tones: list[int] = []
    for char in nfc(text).casefold():
        base, tone = _split_tone(char)
        if base in _RANK:
            letters.append((1, _RANK[base]))
        elif base.isdigit():
            letters.append((0, base))
        elif base.isspace() or not base.isalnum():
            letters.append((-1, " "))
        else:
            letters.append((2, base))
        tones.append(tone)
    return (tuple(letters), tuple(tones), text)


def format_date(value: dt.date) -> str:
    """Format a date the Vietnamese way: 29/11/2026."""
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


def format_weekday_date(value: dt.date) -> str:
    """Format a date with its weekday: Chủ nhật, 29/11/2026."""
    return f"{WEEKDAYS[value.weekday()]}, {format_date(value)}"
