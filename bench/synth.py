"""Synthetic content for benchmarks: valid models and news over every vocabulary term.

`generate(content_dir, n_items, seed)` writes Markdown files with YAML front matter
that pass the project's schema, spread over every field, locality, kind and year,
with Vietnamese-like titles and text. Same arguments, same files (no clock, no
global random state). With `images_share` > 0, that share of items gets a small
generated JPEG (and its alt text) under `content/images/synth/`.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

from portal import vocab
from portal.text import slugify

ROOT = Path(__file__).resolve().parents[1]
MODEL_SHARE = 0.4  # the rest are news
YEARS = range(2016, 2026)
LAST_DAY = dt.date(2026, 10, 31)  # fixed: the content never depends on today
IMAGE_SIZE = (1600, 1067)

OPENINGS = (
    "Mô hình",
    "Tổ",
    "Câu lạc bộ",
    "Điểm sáng",
    "Phong trào",
    "Nhóm",
    "Tuyến đường",
    "Chi hội",
)
PHRASES = (
    "dân vận khéo",
    "tự quản an ninh trật tự",
    "đổi rác thải nhựa",
    "giúp nhau giảm nghèo",
    "hiến đất làm đường",
    "nông thôn mới",
    "phụ nữ tiết kiệm",
    "ngư dân đoàn kết",
    "thanh long sạch",
    "giữ gìn môi trường",
    "đồng bào dân tộc",
    "cải cách hành chính",
    "một cửa thân thiện",
    "nâng bước em tới trường",
    "khu dân cư văn hóa",
    "đối thoại với dân",
    "camera vì cộng đồng",
    "tuyến biển xanh",
    "bữa cơm nghĩa tình",
    "mái ấm công đoàn",
)
WORDS = (
    "người dân",
    "cán bộ",
    "đảng viên",
    "hội viên",
    "chính quyền",
    "Mặt trận",
    "khu phố",
    "thôn",
    "xã",
    "phường",
    "vận động",
    "tuyên truyền",
    "tham gia",
    "đóng góp",
    "ngày công",
    "kinh phí",
    "hộ nghèo",
    "môi trường",
    "an ninh",
    "trật tự",
    "sản xuất",
    "đời sống",
    "đoàn kết",
    "đồng thuận",
    "hiệu quả",
    "nhân rộng",
    "thiết thực",
    "gần dân",
    "trọng dân",
    "hiểu dân",
    "giúp dân",
    "học dân",
    "lắng nghe",
    "ý kiến",
    "bàn bạc",
    "công khai",
    "minh bạch",
    "kịp thời",
    "bền vững",
    "tích cực",
)
UNITS = (
    "Hội Liên hiệp Phụ nữ",
    "Đoàn Thanh niên",
    "Hội Nông dân",
    "Hội Cựu chiến binh",
    "Ban công tác Mặt trận",
    "Công an",
    "Ủy ban nhân dân",
    "Chi bộ",
    "Đồn Biên phòng",
    "Ban quản lý chợ",
)
PLACES = ("xã", "phường", "thị trấn", "khu phố", "thôn")
NAMES = (
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Đức",
    "Hạnh",
    "Hòa",
    "Lâm",
    "Minh",
    "Nghĩa",
    "Phú",
    "Quang",
    "Sơn",
    "Tân",
    "Thắng",
    "Thành",
    "Vĩnh",
    "Xuân",
)
TAGS = ("môi trường", "giảm nghèo", "an ninh", "hành chính", "giáo dục", "biển đảo")
NEWS_VERBS = (
    "sơ kết",
    "tổng kết",
    "biểu dương",
    "nhân rộng",
    "ra quân",
    "tập huấn",
    "triển khai",
    "kiểm tra",
)


def _sentence(rng: random.Random) -> str:
    """Return one Vietnamese-like sentence."""
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), f"“{rng.choice(PHRASES)}”")
    text = " ".join(words)
    first = 1 if text.startswith("“") else 0
    return text[:first] + text[first].upper() + text[first + 1 :] + "."


def _paragraph(rng: random.Random) -> str:
    """Return a paragraph of a few sentences."""
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))


def _body(rng: random.Random) -> str:
    """Return a Markdown body with sub-headings and paragraphs."""
    parts = []
    for section in range(rng.randint(2, 4)):
        if section:
            parts.append(f"## {rng.choice(PHRASES).capitalize()}")
        parts += [_paragraph(rng) for _ in range(rng.randint(1, 3))]
    return "\n\n".join(parts) + "\n"


def _unit(rng: random.Random) -> str:
    """Return a plausible unit name."""
    return f"{rng.choice(UNITS)} {rng.choice(PLACES)} {rng.choice(NAMES)}"


def _date(rng: random.Random, year: int) -> dt.date:
    """Return a day of a year, never after LAST_DAY."""
    start = dt.date(year, 1, 1)
    end = min(dt.date(year, 12, 31), LAST_DAY)
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _front(fields: dict) -> str:
    """Render front matter (values written as JSON, which YAML reads)."""
    lines = [
        f"{key}: {json.dumps(value, ensure_ascii=False)}"
        for key, value in fields.items()
    ]
    return "---\n" + "\n".join(lines) + "\n---\n\n"


def _slug(title: str, number: int) -> str:
    """Return a unique URL slug for an item."""
    return f"{slugify(title)[:60].strip('-')}-{number}"


def _image(rng: random.Random, path: Path) -> None:
    """Write a small generated JPEG photo stand-in."""
    from PIL import Image, ImageOps

    colour = tuple(rng.randrange(40, 220) for _ in range(3))
    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270)))
    image = ImageOps.colorize(gradient, (20, 20, 20), colour).resize(IMAGE_SIZE)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=80)


def _with_image(fields: dict, rng: random.Random, content: Path, slug: str) -> None:
    """Give an item a generated image and its alt text."""
    relative = f"synth/{slug}.jpg"
    _image(rng, content / "images" / relative)
    fields["image"] = relative
    fields["image_alt"] = f"Ảnh minh họa: {fields['title']}"
    fields["image_caption"] = _sentence(rng)


def generate(
    content_dir: str | Path, n_items: int, seed: int, images_share: float = 0.0
) -> dict[str, int]:
    """Write n_items valid models and news under content_dir; return the counts."""
    content = Path(content_dir)
    for folder in ("models", "news", "pages", "images"):
        (content / folder).mkdir(parents=True, exist_ok=True)
    vocabularies = vocab.load(ROOT / "data")
    fields = vocabularies["linh-vuc"].terms
    localities = vocabularies["dia-ban"].terms
    kinds = vocabularies["hinh-thuc"].terms
    rng = random.Random(seed)
    n_models = max(1, round(n_items * MODEL_SHARE)) if n_items else 0
    model_slugs: list[str] = []
    images = 0
    for number in range(n_items):
        is_model = number < n_models
        if is_model:
            year = YEARS[number % len(YEARS)]
            title = f"{rng.choice(OPENINGS)} “{rng.choice(PHRASES)}” {rng.choice(PLACES)} {rng.choice(NAMES)}"
            item = {
                "title": title,
                "category": fields[number % len(fields)].name,
                "locality": localities[(number // len(fields)) % len(localities)].name,
                "year": year,
                "kind": kinds[number % len(kinds)].name,
                "unit": _unit(rng),
                "summary": _sentence(rng),
                "date": _date(rng, year).isoformat(),
                "tags": rng.sample(TAGS, 2),
            }
        else:
            place = rng.choice(localities)
            title = (
                f"{place.name} {rng.choice(NEWS_VERBS)} mô hình “{rng.choice(PHRASES)}”"
            )
            item = {
                "title": title,
                "date": _date(rng, rng.choice(YEARS)).isoformat(),
                "summary": _sentence(rng),
            }
            if rng.random() < 0.7:
                item["category"] = rng.choice(fields).name
            if rng.random() < 0.6:
                item["locality"] = place.name
            if model_slugs and rng.random() < 0.5:
                item["models"] = sorted(
                    set(rng.sample(model_slugs, min(2, len(model_slugs))))
                )
        slug = _slug(title, number)
        if images_share and rng.random() < images_share:
            _with_image(item, rng, content, slug)
            images += 1
        folder = "models" if is_model else "news"
        (content / folder / f"{slug}.md").write_text(
            _front(item) + _body(rng), encoding="utf-8"
        )
        if is_model:
            model_slugs.append(slug)
    return {"models": n_models, "news": n_items - n_models, "images": images}
