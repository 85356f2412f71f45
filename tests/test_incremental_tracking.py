"""The read records of one template: replayed, they see every change that matters."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import functools
from collections.abc import Mapping

import pytest
from incremental.tracking import (
    Nodes,
    Recorder,
    Replayer,
    Shared,
    TrackingContext,
    track,
)
from jinja2 import Environment
from pelican.utils import DateFormatter


class Item:
    """A stand-in for a Pelican content object (identity by source path)."""

    def __init__(self, title: str, tags: list[str] | None = None) -> None:
        self._context: dict = {}
        self.source_path = title
        self.title = title
        self.tags = tags or []

    def get_url(self) -> str:
        return "/" + self.title


def render_and_check(source: str, before: dict, after: dict) -> tuple[bool, bool]:
    """Render with records; return (replay says same, rendered output same)."""
    env = Environment(extensions=["jinja2.ext.loopcontrols"])
    env.context_class = TrackingContext
    template = env.from_string(source)
    recorder = Recorder(before, Shared())
    with track(recorder):
        first = template.render(before)
    assert recorder.untracked is None, recorder.untracked
    nodes = Nodes()
    roots, recorded, _ = nodes.record(recorder.reads)
    same = Replayer(Shared(), nodes).page_digest(roots, after, memo=True)[0] == recorded
    return same, template.render(after) == first


ITEMS = [Item("a", ["x"]), Item("b"), Item("c", ["y"]), Item("d"), Item("e")]


class Indexable(Item):
    """An item a subscript works on (Jinja tries `item["x"]` when `item.x` fails)."""

    def __getitem__(self, key: str) -> str:
        return "found by subscript"


def with_field(name: str, value: str) -> Item:
    """Return the second item with one more attribute."""
    item = copy.copy(ITEMS[1])
    setattr(item, name, value)
    return item


def with_items(items: list) -> dict:
    """Return a context holding a list of items and the current one."""
    return {"items": items, "item": items[1], "SITENAME": "S"}


def retitled(index: int, title: str) -> list:
    """Return the items with one title changed."""
    items = [copy.copy(i) for i in ITEMS]
    items[index].title = title
    return items


OTHERS = (
    "{% for i in items if i != item %}"
    "{% if loop.index <= 2 %}{{ i.title }}{% endif %}{% endfor %}"
)
FIRST_THREE = (
    "{% for i in items %}{% if loop.index > 2 %}{% break %}{% endif %}.{% endfor %}"
)
TAGGED = "{{ items|selectattr('tags')|map(attribute='title')|join(',') }}"


@pytest.mark.parametrize(
    ("source", "after", "expected"),
    [
        ("{{ item.title }}", with_items(retitled(1, "B")), False),
        ("{{ item.title }}", with_items(retitled(3, "D")), True),
        (
            "{% for i in items[:2] %}{{ i.title }}{% endfor %}",
            with_items(retitled(3, "D")),
            True,
        ),
        (
            "{% for i in items[:2] %}{{ i.title }}{% endfor %}",
            with_items(retitled(0, "A")),
            False,
        ),
        (FIRST_THREE, with_items(ITEMS[:2]), False),
        (FIRST_THREE, with_items([*ITEMS, Item("f")]), True),
        (OTHERS, with_items([ITEMS[0], *ITEMS[2:], ITEMS[1]]), False),
        (OTHERS, with_items(retitled(4, "E")), True),
        ("{{ items|length }}" + TAGGED, with_items(ITEMS[:4]), False),
        (TAGGED, with_items([Item("a"), *ITEMS[1:]]), False),
        (
            "{% if 'x' in item.tags %}x{% endif %}{{ SITENAME }}",
            with_items(ITEMS),
            True,
        ),
        ("{{ missing }}{{ item.nothing }}", with_items(ITEMS), True),
        ("{{ missing }}", {**with_items(ITEMS), "missing": "now here"}, False),
        # A missing attribute and a subscript of an object without one are
        # replayed without raising: the page must still see either appear.
        ("{{ item.nothing }}", with_items(retitled(0, "A")), True),
        ("{{ item.nothing }}", with_items([ITEMS[0], Indexable("b")]), False),
        (
            "{{ item.nothing }}",
            with_items([ITEMS[0], with_field("nothing", "x")]),
            False,
        ),
        (TAGGED, with_items([Indexable("a"), *ITEMS[1:]]), False),
    ],
)
def test_replay_matches_rendering(source: str, after: dict, expected: bool) -> None:
    same, rendered_same = render_and_check(source, with_items(ITEMS), after)
    assert same is expected
    assert rendered_same or not same  # "unchanged" is never said of a changed page


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("{{ item.get_url() }}", "called"),
        ("{{ items|tojson }}", "render failed"),
    ],
)
def test_unreplayable_reads_mark_the_page(source: str, why: str) -> None:
    env = Environment()
    env.context_class = TrackingContext
    context = with_items(ITEMS)
    recorder = Recorder(context, Shared())
    try:
        with track(recorder):
            env.from_string(source).render(context)
    except TypeError:
        recorder.give_up("render failed")
    assert recorder.untracked and why in recorder.untracked


def own_title(step: tuple) -> bool:
    """Say that only `title` is one of the item's own fields."""
    return step == ("a", "title")


