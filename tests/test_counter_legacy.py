"""The legacy portal's visit total carried over into the counter, once."""

from __future__ import annotations

import os

from counter.config import Config
from counter.legacy import main
from counter.storage import HIT, open_storage

REDIRECTS = """\
"/portal/Pages/Article.aspx?ArticleID=123": /tin-tuc/hoi-nghi/
"/tin-tuc-su-kien/ke-hoach.html": /tin-tuc/ke-hoach/
"""
VISITS = """\
legacy_url,visits
http://cong-cu.example.gov.vn/portal/Pages/Article.aspx?ArticleID=123,5300
/tin-tuc-su-kien/ke-hoach.html,120
"""


def _storage(monkeypatch, tmp_path):
    """Point the counter at a database in tmp_path; return its storage."""
    monkeypatch.setenv("COUNTER_DATABASE_URL", f"sqlite:///{tmp_path / 'c.sqlite3'}")
    return open_storage(Config.from_env(dict(os.environ)))


def test_the_starting_total_is_set_once_and_counted_on(tmp_path, monkeypatch, capsys):
    storage = _storage(monkeypatch, tmp_path)
    (tmp_path / "redirects.yml").write_text(REDIRECTS, "utf-8")
    (tmp_path / "visits.csv").write_text(VISITS, "utf-8")
    argv = ["--site", "10810", "--pages", str(tmp_path / "visits.csv")]
    argv += ["--redirects", str(tmp_path / "redirects.yml"), "--note", "cổng cũ"]
    assert main(argv) == 0, capsys.readouterr()
    stats = storage.stats()
    assert stats.site == 10810
    assert stats.pages == {"/tin-tuc/hoi-nghi/": 5300, "/tin-tuc/ke-hoach/": 120}
    assert main(argv) == 1
    assert "đã được đặt" in capsys.readouterr().err
    assert main(["--show"]) == 0
    assert '"site": 10810' in capsys.readouterr().out
    assert storage.stats().site == 10810
    storage.open()
    try:
        answers = storage.apply(
            "2026-12-06", [(HIT, "/tin-tuc/hoi-nghi/", "a", "b", None)]
        )
    finally:
        storage.close()
    assert answers == [(5301, 10811, True)]


def test_an_unknown_legacy_url_sets_nothing(tmp_path, monkeypatch, capsys):
    storage = _storage(monkeypatch, tmp_path)
    (tmp_path / "redirects.yml").write_text(REDIRECTS, "utf-8")
    (tmp_path / "visits.csv").write_text("/khong-co.html,5\n", "utf-8")
    argv = ["--site", "7", "--pages", str(tmp_path / "visits.csv")]
    assert main([*argv, "--redirects", str(tmp_path / "redirects.yml")]) == 1
    assert "visits.csv:1: /khong-co.html" in capsys.readouterr().err
    storage.open()
    storage.close()
    assert storage.stats().site == 0
