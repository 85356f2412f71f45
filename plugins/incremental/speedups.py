"""Pelican's own steps that a rebuild pays for on every item, made cheaper.

Same results as Pelican's code (tests/test_incremental_speedups.py compares
them); only the cost changes.
"""

from __future__ import annotations

from collections.abc import Collection
from itertools import groupby
from operator import attrgetter
from typing import Any

import pelican.generators
from pelican.utils import get_original_items

__all__ = ["install", "process_translations"]


def process_translations(
    content_list: list[Any], translation_id: str | Collection[str] | None = None
) -> tuple[list[Any], list[Any]]:
    """Return (originals, translations) as Pelican's process_translations does.

    Pelican 4.12 ends with `[x for x in content_list if x not in index]`, a
    scan of the list of originals for every item (content objects compare by
    identity): 0.3 s at 5,000 items on every build. Here it is a set lookup.
    """
    if not translation_id:
        return content_list, []
    if isinstance(translation_id, str):
        translation_id = {translation_id}
    index: list[Any] = []
    try:
        content_list.sort(key=attrgetter(*translation_id))
    except TypeError:
        raise TypeError(
            f"Cannot unpack {translation_id}, 'translation_id' must be falsy, a"
            " string or a collection of strings"
        ) from None
    except AttributeError:
        raise AttributeError(
            f"Cannot use {translation_id} as 'translation_id', there "
            "appear to be items without these metadata "
            "attributes"
        ) from None
    for id_vals, group in groupby(content_list, attrgetter(*translation_id)):
        id_vals = (id_vals,) if len(translation_id) == 1 else id_vals
        with_str = "with" + ", ".join([' {} "{{}}"'] * len(translation_id)).format(
            *translation_id
        ).format(*id_vals)
        items = list(group)
        index.extend(get_original_items(items, with_str))
        for a in items:
            a.translations = [x for x in items if x != a]
    originals = {id(x) for x in index}
    translations = [x for x in content_list if id(x) not in originals]
    return index, translations


def install() -> None:
    """Make Pelican's generators use the cheaper steps."""
    pelican.generators.process_translations = process_translations
