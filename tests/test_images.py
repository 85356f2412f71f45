"""The images plugin: responsive, upright, metadata-free, cached images; clear errors."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import images.images as images_module
import pytest
from images import (
    ImageError,
    OptionsError,
    Picture,
    get_options,
    plan_widths,
    prepare,
)
from jinja2 import Environment, FileSystemLoader
from PIL import Image, ImageCms

from portal import finishing
from tests.conftest import ROOT, Site, get_settings, model, news

WIDTHS = [100, 200, 400]
OPTIONS = {"widths": WIDTHS, "fallback_width": 300, "workers": 2}
RED, BLUE = (220, 30, 30), (30, 30, 220)
MAKER = "Fake camera maker"
AN_HOUR_AGO = 3600 * 10**9  # ns: older than the index, so not "racy"


def jpeg(size=(600, 400), colour=RED, orientation=None, gps=True) -> bytes:
    """Return a JPEG with camera and GPS EXIF (and an orientation tag if given)."""
    image = Image.new("RGB", size, colour)
    exif = image.getexif()
    exif[0x010F] = MAKER
    if gps:
        exif[0x8825] = {1: "N", 2: (10.0, 55.0, 30.0), 3: "E", 4: (108.0, 6.0, 12.0)}
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def sideways() -> bytes:
    """Return a landscape JPEG, red left and blue right, tagged "turn 90° clockwise"."""
    image = Image.new("RGB", (300, 200), BLUE)
    image.paste(RED, (0, 0, 150, 200))
    exif = image.getexif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (10.0, 55.0, 30.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


def with_icc() -> bytes:
    """Return a JPEG carrying an ICC colour profile (sRGB), to be converted and dropped."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.new("RGB", (400, 300), RED).save(out, "JPEG", icc_profile=profile)
    return out.getvalue()


def same_size(first: bytes, second: bytes) -> tuple[bytes, bytes]:
    """Pad the shorter of two JPEGs with zeros after its end, so both are as long."""
    length = max(len(first), len(second))
    return first.ljust(length, b"\0"), second.ljust(length, b"\0")


def age(path: Path, mtime_ns: int | None = None) -> int:
    """Set a file's mtime (an hour ago unless given) and return it, in ns."""
    mtime_ns = time.time_ns() - AN_HOUR_AGO if mtime_ns is None else mtime_ns
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return mtime_ns


def png(size=(150, 100)) -> bytes:
    """Return a half-transparent PNG."""
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 0, 128)).save(out, "PNG")
    return out.getvalue()


class Pictures(HTMLParser):
    """Collect the attributes of every <source>, <img> and <figcaption> text."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[dict] = []
        self.imgs: list[dict] = []
        self.captions: list[str] = []
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        if tag == "source":
            self.sources.append(dict(attrs))
        elif tag == "img":
            self.imgs.append(dict(attrs))
        self._in_caption = tag == "figcaption"

    def handle_data(self, data):
        if self._in_caption:
            self.captions.append(data)
            self._in_caption = False


def pictures(html: str) -> Pictures:
    """Parse the pictures of an item's own article (not the cards around it)."""
    if '<article class="item' in html:
        html = html.split('<article class="item', 1)[1].split("</article>", 1)[0]
    parser = Pictures()
    parser.feed(html)
    return parser


def srcset(value: str) -> list[tuple[str, int]]:
    """Split a srcset into (url, width) pairs."""
    pairs = [item.strip().rsplit(" ", 1) for item in value.split(",")]
    return [(url, int(width.rstrip("w"))) for url, width in pairs]


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Return every file under a folder with its mtime and bytes."""
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def new_site(root: Path) -> Site:
    site = Site(root)
    for folder in ("models", "news", "pages", "images"):
        (site.content / folder).mkdir(parents=True, exist_ok=True)
    return site


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build a small site with images twice; keep snapshots of both builds."""
    site = new_site(tmp_path_factory.mktemp("images"))
    site.write("images/mo-hinh/cho.jpg", jpeg())
    site.write("images/mo-hinh/doc.jpg", sideways())
    site.write("images/tin-tuc/nho.png", png())
    site.write("images/mo-hinh/nhap.jpg", jpeg(colour=BLUE))
    site.write("images/mo-hinh/mau.jpg", with_icc())
    for path in (site.content / "images").rglob("*.*"):
        age(path)  # the second build trusts the index: it must not rewrite it
    site.write(
        "models/mau.md", model(title="Màu", image="mo-hinh/mau.jpg", image_alt="Đỏ")
    )
    caption = "Chợ <Ma Lâm> & “giỏ xách”"
    site.write(
        "models/cho.md",
        model(image="mo-hinh/cho.jpg", image_alt="Sạp hàng", image_caption=caption),
    )
    site.write(
        "models/doc.md",
        model(title="Ảnh dọc", image="mo-hinh/doc.jpg", image_alt="Chai nhựa"),
    )
    site.write("models/khong-anh.md", model(title="Không có ảnh"))
    site.write(
        "models/nhap.md",
        model(title="Nháp", status="draft", image="mo-hinh/nhap.jpg", image_alt="X"),
    )
    site.write(
        "news/tin.md", news(image="tin-tuc/nho.png", image_alt="Ô vuông xanh lá")
    )
    first = site.build(IMAGES=OPTIONS)
    assert first.returncode == 0, first.stderr
    cache, output = snapshot(site.root / "cache" / "images"), snapshot(site.output)
    second = site.build(IMAGES=OPTIONS)
    assert second.returncode == 0, second.stderr
    site.first = (cache, output)
    site.second = (snapshot(site.root / "cache" / "images"), snapshot(site.output))
    site.caption = caption
    return site


