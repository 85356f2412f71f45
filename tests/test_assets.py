"""plugins/assets and plugins/security: hashed theme files, .gz/.br copies, one CSP."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import brotli
import pytest
from assets import AssetsError, compress_tree, get_options, hashed_name
from pelican.settings import read_settings
from security import SecurityError, build_policy, counter_origin, meta_policy

from tests.conftest import ROOT, Site, _env, build_sample, pelican_command
from tests.test_readpool import small_site, tree

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


def declared_window(stream: bytes) -> int:
    """Return the window (WBITS) a brotli stream's header declares (RFC 7932, 9.1)."""
    bits = int.from_bytes(stream[:1], "little")
    if not bits & 1:
        return 16
    if (bits >> 1) & 7:
        return 17 + ((bits >> 1) & 7)
    return 8 + ((bits >> 4) & 7) if (bits >> 4) & 7 else 17


def test_each_br_copy_declares_the_smallest_window_holding_its_page(sample):
    sizes = set()
    for page in sample.output.rglob("*.html"):
        if page.stat().st_size < 1024:
            continue
        size = page.stat().st_size
        window = declared_window(page.with_name(page.name + ".br").read_bytes())
        assert (1 << window) - 16 >= size, page
        assert (1 << (window - 1)) - 16 < size, f"{page}: a smaller window holds it"
        sizes.add(window)
    assert len(sizes) > 1  # pages of different sizes: windows of their own