def test_own_fields_fold_apart_and_can_be_taken_from_the_last_build() -> None:
    env = Environment()
    env.context_class = TrackingContext
    template = env.from_string("{{ article.title }} {{ article.tags|join(',') }}")
    before = {"article": Item("a", ["x"])}
    recorder = Recorder(before, Shared())
    with track(recorder):
        template.render(before)
    nodes = Nodes()
    roots, recorded, own_seal = nodes.record(recorder.reads, own_title)
    assert own_seal is not None

    def replay(item: Item, known: str | None = None) -> tuple[str, str | None]:
        replayer = Replayer(Shared(), nodes)
        return replayer.page_digest(roots, {"article": item}, True, own_title, known)

    assert replay(Item("a", ["x"])) == (recorded, own_seal)
    assert replay(Item("b", ["x"]))[0] != recorded  # an own field changed
    assert replay(Item("a", ["y"]), own_seal)[0] != recorded  # another one did
    # Given the last digest of the own fields, they are not read at all.
    assert replay(Item("changed, but said not to be", ["x"]), own_seal)[0] == recorded
    # Without `own` the same reads fold the plain way: another digest.
    assert nodes.record(recorder.reads)[1] != recorded


def test_nodes_taken_from_another_process_replay_the_same() -> None:
    env = Environment()
    env.context_class = TrackingContext
    context = with_items(ITEMS)

    def record(nodes: Nodes, source: str) -> tuple[list[int], str, str | None]:
        recorder = Recorder(context, Shared())
        with track(recorder):
            env.from_string(source).render(context)
        return nodes.record(recorder.reads)

    here, there = Nodes(), Nodes()
    record(here, "{{ SITENAME }} {{ items[0].tags }}")  # node ids of its own
    # A page that shows the current item's title, and one that does not.
    pages = {"{{ item.tags }} {{ item.title }}": True, "{{ items|length }}": False}
    records = [record(there, source) for source in pages]
    table, renumber = there.compact(roots for roots, _, _ in records)
    ids = here.absorb(table)
    retitled_context = with_items(retitled(1, "z"))
    for (roots, digest, _), shows_title in zip(records, pages.values(), strict=True):
        taken = [ids[renumber[i]] for i in roots]
        replayer = Replayer(Shared(), here)
        assert replayer.page_digest(taken, context, memo=False)[0] == digest
        after = replayer.page_digest(taken, retitled_context, memo=False)[0]
        assert (after != digest) is shows_title


def reads_of(source: str, context: dict) -> dict:
    """Render a template with records; return its read tree."""
    env = Environment()
    env.context_class = TrackingContext
    recorder = Recorder(context, Shared())
    with track(recorder):
        env.from_string(source).render(context)
    assert recorder.untracked is None, recorder.untracked
    return recorder.reads