def test_srcset_lists_every_width_in_webp_and_jpeg(built):
    found = pictures(built.page("mo-hinh/cho/"))
    (source,), (img,) = found.sources, found.imgs
    assert source["type"] == "image/webp"
    # the text column is 35rem wide on desktops (theme: about 75 characters a line)
    assert source["sizes"] == img["sizes"] == "(min-width: 35rem) 35rem, 100vw"
    webp, jpg = srcset(source["srcset"]), srcset(img["srcset"])
    assert [w for _, w in webp] == [w for _, w in jpg] == WIDTHS
    assert all(u.startswith("/images/cho-") and u.endswith(".webp") for u, _ in webp)
    assert all(u.startswith("/images/cho-") and u.endswith(".jpg") for u, _ in jpg)
    assert img["src"] == jpg[1][0]  # the widest JPEG not above fallback_width
    assert img["alt"] == "Sạp hàng"


def test_width_and_height_attributes_match_the_files(built):
    for url in ("mo-hinh/cho/", "mo-hinh/doc/", "tin-tuc/tin/"):
        found = pictures(built.page(url))
        (img,) = found.imgs
        for address, width in srcset(img["srcset"]) + srcset(
            found.sources[0]["srcset"]
        ):
            with Image.open(built.output / address.lstrip("/")) as image:
                assert image.width == width
        with Image.open(built.output / img["src"].lstrip("/")) as image:
            assert (str(image.width), str(image.height)) == (
                img["width"],
                img["height"],
            )


def test_widths_are_capped_at_the_source_width(built):
    found = pictures(built.page("tin-tuc/tin/"))
    assert [w for _, w in srcset(found.imgs[0]["srcset"])] == [100, 150]
    assert plan_widths(2000, (320, 640, 960, 1280)) == [320, 640, 960, 1280]
    assert plan_widths(800, (320, 640, 960, 1280)) == [320, 640, 800]
    assert plan_widths(200, (320, 640)) == [200]


def test_every_output_decodes_in_its_format(built):
    files = sorted((built.output / "images").iterdir())
    assert len(files) == 2 * (3 + 2 + 2 + 3)  # doc is 200 wide, nho 150, others 400+
    for path in files:
        with Image.open(path) as image:
            image.load()
            expected = "WEBP" if path.suffix == ".webp" else "JPEG"
            assert image.format == expected and image.mode == "RGB"
            if expected == "JPEG":
                assert image.info.get("progressive") or image.info.get("progression")


