"""Each preprocessing step on generated images, and hostile files."""

import io
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from mnist_cnn import preprocess
from mnist_cnn.errors import ImageError
from mnist_cnn.preprocess import (
    MAX_PIXELS,
    WORK_SIDE,
    normalize_digit,
    plain_input,
    prepare,
    read_grayscale,
    stroke_width,
)


def draw_one(size=(200, 200), box=(80, 40, 120, 160), ink=20, paper=235, width=8) -> Image.Image:
    """A dark vertical stroke ("1") on light paper."""
    image = Image.new("L", size, paper)
    left, top, right, bottom = box
    ImageDraw.Draw(image).line([((left + right) // 2, top), ((left + right) // 2, bottom)],
                               fill=ink, width=width)
    return image


def centre_of_mass(pixels):
    rows, cols = np.indices(pixels.shape)
    return (pixels * rows).sum() / pixels.sum(), (pixels * cols).sum() / pixels.sum()


def save(image: Image.Image, folder, name, **options):
    path = folder / name
    image.save(path, **options)
    return path


def assert_mnist_like(pixels):
    assert pixels.shape == (28, 28) and pixels.dtype == np.float32
    assert pixels.min() >= 0 and pixels.max() == pytest.approx(1.0)
    rows = np.flatnonzero(pixels.max(1) > 0.05)
    assert 17 <= rows[-1] - rows[0] + 1 <= 22, "digit's long side scaled to about 20 px"
    row, col = centre_of_mass(pixels)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1
    assert pixels[0].max() == 0 and pixels[:, 0].max() == 0, "background suppressed"


@pytest.mark.parametrize("ink, paper", [(20, 235), (235, 20)])
def test_both_polarities_become_white_on_black(ink, paper):
    gray = np.asarray(draw_one(ink=ink, paper=paper), dtype=np.float32) / 255
    assert_mnist_like(normalize_digit(gray))


def test_off_centre_digit_in_a_corner_is_cropped_and_centred():
    gray = np.asarray(draw_one(size=(256, 256), box=(190, 10, 240, 90), width=14),
                      dtype=np.float32) / 255
    assert_mnist_like(normalize_digit(gray))


def test_background_gradient_is_removed():
    image = np.asarray(draw_one(paper=255), dtype=np.float32) / 255
    ramp = np.linspace(-0.25, 0.0, image.shape[1])[None, :]
    assert_mnist_like(normalize_digit(np.clip(image + ramp, 0, 1)))


def test_thin_pen_is_thickened_towards_mnist_strokes():
    gray = np.asarray(draw_one(size=(400, 400), box=(150, 40, 250, 360), width=2),
                      dtype=np.float32) / 255
    pixels = normalize_digit(gray)
    assert stroke_width(pixels > 0.5) >= 1.5


def test_blank_and_noise_only_images_have_no_digit():
    assert normalize_digit(np.ones((100, 100), dtype=np.float32)) is None
    noise = np.random.default_rng(0).normal(0.9, 0.01, (120, 120)).astype(np.float32)
    assert normalize_digit(noise) is None


def test_plain_transform_is_the_reference_one():
    image = draw_one(size=(28, 28), box=(10, 4, 18, 24), width=3)
    gray = np.asarray(image, dtype=np.float32) / 255
    expected = (255 - np.asarray(image, dtype=np.float32)) / 255
    np.testing.assert_allclose(plain_input(gray), expected, atol=1e-6)


def test_reading_alpha_composites_onto_white(tmp_path):
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line([(32, 8), (32, 56)], fill=(0, 0, 0, 255), width=5)
    gray = read_grayscale(save(rgba, tmp_path, "alpha.png"))
    assert gray[0, 0] == pytest.approx(1.0) and gray[32, 32] < 0.1
    assert_mnist_like(normalize_digit(gray))


def test_white_ink_on_a_transparent_background_is_read_from_its_opacity(tmp_path):
    rgba = Image.new("RGBA", (64, 64), (255, 255, 255, 0))
    ImageDraw.Draw(rgba).line([(32, 8), (32, 56)], fill=(255, 255, 255, 255), width=5)
    assert_mnist_like(normalize_digit(read_grayscale(save(rgba, tmp_path, "white.png"))))


def test_reading_16_bit_palette_and_bilevel(tmp_path):
    base = np.asarray(draw_one(size=(64, 64), box=(24, 8, 40, 56), width=5), dtype=np.uint16)
    sixteen = Image.fromarray(base * 257)
    assert sixteen.mode.startswith("I")
    palette = draw_one(size=(64, 64), box=(24, 8, 40, 56), width=5).convert("P")
    bilevel = draw_one(size=(64, 64), box=(24, 8, 40, 56), width=5).convert("1")
    for name, image in (("16.png", sixteen), ("p.gif", palette), ("b.bmp", bilevel)):
        gray = read_grayscale(save(image, tmp_path, name))
        assert gray.shape == (64, 64) and gray.min() >= 0 and gray.max() <= 1
        assert_mnist_like(normalize_digit(gray))


def test_webp_and_the_first_frame_of_an_animated_gif(tmp_path):
    digit = draw_one(size=(64, 64), box=(24, 8, 40, 56), width=5)
    assert_mnist_like(normalize_digit(read_grayscale(save(digit, tmp_path, "d.webp"))))
    blank = Image.new("L", (64, 64), 235)
    path = tmp_path / "anim.gif"
    digit.save(path, save_all=True, append_images=[blank, blank], duration=100, loop=0)
    assert_mnist_like(normalize_digit(read_grayscale(path)))


def test_exif_orientation_is_applied(tmp_path):
    image = draw_one(size=(120, 60), box=(20, 30, 100, 30), width=6).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = save(image, tmp_path, "rotated.jpg", exif=exif)
    assert read_grayscale(path).shape == (120, 60)


def test_huge_canvas_is_reduced_and_tiny_ones_work(tmp_path):
    big = draw_one(size=(3000, 2000), box=(1400, 600, 1600, 1400), width=60)
    gray = read_grayscale(save(big, tmp_path, "big.png"))
    assert max(gray.shape) <= 2 * WORK_SIDE
    assert_mnist_like(normalize_digit(gray))
    tiny = draw_one(size=(8, 8), box=(3, 1, 5, 7), width=1)
    assert normalize_digit(read_grayscale(save(tiny, tmp_path, "tiny.png"))) is not None
    assert prepare(save(Image.new("L", (1, 1), 0), tmp_path, "dot.png")).blank


def _png_header_only(width, height):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">2I5B", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(50000, 50000))
    with pytest.raises(ImageError, match=r"bomb\.png: refused.*2500000000 pixels"):
        read_grayscale(path)
    path.write_bytes(_png_header_only(9000, 9000))
    with pytest.raises(ImageError, match=r"bomb\.png: refused, 9000x9000 pixels is over the limit"):
        read_grayscale(path)


def test_pixel_limit_admits_a_24_megapixel_photo(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(_png_header_only(6000, 4000))
    with pytest.raises(ImageError) as error:
        read_grayscale(path)  # the header passes the limit; only the missing pixel data fails
    assert "truncated or corrupt" in str(error.value) and "refused" not in str(error.value)
    assert MAX_PIXELS >= 6000 * 4000


def _hostile(tmp_path, kind):
    path = tmp_path / f"{kind}.png"
    good = io.BytesIO()
    draw_one().save(good, "PNG")
    if kind == "zero":
        path.write_bytes(b"")
    elif kind == "truncated-png":
        path.write_bytes(good.getvalue()[:300])
    elif kind == "truncated-jpeg":
        path = tmp_path / "cut.jpg"
        jpeg = io.BytesIO()
        draw_one().save(jpeg, "JPEG")
        path.write_bytes(jpeg.getvalue()[:400])
    elif kind == "text":
        path.write_text("this is not a picture\n")
    elif kind == "directory":
        path.mkdir()
    elif kind == "broken-link":
        path.symlink_to(tmp_path / "gone.png")
    elif kind == "missing":
        pass
    return path


@pytest.mark.parametrize("kind, reason", [
    ("zero", "empty file"),
    ("truncated-png", "truncated or corrupt"),
    ("truncated-jpeg", "truncated or corrupt"),
    ("text", "not an image format"),
    ("directory", "is a directory"),
    ("broken-link", "broken symbolic link"),
    ("missing", "no such file"),
])
def test_hostile_files_give_one_line_errors(tmp_path, kind, reason):
    path = _hostile(tmp_path, kind)
    result = prepare(path)
    assert result.pixels is None and not result.blank
    assert result.error.startswith(str(path)) and reason in result.error
    assert "\n" not in result.error


def test_unreadable_file_is_reported(tmp_path, monkeypatch):
    path = save(draw_one(), tmp_path, "secret.png")
    if os.geteuid() == 0:  # root reads anything, so simulate what chmod 000 does for users
        def denied(*args, **kwargs):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(preprocess.Image, "open", denied)
    else:
        path.chmod(0)
    assert "secret.png: permission denied" in prepare(path).error


MODES = ["1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "I", "I;16", "F", "YCbCr", "LAB"]
SUFFIX = {"I": ".tif", "I;16": ".tif", "F": ".tif", "CMYK": ".tif", "LAB": ".tif", "YCbCr": ".jpg"}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    width=st.one_of(st.integers(1, 64), st.integers(65, 4000)),
    height=st.one_of(st.integers(1, 64), st.integers(65, 4000)),
    mode=st.sampled_from(MODES),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["noise", "flat", "blob"]),
)
def test_any_image_gives_a_clean_input_or_a_clean_no_digit(tmp_path, width, height, mode, seed,
                                                           kind):
    rng = np.random.default_rng(seed)
    if kind == "noise":
        data = rng.integers(0, 256, (min(height, 300), min(width, 300)), dtype=np.uint8)
        base = Image.fromarray(data).resize((width, height))
    else:
        base = Image.new("L", (width, height), int(rng.integers(0, 256)))
        if kind == "blob":
            ImageDraw.Draw(base).ellipse((width // 4, height // 4, width // 2, height // 2),
                                         fill=int(rng.integers(0, 256)))
    if mode == "I;16":
        image = Image.fromarray(np.asarray(base, dtype=np.uint16) * 257)
    else:
        image = base.convert(mode)
    path = tmp_path / f"any{SUFFIX.get(mode, '.png')}"
    image.save(path)
    result = prepare(path)
    if result.pixels is None:
        assert result.blank or result.error
    else:
        assert result.pixels.shape == (28, 28) and result.pixels.dtype == np.float32
        assert result.pixels.min() >= 0 and result.pixels.max() <= 1


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 80), st.integers(1, 80), st.integers(0, 2**32 - 1),
       st.floats(0, 1), st.floats(0, 1))
