"""The incremental plugin's cheaper Pelican steps give Pelican's own results."""

from __future__ import annotations

import logging

import pelican.generators
import pelican.utils
import pytest
from incremental import speedups
from pelican.log import LimitFilter


class Item:
    """A stand-in for a Pelican content object (compared by identity)."""

    def __init__(self, slug: str, lang: str, translation: str = "false") -> None:
        self.slug = slug
        self.lang = lang
        self.in_default_lang = lang == "vi"
        self.metadata = {"translation": translation}
        self.source_path = f"{slug}-{lang}-{translation}.md"
        self.translations: list = []


def items() -> list[Item]:
    """Return items with translations, duplicate slugs and translation-only groups."""
    return [
        Item("b", "vi"),
        Item("a", "en"),
        Item("a", "vi"),
        Item("c", "vi"),
        Item("c", "vi"),  # two originals with one slug: Pelican warns
        Item("d", "en", translation="true"),  # all translations: Pelican warns
        Item("e", "fr"),  # no item in the default language
        Item("a", "fr", translation="true"),
    ]


def names(found: list[Item]) -> list[str]:
    """Return the source paths of items, in order."""
    return [i.source_path for i in found]


@pytest.mark.parametrize("translation_id", ["slug", ("slug", "lang"), None, ""])
def test_process_translations_gives_pelicans_results(
    caplog: pytest.LogCaptureFixture, translation_id
) -> None:
    caplog.set_level(logging.WARNING)
    theirs_in = items()
    theirs = pelican.utils.process_translations(theirs_in, translation_id)
    their_log = [r.getMessage() for r in caplog.records]
    caplog.clear()
    LimitFilter._raised_messages.clear()  # Pelican logs a message only once
    LimitFilter._group_count.clear()
    ours_in = items()
    ours = speedups.process_translations(ours_in, translation_id)

    assert [r.getMessage() for r in caplog.records] == their_log
    assert names(ours[0]) == names(theirs[0])
    assert names(ours[1]) == names(theirs[1])
    assert [names(i.translations) for i in ours_in] == [
        names(i.translations) for i in theirs_in
    ]


def test_install_makes_the_generators_use_it(monkeypatch) -> None:
    monkeypatch.setattr(
        pelican.generators, "process_translations", pelican.utils.process_translations
    )
    speedups.install()
    assert pelican.generators.process_translations is speedups.process_translations


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_pauses_only_if_it_ran_and_starts_again(enabled) -> None:
    import gc

    from incremental import incremental

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        incremental.pause_collector()
        assert not gc.isenabled()
        incremental.pause_collector()  # twice: still one pause
        incremental.resume_collector()
        assert gc.isenabled() is enabled  # a collector stopped by the caller stays so
        incremental.resume_collector()
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


@pytest.mark.parametrize("full", [False, True])
def test_a_rebuild_reads_with_the_collector_paused_until_it_freezes(
    monkeypatch, full
) -> None:
    import gc
    from types import SimpleNamespace

    from incremental import incremental

    class Build:
        """A stand-in for the build's records: full or not, nothing produced."""

        def __init__(self, settings, output_path, options) -> None:
            self.full, self.full_reason, self.replaced = full, "test", set()

    monkeypatch.setattr(incremental, "Build", Build)
    monkeypatch.setattr(gc, "freeze", lambda: None)  # the test's heap stays as it is
    pelican = SimpleNamespace(settings={}, output_path="unused")
    was, before = gc.isenabled(), incremental._build
    gc.enable()
    try:
        incremental.start_build(pelican)
        assert gc.isenabled() is full  # a full build parses: the collector runs
        incremental.note_generators([])
        assert gc.isenabled()
    finally:
        incremental._build = before
        incremental.resume_collector()
        (gc.enable if was else gc.disable)()
