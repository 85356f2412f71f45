"""The content cache: objects back by file hash, and which of their fields are "own"."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from incremental.contentcache import ContentCache, links_within_site


class Item:
    """A stand-in for a Pelican content object."""

    def __init__(self, source_path: str, context: dict) -> None:
        self.source_path = source_path
        self._context = context
        self.title = "Tiêu đề"
        self.note = None
        self.tags = ["a"]


def cache_with(tmp_path: Path, hashes: dict, load: bool = True) -> ContentCache:
    """Return a cache in tmp_path whose files have the given hashes."""
    return ContentCache(str(tmp_path / "c.sqlite"), hashes.__getitem__, load)


@pytest.fixture
def generator(tmp_path: Path) -> SimpleNamespace:
    """Return the parts of a generator the cache uses."""
    return SimpleNamespace(path=str(tmp_path), settings={"PATH": "x"}, context={})


def test_an_object_comes_back_only_for_the_same_bytes(tmp_path, generator) -> None:
    path = str(tmp_path / "a.md")
    first = cache_with(tmp_path, {path: b"1"}, load=False)
    item = Item(path, generator.context)
    first.put(generator, path, item)
    item.override_url = "a/"  # pinned after reading: kept beside the object
    first.save()

    again = cache_with(tmp_path, {path: b"1"})
    back = again.get(generator, path)
    assert back is not item and back.title == "Tiêu đề" and back.override_url == "a/"
    assert back._context is generator.context  # shared objects by reference
    assert again.unchanged(back)
    assert cache_with(tmp_path, {path: b"2"}).get(generator, path, "none") == "none"


def test_classes_and_builtins_are_kept_by_name(tmp_path, generator) -> None:
    """What pickle names in every pickle comes back as the same objects, by name."""
    import collections
    import datetime
    import pickletools
    import sqlite3
    import zoneinfo

    path = str(tmp_path / "a.md")
    first = cache_with(tmp_path, {path: b"1"}, load=False)
    item = Item(path, generator.context)
    zone = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
    item.date = datetime.datetime(2026, 12, 7, 8, 30, tzinfo=zone)
    item.kinds = [collections.OrderedDict, len, zone.utcoffset, Item]
    first.put(generator, path, item)
    first.save()
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        (data,) = db.execute("SELECT data FROM contents").fetchone()
    opcodes = {op.name for op, _, _ in pickletools.genops(data)}
    assert not opcodes & {"GLOBAL", "STACK_GLOBAL"}  # every name a reference

    back = cache_with(tmp_path, {path: b"1"}).get(generator, path)
    assert type(back) is Item and back.date == item.date
    assert back.date.tzinfo is zone and type(back.date) is datetime.datetime
    assert back.kinds[0] is collections.OrderedDict and back.kinds[1] is len
    assert back.kinds[2] == zone.utcoffset and back.kinds[3] is Item


def test_field_names_are_kept_once_not_in_every_pickle(tmp_path, generator) -> None:
    """Each pickle holds its fields' values; their names (and its metadata's) are
    in the table of names, once; the object comes back with the same fields in
    the same order, values shared between fields and metadata still shared; a
    pickle naming a table entry that is gone is read again."""
    import sqlite3

    items = {}
    first = cache_with(tmp_path, {}, load=False)
    first.hash_of = lambda path: b"1"
    for name in ("a", "b"):
        path = str(tmp_path / f"{name}.md")
        item = items[path] = Item(path, generator.context)
        item.metadata = {"title": item.title, "tags": item.tags, "slug": name}
        first.put(generator, path, item)
    first.save()
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        pickles = [row[0] for row in db.execute("SELECT data FROM contents")]
        names = [row[0] for row in db.execute("SELECT names FROM names")]
    assert len(pickles) == 2 and len(names) == 2  # the fields', the metadata's
    for data in pickles:
        assert b"source_path" not in data and b"slug" not in data

    again = cache_with(tmp_path, {})
    again.hash_of = lambda path: b"1"
    for path, item in items.items():
        back = again.get(generator, path)
        assert list(vars(back)) == list(vars(item))
        assert back.metadata == item.metadata and list(back.metadata) == [
            "title",
            "tags",
            "slug",
        ]
        assert back.metadata["tags"] is back.tags and back._context is generator.context
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        db.execute("DELETE FROM names")
    gone = cache_with(tmp_path, {})
    gone.hash_of = lambda path: b"1"
    assert gone.get(generator, next(iter(items)), "none") == "none"


@pytest.mark.parametrize("text", ['"title"', '{"title": 1}', "[1, 2]", "not json"])
def test_a_damaged_table_of_names_means_an_empty_cache(tmp_path, generator, text):
    """A row of the table of names that is not a JSON list of strings: the cache
    starts empty (every file read again), never a wrong object."""
    import sqlite3

    path = str(tmp_path / "a.md")
    first = cache_with(tmp_path, {path: b"1"}, load=False)
    first.put(generator, path, Item(path, generator.context))
    first.save()
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        db.execute("UPDATE names SET names = ?", (text,))
    again = cache_with(tmp_path, {path: b"1"})
    assert again.index == {} and again.get(generator, path, "none") == "none"


def test_own_fields_are_the_fields_as_built(tmp_path, generator) -> None:
    path = str(tmp_path / "a.md")
    cache = cache_with(tmp_path, {path: b"1"}, load=False)
    item = Item(path, generator.context)
    cache.put(generator, path, item)
    item.related = []  # set by a plugin after reading
    own = cache.own_fields(item)
    assert own(("a", "title")) and own(("a", "tags")) and own(("a", "note"))
    assert own(("a", "content"))  # Pelican's properties made of own fields
    assert not own(("a", "related"))
    assert not own(("a", "_context"))
    assert not own(("i", "title"))
    item.title = "Khác"  # replaced since
    del item.note  # deleted since (it was None)
    assert not own(("a", "title")) and not own(("a", "note"))
    assert cache.own_fields(Item(path, {})) is None  # not the object it built
    assert not cache.unchanged(item)  # built from its bytes in this build


def test_a_damaged_file_means_an_empty_cache(tmp_path, generator) -> None:
    (tmp_path / "c.sqlite").write_bytes(b"\x80 not a database")
    path = str(tmp_path / "a.md")
    cache = cache_with(tmp_path, {path: b"1"})
    assert cache.get(generator, path, "none") == "none"
    cache.put(generator, path, Item(path, generator.context))
    cache.save()
    assert cache_with(tmp_path, {path: b"1"}).get(generator, path) is not None


def test_a_body_is_read_from_the_cache_only_when_asked_for(tmp_path) -> None:
    import copy
    import datetime
    import pickle

    from pelican.contents import Article
    from pelican.settings import DEFAULT_CONFIG

    settings = copy.deepcopy(DEFAULT_CONFIG)
    settings["PATH"] = str(tmp_path)
    context = {"static_content": {}, "generated_content": {}}
    generator = SimpleNamespace(path=str(tmp_path), settings=settings, context=context)
    bodies = {
        name: f'<p>Bài {name} <img src="{{static}}/images/{name}.jpg"></p>'
        for name in ("a", "b")
    }
    bodies["c"] = "<p>Bài c, không có liên kết.</p>"
    paths = {name: str(tmp_path / f"{name}.md") for name in bodies}
    first = cache_with(tmp_path, {p: b"1" for p in paths.values()}, load=False)
    built = {}
    for name, body in bodies.items():
        built[name] = Article(
            body,
            {"title": name, "date": datetime.datetime(2026, 1, 1)},
            settings=settings,
            source_path=paths[name],
            context=generator.context,
        )
        first.put(generator, paths[name], built[name])
    first.save()

    again = cache_with(tmp_path, {p: b"1" for p in paths.values()})
    for name in ("b", "c", "a"):
        back = again.get(generator, paths[name])
        assert type(back).__name__ == "Article" and isinstance(back, Article)
        assert "_content" not in back.__dict__  # not decoded yet
        links = back.get_static_links()
        assert links == built[name].get_static_links()
        assert links == (set() if name == "c" else {f"images/{name}.jpg"})
        assert links_within_site(back) is links_within_site(built[name])
        assert links_within_site(back) is (name != "c")
        assert "_content" not in back.__dict__
        assert copy.copy(back)._content == bodies[name]  # a copy holds the body
        assert back.content == built[name].content and back._content == bodies[name]
        assert back.get_static_links() == links
        unpickled = pickle.loads(pickle.dumps(back))
        assert type(unpickled) is Article and unpickled._content == bodies[name]
        back._content = '<a href="{filename}/x.md">x</a>'  # replaced by a plugin
        assert back.get_static_links() == set() and links_within_site(back)


def test_a_body_is_fetched_by_its_hash_in_each_process(tmp_path) -> None:
    """A body not read yet comes from its row, only while it holds the same bytes."""
    import copy
    import datetime
    import os

    from pelican.contents import Article
    from pelican.settings import DEFAULT_CONFIG

    settings = copy.deepcopy(DEFAULT_CONFIG)
    settings["PATH"] = str(tmp_path)
    context = {"static_content": {}, "generated_content": {}}
    generator = SimpleNamespace(path=str(tmp_path), settings=settings, context=context)
    paths = {name: str(tmp_path / f"{name}.md") for name in "abc"}

    def cache(version: bytes, load: bool = True) -> ContentCache:
        return cache_with(tmp_path, {p: version for p in paths.values()}, load)

    def build(version: bytes) -> None:
        fresh = cache(version)
        for name, path in paths.items():
            body = f"<p>{name} {version.decode()}</p>"
            date = datetime.datetime(2026, 1, 1)
            item = Article(body, {"title": name, "date": date}, settings, path, context)
            fresh.put(generator, path, item)
        fresh.save()

    build(b"1")
    again = cache(b"1")
    items = {name: again.get(generator, path) for name, path in paths.items()}
    assert items["a"].content == "<p>a 1</p>"
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # a render pool's worker: its own connection
        os.write(write, items["b"].content.encode())
        os._exit(0)
    os.close(write)
    assert os.read(read, 100) == b"<p>b 1</p>"
    os.close(read)
    assert os.waitpid(child, 0)[1] == 0
    build(b"2")  # another build replaced the rows in place
    with pytest.raises(LookupError):
        items["c"].content  # noqa: B018 - never another file's body


def test_the_vocabularies_terms_come_back_as_themselves(tmp_path) -> None:
    import dataclasses
    import shutil

    from portal import vocab

    data = tmp_path / "data"
    shutil.copytree(Path(__file__).parent.parent / "data", data)
    settings = {"PATH": "x", "VOCABULARY_PATH": str(data)}
    generator = SimpleNamespace(path=str(tmp_path), settings=settings, context={})
    fields = vocab.from_settings(settings)["linh-vuc"]
    path = str(tmp_path / "a.md")
    item = Item(path, generator.context)
    item.field = fields.terms[0]
    item.copied = dataclasses.replace(fields.terms[1])  # as the readpool sends it
    item.other = dataclasses.replace(fields.terms[2], name="Khác")  # not the same
    first = cache_with(tmp_path, {path: b"1"}, load=False)
    first.put(generator, path, item)
    first.save()

    back = cache_with(tmp_path, {path: b"1"}).get(generator, path)
    assert back.field is fields.terms[0] and back.copied is fields.terms[1]
    assert back.other == item.other and back.other.name == "Khác"

    # A term whose slug is no longer in the vocabulary: the file is read again.
    text = (data / "linh-vuc.yml").read_text("utf-8")
    slug = fields.terms[0].slug
    (data / "linh-vuc.yml").write_text(text.replace(slug, slug + "-moi"), "utf-8")
    assert cache_with(tmp_path, {path: b"1"}).get(generator, path, "none") == "none"


def articles_in_cache(tmp_path: Path, summaries: dict[str, str]) -> tuple:
    """Cache one Pelican Article per summary; return (generator, built, cache again)."""
    import copy
    import datetime

    from pelican.contents import Article
    from pelican.settings import DEFAULT_CONFIG

    settings = copy.deepcopy(DEFAULT_CONFIG)
    settings["PATH"] = str(tmp_path)
    context = {"static_content": {}, "generated_content": {}, "localsiteurl": ""}
    generator = SimpleNamespace(path=str(tmp_path), settings=settings, context=context)
    paths = {name: str(tmp_path / "news" / f"{name}.md") for name in summaries}
    first = cache_with(tmp_path, {p: b"1" for p in paths.values()}, load=False)
    built = {}
    for name, summary in summaries.items():
        built[name] = Article(
            f"<p>Bài {name}.</p>",
            {"title": name, "date": datetime.datetime(2026, 1, 1), "summary": summary},
            settings=settings,
            source_path=paths[name],
            context=context,
        )
        first.put(generator, paths[name], built[name])
    first.save()
    again = cache_with(tmp_path, {p: b"1" for p in paths.values()})
    back = {name: again.get(generator, path) for name, path in paths.items()}
    return generator, built, back


def test_a_cached_item_gives_pelicans_relative_source_path(tmp_path) -> None:
    _, built, back = articles_in_cache(tmp_path, {"a": "Tóm tắt."})
    assert back["a"].get_relative_source_path() == "news/a.md"
    assert back["a"].get_relative_source_path() == built["a"].relative_source_path
    assert back["a"].get_relative_source_path(str(tmp_path / "b.md")) == "b.md"
    back["a"].source_path = str(tmp_path / "moved.md")  # not the path it was built at
    assert back["a"].get_relative_source_path() == "moved.md"


def test_summary_links_are_formatted_again_only_where_they_can_change(
    tmp_path,
) -> None:
    link = '<a href="{filename}/news/target.md">đích</a>'
    generator, built, back = articles_in_cache(
        tmp_path,
        {"linked": f"Xem {link}.", "plain": "Không có liên kết.", "target": ""},
    )
    generated = generator.context["generated_content"]
    generated["news/target.md"] = back["target"]
    back["target"].override_url = "tin-tuc/dich-cu/"
    for item in back.values():
        item.refresh_metadata_intersite_links()
    assert back["linked"]._summary == 'Xem <a href="/tin-tuc/dich-cu/">đích</a>.'
    # The target moves: the linking item's summary follows, as Pelican's would.
    back["target"].override_url = "tin-tuc/dich-moi/"
    back["linked"]._summary = back["linked"].metadata["summary"] = f"Xem {link}."
    expected = copy_refreshed(built["linked"], generated)
    back["linked"].refresh_metadata_intersite_links()
    assert back["linked"]._summary == 'Xem <a href="/tin-tuc/dich-moi/">đích</a>.'
    assert back["linked"]._summary == expected._summary
    # Without a link the summary is kept, the same object; Pelican's copy agrees.
    plain = back["plain"]._summary
    back["plain"].refresh_metadata_intersite_links()
    assert (
        back["plain"]._summary is plain and back["plain"].metadata["summary"] is plain
    )
    assert back["plain"]._summary == copy_refreshed(built["plain"], generated)._summary
    # A plugin puts a link into a summary built without one: it is formatted.
    back["plain"]._summary = f"Nay có {link}."
    back["plain"].refresh_metadata_intersite_links()
    assert back["plain"]._summary == 'Nay có <a href="/tin-tuc/dich-moi/">đích</a>.'
    assert back["plain"].metadata["summary"] == back["plain"]._summary


def copy_refreshed(item, generated: dict):
    """Return a copy of a Pelican object refreshed by Pelican's own method."""
    import copy

    from pelican.contents import Content

    other = copy.copy(item)
    other.metadata = dict(item.metadata)
    other._context = {**item._context, "generated_content": generated}
    Content.refresh_metadata_intersite_links(other)
    return other