@pytest.mark.parametrize(
    "orders",
    [
        [[0, 1, 2], [2, 1, 0], [0, 1, 2]],  # the same items at other places
        [[0, 1], [0, 1, 2], [2, 0]],  # the same items, lists of other lengths
        [[3, 4], [3, 4], [4, 3]],  # the same page twice, then the other way round
    ],
)
def test_subtrees_folded_once_fold_as_on_their_own(orders: list[list[int]]) -> None:
    # Pages list items read the same way: Nodes.record folds a list item or a
    # context name it has seen once from memory; each page must come out as
    # it does in a Nodes of its own.
    source = (
        "{% for i in items %}{{ i.title }}{{ i.tags|length }}{% endfor %}{{ SITENAME }}"
    )
    shared = Nodes()
    digests = []
    for order in orders:
        context = with_items([ITEMS[k] for k in order])
        reads = reads_of(source, context)
        roots, digest, _ = shared.record(reads)
        alone = Nodes()
        alone_roots, alone_digest, _ = alone.record(reads)
        assert digest == alone_digest
        assert [shared.table[i][0] for i in roots] == [
            alone.table[i][0] for i in alone_roots
        ]
        replayer = Replayer(Shared(), shared)
        assert replayer.page_digest(roots, context, memo=True)[0] == digest
        digests.append(digest)
    for one, other in [(0, 1), (0, 2), (1, 2)]:
        assert (digests[one] == digests[other]) is (orders[one] == orders[other])


@pytest.mark.parametrize("long", [False, True])
def test_values_read_whole_fold_from_memory_as_on_their_own(long: bool) -> None:
    # A list item or context name read as one value is found in Nodes' memory by
    # its token: pages of other values must come out as in a Nodes of their own.
    source = "{% for x in names %}{{ x }}{% endfor %}{{ SITENAME }}{{ names[0] }}"
    tail = "x" * 300 if long else ""  # a token kept as its digest
    pages = [["a", "b"], ["b", "a"], ["a", "b"], ["a", 1], ["c"]]
    shared, digests = Nodes(), []
    for names in pages:
        context = {"names": [n + tail if type(n) is str else n for n in names]}
        context["SITENAME"] = names[0]
        reads = reads_of(source, context)
        roots, digest, _ = shared.record(reads)
        alone = Nodes()
        alone_roots, alone_digest, _ = alone.record(reads)
        assert digest == alone_digest
        steps = [shared.table[i][0] for i in roots]
        assert steps == [alone.table[i][0] for i in alone_roots]
        replayer = Replayer(Shared(), shared)
        assert replayer.page_digest(roots, context, memo=True)[0] == digest
        digests.append(digest)
    assert len(set(digests)) == 4 and digests[0] == digests[2]


def test_an_object_handed_on_but_not_read_is_no_read() -> None:
    # A proxy takes a node when the template gets the object; if nothing is
    # read from it, the page's record is that of a page that never got it.
    context = with_items(ITEMS)
    untouched = reads_of("{{ SITENAME }}", context)
    handed_on = reads_of(
        "{% set x = item %}{% set y = x.tags %}{{ SITENAME }}", context
    )
    assert handed_on != untouched  # the nodes are there, empty
    assert Nodes().record(handed_on)[1] == Nodes().record(untouched)[1]


@dataclasses.dataclass(frozen=True)
class Frozen:
    """A value like images' Picture: frozen, every field in its repr."""

    src: str
    sizes: list[tuple[str, int]]


@dataclasses.dataclass
class Thawed:
    """The same fields, but the object may change: read field by field."""

    src: str
    sizes: list[tuple[str, int]]


@dataclasses.dataclass(frozen=True)
class Offering(Frozen):
    """Frozen, but with a property a template may read instead of the fields."""

    @property
    def first(self) -> str:
        return self.sizes[0][0]


PICTURE = "{{ p.src }}{% for url, w in p.sizes %} {{ url }} {{ w }}w{% endfor %}"


