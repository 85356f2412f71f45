"""A legacy provincial portal written by us for the importer's tests and bench.

Thirteen article pages in two HTML layouts (A: an ASP.NET portal with
Article.aspx?ArticleID=…; B: a news site with /tin-tuc-su-kien/<name>-<id>.html),
with images and captions, an attachment, frames, scripts and the old template's
boilerplate; an RSS feed; and the text dump tests/fixtures/legacy/dump.txt.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import shutil
import unicodedata
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path

from PIL import Image

FIXTURES = Path(__file__).parent / "fixtures" / "legacy"
HOST = "http://danvan.example.gov.vn"


@dataclass(frozen=True)
class Article:
    """One legacy article: what the page says and what the importer should find."""

    number: int
    title: str
    date_text: str
    date: dt.datetime
    locality: str
    lead: str
    category: str = "Tin hoạt động"

    @property
    def slug(self) -> str:
        return f"bai-{self.number}"


A_ARTICLES = [
    Article(
        123,
        "Phan Thiết nhân rộng mô hình đổi rác thải nhựa lấy khẩu trang",
        "Thứ Hai, 09/09/2019",
        dt.datetime(2019, 9, 9),
        "Phan Thiết",
        "Hội Liên hiệp Phụ nữ thành phố Phan Thiết tiếp tục nhân rộng mô hình đổi rác thải nhựa lấy khẩu trang y tế ở các khu dân cư.",
    ),
    Article(
        124,
        "La Gi biểu dương điển hình dân vận khéo năm 2020",
        "ngày 15 tháng 12 năm 2020",
        dt.datetime(2020, 12, 15),
        "La Gi",
        "Thị ủy La Gi biểu dương các tập thể, cá nhân tiêu biểu trong phong trào thi đua dân vận khéo năm 2020 tại La Gi.",
    ),
    Article(
        125,
        "Tuy Phong: tổ đoàn kết sản xuất trên biển",
        "Thứ Năm, 05/03/2020 - 14:15",
        dt.datetime(2020, 3, 5, 14, 15),
        "Tuy Phong",
        "Ngư dân huyện Tuy Phong lập tổ đoàn kết sản xuất trên biển, giúp nhau khi gặp rủi ro.",
        "Mô hình điển hình",
    ),
    Article(
        126,
        "Bắc Bình thăm hỏi người có uy tín dịp lễ hội Katê",
        "Cập nhật ngày 28 tháng 10 năm 2021",
        dt.datetime(2021, 10, 28),
        "Bắc Bình",
        "Ban Dân vận Huyện ủy Bắc Bình thăm hỏi người có uy tín trong đồng bào Chăm nhân lễ hội Katê ở Bắc Bình.",
    ),
    Article(
        127,
        "Hàm Thuận Bắc vận động hiến đất làm đường",
        "Thứ Sáu, 07/05/2021",
        dt.datetime(2021, 5, 7),
        "Hàm Thuận Bắc",
        "Trưởng thôn ở Hàm Thuận Bắc vận động bà con hiến đất mở rộng đường giao thông nông thôn.",
    ),
    Article(
        128,
        "Hàm Tân giải quyết hồ sơ đất đai đúng hẹn",
        "14/07/2022",
        dt.datetime(2022, 7, 14),
        "Hàm Tân",
        "Bộ phận một cửa huyện Hàm Tân trả hồ sơ đất đai đúng hẹn, công khai tiến độ cho người dân Hàm Tân.",
    ),
    Article(
        129,
        "Tánh Linh xây dựng tổ hợp tác sản xuất lúa sạch",
        "Chủ nhật, 02/10/2022",
        dt.datetime(2022, 10, 2),
        "Tánh Linh",
        "Nông dân Tánh Linh liên kết trồng lúa sạch theo quy trình chung, bao tiêu sản phẩm.",
        "Mô hình điển hình",
    ),
]
B_ARTICLES = [
    Article(
        301,
        "Đức Linh biểu dương điển hình Dân vận khéo",
        "09-09-2019 08:30",
        dt.datetime(2019, 9, 9, 8, 30),
        "Đức Linh",
        "Huyện ủy Đức Linh biểu dương các điển hình Dân vận khéo giai đoạn 2016 – 2019 ở Đức Linh.",
    ),
    Article(
        302,
        "Phú Quý: tổ tự quản an ninh trật tự cảng cá",
        "10-10-2020 07:05",
        dt.datetime(2020, 10, 10, 7, 5),
        "Phú Quý",
        "Tổ tự quản ở cảng cá Phú Quý giữ gìn an ninh trật tự, giúp tàu cá ra vào an toàn.",
        "Mô hình - Điển hình",
    ),
    Article(
        303,
        "Hàm Thuận Nam liên kết sản xuất thanh long",
        "Thứ Ba, 12/01/2021 16:45",
        dt.datetime(2021, 1, 12, 16, 45),
        "Hàm Thuận Nam",
        "Nông dân Hàm Thuận Nam liên kết sản xuất thanh long theo tiêu chuẩn VietGAP.",
    ),
    Article(
        304,
        "Phan Thiết: chợ dân sinh giảm thiểu rác thải nhựa",
        "ngày 3 tháng 6 năm 2021",
        dt.datetime(2021, 6, 3),
        "Phan Thiết",
        "Tiểu thương chợ ở Phan Thiết cùng nhau giảm túi ni lông, đổi túi thân thiện môi trường.",
        "Mô hình - Điển hình",
    ),
    Article(
        305,
        "Kỷ niệm ngày truyền thống công tác dân vận",
        "15-10-2022 09:00",
        dt.datetime(2022, 10, 15, 9),
        "Cấp tỉnh",
        "Ban Dân vận Tỉnh ủy tổ chức kỷ niệm ngày truyền thống công tác dân vận của Đảng.",
    ),
    Article(
        306,
        "La Gi: bí thư chi bộ đối thoại với dân",
        "20/11/2023 10:10",
        dt.datetime(2023, 11, 20, 10, 10),
        "La Gi",
        "Các bí thư chi bộ ở La Gi đối thoại định kỳ với nhân dân, giải quyết kiến nghị tại chỗ.",
    ),
]
FEED_ARTICLES = [
    Article(
        501,
        "Hội nghị giao ban công tác dân vận quý IV",
        "",
        dt.datetime(2023, 12, 20, 8, 0),
        "Cấp tỉnh",
        "Ban Dân vận Tỉnh ủy giao ban công tác dân vận quý IV với các huyện, thị, thành ủy.",
    ),
    Article(
        502,
        "Tánh Linh tiết kiệm giúp nhau giảm nghèo",
        "",
        dt.datetime(2024, 1, 5, 9, 30),
        "Tánh Linh",
        "Các tổ tiết kiệm ở Tánh Linh giúp hội viên nghèo có vốn làm ăn.",
    ),
    Article(
        503,
        "Đức Linh: camera an ninh vì cộng đồng",
        "",
        dt.datetime(2024, 2, 1, 7, 0),
        "Đức Linh",
        "Người dân Đức Linh góp tiền lắp camera an ninh ở các tuyến đường thôn.",
    ),
]
BOILERPLATE = (
    "Các tin khác",
    "Tin liên quan",
    "Chia sẻ",
    "TIN MỚI NHẤT",
    "Số lượt truy cập",
    "SỐ LƯỢT TRUY CẬP",
)


def a_url(article: Article) -> str:
    """Return a layout A article's legacy URL."""
    return f"{HOST}/portal/Pages/Article.aspx?ArticleID={article.number}"


