"""portal.imagecheck: each image decoded once per build, good verdicts kept by SHA-256."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from portal import imagecheck


def _jpeg(path: Path, size: tuple[int, int] = (40, 30)) -> Path:
    Image.new("RGB", size, "teal").save(path, "JPEG")
    return path


@pytest.fixture
def decodes(monkeypatch) -> list[Path]:
    """Record every full decode imagecheck does."""
    seen: list[Path] = []
    real = imagecheck.decode

    def counting(image: Image.Image) -> None:
        seen.append(Path(image.filename))
        real(image)

    monkeypatch.setattr(imagecheck, "decode", counting)
    yield seen
    imagecheck.keep_verdicts(None)


@pytest.mark.parametrize("store", [False, True])
def test_an_image_is_decoded_once_per_build(tmp_path, decodes, store) -> None:
    imagecheck.keep_verdicts(tmp_path / "verdicts" if store else None)
    image = _jpeg(tmp_path / "a.jpg")
    assert [imagecheck.verify(image) for _ in range(3)] == [(40, 30)] * 3
    assert decodes == [image]
    _jpeg(image, (20, 10))  # replaced: new size and time, decoded again
    assert imagecheck.verify(image) == (20, 10)
    assert decodes == [image, image]


def test_a_later_build_with_the_store_does_not_decode(tmp_path, decodes) -> None:
    store = tmp_path / "verdicts"
    image = _jpeg(tmp_path / "a.jpg")
    imagecheck.keep_verdicts(store)
    imagecheck.verify(image)
    copy = tmp_path / "copy.jpg"  # the same bytes under another name
    copy.write_bytes(image.read_bytes())
    imagecheck.keep_verdicts(store)  # the next build
    assert imagecheck.verify(image) == imagecheck.verify(copy) == (40, 30)
    assert decodes == [image]
    # A stricter pixel limit than the kept size: checked in full, refused as always.
    with pytest.raises(imagecheck.BadImage, match="megapixel"):
        imagecheck.verify(image, max_pixels=100)
    # Without the store (make check), the same build decodes again.
    imagecheck.keep_verdicts(None)
    imagecheck.verify(image)
    assert decodes == [image, image]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
        (b"not an image at all", "không phải ảnh"),
        ("truncated", "bị hỏng"),
    ],
)
def test_a_bad_image_is_never_kept_and_fails_alike(tmp_path, decodes, data, message):
    store = tmp_path / "verdicts"
    path = tmp_path / "bad.jpg"
    if data == "truncated":
        noise = Image.effect_noise((400, 300), 64).convert("RGB")
        noise.save(tmp_path / "whole.jpg", "JPEG")
        data = (tmp_path / "whole.jpg").read_bytes()[:-2000]
    path.write_bytes(data)
    errors = []
    for _ in range(2):  # two builds, each verifying twice
        imagecheck.keep_verdicts(store)
        for _ in range(2):
            with pytest.raises(imagecheck.BadImage) as error:
                imagecheck.verify(path)
            errors.append((error.value.message, error.value.fix))
    assert message in errors[0][0]
    assert errors == [errors[0]] * 4
    assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))