@pytest.mark.parametrize(
    ("make", "after", "expected"),
    [
        (Frozen, Frozen("a", [("a1", 1), ("a2", 2)]), True),
        (Frozen, Frozen("a", [("a1", 1), ("a2", 3)]), False),
        (Frozen, Frozen("a", [("a1", 1)]), False),
        (Frozen, Thawed("a", [("a1", 1), ("a2", 2)]), False),
        (Thawed, Thawed("a", [("a1", 1), ("a2", 2)]), True),
        (Thawed, Thawed("a", [("a1", 1), ("a2", 3)]), False),
        (Thawed, Frozen("a", [("a1", 1), ("a2", 2)]), True),  # same fields read
    ],
)
def test_a_frozen_value_is_one_read(make: type, after: object, expected: bool) -> None:
    before = make("a", [("a1", 1), ("a2", 2)])
    reads = reads_of(PICTURE, {"p": before})
    assert (list(reads[("k", "p")]) == [("v",)]) is (make is Frozen)
    nodes = Nodes()
    roots, digest, _ = nodes.record(reads)
    replayed = Replayer(Shared(), nodes).page_digest(roots, {"p": after}, memo=True)
    assert (replayed[0] == digest) is expected


def test_a_frozen_value_holding_an_object_is_read_field_by_field() -> None:
    reads = reads_of(PICTURE, {"p": Frozen("a", [(Item("x"), 1)])})  # type: ignore[list-item]
    assert ("a", "src") in reads[("k", "p")]


def test_a_frozen_value_with_a_property_is_read_as_the_template_reads_it() -> None:
    # Read whole, a page showing only `first` would depend on every field.
    source = "{{ p.first }}"
    reads = reads_of(source, {"p": Offering("a", [("a1", 1), ("a2", 2)])})
    nodes = Nodes()
    roots, digest, _ = nodes.record(reads)
    after = {"p": Offering("b", [("a1", 1), ("b2", 2)])}
    assert Replayer(Shared(), nodes).page_digest(roots, after, memo=True)[0] == digest


def test_equal_values_read_on_two_pages_keep_their_own_tokens() -> None:
    # The replay keeps a value's token by identity: values equal but written
    # differently (the same instant in two time zones, 0.0 and -0.0, frozen
    # values holding them) are not one.
    utc = datetime.datetime(2026, 1, 1, 7, tzinfo=datetime.UTC)
    local = utc.astimezone(datetime.timezone(datetime.timedelta(hours=7)))
    env = Environment()
    env.context_class = TrackingContext
    template = env.from_string("{{ item.date }} {{ item.score }} {{ item.picture }}")
    pages = [(utc, 0.0), (local, -0.0)]
    contexts = []
    for date, score in pages:
        item = Item("a")
        item.date, item.score = date, score
        item.picture = Frozen("p", (("p.jpg", score),))  # type: ignore[arg-type]
        contexts.append({"item": item})
    nodes, recorded = Nodes(), []
    for context in contexts:
        recorder = Recorder(context, Shared())
        with track(recorder):
            template.render(context)
        recorded.append(nodes.record(recorder.reads))
    assert recorded[0][1] != recorded[1][1]
    replayer = Replayer(Shared(), nodes)
    for (roots, digest, _), context in zip(recorded, contexts, strict=True):
        assert replayer.page_digest(roots, context, memo=True)[0] == digest


CARD = (
    '<p class="{{ card_heading or "h3" }}">{{ item.title }}'
    "{% if item.tags %} {{ item.tags|length }}{% endif %} {{ SITENAME }} {{ size }}"
    "{% with first=item.tags[:1] %}{% include 'tag' %}{% endwith %}</p>"
)
CARD_PAGES = [
    "{% for item in items %}{{ partial('card', item, card_heading=h) }}{% endfor %}",
    "{% set size = items|length %}{{ items[1].title }}{% for item in items[:2] %}"
    "{{ partial('card', item) }}{% endfor %}{% for item in items %}"
    "{{ partial('card', item, card_heading='h2') }}{% endfor %}{{ items[2].tags }}",
]