def test_exif_orientation_is_applied(built):
    (img,) = pictures(built.page("mo-hinh/doc/")).imgs
    assert (img["width"], img["height"]) == ("200", "300")
    for path in (built.output / "images").glob("doc-*"):
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            assert rgb.height > rgb.width
            top = rgb.getpixel((rgb.width // 2, rgb.height // 8))
            bottom = rgb.getpixel((rgb.width // 2, rgb.height * 7 // 8))
            assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0], path.name


def test_no_metadata_in_any_output(built):
    for path in (built.output / "images").iterdir():
        data = path.read_bytes()
        assert b"Exif" not in data and MAKER.encode() not in data, path.name
        with Image.open(path) as image:
            assert not image.getexif(), path.name
            assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp"} & set(
                image.info
            )


def test_no_original_and_no_draft_image_is_published(built):
    originals = {p.read_bytes() for p in (built.content / "images").rglob("*.*")}
    for path in built.output.rglob("*"):
        if path.is_file():
            assert path.read_bytes() not in originals, path
            assert path.suffix not in (".png",) and "nhap" not in path.name
    assert not (built.output / "images" / "mo-hinh").exists()


def test_item_page_shows_figure_eager_with_escaped_caption(built):
    html = built.page("mo-hinh/cho/")
    found = pictures(html)
    assert found.captions == [built.caption]
    assert "Chợ &lt;Ma Lâm&gt; &amp; “giỏ xách”" in html
    (img,) = found.imgs
    assert "loading" not in img and img["fetchpriority"] == "high"
    assert img["decoding"] == "async"
    assert "<figure" not in built.page("mo-hinh/khong-anh/")


def test_partial_is_lazy_below_the_fold():
    env = Environment(loader=FileSystemLoader(ROOT / "theme" / "templates"))
    picture = Picture(
        "images/a-1-200.jpg",
        200,
        100,
        'Ảnh "a" <b>',
        "",
        [("images/a-1-100.webp", 100), ("images/a-1-200.webp", 200)],
        [("images/a-1-100.jpg", 100), ("images/a-1-200.jpg", 200)],
    )
    template = env.get_template("partials/picture.html")
    html = template.render(picture=picture, sizes="10rem", SITEURL="https://x.vn")
    (img,) = pictures(html).imgs
    assert img["loading"] == "lazy" and "fetchpriority" not in img
    assert img["src"] == "https://x.vn/images/a-1-200.jpg"
    assert img["alt"] == 'Ảnh "a" <b>' and "<b>" not in html
    assert img["sizes"] == "10rem" and (img["width"], img["height"]) == ("200", "100")


def test_rebuild_with_nothing_changed_processes_no_image(built):
    (cache1, out1), (cache2, out2) = built.first, built.second
    assert cache1 and cache1 == cache2  # same files, same mtimes: none rewritten
    images1 = {k: v[1] for k, v in out1.items() if k.startswith("images/")}
    images2 = {k: v[1] for k, v in out2.items() if k.startswith("images/")}
    assert images1 and images1 == images2
    page = "mo-hinh/cho/index.html"
    assert out1[page][1] == out2[page][1]


def test_prepare_counts_processed_and_cached(tmp_path, caplog):
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg((300, 200)))
    (root / "b.jpg").write_bytes(jpeg((300, 200), colour=BLUE))
    options = get_options({"IMAGES": OPTIONS, "CACHE_PATH": str(tmp_path / "c")})
    caplog.set_level(logging.INFO, logger="images")
    done, failed = prepare(["a.jpg", "b.jpg", "a.jpg"], root, options)
    assert not failed and sum(p.fresh for p in done.values()) == 2
    assert "2 ảnh: xử lý 2, dùng lại 0" in caplog.text
    caplog.clear()
    done, failed = prepare(["a.jpg", "b.jpg"], root, options)
    assert not failed and not any(p.fresh for p in done.values())
    assert "2 ảnh: xử lý 0, dùng lại 2" in caplog.text


@pytest.mark.parametrize("workers", [1, 2])
def test_prepare_makes_each_content_hash_once(tmp_path, monkeypatch, workers):
    """Sources sharing bytes are made once; threads or not, the same files."""
    root = tmp_path / "images"
    root.mkdir()
    for name, colour in (("a", RED), ("b", RED), ("c", BLUE), ("e", RED)):
        (root / f"{name}.jpg").write_bytes(jpeg((300, 200), colour=colour))
    made = []
    original = images_module.render

    def counting(source, path, key, options):
        made.append(source)
        return original(source, path, key, options)

    monkeypatch.setattr(images_module, "render", counting)

    def files(options):
        """Prepare a, b, c, d (missing), e into a new cache; return what it made."""
        done, failed = prepare([f"{n}.jpg" for n in "edcba"], root, options)
        cache = Path(options["cache_dir"])
        return (
            {
                s: [(v.name, v.width, v.nbytes) for v in p.variants]
                for s, p in done.items()
            },
            {s: p.fresh for s, p in done.items()},
            {s: e.message for s, e in failed.items()},
            {f.name: f.read_bytes() for f in cache.iterdir() if f.suffix != ".json"},
        )

    one = {**OPTIONS, "workers": 1}
    expected = files(get_options({"IMAGES": one, "CACHE_PATH": str(tmp_path / "1")}))
    made.clear()
    options = {**OPTIONS, "workers": workers}
    found = files(get_options({"IMAGES": options, "CACHE_PATH": str(tmp_path / "c")}))
    assert sorted(made) == ["a.jpg", "c.jpg"]  # one per content hash, the first
    assert found == expected
    variants, fresh, failed, cached = found
    assert fresh == {"a.jpg": True, "b.jpg": False, "c.jpg": True, "e.jpg": False}
    assert list(failed) == ["d.jpg"] and len(cached) == 2 * 3 * 2  # 2 keys, 3 widths
    assert variants["b.jpg"][0][0].startswith("b-")
    assert [v[1:] for v in variants["b.jpg"]] == [v[1:] for v in variants["a.jpg"]]


def test_changed_image_is_processed_again_under_a_new_name(site):
    site.write("images/a.jpg", jpeg())
    site.write("models/a.md", model(image="a.jpg", image_alt="A"))
    assert site.build(IMAGES=OPTIONS).returncode == 0
    before = pictures(site.page("mo-hinh/a/")).imgs[0]["src"]
    site.write("images/a.jpg", jpeg(colour=BLUE))
    result = site.build(IMAGES=OPTIONS)
    assert result.returncode == 0, result.stderr
    after = pictures(site.page("mo-hinh/a/")).imgs[0]["src"]
    assert before != after and before.rsplit("-", 1)[1] == after.rsplit("-", 1)[1]
    with Image.open(site.output / after.lstrip("/")) as image:
        assert image.convert("RGB").getpixel((5, 5))[2] > 150  # the new, blue one
    manifests = (site.root / "cache" / "images").glob("*.json")
    assert len([p for p in manifests if p.name != "index.json"]) == 2
    # As in a clean build, the old image's files are gone from the output.
    assert not (site.output / before.lstrip("/")).exists()


def test_deleted_output_images_are_published_again(site):
    site.write("images/a.jpg", jpeg())
    site.write("models/a.md", model(image="a.jpg", image_alt="A"))
    assert site.build(IMAGES=OPTIONS).returncode == 0
    published = sorted((site.output / "images").iterdir())
    for path in published:
        path.unlink()
    result = site.build(IMAGES=OPTIONS)  # no content changed
    assert result.returncode == 0, result.stderr
    assert sorted((site.output / "images").iterdir()) == published


def counting_hashes(monkeypatch) -> list[str]:
    """Count the sources the images plugin reads and hashes, by name."""
    read: list[str] = []
    original = images_module._hash

    def hashing(path: Path, salt: bytes) -> str:
        read.append(path.name)
        return original(path, salt)

    monkeypatch.setattr(images_module, "_hash", hashing)
    return read


def test_unchanged_sources_are_neither_read_nor_hashed(tmp_path, monkeypatch):
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg((300, 200)))
    (root / "b.jpg").write_bytes(jpeg((300, 200), colour=BLUE))
    for path in root.iterdir():
        age(path)
    options = get_options({"IMAGES": OPTIONS, "CACHE_PATH": str(tmp_path / "c")})
    first, _ = prepare(["a.jpg", "b.jpg"], root, options)
    index = tmp_path / "c" / "images" / "index.json"
    written = index.stat()
    read = counting_hashes(monkeypatch)
    second, failed = prepare(["a.jpg", "b.jpg"], root, options)
    assert read == [] and not failed
    assert {s: p.variants for s, p in second.items()} == {
        s: p.variants for s, p in first.items()
    }
    assert not any(p.fresh for p in second.values())
    assert index.stat().st_ino == written.st_ino  # not written: nothing changed
    (root / "b.jpg").write_bytes(jpeg((300, 200), colour=RED))  # a's bytes
    third, _ = prepare(["a.jpg", "b.jpg"], root, options)
    assert read == ["b.jpg"] and third["b.jpg"].key == first["a.jpg"].key
    assert index.stat().st_ino != written.st_ino
    age(root / "b.jpg")
    prepare(["a.jpg", "b.jpg"], root, options)
    assert read == ["b.jpg", "b.jpg"]  # a new mtime: read, hashed, indexed
    read.clear()
    prepare(["a.jpg", "b.jpg"], root, options)
    assert read == []


