"""The web editor's and the previews' paths in the real nginx configuration."""

from __future__ import annotations

import pytest

from tests.nginx import free_port, run_nginx

SITE_CSP = "default-src 'self'; script-src 'self'"


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    """Serve a tiny site with an editor page and a preview, at the root and /portal."""
    tmp = tmp_path_factory.mktemp("cms-nginx")
    root = tmp / "www"
    for base in (root, root / "portal"):
        for page in ("", "quan-tri/", "xem-truoc/pr-3/"):
            (base / page).mkdir(parents=True, exist_ok=True)
            (base / page / "index.html").write_text("<!doctype html><p>x", "utf-8")
        (base / "quan-tri" / "config.yml").write_text("backend: {}\n", "utf-8")
        (base / "quan-tri" / ".secret").write_text("x", "utf-8")
    (root / ".nginx").mkdir()
    (root / ".nginx" / "csp.conf").write_text(
        f'add_header Content-Security-Policy "{SITE_CSP}" always;\n', "utf-8"
    )
    with run_nginx(root, root, free_port(), "127.0.0.1:9", tmp / "nginx") as server:
        yield server


@pytest.mark.parametrize("prefix", ["", "/portal"])
def test_the_editor_has_its_own_headers_and_no_index(nginx, prefix):
    status, headers, _ = nginx.get(f"{prefix}/quan-tri/")
    assert status == 200
    assert headers["x-robots-tag"] == "noindex, nofollow"
    assert headers["content-security-policy"] == (
        "frame-ancestors 'none'; object-src 'none'; base-uri 'self'"
    )
    for name in ("strict-transport-security", "x-content-type-options"):
        assert name in headers
    status, headers, _ = nginx.get(f"{prefix}/quan-tri/config.yml")
    assert status == 200 and headers["content-type"].startswith("text/yaml")


def test_previews_are_not_indexed_and_public_pages_keep_the_site_policy(nginx):
    status, headers, _ = nginx.get("/xem-truoc/pr-3/")
    assert status == 200 and headers["x-robots-tag"] == "noindex, nofollow"
    status, headers, _ = nginx.get("/")
    assert headers["content-security-policy"] == SITE_CSP
    assert "x-robots-tag" not in headers


def test_hidden_files_stay_hidden_under_the_editor(nginx):
    assert nginx.get("/quan-tri/.secret")[0] == 404
