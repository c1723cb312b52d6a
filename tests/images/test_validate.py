"""The one image-validation step: every mode and bit depth converted correctly or refused."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.hostile_images import bomb_png, encoded, gradient, png16
from PIL import Image

from galcat.images.validate import MAX_IMAGE_PIXELS, InvalidPayload, decode_image


def test_16bit_png_is_scaled_not_clipped():
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 65536, (20, 20), dtype=np.uint16)
    out = decode_image(png16(grey))
    assert out.shape == (20, 20, 3) and out.dtype == np.uint8
    assert np.abs(out[:, :, 0].astype(float) - grey / 257.0).max() <= 0.5 + 1e-9
    assert (out == 255).mean() < 0.01  # PIL's own convert("RGB") saturates ~99 % of these
    colour = rng.integers(0, 65536, (12, 12, 3), dtype=np.uint16)
    assert np.abs(decode_image(png16(colour)).astype(float) - colour / 257.0).max() <= 1.0


@pytest.mark.parametrize(
    "mode", ["1", "L", "P", "RGB", "RGBA", "LA", "PA", "CMYK", "YCbCr", "I;16", "I;16B", "I", "F"]
)
def test_every_mode_decodes_to_rgb_uint8(mode):
    rgb = Image.fromarray(gradient(16))
    if mode == "I;16":
        image = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    elif mode == "I;16B":  # big-endian samples (PIL's convert() to I;16B clips, so build the bytes)
        deep = np.asarray(rgb.convert("L"), dtype=np.uint16) * 257
        image = Image.frombytes(mode, (16, 16), deep.astype(">u2").tobytes())
    elif mode == "I":
        image = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.int32) * 257)
    elif mode == "F":
        image = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.float32) / 255.0)
    else:
        image = rgb.convert(mode)
    fmt = "TIFF" if mode in ("I;16B", "I", "F", "CMYK", "YCbCr", "PA") else "PNG"
    out = decode_image(encoded(image, fmt))
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    if mode in ("L", "I;16", "I;16B", "I", "F"):  # deeper grey samples map back onto the 8-bit grey
        assert np.abs(out[:, :, 0].astype(int) - np.asarray(rgb.convert("L"), dtype=int)).max() <= 1


def test_alpha_is_composited_over_black():
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., :3] = 200
    rgba[:4, :, 3] = 255  # top half opaque, bottom half transparent (hidden colour 200)
    out = decode_image(encoded(Image.fromarray(rgba, "RGBA")))
    assert (out[:4] == 200).all() and (out[4:] == 0).all()


def test_out_of_range_deep_pixels_are_refused_not_guessed():
    with pytest.raises(InvalidPayload, match="outside 0..1"):
        decode_image(encoded(Image.fromarray(np.full((4, 4), 7.5, dtype=np.float32)), "TIFF"))
    with pytest.raises(InvalidPayload, match="NaN"):
        decode_image(encoded(Image.fromarray(np.full((4, 4), np.nan, dtype=np.float32)), "TIFF"))
    with pytest.raises(InvalidPayload, match="outside 0..65535"):
        decode_image(encoded(Image.fromarray(np.full((4, 4), -3, dtype=np.int32)), "TIFF"))


def test_decompression_bombs_and_oversized_images_are_invalid_payloads():
    with pytest.raises(InvalidPayload, match="900 megapixels|decompression bomb"):
        decode_image(bomb_png())
    side = int(MAX_IMAGE_PIXELS**0.5) + 10  # over galcat's limit, under PIL's own
    with pytest.raises(InvalidPayload, match="megapixel limit"):
        decode_image(bomb_png(side, side))
    assert decode_image(encoded(Image.fromarray(gradient(8))), max_pixels=64).shape == (8, 8, 3)
    with pytest.raises(InvalidPayload, match="megapixel limit"):
        decode_image(encoded(Image.fromarray(gradient(9))), max_pixels=64)


def test_truncated_and_garbage_bytes_are_invalid_payloads():
    data = encoded(Image.fromarray(gradient(32)))
    for bad in (data[: len(data) // 2], b"\x89PNG\r\n\x1a\n" + b"\xff" * 40, b"", b"<html>503</html>"):
        with pytest.raises(InvalidPayload):
            decode_image(bad)
