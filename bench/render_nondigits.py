"""Render marks that are not digits, the way users hand images over, with a fixed seed.

Three families, each drawn as a white-on-black 28x28 mark (MNIST's framing) and then put on
paper by render.py's ``render`` exactly like the digits it is compared with:

- letters written as pen strokes (a hand-placed polyline per letter, jittered and slanted);
- letters and signs of other alphabets set in a font (DejaVu Sans, shipped with matplotlib);
- doodles: hearts, stars, smileys, arrows, houses, clouds, squiggles, crosses.

The font (regular DejaVu Sans), the stroked letters and most doodles are not what
``mnist_cnn.fitting.outliers`` makes for fitting the detector (other DejaVu faces and STIX,
random scribbles and shapes), so the figures say how the score does on marks it has not seen;
the exception is houses and smileys, whose kind (an outline with a roof, or with eyes) the fit
draws in its own way. Used by bench_rejection.py.
"""

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from render import render

STROKED = {
    "A": [[(20, 90), (50, 10), (80, 90)], [(32, 58), (68, 58)]],
    "E": [[(75, 12), (28, 12), (28, 88), (75, 88)], [(28, 50), (65, 50)]],
    "F": [[(75, 12), (28, 12), (28, 90)], [(28, 50), (62, 50)]],
    "H": [[(25, 10), (25, 90)], [(75, 10), (75, 90)], [(25, 50), (75, 50)]],
    "K": [[(28, 10), (28, 90)], [(75, 10), (30, 55), (78, 90)]],
    "M": [[(18, 90), (22, 12), (50, 60), (78, 12), (82, 90)]],
    "N": [[(25, 90), (25, 10), (75, 90), (75, 10)]],
    "R": [[(28, 90), (28, 12), (62, 14), (72, 30), (60, 48), (28, 50)], [(45, 50), (75, 90)]],
    "V": [[(20, 10), (50, 90), (80, 10)]],
    "W": [[(12, 12), (30, 88), (50, 40), (70, 88), (88, 12)]],
    "X": [[(22, 10), (78, 90)], [(78, 10), (22, 90)]],
    "Y": [[(22, 10), (50, 50), (78, 10)], [(50, 50), (50, 90)]],
    "a": [[(70, 45), (52, 36), (34, 44), (30, 66), (44, 82), (62, 78), (70, 60)],
          [(70, 38), (72, 86)]],
    "e": [[(30, 62), (72, 60), (66, 42), (50, 36), (32, 48), (30, 70), (46, 84), (70, 80)]],
    "h": [[(30, 8), (30, 90)], [(30, 56), (48, 42), (66, 48), (70, 62), (70, 90)]],
    "k": [[(30, 8), (30, 90)], [(68, 40), (32, 66), (70, 90)]],
    "m": [[(18, 90), (18, 40)], [(18, 54), (32, 40), (46, 52), (46, 90)],
          [(46, 54), (62, 40), (78, 52), (80, 90)]],
    "n": [[(28, 90), (28, 40)], [(28, 56), (46, 40), (66, 46), (70, 62), (70, 90)]],
    "r": [[(34, 90), (34, 40)], [(34, 58), (50, 42), (70, 42)]],
    "w": [[(14, 40), (30, 88), (50, 52), (70, 88), (86, 40)]],
    "x": [[(28, 40), (72, 90)], [(72, 40), (28, 90)]],
}
GLYPHS = "ΓΔΛΞΠΣΦΨΩαβγεηλμπσφψωГДЖИЙЛПФЦШЩЪЫЭЮЯвгджлфцшщыэюяאבגדהוחטךלמנסעפצקרשת#%&@€£§¶=?!"
"""Letters and signs of other alphabets, without the ones that look like a digit."""
DOODLES = ("heart", "star", "smiley", "arrow", "house", "cloud", "squiggle", "cross")


def _stroked(letter: str, rng: np.random.Generator) -> np.ndarray:
    canvas = np.zeros((100, 100), dtype=np.uint8)
    slant = rng.uniform(-0.25, 0.25)
    pen = int(rng.integers(6, 12))
    for stroke in STROKED[letter]:
        points = np.array(stroke, dtype=np.float64) + rng.normal(0, 2.5, (len(stroke), 2))
        points[:, 0] += slant * (50 - points[:, 1])
        cv2.polylines(canvas, [points.astype(np.int32)], False, 255, pen, cv2.LINE_AA)
    return canvas


