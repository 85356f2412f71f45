"""`make check` tells the editor which redirect a renamed page or term needs."""

from __future__ import annotations

import shutil
import subprocess

from portal import check
from tests.conftest import ROOT, news

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Biên tập",
    "GIT_AUTHOR_EMAIL": "bt@example.vn",
    "GIT_COMMITTER_NAME": "Biên tập",
    "GIT_COMMITTER_EMAIL": "bt@example.vn",
}


def _repo(tmp_path, monkeypatch):
    """A git work tree with one published news item and the vocabularies."""
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    shutil.copytree(ROOT / "data", tmp_path / "data")
    (tmp_path / "data" / "redirects.yml").write_text("", "utf-8")
    (tmp_path / "content" / "news").mkdir(parents=True)
    (tmp_path / "content" / "news" / "tin-cu.md").write_text(news(), "utf-8")
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "đầu"]):
        subprocess.run(["git", "-C", str(tmp_path), *command], check=True)
    monkeypatch.chdir(tmp_path)


def _check(capsys) -> str:
    assert check.main(["content", "--data", "data"]) == 0
    return capsys.readouterr().out


def test_a_renamed_file_asks_for_its_redirect(tmp_path, monkeypatch, capsys):
    _repo(tmp_path, monkeypatch)
    assert "0 cảnh báo" in _check(capsys)
    (tmp_path / "content/news/tin-cu.md").rename(tmp_path / "content/news/tin-moi.md")
    out = _check(capsys)
    assert "CẢNH BÁO content/news/tin-moi.md: slug: địa chỉ /tin-tuc/tin-cu/" in out
    assert '“"/tin-tuc/tin-cu/": /tin-tuc/tin-moi/”' in out
    (tmp_path / "data/redirects.yml").write_text(
        '"/tin-tuc/tin-cu/": /tin-tuc/tin-moi/\n'
    )
    assert "0 cảnh báo" in _check(capsys)


def test_a_renamed_term_slug_asks_for_its_redirect(tmp_path, monkeypatch, capsys):
    _repo(tmp_path, monkeypatch)
    path = tmp_path / "data" / "linh-vuc.yml"
    path.write_text(path.read_text("utf-8").replace("slug: kinh-te", "slug: kinh-te-2"))
    out = _check(capsys)
    assert '“"/linh-vuc/kinh-te/": /linh-vuc/kinh-te-2/”' in out
