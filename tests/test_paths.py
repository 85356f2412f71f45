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
    ],
)
def test_under_gives_the_url_form_or_none_outside(tmp_path, relative, expected):
    folder = os.path.realpath(tmp_path / "out")
    assert under(f"{folder}{os.sep}{relative}", folder) == expected


def test_under_resolves_a_symlinked_folder(tmp_path):
    real = tmp_path / "out"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    path = str(tmp_path / "link" / "a.html")
    assert under(path, os.path.realpath(real)) == "a.html"
