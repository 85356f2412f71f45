"""renderpool: render (or replay) the site's pages on every core.

Pelican writes the pages of every generator in one process. When the build has
enough pages, the first page-writing generator forks one process per extra core
(`os.fork`, after every context is final and the writer is made); each process
runs the page-writing generators with a writer that renders or replays only the
pages it claims, the build process among them: every process asks for the same
pages in the same order, and takes the next few of that sequence (a chunk) from a
counter they share whenever it has written its own (`Claims`).
After the last page-writing generator, the build process waits for the others,
takes their records into the incremental plugin's build (`Build.absorb`) and
sends the signals of their pages again. Errors are those of one process: an
editor's error (ContentError) from another process is raised as it is; a bug is
raised with that process's traceback as a note; a process killed by a signal
fails the build with a message naming it.

Needs the incremental plugin's writer (its `build` and `owns`); without it,
pages are written in one process.
"""

from __future__ import annotations

import functools
import logging
import mmap
import multiprocessing
import os
import pickle
import signal as signals_module
import struct
import sys
import time
import traceback
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pelican import signals

from portal import finishing
from portal.options import check_whole_numbers, merge_options, usable_cores

__all__ = ["Claims", "Pool", "get_options", "register"]

log = logging.getLogger(__name__)
PREFIX = "renderpool"
SETTING = "RENDERPOOL"
DEFAULTS: Mapping[str, Any] = {
    "processes": 0,  # processes writing pages; 0: min(2, usable cores); 1: off
    "min_items": 1000,  # fewer items (content objects): write pages in one process
    # Generators whose generate_output only renders pages through the writer.
    "generators": [
        "ArticlesGenerator",
        "PagesGenerator",
        "SectionsGenerator",
        "TaxonomyGenerator",
        "StatisticsGenerator",
        "SearchPageGenerator",
    ],
}
# The signals sent for each page or feed written: another process's are sent
# again. (The pages kept travel in the incremental build's records: its
# pages_kept is sent once, by the build process.)
PAGE_SIGNALS = {
    "content_written": signals.content_written,
    "feed_written": signals.feed_written,
}


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the RENDERPOOL setting with the defaults and check it."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX)
    check_whole_numbers(options, {"processes": 0, "min_items": 0}, SETTING, PREFIX)
    names = options["generators"]
    if not isinstance(names, list | tuple) or not all(
        isinstance(name, str) for name in names
    ):
        raise ValueError(f"{PREFIX}: {SETTING}['generators'] must be a list of names")
    return options


def processes(options: Mapping) -> int:
    """Return how many processes write pages (one per usable core, at most two)."""
    return options["processes"] or min(2, usable_cores())


# Pages a process claims at a time, and how many chunks the shared memory holds.
CHUNK = 4
CHUNKS = 1 << 20
# How long a process waits for the claims' lock before it gives up (the process
# holding it died while it held it).
LOCK_TIMEOUT = 60.0


