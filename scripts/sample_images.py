"""Draw the sample images of content/images/ (flat illustrations, no photos offline).

Run: .venv/bin/python scripts/sample_images.py  (rewrites the files in place).
One of them is stored on its side with an EXIF orientation tag and a fake GPS
position, to show the images plugin turns it upright and strips every tag.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1] / "content" / "images"
W, H = 1600, 1066
SKY, SUN, SEA, SAND = "#bfe3f2", "#f6c453", "#2f7fb5", "#ecd9a8"
GREEN, DARK, RED, WHITE = "#4f9d5d", "#2d5b3a", "#c8372d", "#fbfbf7"


def sky(draw: ImageDraw.ImageDraw, top: str, bottom: str, height: int) -> None:
    """Fill the top `height` pixels with a vertical gradient."""
    a = [int(top[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(bottom[i : i + 2], 16) for i in (1, 3, 5)]
    for y in range(height):
        t = y / max(1, height - 1)
        draw.line(
            [(0, y), (W, y)],
            tuple(round(p + (q - p) * t) for p, q in zip(a, b, strict=True)),
        )


def market() -> Image.Image:
    """Draw market stalls with striped awnings, leaves and baskets."""
    image = Image.new("RGB", (W, H), SAND)
    draw = ImageDraw.Draw(image)
    sky(draw, "#9fd3ea", "#e8f4f8", 420)
    draw.ellipse((1280, 80, 1420, 220), SUN)
    for i, colour in enumerate(("#d9534f", "#3b8ea5", "#e8a33d", "#5aa469")):
        x = 80 + i * 380
        draw.rectangle((x, 420, x + 330, 820), "#f3ead7", "#8a6d3b", 6)
        for s in range(6):
            fill = colour if s % 2 == 0 else WHITE
            draw.polygon(
                [
                    (x - 20 + s * 62, 360),
                    (x + 42 + s * 62, 360),
                    (x + 42 + s * 62, 460),
                    (x - 20 + s * 62, 460),
                ],
                fill,
            )
        draw.rectangle((x + 20, 640, x + 310, 700), "#8a6d3b")
        for k in range(4):
            cx = x + 55 + k * 72
            draw.ellipse(
                (cx - 30, 590, cx + 30, 650),
                ("#4caf50", "#ff9800", "#e53935", "#7cb342")[k],
            )
    for k in range(7):
        x = 120 + k * 210
        draw.pieslice((x, 880, x + 150, 1010), 180, 360, GREEN)
        draw.rectangle((x, 945, x + 150, 1010), "#a1887f")
    return image


def flower_beds() -> Image.Image:
    """Draw a village road lined with flower beds made of recycled bottles."""
    image = Image.new("RGB", (W, H), "#9ccc65")
    draw = ImageDraw.Draw(image)
    sky(draw, "#8ecae6", "#e0f2f1", 380)
    draw.polygon([(620, 380), (980, 380), (1500, H), (100, H)], "#b0a999")
    draw.line([(800, 400), (800, H)], WHITE, 8)
    for side in (-1, 1):
        for row in range(9):
            t = row / 8
            y = 400 + t * 620
            x = 800 + side * (210 + t * 560)
            size = 12 + t * 40
            for b in range(3):
                bx = x + side * b * size * 1.3
                draw.rectangle(
                    (bx - size / 2, y - size * 1.6, bx + size / 2, y),
                    ("#4fc3f7", "#81c784", "#fff176")[b],
                    "#37474f",
                )
                draw.ellipse(
                    (bx - size, y - size * 2.6, bx + size, y - size * 1.4),
                    ("#e91e63", "#ff9800", "#ab47bc")[(row + b) % 3],
                )
    for x in (150, 1450):
        draw.rectangle((x - 15, 200, x + 15, 420), "#6d4c41")
        draw.ellipse((x - 110, 90, x + 110, 280), DARK)
    return image


def coast() -> Image.Image:
    """Draw a coastal scene: sea, island, fishing boats and a clean beach."""
    image = Image.new("RGB", (W, H), SEA)
    draw = ImageDraw.Draw(image)
    sky(draw, "#7fc8e8", "#fde9c9", 520)
    draw.ellipse((220, 120, 360, 260), SUN)
    draw.polygon([(900, 520), (1100, 380), (1250, 430), (1450, 520)], "#4e7d5b")
    for y in range(560, 780, 44):
        draw.line([(0, y), (W, y + 10)], "#5fa3cf", 4)
    for x, y in ((380, 640), (760, 700), (1180, 620)):
        draw.polygon(
            [(x - 90, y), (x + 90, y), (x + 60, y + 40), (x - 60, y + 40)], "#1e4d8c"
        )
        draw.rectangle((x - 4, y - 110, x + 4, y), "#5d4037")
        draw.polygon([(x + 6, y - 100), (x + 80, y - 20), (x + 6, y - 20)], RED)
    draw.polygon([(0, 820), (W, 760), (W, H), (0, H)], SAND)
    for x in range(120, 1500, 260):
        draw.ellipse((x, 900, x + 60, 960), "#2e7d32")
        draw.rectangle((x + 22, 940, x + 38, 1010), "#5d4037")
    return image


def conference() -> Image.Image:
    """Draw a conference hall: red backdrop, speakers' table, rows of delegates."""
    image = Image.new("RGB", (W, H), "#f1e4c8")
    draw = ImageDraw.Draw(image)
    draw.rectangle((160, 60, 1440, 470), RED)
    draw.polygon(
        [
            (800, 130),
            (826, 210),
            (910, 210),
            (842, 258),
            (868, 338),
            (800, 290),
            (732, 338),
            (758, 258),
            (690, 210),
            (774, 210),
        ],
        "#ffde00",
    )
    draw.rectangle((260, 380, 1340, 420), "#ffde00")
    draw.rectangle((300, 520, 1300, 600), "#1b5e20")
    for k in range(7):
        x = 380 + k * 140
        draw.ellipse((x - 26, 455, x + 26, 507), "#5d4037")
        draw.rectangle((x - 36, 505, x + 36, 520), WHITE)
    for row in range(3):
        for k in range(11):
            x = 150 + k * 132 + (row % 2) * 60
            y = 700 + row * 120
            draw.rectangle(
                (x - 44, y + 30, x + 44, y + 120), ("#1565c0", WHITE, "#37474f")[row]
            )
            draw.ellipse((x - 30, y - 30, x + 30, y + 30), "#3e2723")
    return image


