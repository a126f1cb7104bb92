"""Render lines of text into a PNG for the local OCR tests (tests/local_ocr.rs).

    python render.py OUT.png --font FONT [--size PX] [--width PX] [--height PX]
                     [--angle DEG] [--fg R,G,B] [--background white|gradient|noise|#RRGGBB]
                     [LINE ...]

Lines are drawn left-aligned in `--fg` (default near-black) on the background, one under another with a margin, the
way a poster or a screenshot carries them. `--width`/`--height` set the canvas (the height
grows to fit the lines); `--angle` turns the finished canvas counter-clockwise (corners filled
white). With no lines the image has no text at all (e.g. `--background gradient`): what the
detector must find nothing in. Noise is seeded, so every run renders the same pixels.
Needs Pillow (the model cache's venv has it).
"""

import argparse
import random

from PIL import Image, ImageDraw, ImageFont


def background(kind: str, width: int, height: int) -> Image.Image:
    if kind == "white":
        return Image.new("RGB", (width, height), (255, 255, 255))
    if kind.startswith("#") and len(kind) == 7:
        return Image.new("RGB", (width, height), tuple(int(kind[i : i + 2], 16) for i in (1, 3, 5)))
    if kind == "gradient":
        # A smooth two-axis colour ramp: edges everywhere, but no strokes.
        img = Image.new("RGB", (width, height))
        px = img.load()
        for y in range(height):
            for x in range(width):
                px[x, y] = (
                    40 + 180 * x // max(width - 1, 1),
                    60 + 150 * y // max(height - 1, 1),
                    200 - 120 * x // max(width - 1, 1),
                )
        return img
    if kind == "noise":
        rng = random.Random(7)
        data = bytes(rng.randrange(256) for _ in range(width * height * 3))
        return Image.frombytes("RGB", (width, height), data)
    raise SystemExit(f"unknown background {kind!r}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--font", required=True)
    p.add_argument("--size", type=int, default=48)
    p.add_argument("--width", type=int, default=1000)
    p.add_argument("--height", type=int, default=0)
    p.add_argument("--angle", type=float, default=0.0)
    p.add_argument("--fg", default="20,20,20")
    p.add_argument("--background", default="white")
    p.add_argument("lines", nargs="*")
    a = p.parse_intermixed_args()

    font = ImageFont.truetype(a.font, a.size)
    margin = a.size
    step = a.size * 8 // 5
    height = max(a.height, 2 * margin + step * len(a.lines))
    img = background(a.background, a.width, height)
    draw = ImageDraw.Draw(img)
    fg = tuple(int(v) for v in a.fg.split(","))
    for i, line in enumerate(a.lines):
        draw.text((margin, margin + i * step), line, font=font, fill=fg)
    if a.angle:
        img = img.rotate(a.angle, resample=Image.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    img.save(a.out, "PNG")


if __name__ == "__main__":
    main()
