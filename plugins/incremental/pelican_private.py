"""Every private or internal Pelican name our plugins rely on, with its reason.

Pelican has no public API for these. Each entry is checked by
tests/test_pelican_private.py (one test per name, failing with the name and the
reason on an upgrade that removes it), and at run time: when one is missing, the
incremental plugin falls back to a full build from an empty folder with
Pelican's own writer and no content cache (see incremental.pelican_unsupported).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

__all__ = ["PRIVATE", "missing", "resolve"]

# "module:attribute.path" -> why we use it and why no public name does the job.
PRIVATE: Mapping[str, str] = {
    "pelican.writers:Writer._open_w": (
        "IncrementalWriter overrides it to write a file only when its bytes change "
        "(Writer has no public hook between rendering and writing)"
    ),
    "pelican.writers:Writer._written_files": (
        "IncrementalWriter applies Pelican's own rule on writing a file twice to "
        "pages it skips (the set is made in Writer.__init__)"
    ),
    "pelican.writers:Writer._overridden_files": (
        "same rule, for files written with override_output=True"
    ),
    "pelican.urlwrappers:URLWrapper._slug_from_name": (
        "the content cache pickles a Category/Tag/Author by name and keeps its "
        "slug only when it was given, not derived from the name"
    ),
    "pelican.generators:CachingGenerator.get_cached_data": (
        "the content cache replaces Pelican's per-generator cache with one keyed "
        "by the file's SHA-256 (FileStampDataCacher is internal)"
    ),
    "pelican.generators:CachingGenerator.cache_data": ("same, to store an object"),
    "pelican.generators:CachingGenerator.save_cache": (
        "same: our cache is saved once, when the whole build succeeded"
    ),
    "pelican.generators:process_translations": (
        "speedups.py swaps it for the same code without its quadratic scan "
        "(a module global the generators call, not an API)"
    ),
    "pelican.log:console": (
        "the 'nothing changed' message goes to Pelican's own rich console, like "
        "Pelican's 'Done:' line"
    ),
}

# Attributes set on each instance by __init__ (not on the class): the
# arguments to make one.
INSTANCE: Mapping[str, tuple] = {
    "Writer._written_files": (".",),
    "Writer._overridden_files": (".",),
    "URLWrapper._slug_from_name": ("Kinh tế",),
}


def resolve(name: str) -> object:
    """Return the object a PRIVATE name stands for; AttributeError if it is gone."""
    module_name, _, path = name.partition(":")
    obj: object = importlib.import_module(module_name)
    parts = path.split(".")
    if path in INSTANCE:
        instance = getattr(obj, parts[0])(*INSTANCE[path], settings={})
        return getattr(instance, parts[1])
    for part in parts:
        obj = getattr(obj, part)
    return obj


def missing() -> list[str]:
    """Return the PRIVATE names this Pelican does not have."""
    gone = []
    for name in PRIVATE:
        try:
            resolve(name)
        except (AttributeError, ImportError, TypeError):
            gone.append(name)
    return gone
