"""Turn any image file into the 28x28 input the ConvNet was trained on.

MNIST digits are white on black, cropped to the ink, scaled so the longer side is 20 px and placed
so their centre of mass sits at the centre of a 28x28 field. ``normalize_digit`` repeats those
steps for a user's image after deciding its polarity and removing its background.

This module needs only numpy and Pillow, so it is cheap to import in worker processes.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from mnist_cnn.errors import ImageError

SIDE = 28
DIGIT_BOX = 20
MAX_PIXELS = 64_000_000
"""Admits a 24-megapixel photo with room to spare; refuses decompression bombs before decoding."""
WORK_SIDE = 160
"""Images are box-reduced to about this long side first: enough detail for a 20 px digit, fast."""
MIN_CONTRAST = 0.08
"""Ink must differ from the background by this much (of full scale) to count as a digit..."""
BLANK_NOISE_RATIO = 6
"""... and by this many times the paper's noise level (pure noise rarely reaches 4)."""
MNIST_STROKE = 1.9
"""Typical stroke width of an MNIST digit in the 28x28 field, by ``stroke_width``."""
MNIST_CENTRE = np.array([14.0, 14.0])
"""Mean centre of mass of the MNIST test digits, in (row, column) pixel indices."""
FIT_SAMPLES = 1200
"""Paper pixels sampled to fit the background: plenty for six coefficients, and fast."""
SMOOTH_FROM = 48
"""Images at least this large are blurred a little before finding ink, against noise and grain;
smaller ones are usually clean drawings whose thin strokes blurring would fade."""

INVISIBLE_INK = 25
"""Grey levels: on white, a drawing with less contrast than this cannot be seen."""

PREPROCESS_MODES = ("mnist", "plain")


@dataclass(frozen=True)
class Prepared:
    """The network input for one image, or why there is none.

    ``pixels``: 28x28 float32 in [0, 1], white on black, or ``None`` when the image holds no
    distinguishable ink (``blank``) or could not be read (``error``). ``preview``: the grayscale
    image as read (at most ``WORK_SIDE`` px), for pictures.
    """

    pixels: np.ndarray | None
    preview: np.ndarray | None = None
    error: str | None = None

    @property
    def blank(self) -> bool:
        return self.pixels is None and self.error is None


def _open_error(path: Path, error: BaseException) -> ImageError:
    if isinstance(error, IsADirectoryError) or path.is_dir():
        reason = "is a directory, not an image"
    elif isinstance(error, FileNotFoundError):
        reason = "broken symbolic link" if path.is_symlink() else "no such file"
    elif isinstance(error, PermissionError):
        reason = "permission denied"
    elif isinstance(error, UnidentifiedImageError):
        reason = "not an image format Pillow can read"
    elif isinstance(error, Image.DecompressionBombError):
        reason = f"refused as a decompression bomb ({error})"
    else:
        reason = f"truncated or corrupt image ({error})"
    return ImageError(f"{path}: {reason}")


def _composite_on_white(image: Image.Image) -> Image.Image:
    """Transparent parts become white paper; if that hides the ink (white ink on a transparent
    background), the opacity itself is the drawing."""
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(white, rgba).convert("L")
    low, high = flat.getextrema()
    if high - low < INVISIBLE_INK:
        return ImageOps.invert(rgba.getchannel("A"))
    return flat


