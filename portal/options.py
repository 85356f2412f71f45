"""A plugin's options: one dict setting merged with the plugin's defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def merge_options(
    settings: Mapping,
    setting: str,
    defaults: Mapping[str, Any],
    prefix: str,
    error: type[Exception] = ValueError,
) -> dict[str, Any]:
    """Merge the dict `setting` over `defaults`; a non-dict or unknown key is an error."""
    given = settings.get(setting)
    given = {} if given is None else given
    if not isinstance(given, Mapping):
        raise error(f"{prefix}: {setting} must be a dict, not {type(given).__name__}")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise error(f"{prefix}: unknown {setting} keys: {', '.join(unknown)}")
    return {**defaults, **given}


def merge_named_options(
    settings: Mapping,
    setting: str,
    entry: Mapping[str, Any],
    named: Mapping[str, Mapping[str, Any]],
    prefix: str,
    error: type[Exception] = ValueError,
    extend: bool = True,
) -> dict[str, dict[str, Any]]:
    """Merge a dict setting of named entries, each over `entry` and its own default.

    `named` holds the default entries: with `extend`, a setting adds to them and
    changes them by name; without it, a given setting replaces them all. A
    non-dict setting or entry, or a key `entry` does not have, is an error.
    """
    given = settings.get(setting)
    if given is None:
        given = {} if extend else named
    if not isinstance(given, Mapping):
        raise error(f"{prefix}: {setting} must be a dict, not {type(given).__name__}")
    merged = {}
    for name in {**named, **given} if extend else given:
        mine = given.get(name)
        mine = {} if mine is None else mine
        if not isinstance(mine, Mapping):
            raise error(
                f"{prefix}: {setting}[{name!r}] must be a dict,"
                f" not {type(mine).__name__}"
            )
        unknown = sorted(set(mine) - set(entry))
        if unknown:
            raise error(
                f"{prefix}: unknown {setting}[{name!r}] keys: {', '.join(unknown)};"
                f" allowed: {', '.join(entry)}"
            )
        merged[name] = (
            {**entry, **named.get(name, {}), **mine}
            if extend
            else {
                **entry,
                **mine,
            }
        )
    return merged


def check_whole_numbers(
    options: Mapping[str, Any],
    least: Mapping[str, int],
    setting: str,
    prefix: str,
    error: type[Exception] = ValueError,
) -> None:
    """Raise `error` unless each option named in `least` is an int at least its bound."""
    for key, bound in least.items():
        value = options[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < bound:
            raise error(
                f"{prefix}: {setting}[{key!r}] must be a whole number >= {bound}"
            )


def usable_cores() -> int:
    """Return how many cores this process may run on."""
    return len(os.sched_getaffinity(0))


def workers_or_cores(count: int) -> int:
    """Return a workers setting's count, or every usable core when it is 0."""
    return count or usable_cores()