@pytest.mark.parametrize(
    ("regex", "field", "text", "found"),
    [
        (None, "summary", '<a href="{filename}/b.md">b</a>', True),
        (None, "title", "Tên có {filename}/b.md", True),
        (None, "summary", "<a href='|filename|/b.md'>b</a>", True),
        (None, "summary", "Không có liên kết nào {", False),
        (None, "title", "Không có gì cả", False),
        # Another pattern: its matches need not start with "{" or "|".
        (r"<<(?P<what>.*?)>>", "summary", "<a href='<<filename>>/b.md'>b</a>", True),
        (r"<<(?P<what>.*?)>>", "title", "{filename}/b.md", False),
    ],
)
def test_links_within_site_searches_every_text(
    tmp_path, regex: str | None, field: str, text: str, found: bool
) -> None:
    """A link pattern in the summary or any metadata is found, by any pattern."""
    import copy
    import datetime

    from pelican.contents import Article
    from pelican.settings import DEFAULT_CONFIG

    settings = copy.deepcopy(DEFAULT_CONFIG)
    if regex is not None:
        settings["INTRASITE_LINK_REGEX"] = regex
    metadata = {"title": "Bài", "date": datetime.datetime(2026, 1, 1), "year": 2026}
    metadata[field] = text
    item = Article(
        "<p>Bài không có liên kết.</p>",
        metadata,
        settings=settings,
        source_path=str(tmp_path / "a.md"),
        context={"static_content": {}, "generated_content": {}},
    )
    assert links_within_site(item) is found