def test_normalize_any_array_is_clean(height, width, seed, low, high):
    rng = np.random.default_rng(seed)
    gray = (low + (high - low) * rng.random((height, width))).astype(np.float32)
    pixels = normalize_digit(gray)
    assert pixels is None or (pixels.shape == (28, 28) and pixels.min() >= 0
                              and pixels.max() <= 1 and np.isfinite(pixels).all())


def test_a_one_pixel_pen_on_a_big_canvas_survives_reduction(tmp_path):
    image = draw_one(size=(1200, 1200), box=(500, 200, 700, 1000), width=1)
    gray = read_grayscale(save(image, tmp_path, "thin.png"))
    pixels = normalize_digit(gray)
    assert pixels is not None
    assert_mnist_like(pixels)


@pytest.mark.parametrize("side", [16, 20, 28])
def test_a_tightly_cropped_small_digit_touching_every_edge_is_still_found(side):
    """Like USPS-style scans: a fat "8" whose ink covers much of the border."""
    image = Image.new("L", (120, 160), 255)
    pen = ImageDraw.Draw(image)
    pen.ellipse((0, 0, 119, 85), outline=0, width=26)
    pen.ellipse((0, 70, 119, 159), outline=0, width=26)
    small = image.resize((side, side), Image.Resampling.BOX)
    pixels = normalize_digit(np.asarray(small, dtype=np.float32) / 255)
    assert_mnist_like(pixels)


def test_a_one_pixel_stroke_is_not_lost_to_histogram_subsampling():
    gray = np.full((40, 400), 0.92, dtype=np.float32)
    gray[5:35, 201] = 0.1  # odd column: the 2x subsample used for the histogram skips it
    assert normalize_digit(gray) is not None
