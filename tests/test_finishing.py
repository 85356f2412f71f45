"""The steps on the finished output run in a fixed order, whatever blinker does."""

from __future__ import annotations

import pytest
from blinker import ANY, Namespace
from pelican import Pelican, signals
from pelican.settings import read_settings

from portal import finishing
from tests.conftest import ROOT

# The receiver each plugin connects at each step (module, function name).
EXPECTED = {
    "prune": {("incremental", "finish_build")},
    "list": {("visitor_counter", "write")},
    "index": {("search_index", "index_site")},
    "compress": {("assets", "finish")},
    "server": {("security", "write_nginx_file")},
    "mark": {("deploy_marker", "write_marker")},
}
# Receivers of Pelican's `finalized` that need no order (readpool stops its workers).
UNORDERED = {("readpool", "finish")}


def _name(receiver) -> tuple[str, str]:
    """Return a receiver's module (its last part) and name."""
    return receiver.__module__.rsplit(".", 1)[-1], receiver.__name__


@pytest.fixture
def loaded(tmp_path):
    """Load the project's settings and plugins (as `pelican` does) once."""
    settings = read_settings(
        str(ROOT / "pelicanconf.py"),
        override={"OUTPUT_PATH": str(tmp_path / "out"), "CACHE_PATH": str(tmp_path)},
    )
    return Pelican(settings)


def test_the_plugins_work_on_the_output_at_their_steps(loaded):
    """Each output plugin is connected to its step, and none to `finalized` itself."""
    for name, expected in EXPECTED.items():
        got = {_name(r) for r in finishing.step(name).receivers_for(ANY)}
        assert got == expected, name
    direct = {
        _name(r)
        for r in signals.finalized.receivers_for(ANY)
        if r is not finishing.run_steps
    }
    assert direct <= UNORDERED, f"connect these to a portal.finishing step: {direct}"


def test_steps_run_in_order_whatever_the_connection_order(monkeypatch):
    """Receivers connected in reverse order still run in STEPS order."""
    monkeypatch.setattr(finishing, "_steps", Namespace())  # no plugin's receivers
    seen: list[str] = []
    for name in reversed(finishing.STEPS):

        def receiver(pelican, *, name: str = name) -> None:
            seen.append(name)

        finishing.step(name).connect(receiver, weak=False)
    finishing.run_steps(object())
    assert seen == list(finishing.STEPS)


def test_an_unknown_step_is_refused():
    """A misspelt step name raises at once (a bug, not a silent no-op)."""
    with pytest.raises(ValueError, match="unknown finishing step"):
        finishing.connect("compres", print)
