"""The steps that work on the finished output, in one fixed order.

blinker calls the receivers of a signal in an undefined order (its docs say so:
they are kept in a set of ids), and Pelican sends `finalized` once to all of
them. The plugins that work on the written site depend on each other's output:
stale pages must be gone before the page list, the search index and the
compressed copies are made, and the search index must exist before it is
compressed. So none of them connects to `finalized` itself: each connects to
its step here, and `run_steps` (the one receiver of `finalized` they share)
sends the steps in `STEPS` order. Receivers of one step must not depend on each
other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blinker import Namespace, Signal
from pelican import signals

__all__ = ["STEPS", "connect", "pages_starting", "pages_written", "run_steps", "step"]

# In order: remove what this build does not produce (incremental); write the
# lists of pages (visitor counter); index them (search); compress every text
# file (assets); write the server's files (security); mark the finished folder.
STEPS = ("prune", "list", "index", "compress", "server", "mark")
_steps = Namespace()
# Sent (with the last page-writing generator) by the build process once every
# page is written, by all processes (plugins/renderpool); work on the pages may
# start before the rest of the output (the search index's early run).
pages_written = _steps.signal("portal.finishing.pages_written")
# Sent (with the first page-writing generator) by the build process before the
# first page is written, once the writer is made and every check of the content
# has passed (plugins/renderpool): work on the output may start beside the pages
# (the images' copies).
pages_starting = _steps.signal("portal.finishing.pages_starting")


def step(name: str) -> Signal:
    """Return the signal of one step."""
    if name not in STEPS:
        raise ValueError(f"unknown finishing step {name!r}: one of {STEPS}")
    return _steps.signal(f"portal.finishing.{name}")


def run_steps(pelican: Any) -> None:
    """Send every step, in order, once Pelican has written the site."""
    for name in STEPS:
        step(name).send(pelican)


def connect(name: str, receiver: Callable[[Any], None]) -> None:
    """Run `receiver(pelican)` at one step of the finished output."""
    signals.finalized.connect(run_steps)  # blinker keeps one connection per receiver
    step(name).connect(receiver)