def _grayscale(image: Image.Image) -> Image.Image:
    """Mode ``L`` or ``F`` with 1.0/255 meaning white, whatever the mode and bit depth."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        array = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(array.max(initial=0.0))
        if image.mode != "F" or peak > 1.0:
            array = array / (65535.0 if image.mode != "F" and peak <= 65535 else max(peak, 1e-12))
        return Image.fromarray(np.clip(array, 0.0, 1.0).astype(np.float32), mode="F")
    if image.has_transparency_data:
        return _composite_on_white(image)
    if image.mode == "L":
        return image
    if image.mode in ("1", "P", "RGB", "RGBX", "CMYK", "YCbCr", "LA", "La"):
        return image.convert("L")
    return image.convert("RGB").convert("L")


def read_grayscale(path: Path | str) -> np.ndarray:
    """Decode ``path`` to a float32 grayscale array in [0, 1] (1 = white), long side < 2 WORK_SIDE.

    EXIF orientation is applied, transparency composited onto white, animations give their
    first frame. Raises ``ImageError`` naming the file and the problem.
    """
    path = Path(path)
    try:
        if path.is_file() and os.path.getsize(path) == 0:
            raise ImageError(f"{path}: empty file (0 bytes)")
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ImageError(
                    f"{path}: refused, {image.width}x{image.height} pixels is over the limit of "
                    f"{MAX_PIXELS:,} (decompression bomb?)"
                )
            if image.format == "JPEG":
                image.draft("L", (WORK_SIDE, WORK_SIDE))
            upright = ImageOps.exif_transpose(image)
            gray = _grayscale(upright)
            array = np.asarray(_reduce(gray), dtype=np.float32)
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
        raise _open_error(path, error) from error
    return array / 255.0 if gray.mode == "L" else array


def _reduce(gray: Image.Image) -> Image.Image:
    """Box-reduce to about WORK_SIDE, first widening thin strokes so they do not average away.

    A 1 px pen on a 1000 px canvas would otherwise fade to a faint smear that looks like noise.
    Which side is ink is decided on a first reduction, by the same rule ``normalize_digit`` uses.
    """
    factor = max(gray.size) // WORK_SIDE
    if factor < 2:
        return gray
    if factor >= 3:
        preview = np.asarray(gray.reduce(factor), dtype=np.float32)
        dark_ink = _ink_is_dark(preview > _otsu_threshold(preview))
        gray = gray.filter(ImageFilter.MinFilter(3) if dark_ink else ImageFilter.MaxFilter(3))
    return gray.reduce(factor)


def _box_blur3(array: np.ndarray) -> np.ndarray:
    padded = np.pad(array, 1, mode="edge")
    rows = padded[:-2] + padded[1:-1] + padded[2:]
    return (rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) / 9.0


def _far_from(mask: np.ndarray) -> np.ndarray:
    """Pixels with no ``mask`` pixel in their 3x3 neighbourhood (a separable dilation)."""
    near = mask.copy()
    near[1:] |= mask[:-1]
    near[:-1] |= mask[1:]
    columns = near.copy()
    near[:, 1:] |= columns[:, :-1]
    near[:, :-1] |= columns[:, 1:]
    return ~near


def _border(array: np.ndarray) -> np.ndarray:
    width = max(1, round(0.04 * min(array.shape)))
    mask = np.ones(array.shape, dtype=bool)
    mask[width:-width, width:-width] = False
    return mask


def _otsu_threshold(values: np.ndarray) -> float:
    """The level that best splits ``values`` into two classes (Otsu's method).

    The range comes from every value, so a 1 px stroke counts even when only a subsample of a
    large image goes into the histogram.
    """
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-6:
        return high
    sample = values[::2, ::2] if values.size > 4 * FIT_SAMPLES else values
    bins = 64
    index = np.minimum(((sample - low) * (bins / (high - low))).astype(np.intp), bins - 1)
    counts = np.bincount(index.ravel(), minlength=bins)
    centres = low + (np.arange(bins) + 0.5) * (high - low) / bins
    below = np.cumsum(counts)
    above = below[-1] - below
    mass_below = np.cumsum(counts * centres)
    mean_below = mass_below / np.maximum(below, 1)
    mean_above = (mass_below[-1] - mass_below) / np.maximum(above, 1)
    between = below * above * (mean_below - mean_above) ** 2
    return low + (int(np.argmax(between[:-1])) + 1) * (high - low) / bins


def _ink_is_dark(bright: np.ndarray) -> bool:
    """Polarity from the brighter Otsu class: the paper covers most of the border.

    A tightly cropped digit can touch the border, so an undecided border defers to whichever
    class covers most of the image.
    """
    border_share = float(bright[_border(bright)].mean())
    if abs(border_share - 0.5) > 0.15:
        return border_share > 0.5
    return float(bright.mean()) > 0.5


def _background_surface(array: np.ndarray, paper: np.ndarray,
                        lag: int = 1) -> tuple[np.ndarray, float]:
    """A quadratic surface fitted to the paper of ``array`` (bright ink on darker paper), and the
    paper's noise level.

    Photos are lit unevenly; subtracting a smooth surface removes gradients and vignetting.
    ``paper`` marks pixels of the darker class with no ink next to them, so the soft edges of
    strokes do not bend the surface. Noise is measured between paper pixels ``lag`` apart (far
    enough to be independent after smoothing), so a gradient does not count as noise.
    """
    height, width = array.shape
    every = max(1, height * width // (4 * FIT_SAMPLES))
    neighbours = paper[::every, lag:] & paper[::every, :-lag]
    differences = np.abs(array[::every, lag:] - array[::every, :-lag])[neighbours]
    noise = 1.4826 / 2**0.5 * float(np.median(differences)) if differences.size else 0.0
    noise += 1e-3
    step = max(1, round((height * width / FIT_SAMPLES) ** 0.5))
    ys, xs = np.nonzero(paper[::step, ::step])
    ys, xs = ys * step, xs * step
    if len(ys) < 12:
        return np.full(array.shape, float(np.median(array)), dtype=np.float32), noise
    row = np.linspace(-0.5, 0.5, height, dtype=np.float32)
    col = np.linspace(-0.5, 0.5, width, dtype=np.float32)
    x, y, values = col[xs], row[ys], array[ys, xs]
    terms = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    keep = np.ones(len(values), dtype=bool)
    for _ in range(2):
        kept = terms[keep]
        ridge = 1e-3 * len(kept) * np.eye(6)  # keeps the fit tame when paper is one strip
        coefficients = np.linalg.solve(kept.T @ kept + ridge, kept.T @ values[keep])
        keep = values - terms @ coefficients < 3 * noise
        if keep.sum() < 12:
            break
    c0, cx, cy, cxx, cxy, cyy = coefficients.astype(np.float32)
    surface = np.outer(cy * row + cyy * row * row, np.ones_like(col))
    surface += c0 + cx * col + cxx * col * col
    surface += cxy * np.outer(row, col)
    return surface, noise


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary drawing: twice its area over its perimeter."""
    area = int(mask.sum())
    if area == 0:
        return 0.0
    edges = (np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1])
             + mask[0].sum() + mask[-1].sum() + mask[:, 0].sum() + mask[:, -1].sum())
    return 2.0 * area / max(int(edges), 1)