def test_plain_values_are_pickled_as_the_full_check_would(tmp_path, monkeypatch):
    """The types persistent_id passes over first never were kept by reference.

    The same Pelican Article (settings, context, a category, a date, lists) is
    pickled with and without that first check: the same bytes. Fails when a type
    that may be a reference (a dict: the settings, the context) is passed over.
    """
    import copy
    import datetime

    from incremental import contentcache
    from pelican.contents import Article
    from pelican.settings import DEFAULT_CONFIG
    from pelican.urlwrappers import Category
    from pelican.utils import SafeDatetime

    settings = copy.deepcopy(DEFAULT_CONFIG)
    settings["PATH"] = str(tmp_path)
    context = {"static_content": {}, "generated_content": {}}
    generator = SimpleNamespace(path=str(tmp_path), settings=settings, context=context)
    path = str(tmp_path / "a.md")
    metadata = {
        "title": "Bài",
        "date": SafeDatetime(2026, 1, 1),
        "modified": datetime.datetime(2026, 1, 2),
        "category": Category("Tin tức", settings),
        "tags": ["a", "b"],
        "year": 2026,
        "score": 1.5,
        "pair": (1, "x"),
    }

    def pickled() -> bytes:
        cache = cache_with(tmp_path, {path: b"1"}, load=False)
        item = Article("<p>Bài.</p>", metadata, settings, path, context)
        item.settings_again, item.context_again = settings, context
        cache.put(generator, path, item)
        return cache.rows[0][2]

    quick = pickled()
    monkeypatch.setattr(contentcache, "_BY_VALUE", frozenset())
    assert quick == pickled()