def _rendered_with(
    partial, page: str, contexts: list[dict], card: str = CARD
) -> list[tuple]:
    """Render a page for each context in one environment; return texts and records."""
    import marshal

    from jinja2 import DictLoader

    tag = "{% for t in first %}<i>{{ t }}</i>{% endfor %}"  # a local of the card
    env = Environment(loader=DictLoader({"card": card, "page": page, "tag": tag}))
    env.context_class = TrackingContext
    env.globals["partial"] = partial
    done, shared = [], Shared()  # one build's
    for context in contexts:
        recorder = Recorder(context, shared)
        with track(recorder):
            text = env.get_template("page").render(context)
        assert recorder.untracked is None, recorder.untracked
        done.append((text, marshal.dumps(recorder.reads, 0)))
    return done


@pytest.mark.parametrize("page", CARD_PAGES)
def test_a_partial_rendered_once_records_what_rendering_it_records(page, monkeypatch):
    import incremental.tracking as tracking

    from portal import jinja

    other = {**with_items(ITEMS), "SITENAME": "Khác"}  # a name with another value
    contexts = [with_items(ITEMS), with_items(ITEMS), other, with_items(ITEMS[1:])]
    expected = _rendered_with(jinja.partial, page, contexts)
    renders = []
    real = tracking.render_partial
    monkeypatch.setattr(
        tracking,
        "render_partial",
        lambda *args: renders.append(args[2]) or real(*args),
    )
    assert _rendered_with(tracking.partial_once, page, contexts) == expected
    uses = [text.count("<p") for text, _ in expected]
    # Every card of the second page was the first page's; the third page's name
    # has another value and the fourth's the first value again, and another
    # `size` where the page sets it: rendered anew.
    assert len(renders) == uses[0] + uses[2] + uses[3]
    assert "<i>x</i>" in expected[0][0]


# A card whose reads of the context's names depend on its item.
CARD_OF_ITEM = (
    "{{ item.title }}{{ item.tags[:1] }}"
    "{% if item.tags %}{{ SITE['a'] }}{% else %}{{ SITE['b'] }}{% endif %}"
)


def test_each_card_adds_the_context_reads_rendering_it_adds() -> None:
    # partial_once grafts a card's reads of the context's names once per page and
    # content: a second card of other names must still add them, in their order;
    # and its reads of the item below what the page read of it before.
    import incremental.tracking as tracking

    from portal import jinja

    page = (
        "{{ items[0].tags[0] }}{% for item in items %}{{ partial('card', item) }}"
        "{% endfor %}{{ partial('card', items[0]) }}{{ partial('card', items[1]) }}"
    )
    site = {"a": "A", "b": "B"}
    contexts = [
        {**with_items(ITEMS), "SITE": site},
        {**with_items(ITEMS[1:]), "SITE": site},
    ]
    expected = _rendered_with(jinja.partial, page, contexts, CARD_OF_ITEM)
    assert _rendered_with(tracking.partial_once, page, contexts, CARD_OF_ITEM) == (
        expected
    )


PLUGINS = ["incremental"]


def _plugin_enabled(name: str, plugin_list: list) -> bool:
    """Stand in for Pelican's `plugin_enabled` test."""
    return name in plugin_list


# How the second environment differs from the first, and whether they are alike.
# Pelican makes a DateFormatter and a `plugin_enabled` partial per generator.
ENVIRONMENT_CHANGES = {
    "nothing": (lambda env: None, True),
    "own callables made alike": (
        lambda env: (
            env.tests.update(
                plugin_enabled=functools.partial(_plugin_enabled, plugin_list=PLUGINS)
            )
            or env.filters.update(strftime=DateFormatter())
        ),
        True,
    ),
    "a filter that does another thing": (
        lambda env: env.filters.update(upper=str.lower),
        False,
    ),
    "a partial of other arguments": (
        lambda env: env.tests.update(
            plugin_enabled=functools.partial(_plugin_enabled, plugin_list=[])
        ),
        False,
    ),
    "an object of other values": (
        lambda env: env.filters.update(strftime=_Formatter("C")),
        False,
    ),
}


class _Formatter(DateFormatter):
    """A DateFormatter of a given locale."""

    def __init__(self, name: str) -> None:
        self.locale = name


