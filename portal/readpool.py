"""Source files parsed ahead of the build, on the other cores, in forked workers.

Pelican reads its content one file at a time. On a build that reads every file,
`start` hands the files, in the order Pelican will ask for them, to a pool of
forked processes in chunks; `take` gives the build process a file's result when
Pelican reaches it (waiting for its chunk if need be). A file a worker could not
parse (an exception of any kind) gives None: the build process parses it again
itself, so an editor's error, or a bug, is raised exactly where and as it would be
in a one-process build. A worker that dies breaks the pool: `take` raises.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

__all__ = ["ReadPool", "close", "start", "take"]

log = logging.getLogger(__name__)
PREFIX = "readpool"

Parse = Callable[[str], Any]
_parse: Parse | None = None  # the parse function in a worker (inherited by fork)


class ReadPool:
    """Forked workers parsing a list of files, in chunks, in order."""

    def __init__(self, paths: Sequence[str], parse: Parse, workers: int) -> None:
        self.executor = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init,
            initargs=(parse,),
        )
        size = max(4, min(64, len(paths) // (workers * 8) or 1))
        self.chunk_of: dict[str, int] = {}
        self.chunks: list[Future] = []
        for first in range(0, len(paths), size):
            chunk = list(paths[first : first + size])
            self.chunk_of.update(dict.fromkeys(chunk, len(self.chunks)))
            self.chunks.append(self.executor.submit(_work, chunk))
        self.done: dict[int, dict[str, Any]] = {}

    def take(self, path: str) -> Any:
        """Return a file's parsed result once (None: not parsed here, parse it)."""
        index = self.chunk_of.pop(path, None)
        if index is None:
            return None
        results = self.done.get(index)
        if results is None:
            results = self.done[index] = self.chunks[index].result()
            self.chunks[index] = None  # its results now live in self.done
        value = results.pop(path, None)
        if not results:
            del self.done[index]
        return value

    def close(self) -> None:
        """Stop the workers, dropping the work not taken."""
        self.executor.shutdown(wait=True, cancel_futures=True)


def _init(parse: Parse) -> None:
    """Give a new worker the function that parses one file."""
    global _parse
    _parse = parse


def _work(paths: list[str]) -> dict[str, Any]:
    """Parse a chunk of files in a worker; None for a file that raised."""
    results = {}
    for path in paths:
        try:
            results[path] = _parse(path)
        except Exception:  # parsed again by the build process, which raises
            results[path] = None
    return results


_pool: ReadPool | None = None


def start(paths: Sequence[str], parse: Parse, workers: int) -> None:
    """Start parsing these files ahead of the build (closing any earlier pool)."""
    global _pool
    close()
    log.debug("%s: %d files on %d workers", PREFIX, len(paths), workers)
    _pool = ReadPool(paths, parse, workers)


def take(path: str) -> Any:
    """Return a file's result parsed ahead, or None when it was not (parse it)."""
    return None if _pool is None else _pool.take(path)


def close() -> None:
    """Stop the pool of this build, if any."""
    global _pool
    if _pool is not None:
        pool, _pool = _pool, None
        pool.close()
