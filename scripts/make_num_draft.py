"""Draw ``num-draft/num0.png`` ... ``num9.png``: 28x28 dark-on-light digits in a handwriting style.

Each digit is a few pen strokes (polylines through hand-placed points on a 100x100 grid) drawn
with a round pen on a large canvas and reduced to 28x28, like a digit sketched in a paint program.
Nothing is taken from any data set. Run from the repository root:

    python scripts/make_num_draft.py
"""

from pathlib import Path

from PIL import Image, ImageDraw

CANVAS = 280
PEN = 24
STROKES = {
    0: [[(50, 14), (34, 20), (26, 40), (26, 62), (34, 80), (50, 87), (66, 80), (74, 60),
         (73, 38), (65, 20), (50, 14)]],
    1: [[(40, 26), (54, 14), (54, 88)]],
    2: [[(28, 30), (38, 17), (54, 14), (68, 22), (70, 38), (58, 56), (28, 86), (76, 86)]],
    3: [[(28, 20), (44, 13), (62, 16), (68, 30), (58, 44), (44, 48), (60, 52), (72, 66),
         (66, 82), (48, 88), (28, 80)]],
    4: [[(58, 12), (26, 62), (78, 62)], [(62, 36), (62, 90)]],
    5: [[(72, 14), (36, 14), (32, 46), (50, 40), (66, 48), (72, 64), (64, 82), (46, 88),
         (28, 80)]],
    6: [[(66, 14), (48, 22), (34, 42), (28, 64), (36, 84), (54, 88), (68, 76), (66, 58),
         (50, 50), (34, 60)]],
    7: [[(26, 16), (76, 16), (54, 50), (42, 88)]],
    8: [[(64, 22), (50, 13), (34, 20), (36, 36), (50, 47), (66, 58), (68, 78), (52, 88),
         (34, 80), (34, 62), (50, 47), (64, 36), (64, 22)]],
    9: [[(68, 34), (60, 16), (42, 14), (30, 28), (36, 44), (54, 46), (68, 34), (66, 60),
         (60, 88)]],
}


def draw_digit(digit: int) -> Image.Image:
    image = Image.new("L", (CANVAS, CANVAS), 255)
    pen = ImageDraw.Draw(image)
    scale = CANVAS / 100
    for stroke in STROKES[digit]:
        points = [(x * scale, y * scale) for x, y in stroke]
        pen.line(points, fill=20, width=PEN, joint="curve")
        for x, y in (points[0], points[-1]):
            pen.ellipse((x - PEN / 2, y - PEN / 2, x + PEN / 2, y + PEN / 2), fill=20)
    return image.resize((28, 28), Image.Resampling.LANCZOS)


def main() -> None:
    folder = Path("num-draft")
    folder.mkdir(exist_ok=True)
    for digit in STROKES:
        draw_digit(digit).save(folder / f"num{digit}.png")


if __name__ == "__main__":
    main()