@pytest.mark.parametrize("change", ENVIRONMENT_CHANGES)
def test_environments_made_alike_share_a_partial(change, monkeypatch):
    import incremental.tracking as tracking
    from jinja2 import DictLoader

    tag = "{% for t in first %}<i>{{ t|upper }}</i>{% endfor %}"
    loader = DictLoader({"card": CARD, "page": CARD_PAGES[0], "tag": tag})
    shared, renders, texts = Shared(), [], []
    real = tracking.render_partial
    monkeypatch.setattr(
        tracking, "render_partial", lambda *a: renders.append(a[2]) or real(*a)
    )
    apply, alike = ENVIRONMENT_CHANGES[change]
    for n in range(2):  # two generators' environments, each made as Pelican does
        env = Environment(loader=loader)
        env.context_class = TrackingContext
        env.globals["partial"] = tracking.partial_once
        env.filters["strftime"] = DateFormatter()
        env.tests["plugin_enabled"] = functools.partial(
            _plugin_enabled, plugin_list=PLUGINS
        )
        if n:
            apply(env)
        recorder = Recorder(with_items(ITEMS), shared)
        with track(recorder):
            texts.append(env.get_template("page").render(with_items(ITEMS)))
    assert len(renders) == (5 if alike else 10)
    assert ("<i>X</i>" in texts[1]) is (change != "a filter that does another thing")


class CountedMapping(Mapping):
    """A mapping counting on its owner how often each key is looked up."""

    def __init__(self, owner: Counted, data: dict) -> None:
        self.owner, self.data = owner, data

    def __getitem__(self, key: str) -> object:
        self.owner._count(f"[{key}]")
        return self.data[key]

    def __iter__(self):
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


class Counted(Item):
    """An item counting how often each attribute is computed (`reads`)."""

    def __init__(self, title: str) -> None:
        super().__init__(title, ["x", "y"])
        self.reads: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.reads[name] = self.reads.get(name, 0) + 1

    @property
    def url(self) -> str:
        self._count("url")
        return "/" + self.title

    @property
    def letters(self):  # a fresh one-shot iterator on each read
        self._count("letters")
        return iter(self.title)

    @property
    def named(self) -> CountedMapping:
        self._count("named")
        return CountedMapping(self, {"first": Item("first")})

    @property
    def tag_list(self) -> list[str]:
        self._count("tag_list")
        return list(self.tags)


@pytest.mark.parametrize(
    ("source", "computed"),
    [
        ("{{ item.url }}{{ item.url }}{{ item.url|length }}", {"url": 1}),
        (
            "{% for t in item.tag_list %}{{ t }}{% endfor %}"
            "{{ item.tag_list|join('-') }}{{ item.tag_list|length }}",
            {"tag_list": 1},
        ),
        # An iterator is read afresh: the second loop must see every letter again.
        (
            "{% for c in item.letters %}{{ c }}{% endfor %}|"
            "{% for c in item.letters %}{{ c }}{% endfor %}",
            {"letters": 2},
        ),
        # A missing attribute raises each time: Jinja then tries a subscript.
        ("{{ item.nothing }}{{ item.nothing }}", {}),
        # A mapping's key read as an attribute: the subscript Jinja then takes.
        (
            "{{ item.named.first.title }}{{ item.named.first.url }}"
            "{{ item.named['first'].title }}{{ item.named.gone }}{{ item.named.gone }}",
            {"named": 1, "[first]": 1, "[gone]": 2},
        ),
    ],
)
def test_an_attribute_read_again_is_taken_from_the_proxy(source, computed) -> None:
    env = Environment()
    env.context_class = TrackingContext
    template = env.from_string(source)
    plain = Counted("abc")
    expected = Environment().from_string(source).render(item=plain, items=[plain])
    item = Counted("abc")
    context = {"item": item, "items": [item]}
    recorder = Recorder(context, Shared())
    with track(recorder):
        assert template.render(context) == expected
    assert item.reads == computed
    if recorder.untracked is None:  # the records replay as the reads were
        nodes = Nodes()
        roots, recorded, _ = nodes.record(recorder.reads)
        again = {"item": Counted("abc"), "items": [Counted("z")]}
        replay = Replayer(Shared(), nodes).page_digest(roots, again, memo=True)
        assert replay[0] == recorded