def exchange() -> Image.Image:
    """Draw, upright and portrait, plastic bottles traded for boxes of masks."""
    image = Image.new("RGB", (900, 1200), "#e3f2fd")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 760, 900, 1200), "#8d6e63")
    draw.rectangle((60, 700, 840, 780), "#a1887f")
    for k in range(5):
        x = 120 + k * 80
        draw.rectangle(
            (x, 470, x + 50, 700),
            ("#4fc3f7", "#81d4fa", "#b3e5fc", "#4fc3f7", "#29b6f6")[k],
            "#0277bd",
            3,
        )
        draw.rectangle((x + 15, 440, x + 35, 470), "#0277bd")
    for k in range(3):
        y = 560 + k * 46
        draw.rectangle((560, y, 780, y + 44), WHITE, "#1976d2", 4)
        draw.line([(580, y + 22), (760, y + 22)], "#1976d2", 4)
    draw.polygon([(450, 250), (560, 330), (450, 410)], GREEN)
    draw.rectangle((340, 305, 450, 355), GREEN)
    return image


def gps_exif(image: Image.Image) -> Image.Exif:
    """Return EXIF with orientation 6 (rotate 90° clockwise) and a fake position."""
    exif = image.getexif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "Fake camera maker"  # Make
    exif[0x8825] = {  # GPS IFD
        1: "N",
        2: (10.0, 55.0, 30.0),
        3: "E",
        4: (108.0, 6.0, 12.0),
    }
    return exif


def main() -> None:
    """Write every sample image."""
    files = {
        "mo-hinh/cho-dan-sinh.jpg": market(),
        "mo-hinh/bon-hoa-chai-nhua.jpg": flower_beds(),
        "tin-tuc/bien-phu-quy.jpg": coast(),
        "tin-tuc/hoi-nghi-tong-ket.jpg": conference(),
    }
    for name, image in files.items():
        path = ROOT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, "JPEG", quality=82, optimize=True)
    upright = exchange()
    # Stored on its side: a viewer turns it 90° clockwise, as EXIF orientation 6 says.
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    sideways.save(
        ROOT / "mo-hinh/doi-rac-lay-khau-trang.jpg",
        "JPEG",
        quality=82,
        optimize=True,
        exif=gps_exif(sideways),
    )


if __name__ == "__main__":
    main()
