"""Decode any image file (or upload, or drawing, or array) into a small grayscale array.

Every source (a file, the bytes of one, a Pillow image, a numpy array) ends in ``to_gray``: EXIF
rotation applied, transparency put on white, any mode and bit depth mapped to float32 in [0, 1]
(1 = white), an exact enlargement brought back to its native resolution, and the picture
reduced to a working size that keeps enough detail for digits of 20 px or more but no more, so
a 24-megapixel photo costs little. Decompression bombs are refused
from the header, before decoding.
"""

import io
import math
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from mnist_cnn.errors import ImageError
from mnist_cnn.reading.ink import ink_is_dark

MAX_PIXELS = 64_000_000
"""Admits a 24-megapixel photo with room to spare; refuses decompression bombs before decoding."""
WORK_AREA = 360 * 360
"""Images are box-reduced to about this many pixels: a 20 px digit survives in an 8-digit number
on a wide strip, and a full-page photo becomes cheap to search."""
WORK_SIDE = 1024
"""... and to at most this long a side, for very thin strips."""
INVISIBLE_INK = 25
"""Grey levels: on white, a drawing with less contrast than this cannot be seen."""
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)
"""What Pillow raises for a file it cannot decode (Pillow decodes lazily, so also ``to_gray``)."""
ARRAY_CHANNELS = (1, 3, 4)
"""An (H, W, C) array is grayscale, RGB or RGBA."""
ORIENTATION_SOURCES = ("exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp")
"""Where Pillow finds a picture's orientation, beside a TIFF's own tags."""
LOSSY = ("JPEG", "MPO")
"""Formats whose pixels are never exactly what was drawn."""
NATIVE_UP_TO = 1024 * 1024
"""Pictures of up to this many pixels (not JPEGs, which are never exact) are looked at for an
exact enlargement (``native_factor``): a 16x16 scan shown at 48x48, a 28x28 drawing grid saved
at 280x280."""


def _open_error(name: str, path: Path | None, error: BaseException) -> ImageError:
    if path is not None and (isinstance(error, IsADirectoryError) or path.is_dir()):
        reason = "is a directory, not an image"
    elif isinstance(error, FileNotFoundError):
        broken_link = path is not None and path.is_symlink()
        reason = "broken symbolic link" if broken_link else "no such file"
    elif isinstance(error, PermissionError):
        reason = "permission denied"
    elif isinstance(error, UnidentifiedImageError):
        reason = "not an image format Pillow can read"
    elif isinstance(error, Image.DecompressionBombError):
        reason = f"refused as a decompression bomb ({error})"
    else:
        reason = f"truncated or corrupt image ({error})"
    return ImageError(f"{name}: {reason}")


def _composite_on_white(image: Image.Image) -> Image.Image:
    """Transparent parts become white paper; if that hides the ink (white ink on a transparent
    background), the opacity itself is the drawing. The grey of the colours is composited, not
    the colours: the same picture (grey is linear in them), in a tenth of the time on a big
    canvas."""
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    opacity = np.asarray(rgba.getchannel("A"))
    darkness = cv2.multiply(255 - np.asarray(rgba.convert("L")), opacity, scale=1 / 255)
    flat = 255 - darkness
    if int(flat.max()) - int(flat.min()) < INVISIBLE_INK:
        return Image.fromarray(255 - opacity)
    return Image.fromarray(flat)


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


def reduction_factor(width: int, height: int) -> int:
    """The whole-number factor that brings an image down to the working size (1: keep it)."""
    by_area = math.sqrt(width * height / WORK_AREA)
    return max(1, round(max(by_area, max(width, height) / WORK_SIDE)))


def _reduce(gray: Image.Image) -> Image.Image:
    """Box-reduce to the working size, first widening thin strokes so they do not average away.

    A 1 px pen on a 3000 px canvas would otherwise fade to a faint smear that looks like noise.
    Which side is ink is decided on a first reduction, by the same rule as everywhere else.
    """
    factor = reduction_factor(*gray.size)
    if factor < 2:
        return gray
    if factor >= 3:
        preview = np.asarray(gray.reduce(factor), dtype=np.float32)
        pen = np.ones((3, 3), np.uint8)
        array = np.asarray(gray)
        widened = cv2.erode(array, pen) if ink_is_dark(preview) else cv2.dilate(array, pen)
        gray = Image.fromarray(widened, mode=gray.mode)
    return gray.reduce(factor)


def native_factor(array: np.ndarray) -> int:
    """The factor by which ``array`` is an exact nearest-neighbour enlargement: the largest k
    such that it is made of uniform k x k blocks (1: it is none). Rows change only from one
    block to the next, and so do columns, so k divides the picture's sides and every place a
    row or a column differs from the one before."""
    rows = np.flatnonzero((array[1:] != array[:-1]).any(1)) + 1
    cols = np.flatnonzero((array[:, 1:] != array[:, :-1]).any(0)) + 1
    return math.gcd(*array.shape, *rows.tolist(), *cols.tolist())


