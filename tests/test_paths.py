"""portal.paths: written files relative to the output folder."""

from __future__ import annotations

import os

import pytest

from portal.paths import under


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("a/index.html", "a/index.html"),
        ("a/../b/index.html", "b/index.html"),
        ("./a//index.html", "a/index.html"),
        ("../elsewhere.html", None),
        ("..", None),
        ("a/.", "a"),
        ("a/", "a"),
        ("a/..", None),
        ("/a.html", "a.html"),
        (".hidden/a.html", ".hidden/a.html"),
        ("a/..b/c.", "a/..b/c."),
    ],
)
def test_under_gives_the_url_form_or_none_outside(tmp_path, relative, expected):
    folder = os.path.realpath(tmp_path / "out")
    assert under(f"{folder}{os.sep}{relative}", folder) == expected


def test_under_agrees_with_resolving_every_path(tmp_path):
    """The string test of clean paths gives what resolving them gives."""
    import itertools

    folder = os.path.realpath(tmp_path / "out")
    parts = ["a", ".", "..", "", ".x", "b.html", "..c"]
    for count in (1, 2, 3):
        for chosen in itertools.product(parts, repeat=count):
            path = f"{folder}{os.sep}{os.sep.join(chosen)}"
            real = os.path.realpath(path)
            inside = real.startswith(folder + os.sep)
            expected = os.path.relpath(real, folder) if inside else None
            assert under(path, folder) == expected, chosen


def test_under_resolves_a_symlinked_folder(tmp_path):
    real = tmp_path / "out"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    path = str(tmp_path / "link" / "a.html")
    assert under(path, os.path.realpath(real)) == "a.html"