@pytest.mark.parametrize(
    ("size", "window"),
    [(0, 10), (1008, 10), (1009, 11), (20_000, 15), (65_520, 16), (4 << 20, 22)],
)
def test_the_brotli_window_fits_the_file_up_to_the_default(size, window):
    import assets.assets as plugin

    assert plugin.brotli_window(size) == window
    data = bytes(range(256)) * (min(size, 70_000) // 256)
    packed = plugin.get_codec(get_options({})).compress(".br", data)
    assert brotli.decompress(packed) == data
    assert declared_window(packed) == plugin.brotli_window(len(data))


def test_gz_copies_are_zlib_ngs_and_the_store_is_named_after_it():
    import platform

    import assets.assets as plugin
    from zlib_ng import gzip_ng, zlib_ng

    codec = plugin.get_codec(get_options({}))
    data = "".join(
        f'<li><a href="/tin/{i}/">Tin {i}: Dân vận khéo ở xã {i * 7 % 13}</a></li>'
        for i in range(2000)
    ).encode()
    packed = codec.compress(".gz", data)
    assert gzip.decompress(packed) == data
    assert packed[4:8] == b"\0\0\0\0", "no time stamp"
    assert packed == gzip_ng.compress(data, compresslevel=6, mtime=0)
    # Not zlib's bytes: a store of zlib's copies must never be read for these.
    assert packed != gzip.compress(data, compresslevel=6, mtime=0)
    tag = codec.tag()
    assert f"-zlibng{zlib_ng.ZLIBNG_VERSION}-{platform.machine()}-" in tag
    assert "-zlib1" not in tag


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


def _one_page_compressed(tmp_path) -> tuple[dict, Path, Path]:
    """Compress a site of one page into a store; return the options, page and store."""
    options = get_options({"ASSETS": {"workers": 1, "min_size": 10}})
    page = tmp_path / "site" / "index.html"
    page.parent.mkdir()
    page.write_text("<p>Xin chào</p>" * 10, "utf-8")
    cache = tmp_path / "cache"
    compress_tree(page.parent, options, cache)
    return options, page, cache


def test_the_cache_keeps_only_this_builds_copies(tmp_path):
    import assets.assets as plugin

    options, page, cache = _one_page_compressed(tmp_path)
    (stale,) = cache.iterdir()
    page.write_text("<p>Đã sửa</p>" * 10, "utf-8")
    other = {**options, "brotli_quality": 4}
    compress_tree(page.parent, other, cache)
    (folder,) = cache.iterdir()
    assert folder != stale and "-br4-" in folder.name
    digest = hashlib.sha256(page.read_bytes()).hexdigest()
    # One entry holds both copies, as the page's .gz and .br have them.
    assert [p.name for p in folder.glob("*/*") if p.is_file()] == [f"{digest}.pack"]
    gz, br = plugin.unpack((folder / digest[:2] / f"{digest}.pack").read_bytes(), 2)
    assert gzip.decompress(gz) == brotli.decompress(br) == page.read_bytes()
    assert br == page.with_name("index.html.br").read_bytes()


@pytest.mark.parametrize("cut", [1, 9, -1])
def test_a_store_entry_not_whole_is_made_again(tmp_path, cut):
    import assets.assets as plugin

    options, page, cache = _one_page_compressed(tmp_path)
    expected = _tree(page.parent)
    (entry,) = cache.glob("*/*/*.pack")
    whole = entry.read_bytes()
    entry.write_bytes(whole[:cut] if cut > 0 else whole + b"x")  # cut short, or longer
    for copy in page.parent.glob("index.html.*"):
        copy.unlink()
    compress_tree(page.parent, options, cache)
    assert _tree(page.parent) == expected
    assert entry.read_bytes() == whole
    assert plugin.unpack(whole[:cut], 2) is None


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

    from portal import files

    options = get_options({"ASSETS": {"workers": 1, "min_size": 10}})
    site, cache = tmp_path / "site", tmp_path / "cache"
    _pages(site, 2)
    _age(site)
    os.utime(site / "trang-1" / "index.html")  # modified just before the scan
    readings = []

    def clock() -> int:  # the scan now; the copies looked at 10 s later
        readings.append(time.time_ns())
        return readings[-1] + (10_000_000_000 if len(readings) > 1 else 0)

    # The walk (portal.files.list_tree) reads the clock first, the index second.
    monkeypatch.setattr(plugin, "time", SimpleNamespace(time_ns=clock))
    monkeypatch.setattr(files, "time", SimpleNamespace(time_ns=clock))
    compress_tree(site, options, cache)
    assert len(readings) == 2
    monkeypatch.setattr(plugin, "time", time)
    monkeypatch.setattr(files, "time", time)
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
    entry = store / digest[:2] / f"{digest}.pack"  # both copies in one entry
    assert page.with_name("index.html.gz").stat().st_mtime_ns == (
        entry.stat().st_mtime_ns
    )
    read = _counting_reads(monkeypatch)
    assert compress_tree(site, options, cache) == (0, 3)
    assert read == []


def test_pages_compressed_once_written_give_the_one_process_bytes(
    tmp_path, monkeypatch
):
    import assets.assets as plugin

    one = get_options({"ASSETS": {"workers": 1, "brotli_quality": 5}})
    count = plugin.PARALLEL_MIN + 5
    alone, early = tmp_path / "alone", tmp_path / "early"
    _pages(alone, count)
    _pages(early, count)
    store = tmp_path / "cache" / plugin.CACHE_SUBDIR
    codec = plugin.get_codec(one)
    run = plugin.EarlyPass(early, codec, store / codec.tag(), one, 2)
    for path in sorted(early.rglob("*")):  # as content_written sends them
        run.add(str(path))
    run.start()
    notes = run.stop()
    assert len(notes) == count  # every page but the small one
    assert len(list(early.rglob("*.br"))) == count
    # A page written again after the early pass, and a copy replaced: compress_tree
    # reads these again and renews their copies, and no other file.
    for site in (alone, early):
        (site / "trang-0" / "index.html").write_text("<p>Đổi.</p>\n" * 200, "utf-8")
    (early / "trang-1" / "index.html.br").write_bytes(b"hong")
    assert compress_tree(alone, one) == (count, 0)
    calls, read = [], []
    real, files = plugin.Codec.compress, plugin.compress_files

    def counting(self, suffix, data):
        calls.append(suffix)
        return real(self, suffix, data)

    def reading(paths, *args):
        read.extend(p.relative_to(early).as_posix() for p in paths)
        return files(paths, *args)

    monkeypatch.setattr(plugin.Codec, "compress", counting)
    monkeypatch.setattr(plugin, "compress_files", reading)
    assert compress_tree(early, one, store, early=notes) == (2, count - 2)
    assert calls == [".gz", ".br"]  # the page written again; trang-1 from the store
    assert read == ["trang-0/index.html", "trang-1/index.html"]
    assert _tree(early) == _tree(alone)


def test_a_few_pages_are_left_to_the_pass_after_the_build(tmp_path):
    import assets.assets as plugin

    one = get_options({"ASSETS": {"workers": 1}})
    _pages(tmp_path, plugin.PARALLEL_MIN - 2)
    run = plugin.EarlyPass(tmp_path, plugin.get_codec(one), None, one, 2)
    for path in sorted(tmp_path.rglob("*.html")):
        run.add(str(path))
    run.start()
    assert run.futures == [] and run.stop() == {}
    assert not list(tmp_path.rglob("*.gz"))


@pytest.mark.parametrize(
    ("early", "items", "made"),
    [(True, 64, True), (False, 64, False), (True, 63, False)],
)
def test_the_early_pass_is_made_for_large_builds_unless_turned_off(
    tmp_path, early, items, made
):
    import assets.assets as plugin

    settings = {
        "ASSETS": {"early": early},
        "OUTPUT_PATH": str(tmp_path),
        "CACHE_PATH": str(tmp_path / "cache"),
    }
    context = {"generated_content": {str(n): n for n in range(items)}}
    plugin.note_pages([SimpleNamespace(settings=settings, context=context)])
    try:
        assert (plugin._early is not None) == made
    finally:
        assert plugin.stop_early() == {}


# Build with the early pass's threshold set (argv[1]) and the pages it did noted
# in a file (argv[2]), if it started: 1 compresses a small site's pages early, a
# large number never.
EARLY_SCRIPT = """
import sys
from pelican import main, signals

def patch(pelican):
    assets = sys.modules["assets.assets"]
    assets.PARALLEL_MIN = int(sys.argv[1])
    stop = assets.EarlyPass.stop

    def noted(self, cancel=False):
        done = stop(self, cancel)
        with open(sys.argv[2], "a") as notes:
            notes.write(" ".join(sorted(done)))
        return done

    assets.EarlyPass.stop = noted

signals.initialized.connect(patch)
main(sys.argv[3:])
"""


def test_a_build_compressing_pages_early_writes_the_one_process_site(tmp_path):
    small_site(tmp_path / "content")
    builds = {
        # One process, no store, no early pass: the reference.
        "one": ("1000000", {"processes": 1}, {"workers": 1, "cache": False}),
        "early": ("1", {"processes": 2, "min_items": 0}, {}),
    }
    for name, (least, pool, assets) in builds.items():
        settings = {
            "CACHE_PATH": str(tmp_path / f"cache-{name}"),
            "REDIRECTS": {"path": str(tmp_path / "redirects.yml")},
            "SEARCH": {"enabled": False},
            "RENDERPOOL": pool,
            "ASSETS": assets,
        }
        command = pelican_command(
            tmp_path / "content", tmp_path / name, "pelicanconf.py", settings
        )
        notes = tmp_path / f"early-{name}"
        script = [sys.executable, "-c", EARLY_SCRIPT, least, str(notes)]
        result = subprocess.run(
            [*script, *command[3:]],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=_env(),
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
    assert not (tmp_path / "early-one").exists()
    early = (tmp_path / "early-early").read_text().split()
    assert len(early) > 20 and "mo-hinh/index.html" in early  # pages done early
    assert "sitemap.xml" in early  # declared by its plugin, not sent as a page
    # Feeds too, whichever page-writing process wrote them (renderpool sends the
    # other's again; which one writes a feed depends on the pages each claimed).
    feeds = [
        feed.relative_to(tmp_path / "early").as_posix()
        for feed in (tmp_path / "early").rglob("*.xml")
        if feed.name != "sitemap.xml" and feed.stat().st_size >= 1024
    ]
    assert len(feeds) > 2 and set(feeds) <= set(early)
    # The web editor's bundle (built here) comes with copies of its own: the early
    # pass leaves them to it, as compress_tree does, so the trees are equal.
    assert tree(tmp_path / "early") == tree(tmp_path / "one")


@pytest.mark.parametrize("way", ["one process", "workers", "early pass", "store"])
def test_the_record_gets_the_digest_of_every_file_compressing_read_or_wrote(
    tmp_path, monkeypatch, way
):
    """Pages and copies are not read again for the build's record (issue 21)."""
    import assets.assets as plugin
    from incremental import record

    from portal import files

    options = get_options({"ASSETS": {"workers": 1 if way == "one process" else 2}})
    site, cache = tmp_path / "site", tmp_path / "cache"
    count = plugin.PARALLEL_MIN + 2
    _pages(site, count)
    if way == "store":  # a warm store: the copies are copied from it
        compress_tree(site, options, cache)
        for copy in [*site.rglob("*.gz"), *site.rglob("*.br")]:
            copy.unlink()
    files.forget_sha256()
    early = None
    if way == "early pass":
        codec = plugin.get_codec(options)
        plugin._early = plugin.EarlyPass(site, codec, None, options, 2)
        for page in sorted(site.rglob("*.html")):
            plugin._early.add(str(page))
        plugin._early.start()
        early = plugin.stop_early()
        assert len(early) == count
    compress_tree(site, options, cache if way == "store" else None, early=early)
    read = []
    monkeypatch.setattr(record, "digest", lambda path: read.append(path) or "")
    stats = {p.relative_to(site).as_posix(): p.stat() for p in site.rglob("*.*")}
    entries = record.record_files(str(site), stats, {}, 0)
    files.forget_sha256()
    assert read == [str(site / "nho.html")]  # too small to be compressed
    for rel, (_, _, sha) in entries.items():
        if rel != "nho.html":
            assert sha == hashlib.sha256((site / rel).read_bytes()).hexdigest(), rel
    assert len(entries) == 3 * count + 1