class Claims:
    """Which process writes each page: chunks of the page sequence, claimed in turn.

    Every process asks for the same pages in the same order (the page-writing
    generators over the same contexts). The n-th page asked for is in chunk
    n // CHUNK; a process reaching a chunk past the last one it took takes the
    next chunk of the shared counter, which is that chunk or a later one (the
    chunks between are the other processes'). Shared memory holds the counter and
    each chunk's process. A path asked for again (Pelican's rule on writing a file
    twice) goes to the process of its first chunk, so that rule stays in one
    process. The order of the paths is folded into `trail`, compared at the end.
    """

    def __init__(self, count: int) -> None:
        if count > 255:
            raise ValueError(f"{PREFIX}: at most 255 processes, not {count}")
        self.shared = mmap.mmap(-1, 8 + CHUNKS)  # counter, then each chunk's process
        self.lock = multiprocessing.get_context("fork").Lock()
        self.index = 0
        self.held = -1  # the last chunk this process took
        self.asked = 0
        self.first: dict[str, int] = {}  # path -> the chunk it was first asked in
        self.trail = 0

    def start(self, index: int) -> None:
        """Make these the claims of process `index` (in a process just forked)."""
        self.index = index

    def owns(self, rel: str) -> bool:
        """Return whether this process writes the next page asked for."""
        chunk = self.asked // CHUNK
        self.asked += 1
        self.trail = zlib.crc32(rel.encode("utf-8", "surrogatepass"), self.trail)
        if chunk > self.held:
            self.claim()
        first = self.first.setdefault(rel, chunk)
        return self.process(first) == self.index

    def claim(self) -> None:
        """Take the next chunk of the shared counter."""
        if not self.lock.acquire(timeout=LOCK_TIMEOUT):
            raise RuntimeError(
                f"{PREFIX}: no page-writing process gave the claims back"
            )
        try:
            (taken,) = struct.unpack_from("<Q", self.shared, 0)
            if taken >= CHUNKS:
                raise RuntimeError(f"{PREFIX}: more than {CHUNKS * CHUNK} pages")
            struct.pack_into("<Q", self.shared, 0, taken + 1)
            self.shared[8 + taken] = self.index
        finally:
            self.lock.release()
        self.held = taken

    def process(self, chunk: int) -> int:
        """Return which process took a chunk this process has reached."""
        return self.index if chunk == self.held else self.shared[8 + chunk]

    def sequence(self) -> tuple[int, int]:
        """Return how many pages were asked for and the digest of their order."""
        return self.asked, self.trail


class Pool:
    """The processes writing the pages of one run, and their results."""

    def __init__(self, generators: Sequence[Any], count: int) -> None:
        self.generators = list(generators)
        self.count = count
        self.children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
        self.claims: Claims | None = None
        self.started = False
        self.forked_at = self.cpu_at = 0.0

    def run(self, generator: Any, generate: Callable, writer: Any) -> None:
        """Run one page-writing generator's output in the pool (its wrapper)."""
        build = getattr(writer, "build", None)
        if not self.started:
            self.started = True
            finishing.pages_starting.send(generator)
            if build is not None and hasattr(writer, "owns") and self.count > 1:
                build.digest_lists(generator.context)  # once, not in each process
                self.fork(writer)
        if not self.children:
            generate(writer)
            self.done(generator)
            return
        writer.owns = self.claims.owns
        try:
            generate(writer)
        except BaseException:
            self.kill()
            raise
        finally:
            writer.owns = None
        if generator is self.generators[-1]:
            self.join(writer)
            self.done(generator)

    def done(self, generator: Any) -> None:
        """Say every page is written, after the last page-writing generator."""
        if generator is self.generators[-1]:
            finishing.pages_written.send(generator)

    def guard(self, generator: Any, generate: Callable, writer: Any) -> None:
        """Run another generator's output; stop the other processes if it fails."""
        try:
            generate(writer)
        except BaseException:
            self.kill()
            raise

    def fork(self, writer: Any) -> None:
        """Start one process per extra core; each writes its pages, then exits."""
        log.info("%s: writing pages in %d processes", PREFIX, self.count)
        self.forked_at = time.perf_counter()
        self.cpu_at = time.process_time()
        self.claims = Claims(self.count)
        for index in range(1, self.count):
            read_end, write_end = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the child never returns into Pelican
                os.close(read_end)
                for _, other in self.children:
                    os.close(other)
                _child(self, writer, index, write_end)
            os.close(write_end)
            self.children.append((pid, read_end))

    def join(self, writer: Any) -> None:
        """Wait for the other processes; take their records, or raise their error."""
        children, self.children = self.children, []
        done, cpu = time.perf_counter(), time.process_time() - self.cpu_at
        results = [_collect(pid, fd) for pid, fd in children]
        waited = time.perf_counter()
        for status, payload in results:
            if status == "failed":
                raise payload
        for (pid, _), (_, payload) in zip(children, results, strict=True):
            if payload["sequence"] != self.claims.sequence():
                raise RuntimeError(
                    f"{PREFIX}: the page-writing process {pid} was asked for other "
                    "pages than the build process (a page-writing generator's "
                    "output differs between processes)"
                )
        for _, payload in results:
            writer.build.absorb(payload["build"])
            writer.absorb_claims(*payload["claims"])
        for _, payload in results:
            for name, path in payload["events"]:
                rel = writer.build.relative(path)
                PAGE_SIGNALS[name].send(path, context={"output_file": rel})
        log.info(
            "%s: pages written in %.2f s by %d processes (the build process's part "
            "%.2f s, %.2f s of CPU; the others' CPU %s s; waiting for them %.2f s, "
            "taking their records %.2f s)",
            PREFIX,
            time.perf_counter() - self.forked_at,
            self.count,
            done - self.forked_at,
            cpu,
            ", ".join(f"{payload['cpu']:.2f}" for _, payload in results),
            waited - done,
            time.perf_counter() - waited,
        )

    def kill(self) -> None:
        """Stop the other processes (the build process failed)."""
        children, self.children = self.children, []
        for pid, fd in children:
            os.kill(pid, signals_module.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)


