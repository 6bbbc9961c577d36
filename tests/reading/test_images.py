"""Reading any image file, upload or drawing into the working grayscale array; hostile files."""

import io
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pictures import draw_one, save
from PIL import Image, ImageDraw

from mnist_cnn.errors import ImageError
from mnist_cnn.reading import images
from mnist_cnn.reading.images import (
    MAX_PIXELS,
    WORK_AREA,
    decode_bytes,
    read_grayscale,
    reduction_factor,
    to_gray,
)


def test_alpha_is_composited_onto_white(tmp_path):
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line([(32, 8), (32, 56)], fill=(0, 0, 0, 255), width=5)
    gray, scale = read_grayscale(save(rgba, tmp_path, "alpha.png"))
    assert gray[0, 0] == pytest.approx(1.0) and gray[32, 32] < 0.1 and scale == 1.0


def test_white_ink_on_a_transparent_background_is_read_from_its_opacity(tmp_path):
    rgba = Image.new("RGBA", (64, 64), (255, 255, 255, 0))
    ImageDraw.Draw(rgba).line([(32, 8), (32, 56)], fill=(255, 255, 255, 255), width=5)
    gray, _ = read_grayscale(save(rgba, tmp_path, "white.png"))
    assert gray[0, 0] == pytest.approx(1.0) and gray[32, 32] < 0.1


def test_16_bit_palette_and_bilevel(tmp_path):
    base = np.asarray(draw_one(size=(64, 64), box=(24, 8, 40, 56), width=5), dtype=np.uint16)
    palette = draw_one(size=(64, 64), box=(24, 8, 40, 56), width=5).convert("P")
    bilevel = draw_one(size=(64, 64), box=(24, 8, 40, 56), width=5).convert("1")
    for name, image in (("16.png", Image.fromarray(base * 257)), ("p.gif", palette),
                        ("b.bmp", bilevel)):
        gray, _ = read_grayscale(save(image, tmp_path, name))
        assert gray.shape == (64, 64) and gray.min() >= 0 and gray.max() <= 1
        assert gray[32, 32] < 0.2 < 0.8 < gray[5, 5]


def test_webp_and_the_first_frame_of_an_animated_gif(tmp_path):
    digit = draw_one(size=(64, 64), box=(24, 8, 40, 56), width=5)
    assert read_grayscale(save(digit, tmp_path, "d.webp"))[0][32, 32] < 0.2
    blank = Image.new("L", (64, 64), 235)
    path = tmp_path / "anim.gif"
    digit.save(path, save_all=True, append_images=[blank, blank], duration=100, loop=0)
    assert read_grayscale(path)[0][32, 32] < 0.2


def test_exif_orientation_is_applied(tmp_path):
    image = draw_one(size=(120, 60), box=(20, 30, 100, 30), width=6).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    gray, scale = read_grayscale(save(image, tmp_path, "rotated.jpg", exif=exif))
    assert gray.shape == (120, 60) and scale == 1.0


def test_big_pictures_are_reduced_and_the_scale_maps_back(tmp_path):
    big = draw_one(size=(3000, 2000), box=(1400, 600, 1600, 1400), width=60)
    gray, scale = read_grayscale(save(big, tmp_path, "big.png"))
    assert gray.size <= 2.25 * WORK_AREA
    assert scale == pytest.approx(gray.shape[1] / 3000)
    assert reduction_factor(400, 300) == 1 and reduction_factor(6000, 4000) >= 10


def test_a_one_pixel_pen_on_a_big_canvas_survives_reduction(tmp_path):
    image = draw_one(size=(1500, 1500), box=(600, 200, 800, 1300), width=1)
    gray, _ = read_grayscale(save(image, tmp_path, "thin.png"))
    assert gray.min() < 0.75, "the stroke is widened before box reduction, not averaged away"


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


def test_uploads_and_drawings_are_read_like_files():
    image = draw_one(size=(80, 80), box=(30, 10, 50, 70), width=6)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    from_bytes, _ = decode_bytes(buffer.getvalue(), "upload.png")
    from_image, _ = to_gray(image, "drawing")
    np.testing.assert_allclose(from_bytes, from_image)
    with pytest.raises(ImageError, match=r"^upload: empty file"):
        decode_bytes(b"", "upload")
    with pytest.raises(ImageError, match=r"^upload: not an image format"):
        decode_bytes(b"<html>", "upload")


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
    with pytest.raises(ImageError) as error:
        read_grayscale(path)
    message = str(error.value)
    assert message.startswith(str(path)) and reason in message and "\n" not in message


def test_unreadable_file_is_reported(tmp_path, monkeypatch):
    path = save(draw_one(), tmp_path, "secret.png")
    if os.geteuid() == 0:  # root reads anything, so simulate what chmod 000 does for users
        def denied(*args, **kwargs):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(images.Image, "open", denied)
    else:
        path.chmod(0)
    with pytest.raises(ImageError, match=r"secret\.png: permission denied"):
        read_grayscale(path)


MODES = ["1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "I", "I;16", "F", "YCbCr", "LAB"]
SUFFIX = {"I": ".tif", "I;16": ".tif", "F": ".tif", "CMYK": ".tif", "LAB": ".tif", "YCbCr": ".jpg"}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    width=st.one_of(st.integers(1, 64), st.integers(65, 4000)),
    height=st.one_of(st.integers(1, 64), st.integers(65, 4000)),
    mode=st.sampled_from(MODES),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_mode_and_size_reads_to_a_clean_array(tmp_path, width, height, mode, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (min(height, 300), min(width, 300)), dtype=np.uint8)
    base = Image.fromarray(data).resize((width, height))
    image = (Image.fromarray(np.asarray(base, dtype=np.uint16) * 257) if mode == "I;16"
             else base.convert(mode))
    path = tmp_path / f"any{SUFFIX.get(mode, '.png')}"
    image.save(path)
    gray, scale = read_grayscale(path)
    assert gray.dtype == np.float32 and gray.ndim == 2 and np.isfinite(gray).all()
    assert gray.min() >= 0 and gray.max() <= 1 and 0 < scale <= 1
