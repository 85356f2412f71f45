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