def _child(pool: Pool, writer: Any, index: int, fd: int) -> None:
    """Write the pages this process claims, send its results to the parent, exit."""
    code = 0
    started = time.process_time()
    try:
        events = _catch_page_signals()
        writer.build.start_part()
        pool.claims.start(index)
        writer.owns = pool.claims.owns
        for generator in pool.generators:
            generator.generate_output.__wrapped__(writer)
        result = (
            "done",
            {
                "build": writer.build.part(),
                "claims": writer.part_claims(),
                "events": events,
                "sequence": pool.claims.sequence(),
                "cpu": time.process_time() - started,
            },
        )
    except BaseException as error:  # sent to the parent, which raises it
        result = ("failed", _failure(error))
    try:
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(data)
    except BaseException:  # noqa: BLE001 - the parent reports a child without result
        traceback.print_exc()
        code = 70
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _catch_page_signals() -> list[tuple[str, str]]:
    """Replace this process's receivers of the page signals by a list of events."""
    events: list[tuple[str, str]] = []
    for name, sent in PAGE_SIGNALS.items():
        for receiver in list(sent.receivers_for(None)):
            sent.disconnect(receiver)

        def note(path: str, *, name: str = name, **_kwargs: Any) -> None:
            events.append((name, path))

        sent.connect(note, weak=False)
    return events


def _failure(error: BaseException) -> BaseException:
    """Return the exception to raise in the parent (a bug keeps its traceback)."""
    from portal.problems import ContentError

    text = "".join(traceback.format_exception(error))
    if not isinstance(error, ContentError):
        error.add_note(f"{PREFIX}: raised in a page-writing process:\n{text}")
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001 - an exception that cannot travel
        return RuntimeError(f"{PREFIX}: a page-writing process failed:\n{text}")
    return error


def _collect(pid: int, fd: int) -> tuple[str, Any]:
    """Read a child's result and wait for it; a failure as an exception."""
    with os.fdopen(fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        name = signals_module.Signals(os.WTERMSIG(status)).name
        return "failed", RuntimeError(
            f"{PREFIX}: the page-writing process {pid} was killed by {name}: "
            "the build stops (its pages are not written)"
        )
    if not data:
        return "failed", RuntimeError(
            f"{PREFIX}: the page-writing process {pid} exited with status "
            f"{os.waitstatus_to_exitcode(status)} without a result"
        )
    return pickle.loads(data)


def plan(generators: list) -> None:
    """Give the page-writing generators to a pool when the build is large enough."""
    if not generators:
        return
    settings = generators[0].settings
    options = get_options(settings)
    count = processes(options)
    pooled = [g for g in generators if type(g).__name__ in options["generators"]]
    items = len(generators[0].context.get("generated_content") or {})
    if not pooled:
        return
    if items < options["min_items"]:
        count = 1  # one process, still saying when every page is written
    pool = Pool(pooled, count)
    for generator in generators:
        if not hasattr(generator, "generate_output"):
            continue
        generate = generator.generate_output
        run = pool.run if generator in pooled else pool.guard
        wrapper = functools.partial(run, generator, generate)
        wrapper.__wrapped__ = generate
        generator.generate_output = wrapper


def check_settings(pelican) -> None:
    """Check the RENDERPOOL setting once, before anything is built."""
    get_options(pelican.settings)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(check_settings)
    signals.all_generators_finalized.connect(plan)
