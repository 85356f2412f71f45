"""Vietnamese text helpers and the vocabularies."""

import datetime as dt
import os
from types import SimpleNamespace

import pytest

from portal import text, vocab
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Đổi rác thải nhựa", "doi-rac-thai-nhua"),
        (
            "Chợ dân sinh giảm thiểu rác thải nhựa",
            "cho-dan-sinh-giam-thieu-rac-thai-nhua",
        ),
        ("“04 không” – năm 2020", "04-khong-nam-2020"),
        ("ĐỨC LINH", "duc-linh"),
    ],
)
def test_slugify_makes_ascii_slugs(title, slug):
    assert text.slugify(title) == slug


def test_sort_key_follows_the_vietnamese_alphabet():
    names = ["Zô", "Đức Linh", "Dương", "Ăn", "An", "Âu", "Bắc Bình", "Ơn", "Ông", "Ốc"]
    ordered = sorted(names, key=text.sort_key)
    assert ordered == [
        "An",
        "Ăn",
        "Âu",
        "Bắc Bình",
        "Dương",
        "Đức Linh",
        "Ốc",
        "Ông",
        "Ơn",
        "Zô",
    ]


SORTED_TEXTS = [
    "",
    "Hòa Thuận",
    "Hoà thuận 2",
    "Hoà thuận 10",
    "“04 không” – năm 2020",
    "ß ǅ x\u0301",
    "ĐỨC",
    "Đức",
    "đức linh",
    "a",
    "ab",
    "a b",
    "a-b",
    "a\u0958",  # a letter whose base is two code points (a composition exclusion)
    "a\u0915",
    "a\u0915b",
    "a\u0958b",
    "a²",
    "a2",
    "aé",
    "aè",
    "añ",
    "aa",
    "ä",
    "ω",
    "Ω b",
    "\u0301",
    "z",
]


def tuple_key(title: str) -> tuple:
    """The key sort_key stands for: each character's key, then the text."""
    keys = [text._char_key(char) for char in text.nfc(title).casefold()]
    return tuple(k[0] for k in keys), tuple(k[1] for k in keys), title


@pytest.mark.parametrize("first", SORTED_TEXTS)
def test_sort_key_orders_as_each_characters_key(first):
    for second in SORTED_TEXTS:
        assert (text.sort_key(first) < text.sort_key(second)) == (
            tuple_key(first) < tuple_key(second)
        ), (first, second)
        assert (text.sort_key(first) == text.sort_key(second)) == (first == second)


def test_title_key_is_the_kept_key_of_the_same_title():
    item = SimpleNamespace(title="Bắc Bình", title_key=text.sort_key("Bắc Bình"))
    assert text.title_key(item) is item.title_key
    item.title = "An Bình"  # changed since the key was made: made again
    assert text.title_key(item) == text.sort_key("An Bình")
    assert text.title_key(SimpleNamespace(title="Ơn")) == text.sort_key("Ơn")


@pytest.mark.parametrize(
    ("day", "short", "long"),
    [
        (dt.date(2026, 11, 29), "29/11/2026", "Chủ nhật, 29/11/2026"),
        (dt.date(2020, 12, 7), "07/12/2020", "Thứ Hai, 07/12/2020"),
        (dt.date(2021, 1, 16), "16/01/2021", "Thứ Bảy, 16/01/2021"),
    ],
)
def test_dates_read_the_vietnamese_way(day, short, long):
    assert text.format_date(day) == short
    assert text.format_weekday_date(day) == long


def test_fold_strips_every_diacritic_including_d():
    assert text.fold("Đường  Phan Thiết") == "duong phan thiet"


@pytest.fixture
def vocabularies():
    return vocab.load(ROOT / "data")


@pytest.mark.parametrize(
    "spelling",
    [
        "Phan Thiết",
        "Thành phố Phan Thiết",
        "phan-thiet",
        "TP. Phan Thiết",
        "  phan  thiết ",
    ],
)
def test_a_locality_is_found_by_any_of_its_spellings(vocabularies, spelling):
    assert vocabularies["dia-ban"].lookup(spelling).slug == "phan-thiet"