def test_source_changed_as_the_index_was_taken_is_hashed_again(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    red, blue = same_size(jpeg((300, 200)), jpeg((300, 200), colour=BLUE))
    source = root / "a.jpg"
    source.write_bytes(red)
    options = get_options({"IMAGES": OPTIONS, "CACHE_PATH": str(tmp_path / "c")})
    first, _ = prepare(["a.jpg"], root, options)
    same_instant = source.stat().st_mtime_ns  # a coarse clock: same mtime
    source.write_bytes(blue)
    age(source, same_instant)
    second, _ = prepare(["a.jpg"], root, options)
    assert second["a.jpg"].key != first["a.jpg"].key and second["a.jpg"].fresh


def test_redo_makes_the_same_files_or_stops_if_the_source_changed(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg((300, 200)))
    options = get_options({"IMAGES": OPTIONS, "CACHE_PATH": str(tmp_path / "c")})
    processed = prepare(["a.jpg"], root, options)[0]["a.jpg"]
    os.remove(processed.variants[0].cached)
    again = images_module.redo(processed, root, options)
    assert (
        again.variants == processed.variants
        and Path(again.variants[0].cached).is_file()
    )
    (root / "a.jpg").write_bytes(jpeg((300, 200), colour=BLUE))
    with pytest.raises(ImageError) as raised:
        images_module.redo(processed, root, options)
    assert "ảnh “a.jpg” vừa thay đổi trong lúc dựng trang" in str(raised.value.code)


def outputs(site: Site) -> dict[str, bytes]:
    """Return the bytes of every published image variant, by name."""
    return {p.name: p.read_bytes() for p in (site.output / "images").iterdir()}


def image_site(site: Site) -> Site:
    """Write two items with an image each, older than any index; build once."""
    red, blue = same_size(jpeg(), jpeg(colour=BLUE))
    site.write("images/a.jpg", red)
    site.write("images/b.jpg", blue)
    age(site.content / "images" / "a.jpg")
    age(site.content / "images" / "b.jpg")
    site.write("models/a.md", model(image="a.jpg", image_alt="A"))
    site.write("models/b.md", model(title="Bê", image="b.jpg", image_alt="B"))
    result = site.build(IMAGES=OPTIONS)
    assert result.returncode == 0, result.stderr
    return site


def edit_text(site: Site, alt: str) -> None:
    """Change an item's text, so the incremental plugin runs the generators."""
    site.write("models/a.md", model(image="a.jpg", image_alt=alt))


def test_index_trusts_size_and_mtime_and_sees_an_edit_in_place(site):
    image_site(site)
    before = outputs(site)
    a, b = site.content / "images" / "a.jpg", site.content / "images" / "b.jpg"
    red, blue = a.read_bytes(), b.read_bytes()
    # a: other bytes, same size and mtime: the index vouches, it is not read.
    kept = a.stat().st_mtime_ns
    a.write_bytes(blue)
    age(a, kept)
    # b: edited in place, same size, mtime bumped: read, hashed, made again.
    b.write_bytes(red)
    age(b, kept + 10**9)
    result = site.build(IMAGES=OPTIONS)
    assert result.returncode == 0, result.stderr
    after = outputs(site)
    a_names = [n for n in before if n.startswith("a-")]
    assert a_names and all(after[n] == before[n] for n in a_names)
    assert Path(pictures(site.page("mo-hinh/a/")).imgs[0]["src"]).name in a_names
    src = pictures(site.page("mo-hinh/b/")).imgs[0]["src"]
    assert Path(src).name not in before
    with Image.open(site.output / src.lstrip("/")) as image:
        assert image.convert("RGB").getpixel((5, 5))[0] > 150  # now red


def test_missing_cached_variant_is_made_again(site):
    image_site(site)
    before = outputs(site)
    cache = site.root / "cache" / "images"
    victim = sorted(cache.glob("*-200.webp"))[0]
    victim.unlink()
    for path in (site.output / "images").iterdir():
        path.unlink()
    edit_text(site, "Ảnh A")
    result = site.build(IMAGES=OPTIONS)
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert "thiếu tệp trong bộ nhớ đệm, xử lý lại ảnh" in said
    assert outputs(site) == before and victim.is_file()
    index = json.loads((cache / "index.json").read_text("utf-8"))
    assert len(index["sources"]) == 1  # the image made again is hashed next time
    edit_text(site, "Ảnh A, lần hai")
    again = site.build(IMAGES=OPTIONS)
    assert again.returncode == 0, again.stderr
    assert outputs(site) == before and "thiếu tệp" not in again.stdout + again.stderr
    index = json.loads((cache / "index.json").read_text("utf-8"))
    assert len(index["sources"]) == 2


def test_damaged_index_is_ignored_and_written_again(site):
    image_site(site)
    before = outputs(site)
    cache = site.root / "cache" / "images"
    index = cache / "index.json"
    assert json.loads(index.read_text("utf-8"))["format"] == 1
    variants = {p: p.stat().st_mtime_ns for p in cache.glob("*-*.*")}
    for damage in (os.urandom(512) + b"\xff\xfe", b'{"format": 1, "sources": []}'):
        index.write_bytes(damage)
        edit_text(site, damage[:8].hex())
        result = site.build(IMAGES=OPTIONS)
        assert result.returncode == 0, result.stderr
        assert outputs(site) == before
        assert {p: p.stat().st_mtime_ns for p in cache.glob("*-*.*")} == variants
        assert len(json.loads(index.read_text("utf-8"))["sources"]) == 2


def truncated() -> bytes:
    """Return a JPEG whose header reads but whose data stops half-way."""
    out = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(out, "JPEG")
    return out.getvalue()[: len(out.getvalue()) // 2]


@pytest.mark.parametrize(
    ("data", "options", "message", "summary"),
    [
        # Refused by the reader's own check (portal.imagecheck), as by make check.
        (
            truncated(),
            OPTIONS,
            "bị hỏng hoặc không đọc hết được",
            "frontmatter: 1 lỗi trong nội dung, chưa dựng trang nào",
        ),
        (
            jpeg((200, 100)),
            {**OPTIONS, "max_pixels": 10_000},
            "có 200×100 điểm ảnh, quá 0,01 megapixel",
            "frontmatter: 1 lỗi trong nội dung, chưa dựng trang nào",
        ),
    ],
    ids=["corrupt", "huge"],
)
def test_bad_image_stops_the_build_before_writing(
    site, data, options, message, summary
):
    site.write("images/hong.jpg", data)
    site.write("images/tot.jpg", jpeg((80, 60)))
    site.write("models/hong.md", model(image="hong.jpg", image_alt="Hỏng"))
    site.write("models/tot.md", model(title="Tốt", image="tot.jpg", image_alt="Tốt"))
    result = site.build(IMAGES=options)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "content/models/hong.md:" in result.stderr
    assert "image: ảnh “hong.jpg” " + message in result.stderr
    assert summary in result.stderr
    written = (
        [p for p in site.output.rglob("*") if p.is_file()]
        if site.output.exists()
        else []
    )
    assert written == []
    leftovers = list((site.root / "cache" / "images").glob(".*.tmp"))
    assert leftovers == []


def test_dev_server_reports_a_bad_image_and_keeps_building(site):
    site.write("images/hong.jpg", truncated())
    site.write("models/hong.md", model(image="hong.jpg", image_alt="Hỏng"))
    result = site.build("devconf.py")
    assert result.returncode == 0, result.stderr
    assert "content/models/hong.md:" in result.stderr
    assert "image: ảnh “hong.jpg” bị hỏng" in result.stderr
    assert not (site.output / "mo-hinh" / "hong").exists()


@pytest.mark.browser
def test_chromium_shows_the_webp_at_its_size(built, browser):
    from tests.browser import artifact, serve_directory

    with serve_directory(built.output) as base:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        page.goto(f"{base}/mo-hinh/cho/")
        page.wait_for_load_state("load")
        shown = page.eval_on_selector(
            "figure img",
            "img => [img.currentSrc, img.complete, img.naturalWidth,"
            " img.getBoundingClientRect().width]",
        )
        page.screenshot(path=artifact("images-model-page.png"), full_page=True)
        page.close()
    current, complete, natural, drawn = shown
    # 375 CSS px at 1x: the narrowest WebP at least that wide.
    assert current.endswith("-400.webp") and complete and natural > 0
    assert 0 < drawn <= 375  # fits the phone screen


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([320], "images: IMAGES must be a dict, not list"),
        ({"width": [320]}, "images: unknown IMAGES keys: width"),
        ({"widths": []}, "images: IMAGES['widths'] must be a list of positive ints"),
        ({"widths": [0, 320]}, "must be a list of positive ints"),
        ({"webp_quality": 101}, "images: IMAGES['webp_quality'] must be at most 100"),
        ({"jpeg_quality": "80"}, "IMAGES['jpeg_quality'] must be a positive int"),
        ({"workers": -1}, "IMAGES['workers'] must be a whole number >= 0"),
        ({"output_dir": "../x"}, "IMAGES['output_dir'] must be relative"),
        ({"cache_dir": ""}, "IMAGES['cache_dir'] must be a folder name"),
        ({"fail_on_error": "no"}, "IMAGES['fail_on_error'] must be True or False"),
    ],
)
def test_options_errors_name_the_plugin(given, message):
    with pytest.raises(OptionsError) as raised:
        get_options(get_settings(IMAGES=given))
    assert message in str(raised.value.code)


