"""plugins/assets and plugins/security: hashed theme files, .gz/.br copies, one CSP."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import time
from types import SimpleNamespace

import brotli
import pytest
from assets import AssetsError, compress_tree, get_options, hashed_name
from pelican.settings import read_settings
from security import SecurityError, build_policy, counter_origin, meta_policy

from tests.conftest import ROOT, Site, build_sample

CONTENT = ROOT / "content"
COUNTER = "https://dem.example.vn"
INLINE = [
    (r"<style[\s>]", "a <style> element"),
    (r"\sstyle=", "a style attribute"),
    (r"\son[a-z]+=", "an event handler attribute"),
    (r"javascript:", "a javascript: URL"),
    (r"<script(?![^>]*\ssrc=)(?![^>]*application/ld\+json)[^>]*>", "an inline script"),
]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Site:
    """Build the real sample content once, with a counter on another origin."""
    return build_sample(tmp_path_factory, "assets", env={"COUNTER_URL": COUNTER})


def test_pages_link_the_hashed_stylesheet(sample):
    source = (ROOT / "theme" / "static" / "css" / "site.css").read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:8]
    assert f'href="/theme/css/site.{digest}.css"' in sample.page("mo-hinh/")
    assert (sample.output / f"theme/css/site.{digest}.css").read_bytes() == source
    assert (sample.output / "theme/css/site.css").read_bytes() == source


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("css/site.css", "css/site.{h}.css"),
        ("js/counter.min.js", "js/counter.min.{h}.js"),
        ("img/logo", "img/logo"),
    ],
)
def test_hashed_name(path, expected):
    assert hashed_name(path, "0a1b2c3d") == expected.format(h="0a1b2c3d")


def test_the_policy_names_the_counter_origin(sample):
    meta = re.search(
        r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">',
        sample.page("mo-hinh/"),
    ).group(1)
    assert "connect-src 'self' https://dem.example.vn;" in meta
    assert "frame-ancestors" not in meta
    assert not (sample.output / ".nginx").exists()  # never in the webroot
    server_files = sample.output.with_name(sample.output.name + "-server")
    header = (server_files / "csp.conf").read_text("utf-8")
    assert f"{meta}; frame-ancestors 'none'\" always;" in header
    assert header.count("add_header Content-Security-Policy") == 1


@pytest.mark.parametrize(
    ("url", "site", "origin"),
    [
        ("", "", ""),
        ("https://Dem.Example.vn/", "", "https://dem.example.vn"),
        ("http://127.0.0.1:8787", "https://a.vn/portal", "http://127.0.0.1:8787"),
        ("https://a.vn", "https://a.vn/portal", ""),
    ],
)
def test_counter_origin(url, site, origin):
    assert counter_origin(url, site) == origin


@pytest.mark.parametrize(
    "url",
    [
        "dem.example.vn",
        "ftp://dem.example.vn",
        "https://",
        "/",
        "https://dem.example.vn/api/",
        'https://a.vn" always; include /etc/passwd',
        "https://a.vn?x",
        "https://user@a.vn",
        "https://a.vn:99999",
    ],
)
def test_a_bad_counter_url_is_refused(url):
    with pytest.raises(SecurityError, match="^security: COUNTER_URL"):
        counter_origin(url)


def test_policy_without_counter_is_self_only():
    policy = build_policy("connect-src 'self' {counter_origin}; object-src 'none'", "")
    assert policy == "connect-src 'self'; object-src 'none'"
    assert meta_policy(policy + "; frame-ancestors 'none'") == policy


def test_pages_satisfy_the_policy_statically(sample):
    problems = [
        f"{page.relative_to(sample.output)}: {what}"
        for page in sample.output.rglob("*.html")
        for pattern, what in INLINE
        if re.search(pattern, page.read_text("utf-8"))
    ]
    assert not problems, problems


def test_text_files_are_precompressed(sample):
    pages = [p for p in sample.output.rglob("*.html") if p.stat().st_size >= 1024]
    assert len(pages) > 20
    for page in pages:
        data = page.read_bytes()
        packed = page.with_name(page.name + ".gz").read_bytes()
        assert gzip.decompress(packed) == data
        assert packed[4:8] == b"\0\0\0\0", "no time stamp: builds are byte-identical"
        assert brotli.decompress(page.with_name(page.name + ".br").read_bytes()) == data
    small = [
        p
        for p in sample.output.rglob("*")
        if p.suffix in (".html", ".css", ".js", ".json", ".xml", ".txt")
        and p.stat().st_size < 200
    ]
    assert not [p for p in small if p.with_name(p.name + ".gz").exists()]


def test_the_web_editors_own_copies_are_left_to_it(sample):
    # cms compresses its bundle once per version and declares the copies; had
    # assets written its own (another brotli quality) over them, cms copied its
    # own back on the next build, and so on: some 90 files every rebuild.
    bundle = next((sample.output / "quan-tri").glob("decap-*"))
    copies = sorted(bundle.glob("*.br"))
    assert len(copies) > 20
    # The sample is built with pelicanconf.py's CMS quality.
    quality = read_settings(str(ROOT / "pelicanconf.py"))["CMS"]["brotli_quality"]
    (cache,) = (ROOT / "cache" / "cms").glob(f"{bundle.name[6:]}-br{quality}-*")
    for copy in copies:
        kept = cache / copy.name
        assert copy.read_bytes() == kept.read_bytes(), f"{copy.name} compressed again"
        assert copy.stat().st_mtime_ns == kept.stat().st_mtime_ns


def test_copies_another_plugin_declared_are_not_read_or_noted(tmp_path, monkeypatch):
    options = get_options({"ASSETS": {"workers": 1, "min_size": 10}})
    site, cache = tmp_path / "site", tmp_path / "cache"
    _pages(site, 2)
    theirs = site / "trang-0" / "index.html"
    for suffix, data in ((".gz", b"their gz"), (".br", b"their br")):
        theirs.with_name(theirs.name + suffix).write_bytes(data)
    read = _counting_reads(monkeypatch)
    declared = frozenset({"trang-0/index.html.br"})
    assert compress_tree(site, options, cache, declared) == (2, 0)
    assert sorted(read) == ["index.html", "nho.html"]  # trang-1 and nho.html
    assert (site / "trang-0" / "index.html.br").read_bytes() == b"their br"
    assert (site / "trang-0" / "index.html.gz").read_bytes() == b"their gz"
    ours = site / "trang-1" / "index.html"
    assert brotli.decompress(ours.with_name("index.html.br").read_bytes()) == (
        ours.read_bytes()
    )
    # Not declared any more: compressed like any other file.
    compress_tree(site, options, cache)
    assert gzip.decompress((site / "trang-0" / "index.html.gz").read_bytes()) == (
        theirs.read_bytes()
    )


def test_compression_rewrites_only_stale_copies(tmp_path):
    options = get_options({"ASSETS": {"min_size": 10}})
    page = tmp_path / "a" / "index.html"
    page.parent.mkdir()
    page.write_text("<p>Xin chào</p>" * 10, "utf-8")
    archive = tmp_path / "tai-lieu.tar.gz"
    archive.write_bytes(b"editor's own archive")
    assert compress_tree(tmp_path, options) == (1, 0)
    assert compress_tree(tmp_path, options) == (0, 1)
    page.write_text("<p>Đã sửa</p>" * 10, "utf-8")
    assert compress_tree(tmp_path, options) == (1, 0)
    assert gzip.decompress(page.with_suffix(".html.gz").read_bytes()) == (
        page.read_bytes()
    )
    page.unlink()
    compress_tree(tmp_path, options)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "tai-lieu.tar.gz"
    ]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"bogus": 1}, "unknown ASSETS keys: bogus"),
        ({"hash_length": 3}, "hash_length"),
        ({"min_size": -1}, "min_size"),
        ({"brotli_quality": 12}, "brotli_quality must be an int from 0 to 11"),
        ({"gzip_level": True}, "gzip_level"),
        ([], "must be a dict"),
    ],
)
def test_bad_options_are_refused(given, message):
    with pytest.raises(AssetsError, match=f"^assets: .*{message}"):
        get_options({"ASSETS": given})


def test_a_missing_theme_file_is_named(site, tmp_path):
    theme = tmp_path / "theme"
    (theme / "templates").mkdir(parents=True)
    (theme / "static").mkdir()
    (theme / "templates" / "index.html").write_text(
        '<link href="{{ "css/khong-co.css"|asset }}">', "utf-8"
    )
    result = site.build(THEME=str(theme), DIRECT_TEMPLATES=["index"])
    assert result.returncode != 0
    assert "assets: giao diện không có tệp “css/khong-co.css”" in result.stderr


def _pages(folder, count: int) -> None:
    """Write `count` different HTML pages (and one small one) under a folder."""
    for number in range(count):
        page = folder / f"trang-{number}" / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(f"<p>Mô hình số {number}: Dân vận khéo</p>\n" * 60, "utf-8")
    (folder / "nho.html").write_text("<p>nhỏ</p>", "utf-8")


def _tree(folder) -> dict[str, bytes]:
    """Map every file under a folder to its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_parallel_and_cached_copies_are_the_one_process_bytes(tmp_path, monkeypatch):
    import assets.assets as plugin

    one = get_options({"ASSETS": {"workers": 1, "brotli_quality": 5}})
    two = {**one, "workers": 2}
    sites = [tmp_path / name for name in ("one", "cold", "warm")]
    for site in sites:
        _pages(site, plugin.PARALLEL_MIN + 10)
    cache = tmp_path / "cache"
    assert compress_tree(sites[0], one) == (plugin.PARALLEL_MIN + 10, 0)
    assert compress_tree(sites[1], two, cache) == (plugin.PARALLEL_MIN + 10, 0)

    def refuse(self, suffix, data):
        raise AssertionError("compressed again although the cache holds it")

    monkeypatch.setattr(plugin.Codec, "compress", refuse)  # forked workers inherit it
    assert compress_tree(sites[2], two, cache) == (plugin.PARALLEL_MIN + 10, 0)
    expected = _tree(sites[0])
    assert len(expected) == 3 * (plugin.PARALLEL_MIN + 10) + 1
    assert _tree(sites[1]) == expected
    assert _tree(sites[2]) == expected
    assert compress_tree(sites[2], two, cache) == (0, plugin.PARALLEL_MIN + 10)