@pytest.mark.parametrize(
    ("spelling", "slug"),
    [
        ("Phường Phú Thủy", "phu-thuy"),  # the file has "Phú Thuỷ"
        ("phú thủy", "phu-thuy"),
        ("Xã Hoà Thắng", "hoa-thang"),  # the file has "Hòa"
        ("Phường Phú Thuỷ", "phu-thuy"),
    ],
)
def test_either_placement_of_a_tone_mark_finds_the_locality(
    vocabularies, spelling, slug
):
    assert vocabularies["dia-ban"].lookup(spelling).slug == slug


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("Phan Thiet", "Phan Thiết"),
        ("Duc Linh", "Đức Linh"),
        ("Phú Qúy", "Phú Quý"),
        ("Ham Tan", "Hàm Tân"),
    ],
)
def test_a_misspelt_locality_gets_a_suggestion(vocabularies, typed, suggested):
    localities = vocabularies["dia-ban"]
    assert localities.lookup(typed) is None
    assert localities.suggest(typed)[0] == suggested


def test_the_sample_vocabularies_have_the_four_fields_and_the_localities(vocabularies):
    assert len(vocabularies["linh-vuc"]) == 4
    assert len(vocabularies["dia-ban"]) >= 11
    assert len(vocabularies["hinh-thuc"]) == 3


def test_sorted_terms_put_duc_linh_after_duong(tmp_path):
    (tmp_path / "dia-ban.yml").write_text(
        "label: Địa bàn\nterms:\n  - {name: Đức Linh}\n  - {name: Zơ}\n  - {name: Dương}\n",
        "utf-8",
    )
    names = [t.name for t in vocab.load(tmp_path)["dia-ban"].sorted_terms()]
    assert names == ["Dương", "Đức Linh", "Zơ"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "terms:\n  - {slug: a, name: A}\n  - {slug: a, name: B}\n",
            "slug trùng nhau: a",
        ),
        (
            "terms:\n  - {slug: a, name: A}\n  - {slug: b, name: A}\n",
            "cách gọi “A” dùng cho cả",
        ),
        ("terms:\n  - {slug: 'Bad Slug', name: A}\n", "slug “Bad Slug” không hợp lệ"),
        ("terms:\n  - {slug: a}\n", "mỗi mục cần có “name”"),
        ("label: x\n", "cần có danh sách “terms:”"),
        ("terms: [\n", "không đọc được tệp danh mục"),
    ],
)
def test_a_broken_vocabulary_file_is_a_clear_error(tmp_path, body, message):
    (tmp_path / "dia-ban.yml").write_text(body, "utf-8")
    with pytest.raises(vocab.VocabularyError, match=message):
        vocab.load(tmp_path)


def test_vocabularies_are_reread_when_their_file_changes(tmp_path):
    path = tmp_path / "linh-vuc.yml"
    path.write_text("terms:\n  - {name: Kinh tế}\n", "utf-8")
    assert len(vocab.load(tmp_path)["linh-vuc"]) == 1
    path.write_text("terms:\n  - {name: Kinh tế}\n  - {name: Văn hóa}\n", "utf-8")
    assert len(vocab.load(tmp_path)["linh-vuc"]) == 2


def test_vocabularies_kept_in_a_cache_are_what_the_files_say(tmp_path, monkeypatch):
    """The kept vocabularies are taken only for the same bytes (and code)."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    for path in (ROOT / "data").glob("*.yml"):
        (data / path.name).write_bytes(path.read_bytes())
    fields = data / "linh-vuc.yml"
    read = vocab.load(data)
    assert vocab.load(data, str(cache)) == read
    assert len(list(cache.glob("vocabularies-*.pickle"))) == 1

    def unread(*args):
        raise AssertionError("read again")

    vocab._load.cache_clear()  # as a new build's process
    with monkeypatch.context() as patch:
        patch.setattr(vocab, "read_vocabulary", unread)
        assert vocab.load(data, str(cache)) == read
    # Another name of the same length, at the same time: the same stamp.
    status = fields.stat()
    fields.write_bytes(
        fields.read_bytes().replace(b"Kinh t\xe1\xba\xbf\n", b"Kinh ABCD\n")
    )
    os.utime(fields, ns=(status.st_atime_ns, status.st_mtime_ns))
    vocab._load.cache_clear()
    changed = vocab.load(data, str(cache))
    assert changed["linh-vuc"].by_slug("kinh-te").name == "Kinh ABCD"
    assert changed == vocab.load(data) != read
    for number in range(vocab.MEMOS_KEPT + 1):
        (data / "hinh-thuc.yml").write_bytes(b"terms: []\n" + b"#" * number)
        vocab.load(data, str(cache))
    assert len(list(cache.glob("vocabularies-*.pickle"))) == vocab.MEMOS_KEPT
    blocked = tmp_path / "a-file"  # a cache that cannot be written: read as ever
    blocked.write_bytes(b"")
    assert vocab.load(data, str(blocked)) == vocab.load(data)