def test_a_cached_body_holds_a_link_of_another_pattern(tmp_path) -> None:
    """Whether a body links within the site is kept for any pattern.

    Pelican's own pattern starts with "{" or "|" (a body without either is not
    searched); another pattern's matches need not.
    """
    import copy
    import datetime

    from pelican.contents import Article
    from pelican.settings import DEFAULT_CONFIG

    settings = copy.deepcopy(DEFAULT_CONFIG)
    settings["PATH"] = str(tmp_path)
    settings["INTRASITE_LINK_REGEX"] = r"<<(?P<what>.*?)>>"
    context = {"static_content": {}, "generated_content": {}}
    generator = SimpleNamespace(path=str(tmp_path), settings=settings, context=context)
    bodies = {"a": "<p><a href='<<filename>>/b.md'>b</a></p>", "b": "<p>{x} |y|</p>"}
    paths = {name: str(tmp_path / f"{name}.md") for name in bodies}
    first = cache_with(tmp_path, {p: b"1" for p in paths.values()}, load=False)
    for name, body in bodies.items():
        date = datetime.datetime(2026, 1, 1)
        item = Article(body, {"title": name, "date": date}, settings, paths[name])
        first.put(generator, paths[name], item)
    first.save()
    again = cache_with(tmp_path, {p: b"1" for p in paths.values()})
    back = {name: again.get(generator, path) for name, path in paths.items()}
    assert links_within_site(back["a"]) and not links_within_site(back["b"])
    assert all("_content" not in item.__dict__ for item in back.values())