def _ink_bounds(profile: np.ndarray) -> tuple[int, int]:
    """Index range holding the ink, ignoring a thin tail of stray specks at either end."""
    cumulative = np.cumsum(profile)
    total = cumulative[-1]
    start = int(np.searchsorted(cumulative, 0.003 * total, side="right"))
    stop = int(np.searchsorted(cumulative, 0.997 * total, side="left")) + 1
    return start, max(stop, start + 1)


def _morph(image: Image.Image, size: int, thicker: bool) -> Image.Image:
    """Thicken (dilate) or thin (erode) bright strokes with a ``size`` x ``size`` pen."""
    return image.filter(ImageFilter.MaxFilter(size) if thicker else ImageFilter.MinFilter(size))


def _trim(image: Image.Image) -> Image.Image:
    """Crop to the non-zero pixels (after thickening or thinning moved the edges)."""
    array = np.asarray(image)
    rows = np.flatnonzero(array.max(1) > 0.01)
    cols = np.flatnonzero(array.max(0) > 0.01)
    if not len(rows):
        return image
    return image.crop((cols[0], rows[0], cols[-1] + 1, rows[-1] + 1))


def _resize_long_side(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    return image.resize(size, method)


def _place_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste ``digit`` into 28x28 so its centre of mass lands on MNIST's centre."""
    height, width = digit.shape
    mass = digit.sum()
    rows, cols = np.arange(height), np.arange(width)
    centre = np.array([digit.sum(1) @ rows, digit.sum(0) @ cols]) / mass
    top, left = np.rint(MNIST_CENTRE - centre).astype(int)
    top = int(np.clip(top, 0, SIDE - height))
    left = int(np.clip(left, 0, SIDE - width))
    canvas = np.zeros((SIDE, SIDE), dtype=np.float32)
    canvas[top:top + height, left:left + width] = digit
    return canvas


def normalize_digit(gray: np.ndarray) -> np.ndarray | None:
    """MNIST-style 28x28 input from a grayscale array (1 = white); ``None`` if there is no ink."""
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or min(gray.shape) < 1:
        return None
    if min(gray.shape) < 3:
        gray = np.pad(gray, 2, mode="edge")
    lag = 3 if min(gray.shape) >= SMOOTH_FROM else 1
    smooth = _box_blur3(gray) if lag == 3 else gray
    bright = smooth > _otsu_threshold(smooth)
    if _ink_is_dark(bright):
        gray, smooth, bright = 1.0 - gray, 1.0 - smooth, ~bright
    paper = _far_from(bright)
    surface, noise = _background_surface(smooth, paper, lag)
    ink_smooth = smooth - surface
    peak = float(ink_smooth.max())
    if peak < max(MIN_CONTRAST, BLANK_NOISE_RATIO * noise):
        return None
    low, high = max(0.15 * peak, 3 * noise), 0.6 * peak
    ink = np.clip((gray - surface - low) / (high - low), 0.0, 1.0)
    ink[ink_smooth < low] = 0.0
    if not ink.any():
        return None

    top, bottom = _ink_bounds(ink.sum(1))
    left, right = _ink_bounds(ink.sum(0))
    crop = np.ascontiguousarray(ink[top:bottom, left:right], dtype=np.float32)
    width = stroke_width(crop > 0.5) * DIGIT_BOX / max(crop.shape)
    digit = _resize_long_side(Image.fromarray(crop, mode="F"), 2 * DIGIT_BOX)
    if width and (width < 0.6 * MNIST_STROKE or width > 2.0 * MNIST_STROKE):
        steps = min(round(abs(MNIST_STROKE - width)), 3)
        padded = Image.fromarray(np.pad(np.asarray(digit), steps + 1), mode="F")
        digit = _trim(_morph(padded, 2 * steps + 1, thicker=width < MNIST_STROKE))
    digit = np.clip(np.asarray(_resize_long_side(digit, DIGIT_BOX), dtype=np.float32), 0, None)
    if digit.max() <= 0:
        return None
    return _place_by_mass(digit / digit.max())


def plain_input(gray: np.ndarray) -> np.ndarray:
    """The reference's transform: resize to 28x28, invert, scale to [0, 1]. No cropping."""
    image = Image.fromarray(np.asarray(gray, dtype=np.float32), mode="F")
    if image.size != (SIDE, SIDE):
        image = image.resize((SIDE, SIDE), Image.Resampling.BILINEAR)
    return np.clip(1.0 - np.asarray(image, dtype=np.float32), 0.0, 1.0)


def prepare(path: Path | str, mode: str = "mnist", keep_preview: bool = False) -> Prepared:
    """Read and normalize one file; never raises for a bad file, reports it in ``error``."""
    try:
        gray = read_grayscale(path)
    except ImageError as error:
        return Prepared(None, error=str(error))
    pixels = plain_input(gray) if mode == "plain" else normalize_digit(gray)
    return Prepared(pixels, gray if keep_preview else None)