def _at_native(array: np.ndarray) -> np.ndarray:
    """``array`` at its native resolution when it is an exact enlargement (``native_factor``;
    pictures over ``NATIVE_UP_TO`` pixels are not looked at): it holds no more than that, and
    reads as such (a blocky 48x48 scan as the 16x16 it was)."""
    factor = native_factor(array) if array.size <= NATIVE_UP_TO else 1
    return array if factor < 2 else array[::factor, ::factor]


def _native(gray: Image.Image) -> Image.Image:
    """``_at_native`` for a picture to be reduced with Pillow."""
    array = np.asarray(gray)
    native = _at_native(array)
    if native is array:
        return gray
    return Image.fromarray(np.ascontiguousarray(native), mode=gray.mode)


def _turned(image: Image.Image) -> bool:
    """Whether ``image``'s metadata (EXIF, XMP, a TIFF's tags) says it is to be turned or
    mirrored. Looked for only where there is metadata: that costs more than decoding a small
    scan, and most pictures have none; and read before turning, which copies even a picture
    that stays as it is."""
    if not (hasattr(image, "tag_v2") or any(key in image.info for key in ORIENTATION_SOURCES)):
        return False
    return image.getexif().get(ExifTags.Base.Orientation, 1) != 1


def to_gray(image: Image.Image, name: str) -> tuple[np.ndarray, float]:
    """The working grayscale array of a decoded ``image``, and its scale (working px per original
    px). Raises ``ImageError`` naming ``name`` for pictures over ``MAX_PIXELS``."""
    if image.width * image.height > MAX_PIXELS:
        raise ImageError(
            f"{name}: refused, {image.width}x{image.height} pixels is over the limit of "
            f"{MAX_PIXELS:,} (decompression bomb?)"
        )
    width, height = image.size
    if image.format == "JPEG":
        factor = reduction_factor(width, height)
        image.draft("L", (width // factor, height // factor))
    image.load()  # a PNG's EXIF may follow its pixels
    upright = ImageOps.exif_transpose(image) if _turned(image) else image
    turned = upright.size != image.size
    gray = _grayscale(upright)
    exact = image.format not in LOSSY
    if reduction_factor(*gray.size) == 1:  # the picture is the working picture
        array = _at_native(np.asarray(gray)) if exact else np.asarray(gray)
    else:
        array = np.asarray(_reduce(_native(gray) if exact else gray))
    working = array.astype(np.float32)
    if gray.mode == "L":
        working = working / 255.0
    return working, working.shape[1] / (height if turned else width)


def _decode(source: Path | io.BytesIO, name: str, path: Path | None) -> tuple[np.ndarray, float]:
    try:
        with Image.open(source) as image:
            return to_gray(image, name)
    except ImageError:
        raise
    except DECODE_ERRORS as error:
        raise _open_error(name, path, error) from error


def read_grayscale(path: Path | str) -> tuple[np.ndarray, float]:
    """Decode the file at ``path``: the working grayscale array and its scale.

    Raises ``ImageError`` naming the file and the problem.
    """
    path = Path(path)
    try:
        empty = path.is_file() and os.path.getsize(path) == 0
    except OSError as error:
        raise _open_error(str(path), path, error) from error
    if empty:
        raise ImageError(f"{path}: empty file (0 bytes)")
    return _decode(path, str(path), path)


def decode_bytes(data: bytes, name: str) -> tuple[np.ndarray, float]:
    """Like ``read_grayscale`` for an upload held in memory."""
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    return _decode(io.BytesIO(data), name, None)


def decode_image(image: Image.Image, name: str) -> tuple[np.ndarray, float]:
    """Like ``decode_bytes`` for a picture opened with Pillow: one whose file turns out to be
    truncated only now, as it is decoded, is an ``ImageError`` too."""
    try:
        return to_gray(image, name)
    except ImageError:
        raise
    except DECODE_ERRORS as error:
        raise _open_error(name, None, error) from error


def decode_array(array: np.ndarray, name: str) -> tuple[np.ndarray, float]:
    """Like ``decode_bytes`` for a picture held as a numpy array: grayscale (H, W) or (H, W, 1),
    RGB (H, W, 3) or RGBA (H, W, 4), uint8 or float in [0, 1] (1 = white).

    It is read exactly as the same pixels saved to a PNG file would be. Raises ``ImageError``
    naming ``name`` for any other shape or dtype, or for values that are not finite or in range.
    """
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in ARRAY_CHANNELS):
        raise ImageError(f"{name}: expected a grayscale (H, W) or RGB/RGBA (H, W, 3 or 4) array, "
                         f"got shape {array.shape}")
    if array.size == 0:
        raise ImageError(f"{name}: empty array, shape {array.shape}")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ImageError(f"{name}: the array holds NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 1:
            raise ImageError(f"{name}: float values must be in [0, 1] (1 = white), "
                             f"got {low:g} to {high:g}")
        array = np.round(array * 255).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ImageError(f"{name}: dtype {array.dtype} is not supported: use uint8 (0 to 255) "
                         "or float in [0, 1]")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return to_gray(Image.fromarray(np.ascontiguousarray(array)), name)
