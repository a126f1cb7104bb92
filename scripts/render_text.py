"""Render lines of text into a PNG (the demo's text images; also used by tests).

    python render_text.py --font FONT [--size PX] [--color #RRGGBB] [--bg #RRGGBB]
                          [--width PX] --out FILE.png "line 1\nline 2"

Lines are drawn left-aligned on a plain background with a margin; `--width` pads the canvas
to at least that width. Needs Pillow (the model cache's venv has it).
"""

import argparse

from PIL import Image, ImageDraw, ImageFont


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--font", required=True)
    p.add_argument("--size", type=int, default=48)
    p.add_argument("--color", default="#202020")
    p.add_argument("--bg", default="#f4f1ea")
    p.add_argument("--width", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("text")
    a = p.parse_args()

    font = ImageFont.truetype(a.font, a.size)
    lines = a.text.split("\n")
    margin = a.size
    gap = a.size // 2
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    boxes = [probe.textbbox((0, 0), line, font=font) for line in lines]
    width = max(a.width, max(b[2] for b in boxes) + 2 * margin)
    height = sum(b[3] for b in boxes) + gap * (len(lines) - 1) + 2 * margin
    img = Image.new("RGB", (width, height), a.bg)
    draw = ImageDraw.Draw(img)
    y = margin
    for line, box in zip(lines, boxes):
        draw.text((margin, y), line, font=font, fill=a.color)
        y += box[3] + gap
    img.save(a.out, "PNG")


if __name__ == "__main__":
    main()