def b_url(article: Article) -> str:
    """Return a layout B article's legacy URL."""
    return f"{HOST}/tin-tuc-su-kien/{article.slug}-{article.number}.html"


def _body(article: Article) -> str:
    """Return two paragraphs of body text naming the article's locality."""
    return (
        f"<p>{html.escape(article.lead)}</p>\n"
        f"<p>Theo Ban Dân vận, cách làm ở {article.locality} được người dân đồng tình,"
        " góp phần xây dựng khối đại đoàn kết toàn dân tộc.</p>"
    )


def page_a(article: Article, index: int) -> str:
    """Return a layout A page (tables for images, a share bar, "Các tin khác")."""
    extra = ""
    if index == 0:
        extra += '<p>Xem toàn văn <a href="files/ke-hoach-158.pdf">Kế hoạch số 158-KH/TU</a>.</p>'
        extra += '<p>Xem thêm <a href="Article.aspx?ArticleID=124">bài ở La Gi</a>.</p>'
    if index == 1:
        extra += '<iframe src="https://video.example.com/embed/1"></iframe>'
    text = f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{html.escape(article.title)}</title>
<link rel="canonical" href="{a_url(article)}">
<script>var tracker = [];</script></head>
<body><div class="top">TIN MỚI NHẤT</div>
<div class="breadcrumb"><a href="/">Trang chủ</a> » <a href="#">{article.category}</a></div>
<h1 class="article-title">{html.escape(article.title)}</h1>
<div class="article-date">{article.date_text}</div>
<div class="article-sapo">{html.escape(article.lead)}</div>
<div class="article-content">
<table class="image"><tr><td><img src="images/{article.slug}.jpg"></td></tr>
<tr><td class="image-caption">Ảnh: quang cảnh tại {article.locality}</td></tr></table>
{_body(article)}
{extra}
<script>document.write("quảng cáo");</script>
<div class="share-bar">Chia sẻ: Facebook | Zalo | In bài viết</div>
<p><img src="images/quang-cao-banner.gif"></p>
<p><strong>Các tin khác</strong></p>
<ul><li><a href="Article.aspx?ArticleID=1">Tin cũ hơn</a></li></ul>
</div>
<div class="footer">Số lượt truy cập: 10810</div>
</body></html>
"""
    # One page saved by a Mac tool in decomposed Unicode (NFD).
    return unicodedata.normalize("NFD", text) if index == 2 else text


def page_b(article: Article) -> str:
    """Return a layout B page (figure/figcaption, GIF image, "Tin liên quan")."""
    return f"""<html><head><meta charset="utf-8">
