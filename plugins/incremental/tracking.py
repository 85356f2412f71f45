"""Record what a template reads while it renders, and check those reads later.

A read is a *path* from a root name of the template context (("k", "article"),
("a", "title"), ("v",)) and a *token*: the text of the value it led to. Plain
values (strings, numbers, dates) are recorded as soon as a template touches
them; anything else is handed to the template inside a `Proxy` that records
each attribute, item, length, truth value or iteration the template asks for.
Replaying the paths against a new context gives new tokens: equal tokens mean
the template would read exactly the same values, so it would write the same
bytes (templates, filters and settings are covered by the global fingerprint).
Whatever cannot be replayed marks the output "untracked": it is always rendered.
The reads of one render are kept as a tree of steps as they happen (each proxy
holds its own node), so a page's paths are never built one by one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import decimal
import functools
import hashlib
import marshal
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from jinja2 import pass_context
from jinja2.runtime import Context, missing
from markupsafe import Markup

from portal.jinja import defined, render_partial

__all__ = [
    "ITEM",
    "PLAIN",
    "Nodes",
    "Proxy",
    "Recorder",
    "Replayer",
    "TrackingContext",
    "leaf",
    "partial_once",
    "seal",
    "record_input",
    "track",
    "type_decides",
]

PLAIN = (
    str,
    int,
    float,
    bool,
    type(None),
    bytes,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
)
JSONABLE = (str, int, float, bool, type(None))
Step = tuple
Path = tuple
Tree = dict  # step -> the tree below it, or the token of a leaf step
V, IDS, ID, LEN, BOOL = ("v",), ("ids",), ("id",), ("len",), ("bool",)


class Untracked(Exception):  # noqa: N818
    """A read the records cannot replay."""


def token(value: Any) -> str:
    """Return the text a plain value is recorded as (its type and repr)."""
    kind = type(value)
    if kind is str:
        return "s" + value
    return f"{kind.__module__}.{kind.__qualname__}:{value!r}"


def identity(obj: Any) -> str | None:
    """Return a build-independent identity of an object, or None."""
    if isinstance(obj, PLAIN):
        return token(obj)
    source = getattr(obj, "source_path", None) if hasattr(obj, "_context") else None
    if isinstance(source, str):
        return "c:" + source
    if isinstance(obj, tuple) or hasattr(obj, "__dataclass_fields__"):
        text = repr(obj)
        if " at 0x" not in text:
            return "r:" + text
    return None


class Shared:
    """Per-build memo of list identities (kept alive so ids are not reused)."""

    def __init__(self) -> None:
        self.ids: dict[int, tuple[Any, int, str | None]] = {}
        # The partials rendered once (partial_once): key -> Rendered.
        self.partials: dict[tuple, Rendered] = {}
        # The lists of content objects generators named (portal.outputs.note_lists):
        # id -> (the list, its name).
        self.named_ids: dict[int, tuple[Any, str]] = {}

    def ids_token(self, obj: Any) -> str:
        """Return the identities of every element of a list, memoised."""
        entry = self.ids.get(id(obj))
        if entry is not None and entry[0] is obj and entry[1] == len(obj):
            text = entry[2]
        else:
            parts = [identity(item) for item in obj]
            text = None if None in parts else "\x1f".join(parts)  # type: ignore[arg-type]
            self.ids[id(obj)] = (obj, len(obj), text)
        if text is None:
            raise Untracked("list of objects without identity")
        return text


class Recorder:
    """Collect the reads of one render as a tree of steps (leaves hold tokens)."""

    def __init__(self, root: Mapping[str, Any], shared: Shared) -> None:
        self.root = root
        self.shared = shared
        self.reads: Tree = {}
        # Root names resolved so far: name -> (value, what the template was given).
        self.names: dict[str, tuple[Any, Any]] = {}
        self.untracked: str | None = None
        # Content objects handed to the template: the node of their reads, the
        # source path, the object.
        self.items: list[tuple[Tree, str, Any]] = []
        # The named lists reached (Shared.named_ids), the nodes of their reads (and
        # of slices of them), each object node's parent, and why the render
        # reached a content object through a container without a name, if it did.
        self.lists: set[str] = set()
        self.list_nodes: set[int] = set()
        self.parents: dict[int, Tree] = {}
        self.unnamed: str | None = None
        # The context reads of the partials taken from partial_once, marshalled:
        # grafting the same ones again would add nothing.
        self.grafted: set[bytes] = set()

    def record(self, path: Path, value: str) -> None:
        """Remember that the value at path was read (the first value read wins)."""
        level = self.reads
        for step in path[:-1]:
            level = level.setdefault(step, {})
        level.setdefault(path[-1], value)

    def read_items(self) -> set[str] | None:
        """Return the source paths of the content objects read, or None if unsure.

        Unsure: an object was read without its `url` (which no two items share),
        so a later render reading another object the same way would give the
        same tokens: the set kept for a page must be the set it reads.
        """
        paths = set()
        for node, path, _ in self.items:
            if not node:  # handed on, never looked at
                continue
            if ("a", "url") not in node:
                return None
            paths.add(path)
        return paths

    def quick_reads(self, own_of: Callable[[Any], Callable | None]) -> Tree | None:
        """Return the reads a rebuild replays when no item or named list it read changed.

        That is every read but those of the content objects' own fields
        (`own_of(obj)` tells them, with what their type decides, see
        type_decides; the page's signature of items covers them) and
        the length, truth and identities of named lists (their names cover
        them). None when the render reached a content object through a
        container without a name: the page is replayed whole in every build.
        """
        if self.unnamed is not None:
            return None
        content: dict[int, Callable] = {}
        for node, _path, obj in self.items:
            own = own_of(obj)
            if own is not None:
                content[id(node)] = own
        marked: set[int] = set()
        parents = self.parents
        for key in (*content, *self.list_nodes):
            while key not in marked:
                marked.add(key)
                parent = parents.get(key)
                if parent is None:
                    break
                key = id(parent)
        return _reduce(self.reads, content, self.list_nodes, marked)

    def give_up(self, why: str) -> None:
        """Mark the render as not replayable."""
        if self.untracked is None:
            self.untracked = why

    def record_identity(self, proxy: Proxy) -> None:
        """Record what decides equality with the object behind a proxy."""
        parent = proxy._parent
        try:
            if parent is not None:
                if IDS not in parent._n:
                    parent._n[IDS] = self.shared.ids_token(parent._o)
            elif ID not in proxy._n:
                ident = identity(proxy._o)
                if ident is None:
                    raise Untracked("object without identity")
                proxy._n[ID] = ident
        except Untracked as error:
            self.give_up(str(error))


_current: list[Recorder] = []
RESOLVERS: dict[str, Callable[[str], str]] = {}


def resolve_input(namespace: str, key: str) -> str:
    """Return the token of a declared input (see incremental.register_input)."""
    try:
        return "x" + str(RESOLVERS[namespace](key))
    except Exception as error:
        return "!" + type(error).__name__


def record_input(namespace: str, key: str) -> None:
    """Record that the render in progress depends on a declared input."""
    rec = current()
    if rec is None:
        return
    if namespace not in RESOLVERS or type(key) is not str:
        rec.give_up(f"undeclared input {namespace!r}")
        return
    rec.record((("x", namespace, key), ("v",)), resolve_input(namespace, key))


def current() -> Recorder | None:
    """Return the recorder of the render in progress, if any."""
    return _current[-1] if _current else None


class track:  # noqa: N801
    """Context manager: record the reads of the renders inside it."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def __enter__(self) -> Recorder:
        _current.append(self.recorder)
        return self.recorder

    def __exit__(self, *exc: object) -> None:
        _current.pop()


PLAIN_VALUE, WRAPPED, CALLABLE, OBJECT, FROZEN = range(5)
_KINDS: dict[type, int] = {}  # how wrap treats each type (ABC checks are slow)


@functools.cache
def _frozen_fields(kind: type) -> tuple[str, ...] | None:
    """Return the fields of a frozen dataclass that is nothing but them, or None.

    Nothing but them: its repr (the one dataclasses wrote) shows every field,
    and it offers no property or method a template could read instead of a
    field (Pagination's has_other_pages is read so that a page does not depend
    on the number of pages: recorded whole, it would).
    """
    params = getattr(kind, "__dataclass_params__", None)
    if (
        params is None
        or not params.frozen
        or not hasattr(kind.__repr__, "__wrapped__")  # not the repr dataclasses wrote
    ):
        return None
    fields = dataclasses.fields(kind)
    names = tuple(f.name for f in fields)
    offered = {
        name for cls in kind.__mro__[:-1] for name in vars(cls) if name[:1] != "_"
    }
    if not all(f.repr for f in fields) or not offered <= set(names):
        return None
    return names


def whole(value: Any) -> bool:
    """Return whether a value is read as one token: plain, or a frozen value.

    A frozen value is a frozen dataclass with nothing but fields, which hold
    plain values, frozen values, or lists and tuples of them (images' Picture):
    its repr is all of it, so it is recorded once instead of each field and
    item read from it.
    """
    if isinstance(value, PLAIN):
        return True
    kind = type(value)
    if kind is tuple or kind is list:
        return all(whole(item) for item in value)
    names = _frozen_fields(kind)
    return names is not None and all(whole(getattr(value, n)) for n in names)


def _kind_of(value: Any) -> int:
    """Return how wrap treats a value: plain, already a proxy, callable or object."""
    if isinstance(value, PLAIN):
        return PLAIN_VALUE
    if isinstance(value, Proxy):
        return WRAPPED
    if _frozen_fields(type(value)) is not None:
        return FROZEN
    if callable(value) and not isinstance(value, (Mapping, Sequence)):
        return CALLABLE
    return OBJECT


def wrap(
    value: Any, node: Tree, step: Step, rec: Recorder, parent: Proxy | None = None
) -> Any:
    """Record a plain value read at node's child step and return it, or a proxy."""
    kind = type(value)
    how = _KINDS.get(kind)
    if how is None:
        how = _kind_of(value)
        if value.__class__ is kind:
            _KINDS[kind] = how
    if how == PLAIN_VALUE or (how == FROZEN and whole(value)):
        below = node.get(step)
        if below is None:
            node[step] = {V: token(value)}
        elif V not in below:
            below[V] = token(value)
        return value
    if how == WRAPPED:
        return value
    if how == CALLABLE:
        return _untracked_callable(value, rec)
    below = node.get(step)
    if below is None:
        below = node[step] = {}
        _note_object(value, below, rec, node, step)
    return Proxy(value, below, rec, parent)


def _note_object(
    value: Any, below: Tree, rec: Recorder, node: Tree, step: Step
) -> None:
    """Note an object handed to the template at node's child step (its reads: below).

    A named list (or a slice of one) is noted by name; a content object (one
    with a source file) by its path, and it makes the render unnamed unless it
    is the page's own item or an item of a named list.
    """
    rec.parents[id(below)] = node
    named = rec.shared.named_ids.get(id(value))
    if named is not None and named[0] is value:
        rec.lists.add(named[1])
        rec.list_nodes.add(id(below))
    elif step[0] == "s" and id(node) in rec.list_nodes:
        rec.list_nodes.add(id(below))
    elif hasattr(value, "_context"):
        path = getattr(value, "source_path", None)
        if type(path) is str:
            rec.items.append((below, path, value))
            if rec.unnamed is None and not (
                (step[0] == "k" and step[1] in ITEM_ROOTS)
                or (step[0] == "i" and id(node) in rec.list_nodes)
            ):
                rec.unnamed = f"{path} reached at {step!r}"


SHAPE_STEPS = frozenset({LEN, BOOL, IDS})


def type_decides(kind: type, step: Step) -> bool:
    """Tell whether a read of an object gives what its type alone decides.

    A subscript of a type without `__getitem__` (a TypeError), the truth of
    one without `__bool__` or `__len__` (True).
    """
    if step[0] == "i":
        return not _subscriptable(kind)
    if step == BOOL:
        return not (hasattr(kind, "__bool__") or hasattr(kind, "__len__"))
    return False


def _reduce(level: Tree, content: dict, lists: set[int], marked: set[int]) -> Tree:
    """Return a read tree without the reads named lists and items' signatures cover."""
    out: Tree = {}
    for step, below in level.items():
        key = id(below)
        if below.__class__ is str or key not in marked:
            out[step] = below
            continue
        own = content.get(key)
        if own is not None:
            below = {s: b for s, b in below.items() if not own(s)}
        elif key in lists:
            below = {
                s: b
                for s, b in below.items()
                if s not in SHAPE_STEPS and s[0] != "atleast"
            }
        reduced = _reduce(below, content, lists, marked)
        if reduced:
            out[step] = reduced
    return out


def _untracked_callable(func: Any, rec: Recorder) -> Any:
    """Return func wrapped so that calling it marks the render untracked."""

    def call(*args: Any, **kwargs: Any) -> Any:
        rec.give_up(f"called {getattr(func, '__qualname__', func)!r}")
        return func(*[_unwrap(a) for a in args], **kwargs)

    with contextlib.suppress(AttributeError, TypeError):
        functools.update_wrapper(call, func)
    pass_arg = getattr(func, "jinja_pass_arg", None)
    if pass_arg is not None:
        call.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    return call


def _unwrap(value: Any) -> Any:
    """Return the object behind a proxy."""
    return object.__getattribute__(value, "_o") if isinstance(value, Proxy) else value


def _step_of(key: Any) -> Step | None:
    """Return the path step of a subscript, or None when it cannot be replayed."""
    if isinstance(key, slice):
        parts = (key.start, key.stop, key.step)
        if all(p is None or type(p) is int for p in parts):
            return ("s", *parts)
        return None
    if type(key) in (str, int):
        return ("i", key)
    return None


MAPPING_METHODS = frozenset({"items", "keys", "values", "get"})


class Proxy:
    """Stand in for an object handed to a template and record what is read.

    An attribute or subscript read again through the same proxy is answered
    from its memo (`_c`, by name or step): the value, or the proxy, the first
    read gave, recorded then (the first value read wins anyway). Objects do not change while a page renders;
    an iterator (read once) and a callable are read afresh each time.
    """

    __slots__ = ("_o", "_n", "_r", "_parent", "_c")

    def __init__(self, obj: Any, node: Tree, rec: Recorder, parent=None) -> None:
        self._o = obj
        self._n = node  # the reads below this object
        self._r = rec
        self._parent = parent
        self._c: dict[Any, Any] | None = None  # attribute name or step -> result

    @property  # type: ignore[misc]
    def __class__(self):  # noqa: D105
        return type(self._o)

    def __getattr__(self, name: str) -> Any:
        memo = self._c
        if memo is not None:
            hit = memo.get(name, _NONE)
            if hit is not _NONE:
                if hit is _ABSENT:
                    raise AttributeError(name)
                return hit
        obj, rec = self._o, self._r
        if name == "__html__":
            if not hasattr(obj, "__html__"):
                raise AttributeError(name)
            return self._html
        if name.startswith("__"):
            rec.give_up(f"special attribute {name}")
            return getattr(obj, name)
        if name in MAPPING_METHODS and isinstance(obj, Mapping):
            return getattr(self, "_m_" + name)
        step = ("a", name)
        if memo is None:
            memo = self._c = {}
        try:
            value = getattr(obj, name)
        except Exception as error:
            self._n.setdefault(step, {}).setdefault(V, "!" + type(error).__name__)
            if type(error) is AttributeError:
                memo[name] = _ABSENT
            raise
        how = _KINDS.get(type(value))
        if how == PLAIN_VALUE:  # wrap's first case, inline
            node = self._n
            below = node.get(step)
            if below is None:
                node[step] = {V: token(value)}
            elif V not in below:
                below[V] = token(value)
            memo[name] = value
            return value
        given = wrap(value, self._n, step, rec)
        if _kept(type(value), _KINDS.get(type(value)) if how is None else how):
            memo[name] = given
        return given

    def _html(self) -> str:
        text = self._o.__html__()
        self._n.setdefault(("html",), token(text))
        return text

    def __getitem__(self, key: Any) -> Any:
        obj, rec = self._o, self._r
        step = _step_of(key)
        if step is None:
            rec.give_up(f"subscript {key!r}")
            return obj[_unwrap(key)]
        memo = self._c
        if memo is None:
            memo = self._c = {}
        else:
            hit = memo.get(step, _NONE)
            if hit is not _NONE:
                return hit
        try:
            value = obj[key]
        except Exception as error:
            self._n.setdefault(step, {}).setdefault(V, "!" + type(error).__name__)
            raise
        given = wrap(value, self._n, step, rec)
        if _kept(type(value), _KINDS.get(type(value))):
            memo[step] = given
        return given

    def __iter__(self) -> Iterator[Any]:
        obj, rec, node = self._o, self._r, self._n
        if isinstance(obj, Mapping):
            keys = list(obj)
            node.setdefault(("keys",), _keys_token(keys, rec))
            yield from keys
            return
        if isinstance(obj, Sequence) and not isinstance(obj, PLAIN):
            yield from _iterate(obj, node, rec, self)
            return
        if iter(obj) is obj:
            rec.give_up("iterated a one-shot iterator")
            yield from obj
            return
        yield from _iterate(list(obj), node.setdefault(("L",), {}), rec, None)

    def __len__(self) -> int:
        size = len(self._o)
        self._n.setdefault(LEN, str(size))
        return size

    def __bool__(self) -> bool:
        truth = bool(self._o)
        self._n.setdefault(BOOL, str(truth))
        return truth

    def __str__(self) -> str:
        text = str(self._o)
        self._n.setdefault(("str",), token(text))
        return text

    def __contains__(self, item: Any) -> bool:
        found = _unwrap(item) in self._o
        if type(item) in JSONABLE:
            self._n.setdefault(("in", item), str(found))
        else:
            self._r.give_up("'in' with an object")
        return found

    def __eq__(self, other: Any) -> bool:
        rec = self._r
        if isinstance(other, Proxy):
            rec.record_identity(self)
            rec.record_identity(other)
            return self._o == other._o
        equal = self._o == other
        if type(other) in JSONABLE:
            self._n.setdefault(("eq", other), str(equal))
        else:
            rec.give_up("compared with an unknown object")
        return equal

    def __ne__(self, other: Any) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        self._r.record_identity(self)
        return hash(self._o)

    def __lt__(self, other: Any) -> bool:
        self._r.give_up("ordered objects")
        return self._o < _unwrap(other)

    def __gt__(self, other: Any) -> bool:
        self._r.give_up("ordered objects")
        return self._o > _unwrap(other)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._r.give_up("called an object")
        return self._o(*args, **kwargs)

    def _m_keys(self) -> list:
        return list(iter(self))

    def _m_items(self) -> list:
        return [(key, self[key]) for key in self]

    def _m_values(self) -> list:
        return [self[key] for key in self]

    def _m_get(self, key: Any, default: Any = None) -> Any:
        step = _step_of(key)
        if step is None:
            self._r.give_up(f"get {key!r}")
            return self._o.get(key, default)
        if key in self._o:
            return self[key]
        self._n.setdefault(step, {}).setdefault(V, "!KeyError")
        return default


_ABSENT = object()  # a proxy's memo: the attribute raised AttributeError
_REREAD: dict[type, bool] = {}  # types whose values a proxy's memo never keeps


def _kept(kind: type, how: int | None) -> bool:
    """Tell whether a proxy's memo keeps what an attribute of this type gave.

    Plain and frozen values and objects are kept; callables (each call is
    recorded as such), proxies and iterators (a second read must start again)
    are read afresh.
    """
    if how == PLAIN_VALUE:
        return True
    if how != OBJECT and how != FROZEN:
        return False
    reread = _REREAD.get(kind)
    if reread is None:
        reread = _REREAD[kind] = hasattr(kind, "__next__")
    return not reread


def _iterate(items: Sequence, node: Tree, rec: Recorder, parent) -> Iterator[Any]:
    """Yield recording proxies of a list's items; record how far it was read."""
    count = 0
    try:
        for index, value in enumerate(items):
            count = index + 1
            yield wrap(value, node, ("i", index), rec, parent)
    finally:
        if count == len(items):
            node.setdefault(LEN, str(count))
        else:  # stopped early: the list must still hold that many items
            node.setdefault(("atleast", count), "True")


def _keys_token(keys: list, rec: Recorder) -> str:
    """Return the token of a mapping's keys."""
    parts = [identity(key) for key in keys]
    if None in parts:
        rec.give_up("mapping with object keys")
        return ""
    return "\x1f".join(parts)  # type: ignore[arg-type]


class TrackingContext(Context):
    """Jinja context recording the top-level names a template resolves."""

    def resolve_or_missing(self, key: str) -> Any:
        value = super().resolve_or_missing(key)
        if not _current:
            return value
        rec = _current[-1]
        seen = rec.names.get(key)
        if seen is not None and seen[0] is value:  # resolved before in this render
            return seen[1]
        root = rec.root
        if value is missing:  # a name the context may hold next time
            if key not in root:
                rec.record((("k", key), V), "!missing")
                rec.names[key] = (value, value)
            return value
        if key in root and root[key] is value:
            given = wrap(value, rec.reads, ("k", key), rec)
            rec.names[key] = (value, given)
            return given
        # Not the context's: recorded nowhere, but noted (partial_once checks it).
        rec.names[key] = (value, value)
        return value


class Rendered(NamedTuple):
    """A partial rendered for one item: its text and what it read, re-rootable."""

    item: Any  # the object the partial was given (kept: its id is the key)
    text: str
    reads: (
        bytes  # below the item: a read tree, marshalled (a fifth of its dicts' memory)
    )
    roots: bytes  # of the context's names, marshalled
    names: tuple[tuple[str, Any], ...]  # each name read and the value it had
    lists: tuple[str, ...]  # the named lists it reached
    unnamed: str | None  # why it reached an item through an unnamed container


# What makes two Jinja environments (one per generator) render a template alike,
# per environment, as a number: every kind ever made -> its number (a partial's
# memo key hashes a number, not the kind's tuples of every filter and global).
_KINDS_OF_ENV: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_KIND_NUMBERS: dict[tuple, int] = {}


def environment_kind(env: Any) -> int:
    """Return the number of what a template's text depends on besides its source.

    Pelican's generators each make an environment from the same settings: the
    same template folders, options, filters, tests and globals, so a partial
    rendered in one is the same in another. Each also makes a few callables of
    its own (a `strftime` DateFormatter, a `plugin_enabled` partial): those are
    compared by what they are (`_callable_kind`), else every generator had a
    kind, and a memo, of its own. Environments of equal kinds get one number.
    """
    number = _KINDS_OF_ENV.get(env)
    if number is None:
        kind = (
            _loader_kind(env.loader),
            tuple(sorted((k, _callable_kind(v)) for k, v in env.filters.items())),
            tuple(sorted((k, _callable_kind(v)) for k, v in env.tests.items())),
            tuple(sorted((k, _callable_kind(v)) for k, v in env.globals.items())),
            (env.autoescape, env.trim_blocks, env.lstrip_blocks, env.finalize),
            (env.block_start_string, env.variable_start_string, env.newline_sequence),
        )
        number = _KIND_NUMBERS.setdefault(kind, len(_KIND_NUMBERS))
        _KINDS_OF_ENV[env] = number
    return number


def _callable_kind(value: Any) -> Any:
    """Return what a filter, test or global does: its id, unless it is made alike.

    A `functools.partial` is its function and the ids of its arguments; an
    object of a class of its own (not a function) whose attributes are all plain
    values is its class and those values (Pelican's DateFormatter: its locale).
    """
    if type(value) is functools.partial:
        keywords = tuple(sorted((k, id(v)) for k, v in value.keywords.items()))
        args = tuple(id(arg) for arg in value.args)
        return ("partial", _callable_kind(value.func), args, keywords)
    fields = getattr(value, "__dict__", None)
    if (
        type(fields) is dict
        and not isinstance(value, type)
        and not hasattr(value, "__code__")
        and all(type(v) in PLAIN for v in fields.values())
    ):
        return ("object", id(type(value)), tuple(sorted(fields.items())))
    return id(value)


def _loader_kind(loader: Any) -> Any:
    """Return a loader's folders and structure (None for a loader of another kind)."""
    if hasattr(loader, "loaders"):  # ChoiceLoader
        return ("choice", tuple(_loader_kind(each) for each in loader.loaders))
    if hasattr(loader, "mapping"):  # PrefixLoader
        items = sorted(loader.mapping.items())
        return ("prefix", tuple((k, _loader_kind(v)) for k, v in items))
    paths = getattr(loader, "searchpath", None)
    if paths is None:
        return ("other", id(loader))  # one environment's own: never shared
    return ("files", tuple(str(p) for p in paths))


@pass_context
def partial_once(context: Any, name: str, item: Any, **variables: Any) -> Markup:
    """Render a partial for an item once; later uses take its text and its reads.

    What portal.jinja.partial renders, for the same bytes; each use adds to the
    page's records exactly what rendering would have: the partial's reads of the
    item grafted below the item as this page reached it, its reads of the
    context's names at the root. A use whose names hold other values, or whose
    item or variables are not plain, renders as ever.
    """
    template = context.environment.get_template(name)
    variables = defined(variables)
    rec = current()
    if (
        rec is None
        or type(context) is not TrackingContext
        or type(item) is not Proxy
        or item._r is not rec
        or not all(type(v) in JSONABLE for v in variables.values())
    ):
        return Markup(render_partial(context, template, item, variables))
    memo = rec.shared.partials
    raw = item._o
    key = (
        environment_kind(context.environment),
        template.name,
        id(raw),
        tuple(sorted(variables.items())),
    )
    done = memo.get(key)
    if done is None or done.item is not raw or not _same_names(context, done.names):
        done = _render_recording(context, template, raw, variables, rec)
        if done is None:
            return Markup(render_partial(context, template, item, variables))
        memo[key] = done
    if item._n:
        graft(item._n, marshal.loads(done.reads))
    else:  # nothing read of the item yet: grafting is adding each step in order
        item._n.update(marshal.loads(done.reads))
    if done.roots not in rec.grafted:  # else already grafted: it would add nothing
        rec.grafted.add(done.roots)
        graft(rec.reads, marshal.loads(done.roots))
    rec.lists.update(done.lists)
    if rec.unnamed is None:
        rec.unnamed = done.unnamed
    return Markup(done.text)


def _render_recording(
    context: Any, template: Any, raw: Any, variables: dict, rec: Recorder
) -> Rendered | None:
    """Render a partial into reads of its own; None when they cannot be kept."""
    own = Recorder(rec.root, rec.shared)
    proxy = Proxy(raw, {}, own)
    with track(own):
        text = render_partial(context, template, proxy, variables)
    if own.untracked is not None:
        return None  # rendered again with the page's own records
    # The names it took from the caller's context, not from its own variables or
    # the locals of the partials it includes (a picture's `sizes`): each is
    # checked before a later use takes this one.
    outside = context.get_all().keys() - context.environment.globals.keys()
    given = {"item", *variables}
    names = tuple(
        (name, value)
        for name, (value, _) in own.names.items()
        if name not in given and (name in outside or value is missing)
    )
    try:
        reads, roots = marshal.dumps(proxy._n, 0), marshal.dumps(own.reads, 0)
    except ValueError:  # a step marshal cannot write: rendered with the page's records
        return None
    return Rendered(raw, text, reads, roots, names, tuple(own.lists), own.unnamed)


def _same_names(context: Any, names: tuple[tuple[str, Any], ...]) -> bool:
    """Tell whether the context holds each name's value as when it was rendered."""
    return all(Context.resolve_or_missing(context, n) is v for n, v in names)


def graft(into: Tree, reads: Tree) -> None:
    """Add a fresh read tree to a page's as recording it there would (first value wins).

    Parts of `reads` become the page's own: it must not be used again.
    """
    for step, below in reads.items():
        have = into.get(step)
        if have is None:
            into[step] = below
        elif have.__class__ is dict and below.__class__ is dict:
            graft(have, below)


# The root whose reads of the item's own fields a rebuild may take from the last
# build (see Replayer.page_digest), and the properties of Pelican's content
# objects that read nothing but those fields, the settings and the URL map.
ITEM = "article"  # the context name of an item page's item
OWN_ROOT = ("k", ITEM)
ITEM_ROOTS = frozenset({ITEM, "page"})  # the page's own item (Pelican's page)
QUICK = ("q",)  # the step of the root above a page's quick reads (Nodes.record_quick)
SAFE_PROPERTIES = frozenset({"url", "save_as", "content", "summary", "status"})
LEAF_LIMIT = 200  # longer leaf tokens (page bodies) are kept as their digest
# Steps whose tokens are kept as one digest: list items and context names, the
# reads many pages share (so each page's digest hashes little).
SEALED = frozenset({"i", "k"})


def leaf(value: str) -> str:
    """Return a leaf token as kept in a page's tokens: long ones as a digest."""
    if len(value) <= LEAF_LIMIT:
        return value
    data = value.encode("utf-8", "surrogatepass")
    return "#" + hashlib.blake2b(data, digest_size=16).hexdigest()


def _digest(data: bytes) -> bytes:
    """Return the 16-byte BLAKE2b digest of some bytes."""
    return hashlib.blake2b(data, digest_size=16).digest()


def _sealed(step: Step, below: Tree) -> tuple[Step, bytes]:
    """Return the memo key of a sealed subtree: its step and its reads' digest."""
    return step, _digest(marshal.dumps(below, 0))


def seal(tokens: tuple) -> str:
    """Return the digest of a page's nested token tuples (strings and tuples).

    marshal's version 0 writes the same values as the same bytes (no shared
    references, no interning flags), 2.5 times faster than repr.
    """
    return hashlib.blake2b(marshal.dumps(tokens, 0), digest_size=16).hexdigest()


class Nodes:
    """Interned read trees shared by every page of a build.

    The paths of one page form a tree (("k", "article"), ("a", "title"), ("v",)
    shares its first steps with article.url); a node is (step, child ids) and is
    stored once however many pages read the same shape, children before parents.
    """

    def __init__(self, table: Sequence[tuple[Step, tuple[int, ...]]] = ()) -> None:
        self.table: list[tuple[Step, tuple[int, ...]]] = list(table)
        self.index = {node: i for i, node in enumerate(self.table)}
        # (step, digest of the tree below it, or the token of the one value read
        # there) -> (node id, token), for sealed steps.
        self.memo: dict[tuple[Step, bytes | str], tuple[int, str]] = {}
        # While a page's reads and then its quick reads are folded: each subtree
        # folded (by id) -> (its step, node id, token), so the quick reads fold
        # only what they do not share with the reads (see record_quick).
        self.seen: dict[int, tuple] | None = None

    def intern(self, step: Step, kids: tuple[int, ...]) -> int:
        """Return the id of a node, adding it when new."""
        node = (step, kids)
        found = self.index.get(node)
        if found is None:
            found = self.index[node] = len(self.table)
            self.table.append(node)
        return found

    def record(
        self, reads: Tree, own: Callable[[Step], bool] | None = None
    ) -> tuple[list[int], str, str | None]:
        """Return a page's root node ids, the digest of its tokens and its own part.

        With `own` (which steps on the page's item read its own fields), the
        item root's token is (digest of those fields' tokens, other tokens...),
        and that first digest is returned too: see Replayer.page_digest.
        """
        below = reads.get(OWN_ROOT) if own is not None else None
        kids, kid_steps, kid_tokens = self._fold(below) if below else ([], [], ())
        if not kids:  # the item's fields were not read: no part of its own
            ids, _, tokens = self._fold(reads)
            return ids, seal(tokens), None
        mine = tuple(t for s, t in zip(kid_steps, kid_tokens, strict=True) if own(s))
        others = [t for s, t in zip(kid_steps, kid_tokens, strict=True) if not own(s)]
        own_seal = seal(mine)
        ids, _, tokens = self._fold({k: v for k, v in reads.items() if k != OWN_ROOT})
        ids.append(self.intern(OWN_ROOT, tuple(kids)))
        return ids, seal((*tokens, seal((own_seal, *others)))), own_seal

    def record_quick(self, roots: list[int], reads: Tree) -> str:
        """Add a page's quick reads to its roots (as their last one); return their digest.

        Subtrees the page's reads folded (when `seen` was set before them) are
        taken as folded then.
        """
        try:
            ids, digest, _ = self.record(reads)
        finally:
            self.seen = None
        roots.append(self.intern(QUICK, tuple(ids)))
        return digest

    def _fold(self, level: Tree) -> tuple[list[int], list[Step], tuple]:
        """Intern one level of a read tree; return its ids, steps and tokens.

        A node nothing was read below (an object handed on but not looked at)
        is left out, as if it had never been reached.
        """
        ids: list[int] = []
        steps: list[Step] = []
        tokens: list = []
        index, table, memo, seen = self.index, self.table, self.memo, self.seen
        for step, below in level.items():
            if below.__class__ is str:
                node = (step, ())
                text = below if len(below) <= LEAF_LIMIT else leaf(below)
            elif (
                seen is not None
                and (done := seen.get(id(below))) is not None
                and done[0] == step
            ):
                if done[1] is not None:  # None: nothing was read below it
                    ids.append(done[1])
                    steps.append(step)
                    tokens.append(done[2])
                continue
            elif step[0] in SEALED:
                # The same list item or context value read the same way on many
                # pages: its node and token are those of the first time. A value
                # read whole is its own key (no marshal, no digest).
                if len(below) == 1 and (text := below.get(V)).__class__ is str:
                    key = (
                        (step, text)
                        if len(text) <= LEAF_LIMIT
                        else _sealed(step, below)
                    )
                else:
                    key = _sealed(step, below)
                hit = memo.get(key)
                if hit is None:
                    kids, _, value = self._fold(below)
                    if not kids:
                        if seen is not None:
                            seen[id(below)] = (step, None, None)
                        continue
                    hit = memo[key] = (self.intern(step, tuple(kids)), seal(value))
                if seen is not None:
                    seen[id(below)] = (step, *hit)
                ids.append(hit[0])
                steps.append(step)
                tokens.append(hit[1])
                continue
            else:
                kids, _, value = self._fold(below)
                if not kids:
                    if seen is not None:
                        seen[id(below)] = (step, None, None)
                    continue
                node = (step, tuple(kids))
                text = value
            found = index.get(node)
            if found is None:
                found = index[node] = len(table)
                table.append(node)
            if seen is not None and below.__class__ is not str:
                seen[id(below)] = (step, found, text)
            ids.append(found)
            steps.append(step)
            tokens.append(text)
        return ids, steps, tuple(tokens)

    def absorb(self, table: Sequence[Sequence]) -> list[int]:
        """Intern another process's compacted nodes; return their ids here."""
        ids: list[int] = []
        for step, kids in table:
            ids.append(self.intern(tuple(step), tuple(ids[k] for k in kids)))
        return ids

    def compact(self, roots: Iterable[list[int]]) -> tuple[list, dict[int, int]]:
        """Return the nodes reachable from roots, renumbered, and the old-to-new map."""
        keep: set[int] = set()
        todo = [i for ids in roots for i in ids]
        while todo:
            i = todo.pop()
            if i not in keep:
                keep.add(i)
                todo.extend(self.table[i][1])
        renumber = {old: new for new, old in enumerate(sorted(keep))}
        table = [
            [list(self.table[old][0]), [renumber[k] for k in self.table[old][1]]]
            for old in sorted(keep)
        ]
        return table, renumber


class Replayer:
    """Compute the digest of recorded read trees against a new context.

    The token of a node's children read from an object depends on nothing else,
    and objects do not change while pages are written: it is memoised by
    (children, object), so a list card or an article's facts read by many pages
    are evaluated once. Each node is turned once into a plan (its kind, its
    argument, its children and the number of their shape, the key of the memo).
    """

    def __init__(self, shared: Shared, nodes: Nodes) -> None:
        self.shared = shared
        self.nodes = nodes
        self.memo: dict[tuple, tuple[Any, Any]] = {}
        self.memo_root: Any = None
        self.failures: dict[tuple[int, str], Any] = {}
        # The children of a node that only reads a plain value, if any page has one.
        self.v_only = (nodes.index.get((("v",), ())),)
        self.plans: list[tuple[str, Any, tuple[int, ...], int, bool, Step]] = []
        self.shapes: dict[tuple, int] = {}
        self.texts: dict[int, tuple[Any, str]] = {}  # id -> (plain/frozen value, token)

    def reset(self, context: Any) -> None:
        """Forget memoised tokens when a different shared context is used."""
        if context is not self.memo_root:
            self.memo = {}
            self.memo_root = context

    def _plan(self) -> list[tuple[str, Any, tuple[int, ...], int, bool, Step]]:
        """Return the plan of every node, adding those of nodes interned since."""
        plans, table = self.plans, self.nodes.table
        if len(plans) == len(table):  # asked for every page: mostly nothing new
            return plans
        for step, kids in table[len(plans) :]:
            kind = step[0]
            sealed = kind in SEALED
            shape = self.shapes.setdefault((kids, sealed), len(self.shapes))
            arg = step[1] if len(step) > 1 else None
            plans.append((kind, arg, kids, shape, kids == self.v_only, step))
        return plans

    def page_digest(
        self,
        roots: Sequence[int],
        root: Mapping,
        memo: bool,
        own: Callable[[Step], bool] | None = None,
        known: str | None = None,
    ) -> tuple[str, str | None]:
        """Return the digest a page with these root nodes would record now.

        With `own`, the reads of the item's own fields are folded apart (as
        Nodes.record does) and their digest is returned too; `known` is that
        digest from the last build, used as it is when the caller knows the
        item's own fields are the same objects as then.
        """
        memos = self.memo if memo else {}
        plans = self._plan()
        tokens = []
        own_seal = None
        for i in roots:
            kind, name, kids, shape, _, step = plans[i]
            if kind == "q":  # the quick reads' root: see quick_digest
                continue
            if not kids:
                tokens.append(leaf(self.terminal(root, step)))
            elif kind == "k" and name in root:
                if own is not None and name == ITEM:
                    own_seal, token_ = self._own_root(
                        kids, root[name], own, known, memos
                    )
                    tokens.append(token_)
                else:
                    value = root[name]
                    hit = memos.get((shape, id(value)))
                    if hit is not None and hit[0] is value:  # _below's memo, inline
                        tokens.append(hit[1])
                    else:
                        tokens.append(self._below(kids, shape, value, memos, True))
            elif kind == "x":
                tokens.append(tuple(leaf(resolve_input(name, step[2])) for _ in kids))
            else:
                tokens.append(self._failed(i, "!missing"))
        return seal(tuple(tokens)), own_seal

    def quick_digest(
        self, roots: Sequence[int], root: Mapping, memo: bool
    ) -> str | None:
        """Return the digest of a page's quick reads now (None: it has none).

        A page recorded with quick reads (Recorder.quick_reads) has their node
        as its last root (step QUICK, interned by Nodes.record_quick).
        """
        if not roots:
            return None
        kind, _, kids, _, _, _ = self._plan()[roots[-1]]
        if kind != "q":
            return None
        return self.page_digest(kids, root, memo)[0]

    def _own_root(
        self,
        kids: tuple[int, ...],
        obj: Any,
        own: Callable,
        known: str | None,
        memos: dict,
    ) -> tuple[str, str]:
        """Return the digest of an item's own reads and the token of its root."""
        plans = self.plans
        mine: list[int] = []
        others: list[int] = []
        for k in kids:
            (mine if own(plans[k][5]) else others).append(k)
        own_seal = known or seal(self._kids(tuple(mine), obj, memos))
        return own_seal, seal((own_seal, *self._kids(tuple(others), obj, memos)))

    def _below(
        self, kids: tuple[int, ...], shape: int, obj: Any, memos: dict, sealed: bool
    ) -> Any:
        """Return the tokens of a node's children read from obj, memoised by object."""
        if isinstance(obj, PLAIN):
            if not sealed:
                return self._kids(kids, obj, memos)
            key: tuple = (shape, type(obj), obj)
            hit = memos.get(key)
            if hit is None:
                hit = memos[key] = (None, seal(self._kids(kids, obj, memos)))
            return hit[1]
        key = (shape, id(obj))
        hit = memos.get(key)
        if hit is not None and hit[0] is obj:
            return hit[1]
        value = self._kids(kids, obj, memos)
        if sealed:
            value = seal(value)
        memos[key] = (obj, value)
        return value

    def _kids(self, kids: tuple[int, ...], obj: Any, memos: dict) -> tuple:
        """Return the tokens of the children of a node read from obj.

        The hot loop of a rebuild: plain values, attributes and items are read
        inline, and a subscript of an object whose type has none gives its
        TypeError without raising it.
        """
        plans, texts = self.plans, self.texts
        out = []
        append = out.append
        for k in kids:
            kind, arg, below, shape, v_only, step = plans[k]
            if not below:
                text = self.terminal(obj, step)
                append(text if len(text) <= LEAF_LIMIT else leaf(text))
                continue
            try:
                if kind == "a":
                    value = getattr(obj, arg, _NONE)
                    if value is _NONE:
                        append(self._failed(k, "!AttributeError"))
                        continue
                elif kind == "i":
                    if not _subscriptable(type(obj)):
                        append(self._failed(k, "!TypeError"))
                        continue
                    value = obj[arg]
                else:
                    value = _follow(obj, step)
            except Exception as error:
                append(self._failed(k, "!" + type(error).__name__))
                continue
            if v_only and kind not in SEALED and isinstance(value, PLAIN):
                if type(value) is str:
                    text = "s" + value
                elif type(value) in PLAIN:  # a date's repr: once per object
                    hit = texts.get(id(value))
                    if hit is None or hit[0] is not value:
                        hit = texts[id(value)] = (value, token(value))
                    text = hit[1]
                else:  # a subclass: it might change (plain types do not)
                    text = token(value)
                append((text if len(text) <= LEAF_LIMIT else leaf(text),))
                continue
            hit = memos.get((shape, id(value)))
            if hit is not None and hit[0] is value:  # _below's memo, inline
                append(hit[1])
                continue
            append(self._below(below, shape, value, memos, kind in SEALED))
        return tuple(out)

    def _failed(self, i: int, failed: str) -> Any:
        """Return the tokens of a node whose every leaf reads the error `failed`."""
        key = (i, failed)
        hit = self.failures.get(key)
        if hit is None:
            kids = self.nodes.table[i][1]
            if kids:
                hit = tuple(self._failed(k, failed) for k in kids)
                if self.nodes.table[i][0][0] in SEALED:
                    hit = seal(hit)
            else:
                hit = failed
            self.failures[key] = hit
        return hit

    def terminal(self, obj: Any, step: Step) -> str:
        """Return the token of the last step of a path."""
        kind = step[0]
        try:
            if kind == "v":
                if _frozen_fields(type(obj)) is None:
                    return token(obj) if whole(obj) else "!notplain"
                # A frozen value (a picture, read on every page that shows its
                # card): its repr once per object and build.
                hit = self.texts.get(id(obj))
                if hit is None or hit[0] is not obj:
                    text = token(obj) if whole(obj) else "!notplain"
                    hit = self.texts[id(obj)] = (obj, text)
                return hit[1]
            if kind == "len":
                return str(len(obj))
            if kind == "atleast":
                return str(len(obj) >= step[1])
            if kind == "bool":
                return str(bool(obj))
            if kind == "str":
                return token(str(obj))
            if kind == "html":
                return token(obj.__html__())
            if kind == "keys":
                return "\x1f".join(identity(key) or "!" for key in obj)
            if kind == "ids":
                return self.shared.ids_token(obj)
            if kind == "id":
                return identity(obj) or "!noid"
            if kind == "in":
                return str(step[1] in obj)
            if kind == "eq":
                return str(obj == step[1])
        except Untracked:
            return "!untracked"
        except Exception as error:
            return "!" + type(error).__name__
        return "!unknown-step"


def _follow(obj: Any, step: Step) -> Any:
    """Return the object one step further along a path."""
    kind = step[0]
    if kind == "a":
        return getattr(obj, step[1])
    if kind == "i":
        return obj[step[1]]
    if kind == "s":
        return obj[slice(step[1], step[2], step[3])]
    if kind == "L":
        if iter(obj) is obj:
            raise Untracked("one-shot iterator")
        return list(obj)
    raise Untracked(f"unknown step {kind}")


@functools.cache
def _subscriptable(kind: type) -> bool:
    """Return whether a subscript may work on instances of a type (not a TypeError)."""
    return hasattr(kind, "__getitem__") or issubclass(kind, type)


_NONE = object()  # getattr's default: the attribute is missing