def test_the_cache_keeps_only_this_builds_copies(tmp_path):
    options = get_options({"ASSETS": {"workers": 1, "min_size": 10}})
    page = tmp_path / "site" / "index.html"
    page.parent.mkdir()
    page.write_text("<p>Xin chào</p>" * 10, "utf-8")
    cache = tmp_path / "cache"
    compress_tree(page.parent, options, cache)
    (stale,) = cache.iterdir()
    page.write_text("<p>Đã sửa</p>" * 10, "utf-8")
    other = {**options, "brotli_quality": 4}
    compress_tree(page.parent, other, cache)
    (folder,) = cache.iterdir()
    assert folder != stale and "-br4-" in folder.name
    digest = hashlib.sha256(page.read_bytes()).hexdigest()
    assert sorted(p.name for p in folder.glob("*/*") if p.is_file()) == [
        f"{digest}.br",
        f"{digest}.gz",
    ]
    assert brotli.decompress((folder / digest[:2] / f"{digest}.br").read_bytes()) == (
        page.read_bytes()
    )


def _age(folder, seconds: int = 60) -> None:
    """Date every file under a folder `seconds` back (older than the racy window)."""
    when = time.time_ns() - seconds * 1_000_000_000
    for path in folder.rglob("*"):
        os.utime(path, ns=(when, when))


