"""The bench switches post-processing off in its "ours" rows, as docs/BENCHMARKS.md says."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run import options_off, post_build_options

ROOT = Path(__file__).resolve().parent.parent


def project_settings() -> dict:
    """Return the project's settings as Pelican reads them."""
    from pelican.settings import read_settings

    return read_settings(str(ROOT / "pelicanconf.py"))


def test_finds_the_compression_toggles_of_every_plugin() -> None:
    settings = project_settings()
    toggles = post_build_options(settings, settings["PLUGINS"])
    assert toggles.get("ASSETS") == ["compress", "brotli"]
    line = options_off(toggles)
    assert "'compress': False" in line and "'brotli': False" in line


@pytest.mark.parametrize(
    "body", ["raise RuntimeError('broken')\n", "import nowhere_x\n"]
)
def test_a_plugin_that_cannot_be_imported_stops_the_bench(
    tmp_path: Path, body: str
) -> None:
    folder = tmp_path / "plugins" / "brokenbench"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "brokenbench.py").write_text(body)
    settings = {"PLUGIN_PATHS": [str(tmp_path / "plugins")]}
    with pytest.raises(SystemExit, match="brokenbench"):
        post_build_options(settings, ["brokenbench"])