def test_defaults_are_merged_and_cache_goes_under_cache_path(tmp_path):
    options = get_options(get_settings(IMAGES={}, CACHE_PATH=str(tmp_path)))
    assert options["widths"] == (320, 640, 960, 1280)
    assert options["cache_dir"] == str(tmp_path / "images")
    # No original image is published: only attachments (content/files) are static.
    assert get_settings()["STATIC_PATHS"] == ["files"]


def test_bad_options_stop_the_build_without_traceback(site):
    site.write("models/a.md", model())
    result = site.build(IMAGES={"widths": "320"})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "images: IMAGES['widths'] must be a list of positive ints" in result.stderr


def test_sample_images_are_small_and_one_carries_gps_and_orientation():
    files = sorted((ROOT / "content" / "images").rglob("*.jpg"))
    assert 5 <= len(files) <= 6
    assert all(p.stat().st_size < 150_000 for p in files)
    assert sum(p.stat().st_size for p in files) < 800_000
    tagged = []
    for path in files:
        with Image.open(path) as image:
            exif = image.getexif()
            if exif.get(0x0112, 1) != 1 and exif.get_ifd(0x8825):
                tagged.append(path.name)
    assert tagged


def test_a_published_variant_written_into_leaves_the_cached_one(tmp_path):
    """Variants are copied from the cache: an output file edited in place spares it."""
    from types import SimpleNamespace

    from images.images import publish

    cached = tmp_path / "cache" / "anh-320.webp"
    cached.parent.mkdir()
    cached.write_bytes(b"RIFF-webp-bytes" * 50)
    variant = SimpleNamespace(
        name="anh-320.webp", cached=str(cached), nbytes=None, digest=None
    )
    out = tmp_path / "output" / "images"
    out.mkdir(parents=True)
    publish(SimpleNamespace(variants=[variant]), f"{out}/")
    with (out / "anh-320.webp").open("ab") as handle:  # in place, as a tool would
        handle.write(b"changed")
    assert cached.read_bytes() == b"RIFF-webp-bytes" * 50


