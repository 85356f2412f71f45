"""Synthetic content for benchmarks, used only while `bench/synth.py` is absent.

Same interface as the taxonomy branch's generator:
`generate(content_dir, n_items, seed, images_share=0.0)` writes models and news
(YAML front matter, every field, values from the vocabularies) that pass
`python -m portal.check`. A share of the items gets an image: a handful of
distinct JPEGs made with Pillow, reused across items.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from portal import vocab
from portal.text import slugify

ROOT = Path(__file__).resolve().parent.parent
MODEL_SHARE = 0.6
DISTINCT_IMAGES = 12
IMAGE_SIZE = (1600, 1067)
FIRST_YEAR, LAST_YEAR = 2010, 2025

SUBJECTS = [
    "Tổ phụ nữ",
    "Chi hội nông dân",
    "Đoàn thanh niên",
    "Khu phố",
    "Thôn",
    "Hợp tác xã",
    "Chi bộ",
    "Ban công tác Mặt trận",
    "Hội cựu chiến binh",
    "Tổ tự quản",
    "Câu lạc bộ",
    "Trường học",
]
ACTIONS = [
    "chung tay giữ sạch đường làng",
    "đổi rác thải nhựa lấy quà",
    "giúp nhau phát triển kinh tế",
    "tuyên truyền pháp luật đến từng hộ",
    "hiến đất mở rộng đường giao thông",
    "giữ gìn an ninh trật tự",
    "nói không với túi ni lông",
    "tiết kiệm giúp nhau giảm nghèo",
    "trồng cây xanh phủ đồi",
    "đồng hành cùng học sinh nghèo",
    "giải quyết hồ sơ đúng hẹn",
    "đối thoại với nhân dân",
]
PLACES = [
    "ven biển",
    "vùng đồng bào dân tộc thiểu số",
    "xã nông thôn mới",
    "khu dân cư",
    "làng chài",
    "thị trấn",
]
NEWS_OPENERS = [
    "Hội nghị sơ kết",
    "Biểu dương",
    "Nhân rộng",
    "Ra quân",
    "Tập huấn",
    "Tổng kết phong trào",
    "Tham quan mô hình",
]
_TEXT = (
    "người dân cán bộ hội viên vận động tuyên truyền phong trào thi đua dân vận khéo "
    "chính quyền đoàn thể mặt trận địa phương cơ sở khu phố thôn xóm gia đình "
    "môi trường rác thải nhựa đường làng nông thôn mới an ninh trật tự giảm nghèo "
    "sản xuất thanh long lúa sạch ngư dân biển đảo đồng bào đoàn kết tin tưởng "
    "lắng nghe đối thoại kiến nghị giải quyết kịp thời hiệu quả thiết thực bền vững "
    "nhân rộng kinh nghiệm kết quả triển khai thực hiện phối hợp chặt chẽ thường xuyên "
    "hỗ trợ giúp đỡ hộ nghèo học sinh trường học cây xanh bãi biển chợ tiểu thương "
    "hành chính thủ tục hồ sơ một cửa thân thiện trách nhiệm gương mẫu đảng viên"
)
WORDS = _TEXT.split()
HEADINGS = ["Cách làm", "Kết quả", "Kinh nghiệm", "Bài học", "Hướng nhân rộng"]
UNITS = [
    "Hội Liên hiệp Phụ nữ",
    "Hội Nông dân",
    "Huyện đoàn",
    "Ủy ban nhân dân",
    "Ban Dân vận Huyện ủy",
    "Ủy ban Mặt trận Tổ quốc",
]
AUTHORS = ["Hoàng Yến", "Minh Châu", "Thanh Tâm", "Quốc Huy", "Ngọc Ánh"]


def _sentence(rng: random.Random) -> str:
    """Make one sentence of Vietnamese-like words."""
    words = rng.choices(WORDS, k=rng.randint(12, 26))
    return " ".join(words).capitalize() + "."


def _body(rng: random.Random) -> str:
    """Make a body of paragraphs under a few sub-headings (about 450 words)."""
    parts = []
    for heading in rng.sample(HEADINGS, 3):
        if parts:
            parts.append(f"## {heading}")
        for _ in range(rng.randint(1, 3)):
            parts.append(" ".join(_sentence(rng) for _ in range(rng.randint(3, 6))))
    if rng.random() < 0.3:
        parts.append("\n".join(f"- {_sentence(rng)}" for _ in range(3)))
    return "\n\n".join(parts) + "\n"


def _yaml_list(values: list[str]) -> str:
    """Write a flow-style YAML list of plain words."""
    return "[" + ", ".join(values) + "]"


def _date(rng: random.Random, year: int) -> dt.date:
    """Pick a date in the given year, never after today."""
    start = dt.date(year, 1, 1)
    day = start + dt.timedelta(days=rng.randrange(365))
    return min(day, dt.date.today())


def make_images(images_dir: Path, count: int, seed: int) -> list[str]:
    """Write `count` distinct photo-sized JPEGs; return their paths under images/."""
    from PIL import Image, ImageDraw

    folder = images_dir / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    names = []
    for number in range(count):
        name = f"anh-{number:02d}.jpg"
        names.append(f"bench/{name}")
        path = folder / name
        if path.exists():
            continue
        image = Image.linear_gradient("L").resize(IMAGE_SIZE).convert("RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(40):
            x, y = rng.randrange(IMAGE_SIZE[0]), rng.randrange(IMAGE_SIZE[1])
            size = rng.randint(40, 300)
            colour = tuple(rng.randrange(256) for _ in range(3))
            draw.ellipse((x, y, x + size, y + size), fill=colour)
        image.save(path, "JPEG", quality=85)
    return names


def generate(
    content_dir: str | Path, n_items: int, seed: int, images_share: float = 0.0
) -> None:
    """Write n_items models and news under content_dir (models/, news/, images/)."""
    content = Path(content_dir)
    rng = random.Random(seed)
    vocabularies = vocab.load(ROOT / "data")
    fields = [t.name for t in vocabularies["linh-vuc"]]
    localities = [t.name for t in vocabularies["dia-ban"]]
    kinds = [t.name for t in vocabularies["hinh-thuc"]]
    images = (
        make_images(content / "images", DISTINCT_IMAGES, seed) if images_share else []
    )
    for folder in ("models", "news"):
        (content / folder).mkdir(parents=True, exist_ok=True)
    n_models = max(1, round(n_items * MODEL_SHARE))
    model_slugs: list[str] = []
    for number in range(n_items):
        is_model = number < n_models
        year = rng.randint(FIRST_YEAR, LAST_YEAR)
        locality = rng.choice(localities)
        if is_model:
            title = f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)} {rng.choice(PLACES)}"
        else:
            title = (
                f"{locality}: {rng.choice(NEWS_OPENERS)} mô hình {rng.choice(ACTIONS)}"
            )
        slug = f"{slugify(title)}-{number}"
        meta = [
            f"title: {title!r}".replace("'", '"'),
            f"date: {_date(rng, year).isoformat()}",
            f"summary: {_sentence(rng)}",
            f"category: {rng.choice(fields)}",
            f"locality: {locality}",
            f"tags: {_yaml_list(rng.sample(WORDS[:40], 3))}",
        ]
        if is_model:
            meta += [
                f"year: {year}",
                f"kind: {rng.choice(kinds)}",
                f"unit: {rng.choice(UNITS)} {locality}",
            ]
            model_slugs.append(slug)
        else:
            meta.append(f"author: {rng.choice(AUTHORS)}")
            if model_slugs:
                related = rng.sample(model_slugs, min(2, len(model_slugs)))
                meta.append(f"models: {_yaml_list(related)}")
        if images and rng.random() < images_share:
            meta += [
                f"image: {rng.choice(images)}",
                f"image_alt: {_sentence(rng)}",
                f"image_caption: {_sentence(rng)}",
            ]
        if rng.random() < 0.05:
            meta.append("featured: true")
        folder = "models" if is_model else "news"
        text = "---\n" + "\n".join(meta) + "\n---\n\n" + _body(rng)
        (content / folder / f"{slug}.md").write_text(text, encoding="utf-8")