<meta property="og:url" content="{b_url(article)}"></head>
<body><nav class="chuyen-muc"><span>{article.category}</span></nav>
<article><header><h2 class="tieu-de">{html.escape(article.title)}</h2>
<span class="ngay-dang">Cập nhật: {article.date_text}</span></header>
<section class="noi-dung">
{_body(article)}
<figure><img src="/b/anh/{article.slug}.gif" alt="Người dân {article.locality}">
<figcaption>Người dân {article.locality} tham gia mô hình</figcaption></figure>
<p>Kết quả được Ban Dân vận ghi nhận.</p>
<ul class="mang-xa-hoi"><li>Facebook</li><li>Zalo</li></ul>
<h3>Tin liên quan</h3><ul><li><a href="/tin-tuc-su-kien/bai-1.html">Tin khác</a></li></ul>
</section></article>
<div>SỐ LƯỢT TRUY CẬP: 10810</div></body></html>
"""


def feed(articles: list[Article]) -> str:
    """Return an RSS 2.0 feed of articles."""
    items = "".join(
        f"""<item><title>{html.escape(a.title)}</title>
<link>{HOST}/tin-tuc-su-kien/{a.slug}-{a.number}.html</link>
<pubDate>{format_datetime(a.date.replace(tzinfo=dt.timezone(dt.timedelta(hours=7))))}</pubDate>
<category>Tin hoạt động</category>
<description>{html.escape(_body(a))}</description></item>
"""
        for a in articles
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Ban Dân vận</title><link>{HOST}/</link>
<description>Tin tức</description>
{items}</channel></rss>
"""


def _image(fmt: str, colour: tuple[int, int, int]) -> bytes:
    """Return a small image in a format."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, fmt)
    return buffer.getvalue()


def write_legacy_site(root: Path) -> Path:
    """Write the legacy site under root: a/, b/, feed.xml, dump.txt; return root."""
    (root / "a" / "images").mkdir(parents=True, exist_ok=True)
    (root / "a" / "files").mkdir(exist_ok=True)
    (root / "b" / "anh").mkdir(parents=True, exist_ok=True)
    for index, article in enumerate(A_ARTICLES):
        (root / "a" / f"{article.slug}.html").write_text(
            page_a(article, index), "utf-8"
        )
        colour = (index * 30 % 255, 120, 80)
        (root / "a" / "images" / f"{article.slug}.jpg").write_bytes(
            _image("JPEG", colour)
        )
    (root / "a" / "files" / "ke-hoach-158.pdf").write_bytes(
        b"%PDF-1.4\n% ke hoach\n%%EOF\n"
    )
    for index, article in enumerate(B_ARTICLES):
        (root / "b" / f"{article.slug}.html").write_text(page_b(article), "utf-8")
        (root / "b" / "anh" / f"{article.slug}.gif").write_bytes(
            _image("GIF", (90, index * 40, 60))
        )
    (root / "feed.xml").write_text(feed(FEED_ARTICLES), "utf-8")
    shutil.copy(FIXTURES / "dump.txt", root / "dump.txt")
    return root