@pytest.mark.parametrize("cached", ["as made", "changed since"])
def test_a_variant_made_now_hands_its_digest_to_the_record(tmp_path, cached):
    """A copy of a variant this build made is not read again for the record,
    unless the cached file changed after it was hashed (issue 21)."""
    import hashlib

    from images.images import publish

    from portal import files

    root = tmp_path / "images"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg((300, 200)))
    options = get_options({"IMAGES": OPTIONS, "CACHE_PATH": str(tmp_path / "c")})
    files.forget_sha256()
    done, _ = prepare(["a.jpg"], root, options)
    variants = done["a.jpg"].variants
    if cached == "changed since":
        for variant in variants:
            Path(variant.cached).write_bytes(Path(variant.cached).read_bytes())
    out = tmp_path / "output"
    out.mkdir()
    publish(done["a.jpg"], f"{out}/")
    for variant in variants:
        target = out / variant.name
        noted = files.noted_sha256(str(target), target.stat())
        if cached == "as made":
            assert noted == hashlib.sha256(target.read_bytes()).hexdigest()
        else:
            assert noted is None
    files.forget_sha256()


def png_with_alpha() -> bytes:
    """Return a PNG with a transparent half, to be flattened on white."""
    image = Image.new("RGBA", (250, 150), (*RED, 255))
    image.paste((0, 0, 0, 0), (0, 0, 125, 150))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def webp() -> bytes:
    """Return a small WebP source."""
    out = io.BytesIO()
    Image.new("RGB", (500, 333), BLUE).save(out, "WEBP")
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        sideways(),  # turned a quarter by its EXIF orientation
        jpeg((800, 805)),  # decoded at half scale (draft): 400×403, not 400×402
        jpeg((805, 800), orientation=8),  # both
        png_with_alpha(),
        webp(),
        jpeg((90, 60)),  # narrower than every width
    ],
    ids=["sideways", "draft", "draft-turned", "png", "webp", "small"],
)
def test_sizes_planned_from_the_header_are_the_sizes_made(tmp_path, data):
    """Pages are drawn from the plan while the variants are made: they must agree."""
    root = tmp_path / "images"
    root.mkdir()
    (root / "a").write_bytes(data)
    options = get_options({"IMAGES": OPTIONS, "CACHE_PATH": str(tmp_path / "c")})
    Path(options["cache_dir"]).mkdir(parents=True)
    made = images_module.render("a", root / "a", "0" * 64, options)
    assert images_module._planned(root / "a", options) == [
        (v.width, v.height) for v in made.variants[::2]
    ]