def test_staged_rows_are_committed_by_save_only_and_made_again_when_changed(
    tmp_path, generator
) -> None:
    """`stage` writes the rows early; `discard` leaves the file as it was, `save`
    commits them, or writes again what changed since (a put, a URL pinned)."""
    import sqlite3

    paths = [str(tmp_path / f"{name}.md") for name in "abc"]
    hashes = dict.fromkeys(paths, b"1")

    def rows() -> list[tuple]:
        db = sqlite3.connect(tmp_path / "c.sqlite")
        try:
            query = "SELECT path, hash, data, url, save_as, body FROM contents"
            return sorted(db.execute(query + " ORDER BY path"))
        finally:
            db.close()

    first = cache_with(tmp_path, hashes, load=False)
    first.put(generator, paths[0], Item(paths[0], generator.context))
    first.save()
    before = rows()

    failed = cache_with(tmp_path, hashes)
    failed.get(generator, paths[0])
    failed.put(generator, paths[1], Item(paths[1], generator.context))
    failed.stage()
    assert rows() == before  # another connection sees the last build's rows
    failed.discard()
    assert rows() == before

    late = cache_with(tmp_path, hashes)
    late.get(generator, paths[0]).override_url = "a/"
    late.put(generator, paths[1], Item(paths[1], generator.context))
    late.stage()
    late.put(generator, paths[2], Item(paths[2], generator.context))  # after it
    late.live[paths[1]].override_url = "b/"
    late.save()
    staged = rows()

    plain = cache_with(tmp_path / "plain", hashes, load=False)
    plain.put(generator, paths[0], Item(paths[0], generator.context))
    plain.save()
    plain = cache_with(tmp_path / "plain", hashes)
    plain.get(generator, paths[0]).override_url = "a/"
    plain.put(generator, paths[1], Item(paths[1], generator.context))
    plain.put(generator, paths[2], Item(paths[2], generator.context))
    plain.live[paths[1]].override_url = "b/"
    plain.save()
    (tmp_path / "c.sqlite").rename(tmp_path / "staged.sqlite")
    (tmp_path / "plain" / "c.sqlite").rename(tmp_path / "c.sqlite")
    assert staged == rows() and len(staged) == 3