def _font_glyph(glyph: str, font: ImageFont.FreeTypeFont) -> np.ndarray:
    image = Image.new("L", (100, 100), 0)
    ImageDraw.Draw(image).text((50, 50), glyph, font=font, fill=255, anchor="mm")
    return np.asarray(image)


def _doodle(kind: str, rng: np.random.Generator) -> np.ndarray:
    canvas = np.zeros((100, 100), dtype=np.uint8)
    pen = int(rng.integers(5, 10))
    t = np.linspace(0, 2 * np.pi, 80)
    if kind == "heart":
        points = np.stack([50 + 36 * np.sin(t) ** 3,
                           45 - (28 * np.cos(t) - 11 * np.cos(2 * t) - 5 * np.cos(3 * t)
                                 - 2 * np.cos(4 * t))], axis=1)
    elif kind == "star":
        angles = -np.pi / 2 + np.arange(11) * 4 * np.pi / 5
        points = 50 + 40 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    elif kind == "smiley":
        cv2.circle(canvas, (50, 50), 40, 255, pen)
        cv2.circle(canvas, (36, 40), 4, 255, -1)
        cv2.circle(canvas, (64, 40), 4, 255, -1)
        cv2.ellipse(canvas, (50, 56), (22, 16), 0, 20, 160, 255, pen)
        return canvas
    elif kind == "arrow":
        cv2.line(canvas, (12, 50), (88, 50), 255, pen)
        points = np.array([(66, 28), (88, 50), (66, 72)], dtype=np.float64)
    elif kind == "house":
        points = np.array([(20, 90), (20, 45), (50, 15), (80, 45), (80, 90), (20, 90),
                           (80, 90)], dtype=np.float64)
        cv2.rectangle(canvas, (42, 62), (58, 90), 255, pen)
    elif kind == "cloud":
        for x, y, r in ((32, 56, 18), (52, 44, 22), (70, 58, 16)):
            cv2.circle(canvas, (x, y), r, 255, pen)
        return canvas
    elif kind == "squiggle":
        xs = np.linspace(10, 90, 60)
        points = np.stack([xs, 50 + 25 * np.sin(xs / rng.uniform(5, 9))], axis=1)
    else:
        cv2.line(canvas, (20, 20), (80, 80), 255, pen)
        points = np.array([(80, 20), (20, 80)], dtype=np.float64)
    points = points + rng.normal(0, 1.5, points.shape)
    cv2.polylines(canvas, [points.astype(np.int32)], False, 255, pen, cv2.LINE_AA)
    return canvas


def _mnist_frame(mark: np.ndarray) -> np.ndarray:
    """Crop to the ink, long side 20 px, centred in 28x28: how MNIST frames its digits."""
    rows, cols = np.flatnonzero(mark.max(1) > 20), np.flatnonzero(mark.max(0) > 20)
    crop = mark[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = 20 / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    frame = np.zeros((28, 28), dtype=np.uint8)
    top, left = (28 - small.shape[0]) // 2, (28 - small.shape[1]) // 2
    frame[top:top + small.shape[0], left:left + small.shape[1]] = small
    return frame


def render_nondigits_folder(folder: Path, count: int, seed: int = 0) -> list[dict]:
    """Write ``count`` pictures of marks that are not digits; return their manifest."""
    import matplotlib

    font = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf"
                                  / "DejaVuSans.ttf"), 72)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    for index in range(count):
        family = ("stroked letter", "font glyph", "doodle")[index % 3]
        if family == "stroked letter":
            name = str(rng.choice(list(STROKED)))
            mark = _stroked(name, rng)
        elif family == "font glyph":
            name = str(rng.choice(list(GLYPHS)))
            mark = _font_glyph(name, font)
        else:
            name = str(rng.choice(DOODLES))
            mark = _doodle(name, rng)
        image, suffix = render(_mnist_frame(mark), rng)
        path = folder / f"{index:05d}{suffix}"
        if suffix == ".jpg":
            image.save(path, quality=int(rng.integers(50, 91)))
        else:
            image.save(path)
        manifest.append({"path": str(path), "family": family, "mark": name})
    (folder / "labels.json").write_text(json.dumps(manifest, ensure_ascii=False))
    return manifest