def test_a_plan_other_than_what_is_made_is_a_bug(tmp_path, monkeypatch):
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg((300, 200)))
    options = get_options({"IMAGES": OPTIONS, "CACHE_PATH": str(tmp_path / "c")})
    planned = images_module._planned

    def taller(path, options):
        return [(w, h + 1) for w, h in planned(path, options)]

    monkeypatch.setattr(images_module, "_planned", taller)
    with pytest.raises(RuntimeError, match="planned"):
        prepare(["a.jpg"], root, options)


def test_variants_are_made_while_the_build_goes_on(tmp_path, monkeypatch):
    """`start` names every variant at once and returns; `finish` waits for the files."""
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg((300, 200)))
    (root / "b.jpg").write_bytes(jpeg((300, 200)))  # the same bytes: made once
    (root / "c.jpg").write_bytes(jpeg((300, 200), colour=BLUE))
    options = get_options({"IMAGES": OPTIONS, "CACHE_PATH": str(tmp_path / "c")})
    expected, _ = prepare(["a.jpg", "b.jpg", "c.jpg"], root, options)
    options = get_options({"IMAGES": OPTIONS, "CACHE_PATH": str(tmp_path / "d")})
    allowed = threading.Event()
    original = images_module.render

    def held(*args):
        assert allowed.wait(30)
        return original(*args)

    monkeypatch.setattr(images_module, "render", held)
    making = images_module.start(["a.jpg", "b.jpg", "c.jpg"], root, options)
    assert not any(job.done() for job in making.jobs.values())
    assert len(making.jobs) == 2
    named = {
        s: [(v.name, v.width, v.height) for v in p.variants]
        for s, p in making.done.items()
    }
    assert named == {
        s: [(v.name, v.width, v.height) for v in p.variants]
        for s, p in expected.items()
    }
    assert not list(Path(options["cache_dir"]).glob("*.webp"))
    allowed.set()
    done, failed = making.finish()
    assert not failed
    assert {s: [(v.name, v.nbytes) for v in p.variants] for s, p in done.items()} == {
        s: [(v.name, v.nbytes) for v in p.variants] for s, p in expected.items()
    }
    assert {s: p.fresh for s, p in done.items()} == {
        "a.jpg": True,
        "b.jpg": False,
        "c.jpg": True,
    }
    assert making.pool is None or making.pool._shutdown


