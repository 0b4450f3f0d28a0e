"""Draws the rich menu's picture, outbox/richmenu.png (`make richmenu-image`).

Needs Pillow (requirements-dev.txt) and a Japanese font: IPAGothic (Debian:
fonts-ipafont-gothic), found with fc-match. The PNG is committed because the server has
neither: `python -m outbox.richmenu` uploads the committed file. The columns and their order
are outbox.richmenu's areas.
"""
import argparse
import subprocess
import sys

from PIL import Image, ImageDraw, ImageFont

from outbox.richmenu import HEIGHT, IMAGE_PATH, LABELS, WIDTH

FONT_PATTERN = "IPAGothic:lang=ja"
GREEN = (6, 199, 85)          # LINE's green
INK = (30, 42, 51)
PAPER = (255, 255, 255)
RULE = (222, 228, 232)
ICON_Y = 330                  # centre of each column's icon
LABEL_Y = 690                 # centre of each column's label
COLORS = 32                   # a small palette keeps the PNG small (LINE allows 1 MB)


def find_font() -> str:
    """The file of a font that has Japanese glyphs (fc-match falls back to any font, so the
    answer is checked)."""
    try:
        found = subprocess.run(["fc-match", "-f", "%{file}\n%{lang}", FONT_PATTERN],
                               capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        found = ""
    path, _, languages = found.partition("\n")
    if not path or "ja" not in languages.split("|"):
        raise SystemExit("no Japanese font found: install fonts-ipafont-gothic "
                         "(apt-get install fonts-ipafont-gothic)")
    return path


def draw(font_path: str) -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    pen = ImageDraw.Draw(image)
    column = WIDTH // len(LABELS)
    font = ImageFont.truetype(font_path, _label_size(font_path, column * 0.84))
    for index, (label, icon) in enumerate(zip(LABELS, (_clock, _calendar, _watchers, _help))):
        centre = index * column + column // 2
        if index:
            pen.line([(index * column, 60), (index * column, HEIGHT - 60)], fill=RULE, width=6)
        pen.ellipse(_box(centre, ICON_Y, 200), fill=GREEN)
        icon(pen, centre, ICON_Y, font_path)
        pen.text((centre, LABEL_Y), label, font=font, fill=INK, anchor="mm", stroke_width=2,
                 stroke_fill=INK)  # IPAGothic has no bold: a stroke makes it read on a phone
    return image.quantize(COLORS, dither=Image.Dither.NONE)


def _label_size(font_path: str, room: float) -> int:
    """The largest size (at most 120 px) at which the longest label fits in `room` px."""
    longest = max(LABELS, key=len)
    size = 120
    while ImageFont.truetype(font_path, size).getlength(longest) > room:
        size -= 4
    return size


def _box(x, y, radius):
    return [x - radius, y - radius, x + radius, y + radius]


def _clock(pen, x, y, _font_path):
    pen.ellipse(_box(x, y, 120), outline=PAPER, width=22)
    pen.line([(x, y), (x, y - 80)], fill=PAPER, width=22)
    pen.line([(x, y), (x + 60, y + 30)], fill=PAPER, width=22)
    pen.ellipse(_box(x, y, 20), fill=PAPER)


def _calendar(pen, x, y, _font_path):
    pen.rounded_rectangle([x - 115, y - 95, x + 115, y + 115], radius=18, outline=PAPER,
                          width=18)
    pen.rectangle([x - 115, y - 95, x + 115, y - 45], fill=PAPER)
    for ring in (x - 60, x + 60):
        pen.line([(ring, y - 130), (ring, y - 75)], fill=PAPER, width=20)
    pen.line([(x - 60, y + 35), (x - 15, y + 75), (x + 65, y - 10)], fill=PAPER, width=24,
             joint="curve")


def _watchers(pen, x, y, _font_path):
    """Two people, the one in front outlined in green so they stay apart."""
    feet = y + 105
    for dx, head, gap in ((-58, 40, 0), (42, 50, 14)):
        cx, head_y = x + dx, feet - head * 3.6
        body = [cx - head * 1.8, feet - head * 2.3, cx + head * 1.8, feet + head * 2.3]
        if gap:
            pen.ellipse(_box(cx, head_y, head + gap), fill=GREEN)
            pen.chord([body[0] - gap, body[1] - gap, body[2] + gap, body[3] + gap], 180, 360,
                      fill=GREEN)
        pen.ellipse(_box(cx, head_y, head), fill=PAPER)
        pen.chord(body, 180, 360, fill=PAPER)


def _help(pen, x, y, font_path):
    pen.text((x, y + 8), "?", font=ImageFont.truetype(font_path, 300), fill=PAPER, anchor="mm")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Draw the rich menu's picture.")
    parser.add_argument("path", nargs="?", default=IMAGE_PATH, help="where to write the PNG")
    args = parser.parse_args(argv)
    draw(find_font()).save(args.path, optimize=True)
    print(f"wrote {args.path} ({WIDTH}x{HEIGHT})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