def _counting_reads(monkeypatch) -> list:
    """Count the files compress_file reads (in this process: workers=1)."""
    import assets.assets as plugin

    read = []
    compress_file = plugin.compress_file
    monkeypatch.setattr(
        plugin,
        "compress_file",
        lambda source, *args: read.append(source.name) or compress_file(source, *args),
    )
    return read


@pytest.mark.parametrize(
    "change",
    ["page same size", "page time only", "gz replaced", "br deleted", "other output"],
)
def test_only_changed_files_are_read_again(tmp_path, monkeypatch, change):
    options = get_options({"ASSETS": {"workers": 1, "min_size": 10}})
    site, cache = tmp_path / "site", tmp_path / "cache"
    _pages(site, 3)
    compress_tree(site, options, cache)
    _age(site)
    compress_tree(site, options, cache)  # notes the aged times
    read = _counting_reads(monkeypatch)
    assert compress_tree(site, options, cache) == (0, 4)  # with nho.html
    assert read == [], "a file noted with its copies was read again"
    page = site / "trang-1" / "index.html"
    before = page.read_bytes()
    if change == "page same size":  # same size, new time: a stale copy if skipped
        page.write_bytes(
            before.replace("Mô hình số 1".encode(), "Mô hình số 7".encode())
        )
    elif change == "page time only":
        os.utime(page)
    elif change == "gz replaced":
        (site / "trang-1" / "index.html.gz").write_bytes(gzip.compress(b"cu", mtime=0))
    elif change == "br deleted":
        (site / "trang-1" / "index.html.br").unlink()
    else:
        site = site.rename(tmp_path / "other")
        page = site / "trang-1" / "index.html"
    compress_tree(site, options, cache)
    expected = 4 if change == "other output" else 1
    assert len(read) == expected
    data = page.read_bytes()
    assert gzip.decompress(page.with_name("index.html.gz").read_bytes()) == data
    assert brotli.decompress(page.with_name("index.html.br").read_bytes()) == data