def test_an_image_failing_while_made_stops_the_build(tmp_path, monkeypatch, caplog):
    """The pages already name its variants: whatever `fail_on_error` says."""
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg((300, 200)))
    settings = {
        "IMAGES": {**OPTIONS, "fail_on_error": False},
        "CACHE_PATH": str(tmp_path / "c"),
        "PATH": str(tmp_path),
    }
    options = get_options(settings)

    def broken(*args):
        raise images_module.BadImage("bị hỏng", "lưu lại ảnh")

    monkeypatch.setattr(images_module, "render", broken)
    item = SimpleNamespace(
        source_path=str(tmp_path / "models" / "a.md"),
        image="a.jpg",
        source_lines={"image": 4},
    )
    generator = SimpleNamespace(
        settings=settings, options=options, used=[item], copying=None
    )
    generator._report = partial(images_module.ImagesGenerator._report, generator)
    generator._finish_and_copy = partial(
        images_module.ImagesGenerator._finish_and_copy, generator
    )
    generator.making = images_module.start(["a.jpg"], root, options)
    assert not generator.making.failed  # the header reads: planned
    with pytest.raises(ImageError) as raised:
        images_module.ImagesGenerator.finish(generator)
    assert "1 ảnh lỗi khi đang dựng trang" in str(raised.value.code)
    assert "models/a.md:4: image: ảnh “a.jpg” bị hỏng" in caplog.text


def test_copies_of_a_cached_variant_hand_its_digest_to_the_record(
    tmp_path, monkeypatch
):
    """A variant taken from the cache (not made by this build) is hashed once for
    all its copies; a cached file changed since is hashed again (issue 21)."""
    import hashlib
    from types import SimpleNamespace

    import images.images as images

    from portal import files

    cached = tmp_path / "cache" / "anh-320.webp"
    cached.parent.mkdir()
    cached.write_bytes(b"RIFF-webp-bytes" * 50)
    out = tmp_path / "output" / "images"
    out.mkdir(parents=True)
    reads = []
    hashed = images.file_sha256
    monkeypatch.setattr(images, "file_sha256", lambda p: reads.append(p) or hashed(p))

    def publish(*names: str) -> None:
        variants = [
            SimpleNamespace(name=name, cached=str(cached), nbytes=None, digest=None)
            for name in names
        ]
        images.publish(SimpleNamespace(variants=variants), f"{out}/")
        for name in names:
            target = out / name
            noted = files.noted_sha256(str(target), target.stat())
            assert noted == hashlib.sha256(target.read_bytes()).hexdigest()

    files.forget_sha256()
    publish("a-320.webp", "b-320.webp")
    assert len(reads) == 1
    cached.write_bytes(b"RIFF-other-bytes" * 50)
    publish("c-320.webp")
    assert len(reads) == 2
    files.forget_sha256()


def _waiting_generator(tmp_path: Path) -> images_module.ImagesGenerator:
    """Return an images generator whose one image is planned and being made."""
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg((300, 200)))
    generator = object.__new__(images_module.ImagesGenerator)
    generator.options = get_options(
        {"IMAGES": OPTIONS, "CACHE_PATH": str(tmp_path / "c")}
    )
    generator.output_path = str(tmp_path / "output")
    generator.root, generator.used, generator.copying = root, [], None
    generator.making = images_module.start(["a.jpg"], root, generator.options)
    generator.processed = generator.making.done
    images_module._copies_to_start.add(generator)
    return generator


def test_variants_are_copied_once_pages_start_beside_them(tmp_path, monkeypatch):
    """Nothing is copied before pages_starting; then a thread copies every variant,
    and generate_output only waits for it (issue 21: not one core after the pages)."""
    generator = _waiting_generator(tmp_path)
    names = [v.name for v in generator.making.done["a.jpg"].variants]
    out = tmp_path / "output" / generator.options["output_dir"]
    generator.making.jobs[next(iter(generator.making.jobs))].result()
    assert not out.exists()  # made, but not copied before pages are written
    finishing.pages_starting.connect(images_module.start_copies)  # as register()
    finishing.pages_starting.send(None)
    assert generator.copying is not None and generator not in list(
        images_module._copies_to_start
    )
    generator.copying.result(timeout=30)
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    monkeypatch.setattr(
        images_module, "publish", lambda *a: pytest.fail("copied twice")
    )
    generator.generate_output(None)
    assert generator.copier._shutdown and generator.making is None


def test_variants_are_copied_by_generate_output_without_pages_starting(tmp_path):
    """Without renderpool (no pages_starting), generate_output copies them itself."""
    generator = _waiting_generator(tmp_path)
    images_module._copies_to_start.discard(generator)
    generator.generate_output(None)
    out = tmp_path / "output" / generator.options["output_dir"]
    assert len(list(out.iterdir())) == len(generator.processed["a.jpg"].variants)
