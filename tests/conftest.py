"""Shared test helpers: real Pelican builds of small sites in temporary folders."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from pelican.settings import read_settings

from tests.browser import browser  # noqa: F401  (the fixture, for every test module)

ROOT = Path(__file__).resolve().parents[1]


def get_settings(**overrides) -> dict:
    """Return the project's Pelican settings with some values overridden."""
    return read_settings(str(ROOT / "pelicanconf.py"), override=overrides)


def front_matter(**fields) -> str:
    """Render fields as a YAML front matter block (values written as JSON)."""
    lines = [
        f"{key}: {json.dumps(value, ensure_ascii=False)}"
        for key, value in fields.items()
    ]
    return "---\n" + "\n".join(lines) + "\n---\n"


MODEL = {
    "title": "Đổi rác thải nhựa lấy khẩu trang",
    "category": "Văn hóa – xã hội",
    "locality": "Phan Thiết",
    "year": 2020,
    "kind": "Mô hình",
    "unit": "Hội Liên hiệp Phụ nữ phường Đức Thắng",
    "summary": "Người dân mang rác nhựa đến đổi lấy khẩu trang.",
    "date": "2020-12-18",
}
NEWS = {
    "title": "Hội nghị tổng kết phong trào “Dân vận khéo”",
    "date": "2021-01-15",
    "summary": "Tỉnh biểu dương các điển hình giai đoạn 2016 – 2020.",
}


def model(**changes) -> str:
    """Return the text of a valid model file, with some fields changed."""
    fields = {**MODEL, **changes}
    return (
        front_matter(**{k: v for k, v in fields.items() if v is not None})
        + "Nội dung.\n"
    )


def news(**changes) -> str:
    """Return the text of a valid news file, with some fields changed."""
    fields = {**NEWS, **changes}
    return (
        front_matter(**{k: v for k, v in fields.items() if v is not None})
        + "Nội dung.\n"
    )


def pelican_command(
    content: Path, output: Path, conf: str, settings: dict, *options: str
) -> list[str]:
    """Return the `pelican` command line; settings go as JSON after one -e."""
    return [
        sys.executable,
        "-m",
        "pelican",
        str(content),
        "-o",
        str(output),
        "-s",
        str(ROOT / conf),
        "--log-handler",
        "plain",
        *options,
        "-e",
        *[f"{key}={json.dumps(value)}" for key, value in settings.items()],
    ]


@dataclass
class Site:
    """A small site in a temporary folder, built by the real `pelican` command."""

    root: Path

    @property
    def content(self) -> Path:
        return self.root / "content"

    @property
    def output(self) -> Path:
        return self.root / "output"

    def write(self, relative: str, text: str | bytes) -> Path:
        """Write a file under content/."""
        path = self.content / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(
                textwrap.dedent(text) if text.startswith("\n") else text, "utf-8"
            )
        return path

    def build(
        self, conf: str = "pelicanconf.py", env: dict | None = None, **settings
    ) -> subprocess.CompletedProcess:
        """Run `pelican` on the site; settings are passed as JSON with -e."""
        settings.setdefault("CACHE_PATH", str(self.root / "cache"))
        # The site's own redirect file (none unless a test writes one), not data/'s.
        settings.setdefault("REDIRECTS", {"path": str(self.root / "redirects.yml")})
        return subprocess.run(
            pelican_command(self.content, self.output, conf, settings),
            cwd=self.root,
            capture_output=True,
            text=True,
            env={**_env(), **(env or {})},
            timeout=300,
        )

    def page(self, url: str) -> str:
        """Return the HTML written for a URL path like `mo-hinh/x/`."""
        return (self.output / url.strip("/") / "index.html").read_text("utf-8")


def _env() -> dict:
    """Return an environment with a wide terminal so messages are not wrapped."""
    import os

    environ = {**os.environ, "COLUMNS": "400", "TERM": "dumb"}
    environ.pop("COUNTER_URL", None)  # a build's counter is what each test says
    return environ


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """Return an empty site with the content folders in place."""
    site = Site(tmp_path)
    for folder in ("models", "news", "pages", "images"):
        (site.content / folder).mkdir(parents=True)
    return site


def read_item(path: Path) -> dict:
    """Return the metadata our reader gives Pelican for one file."""
    from frontmatter import FrontMatterReader

    reader = FrontMatterReader(get_settings(PATH=str(path.parents[1])))
    return reader.read(str(path))[1]


def build_sample(
    factory,
    name: str,
    conf: str = "pelicanconf.py",
    env: dict | None = None,
    **settings,
) -> Site:
    """Build the real sample content into a new temporary folder; fail on any error."""
    root = factory.mktemp(name)
    (root / "content").symlink_to(ROOT / "content")
    site = Site(root)
    result = site.build(conf, env=env, **settings)
    assert result.returncode == 0, result.stderr
    return site


@pytest.fixture(scope="session")
def sample(tmp_path_factory) -> Site:
    """The sample content as `make html` builds it, built once for every test module."""
    return build_sample(tmp_path_factory, "sample")