def test_a_copy_changed_within_the_racy_window_is_read_again(tmp_path, monkeypatch):
    options = get_options({"ASSETS": {"workers": 1, "min_size": 10}})
    site, cache = tmp_path / "site", tmp_path / "cache"
    _pages(site, 1)
    compress_tree(site, options, cache)
    page = site / "trang-0" / "index.html"
    status = page.stat()
    page.write_bytes(page.read_bytes().replace(b"0", b"9"))  # same size and time
    os.utime(page, ns=(status.st_atime_ns, status.st_mtime_ns))
    read = _counting_reads(monkeypatch)
    compress_tree(site, options, cache)
    assert sorted(read) == ["index.html", "nho.html"]  # both written just now
    data = page.read_bytes()
    assert gzip.decompress(page.with_name("index.html.gz").read_bytes()) == data


def test_the_index_is_dated_when_the_copies_are_looked_at(tmp_path, monkeypatch):
    """Copies written long before the index is saved are not read again; a file
    modified within the racy window of the scan is (it is left out of the index)."""
    import assets.assets as plugin

    options = get_options({"ASSETS": {"workers": 1, "min_size": 10}})
    site, cache = tmp_path / "site", tmp_path / "cache"
    _pages(site, 2)
    _age(site)
    os.utime(site / "trang-1" / "index.html")  # modified just before the scan
    readings = []

    def clock() -> int:  # the scan now; the copies looked at 10 s later
        readings.append(time.time_ns())
        return readings[-1] + (10_000_000_000 if len(readings) > 1 else 0)

    monkeypatch.setattr(plugin, "time", SimpleNamespace(time_ns=clock))
    compress_tree(site, options, cache)
    monkeypatch.setattr(plugin, "time", time)
    read = []
    compress_file = plugin.compress_file
    monkeypatch.setattr(
        plugin,
        "compress_file",
        lambda source, *args: (
            read.append(source.relative_to(site).as_posix())
            or compress_file(source, *args)
        ),
    )
    compress_tree(site, options, cache)
    assert read == ["trang-1/index.html"]


def test_copies_from_the_store_keep_its_time_and_are_not_read_again(
    tmp_path, monkeypatch
):
    """Into an empty output from a warm store: the copies are not racy next time."""
    options = get_options({"ASSETS": {"workers": 1, "min_size": 10}})
    site, cache = tmp_path / "site", tmp_path / "cache"
    _pages(site, 2)
    _age(site)
    compress_tree(site, options, cache)  # fills the store
    _age(cache)
    for copy in [*site.rglob("*.gz"), *site.rglob("*.br")]:
        copy.unlink()
    compress_tree(site, options, cache)  # every copy taken from the store
    page = site / "trang-0" / "index.html"
    digest = hashlib.sha256(page.read_bytes()).hexdigest()
    (store,) = cache.iterdir()
    entry = store / digest[:2] / f"{digest}.gz"
    assert page.with_name("index.html.gz").stat().st_mtime_ns == (
        entry.stat().st_mtime_ns
    )
    read = _counting_reads(monkeypatch)
    assert compress_tree(site, options, cache) == (0, 3)
    assert read == []


def test_pages_compressed_while_rendering_give_the_one_process_bytes(
    tmp_path, monkeypatch
):
    import assets.assets as plugin

    one = get_options({"ASSETS": {"workers": 1, "brotli_quality": 5}})
    count = 3 * plugin.CHUNK_MAX + 5
    alone, warmed = tmp_path / "alone", tmp_path / "warmed"
    _pages(alone, count)
    _pages(warmed, count)
    store = tmp_path / "cache" / plugin.CACHE_SUBDIR
    codec = plugin.get_codec(one)
    warmer = plugin.Warmer(codec, store / codec.tag(), 1, one)
    # As content_written sends them; the small page last, so that the first chunk
    # holds CHUNK_MAX pages worth compressing.
    for path in sorted(warmed.rglob("*"), key=lambda p: (p.name == "nho.html", p)):
        warmer.add(str(path))
    # The first chunk has run (on a busy machine the later ones may still wait,
    # and stop() drops what waits).
    warmer.futures[0].result(timeout=120)
    done = warmer.stop()
    # Full chunks only, at most two waiting: the rest is left to compress_tree.
    assert plugin.CHUNK_MAX <= done <= count - 5
    assert len(list(store.rglob("*.br"))) == done
    assert not list(warmed.rglob("*.gz"))  # the output is left to compress_tree
    assert compress_tree(alone, one) == (count, 0)
    calls = []
    real = plugin.Codec.compress

    def counting(self, suffix, data):
        calls.append(suffix)
        return real(self, suffix, data)

    monkeypatch.setattr(plugin.Codec, "compress", counting)
    assert compress_tree(warmed, one, store) == (count, 0)
    assert len(calls) == 2 * (count - done)  # only what the store did not hold
    assert _tree(warmed) == _tree(alone)
