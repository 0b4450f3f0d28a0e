"""Draws the rich menu's picture, outbox/richmenu.png (`make richmenu-image`).

Needs Pillow (requirements-dev.txt) and a Japanese font: IPAGothic (Debian:
fonts-ipafont-gothic), found with fc-match. The PNG is committed because the server has
neither: `python -m outbox.richmenu` uploads the committed file. The cells and their order
are outbox.richmenu's areas.
"""
import argparse
import subprocess
import sys

from PIL import Image, ImageDraw, ImageFont

from chat import parse, texts
from outbox.richmenu import HEIGHT, IMAGE_PATH, LABELS, WIDTH, cells

FONT_PATTERN = "IPAGothic:lang=ja"
GREEN = (6, 199, 85)          # LINE's green
INK = (30, 42, 51)
PAPER = (255, 255, 255)
RULE = (222, 228, 232)
ICON_Y = 330                  # centre of each cell's icon, from the cell's top
LABEL_Y = 690                 # centre of each cell's label, from the cell's top
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
    narrowest = min(width for _, _, _, width, _ in cells())
    font = ImageFont.truetype(font_path, _label_size(font_path, narrowest * 0.84))
    for label, x, y, width, height in cells():
        if x:
            pen.line([(x, y + 60), (x, y + height - 60)], fill=RULE, width=6)
        if y and not x:  # between rows
            pen.line([(60, y), (WIDTH - 60, y)], fill=RULE, width=6)
        centre = x + width // 2
        pen.ellipse(_box(centre, y + ICON_Y, 200), fill=GREEN)
        _ICONS[label](pen, centre, y + ICON_Y, font_path)
        pen.text((centre, y + LABEL_Y), label, font=font, fill=INK, anchor="mm",
                 stroke_width=2, stroke_fill=INK)  # IPAGothic has no bold: a stroke reads
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


def _clock_plus(pen, x, y, _font_path):
    """A clock, and a plus on a badge at its lower right."""
    pen.ellipse(_box(x - 15, y - 15, 110), outline=PAPER, width=22)
    pen.line([(x - 15, y - 15), (x - 15, y - 90)], fill=PAPER, width=22)
    pen.line([(x - 15, y - 15), (x + 40, y + 12)], fill=PAPER, width=22)
    pen.ellipse(_box(x - 15, y - 15, 20), fill=PAPER)
    badge_x, badge_y = x + 85, y + 85
    pen.ellipse(_box(badge_x, badge_y, 78), fill=GREEN)
    pen.ellipse(_box(badge_x, badge_y, 62), fill=PAPER)
    pen.line([(badge_x - 36, badge_y), (badge_x + 36, badge_y)], fill=GREEN, width=20)
    pen.line([(badge_x, badge_y - 36), (badge_x, badge_y + 36)], fill=GREEN, width=20)


def _list(pen, x, y, _font_path):
    """A sheet with three lines, each ticked: the times as they are set."""
    pen.rounded_rectangle([x - 100, y - 125, x + 100, y + 125], radius=22, outline=PAPER,
                          width=18)
    for line_y in (y - 60, y, y + 60):
        pen.ellipse(_box(x - 50, line_y, 14), fill=PAPER)
        pen.line([(x - 15, line_y), (x + 60, line_y)], fill=PAPER, width=18)


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


_ICONS = {texts.PICK_TIME_MENU: _clock_plus, parse.SHOW_WORDS[0]: _list,
          parse.RECORD_WORDS[0]: _calendar, parse.WATCH_WORD: _watchers,
          parse.HELP_WORDS[0]: _help}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Draw the rich menu's picture.")
    parser.add_argument("path", nargs="?", default=IMAGE_PATH, help="where to write the PNG")
    args = parser.parse_args(argv)
    draw(find_font()).save(args.path, optimize=True)
    print(f"wrote {args.path} ({WIDTH}x{HEIGHT})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
