"""Payload validation: a cutout is only accepted if it decodes as an image of the expected size.

Image services answer errors in many shapes that still carry HTTP 200: an HTML error page, a JSON
message, a JPEG cut short by a dropped connection, or a blank (constant) image outside the survey
footprint. Every payload goes through :func:`decode_image` and :func:`is_blank` before anyone
treats it as a galaxy.
"""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from galcat.net import InvalidBody

# A real SDSS/EFIGI cutout has a per-channel spread far above this threshold and few identical
# pixels (tests/images/test_sources.py checks every real cutout in shared/data); out-of-footprint
# cutouts are constant.
BLANK_STD_THRESHOLD = 2.0
BLANK_IDENTICAL_FRACTION = 0.99


class InvalidPayload(InvalidBody):
    """The bytes are not a usable image (not an image, truncated, wrong size)."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _describe_non_image(data: bytes) -> str:
    head = data[:200].decode("utf-8", "replace").strip().replace("\n", " ")
    lowered = head.lower()
    if lowered.startswith(("<!doctype html", "<html")) or "<html" in lowered:
        kind = "an HTML page"
    elif lowered.startswith(("{", "[")):
        kind = "a JSON document"
    elif not data:
        return "an empty body"
    else:
        kind = "not an image"
    return f"{kind} ({len(data)} bytes: {head[:80]!r})"


#: the largest image galcat decodes (width x height). Galaxy cutouts are at most a few megapixels
#: (1024x1024 SDSS merger images); anything far larger is a mistake or a decompression bomb, and is
#: refused from its header, before a single pixel is decompressed.
MAX_IMAGE_PIXELS = 40_000_000

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255 with rounding (65535 -> 255, 257 -> 1), never clipping."""
    return ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def to_rgb8(img: Image.Image) -> np.ndarray:
    """Any PIL mode -> RGB uint8 (H, W, 3), scaling deeper samples; :class:`InvalidPayload` otherwise.

    * 8-bit and lower (1, L, P, RGB, CMYK, YCbCr, LAB, HSV): PIL's own conversion;
    * 16-bit grey (I;16*) and 32-bit integer (I) holding 0..65535: scaled by 255/65535, not clipped
      (PIL's ``convert`` clips them, saturating most of a 16-bit image);
    * float (F) in [0, 1]: scaled by 255; other integer or float ranges have no defined display
      scale and are refused rather than guessed;
    * alpha (RGBA, LA, PA, palette transparency): composited over black, so transparent pixels
      (undefined sky) do not carry hidden colours into the store.
    """
    mode = img.mode
    if mode in _SIXTEEN_BIT_MODES:
        return _grey_to_rgb(_scale_16bit(np.asarray(img)))
    if mode in ("I", "F"):
        values = np.asarray(img)
        if values.size and not np.isfinite(values).all():
            raise InvalidPayload(f"{mode} image has NaN or infinite pixels")
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if mode == "I" and low >= 0 and high <= 65535:
            return _grey_to_rgb(_scale_16bit(values))
        if mode == "F" and low >= 0.0 and high <= 1.0:
            return _grey_to_rgb(np.round(values * 255.0).astype(np.uint8))
        kind = "32-bit integer" if mode == "I" else "floating-point"
        allowed = "0..65535" if mode == "I" else "0..1"
        raise InvalidPayload(
            f"{kind} pixels span {low:g}..{high:g}, outside {allowed}: no defined 8-bit scale; "
            "save the image as 8- or 16-bit"
        )
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    try:
        if mode in _ALPHA_MODES:
            rgba = np.asarray(img.convert("RGBA"), dtype=np.uint16)
            rgb = (rgba[:, :, :3] * rgba[:, :, 3:] + 127) // 255
            return np.ascontiguousarray(rgb.astype(np.uint8))
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except ValueError as exc:
        raise InvalidPayload(f"image mode {mode!r} cannot be converted to RGB ({exc})") from None


def decode_image(
    data: bytes, expected_size: tuple[int, int] | None = None, max_pixels: int = MAX_IMAGE_PIXELS
) -> np.ndarray:
    """Decode ``data`` into an RGB uint8 array (H, W, 3) or raise :class:`InvalidPayload`.

    This is the one validation step for every pixel source: any bit depth or mode is converted by
    :func:`to_rgb8` or refused, and an image over ``max_pixels`` (a decompression bomb) is refused
    from its header. Every refusal is an :class:`InvalidPayload`, which sources record as a failed
    row, so one hostile file never stops a build. ``expected_size`` is ``(width, height)``; a
    cutout of another size means the service answered something other than what was asked.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise InvalidPayload(
                        f"image is {width}x{height} ({width * height / 1e6:.0f} megapixels), over the "
                        f"{max_pixels / 1e6:.0f}-megapixel limit (a decompression bomb or not a cutout)"
                    )
                if width < 1 or height < 1:
                    raise InvalidPayload(f"image is {width}x{height}: no pixels")
                img.load()  # raises OSError on a truncated file
                rgb = to_rgb8(img)
    except InvalidPayload:
        raise
    except UnidentifiedImageError:
        raise InvalidPayload(f"payload is {_describe_non_image(data)}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidPayload(f"decompression bomb refused ({len(data)} bytes): {exc}") from None
    except MemoryError:
        raise InvalidPayload(f"image too large to decode in memory ({len(data)} bytes)") from None
    except Exception as exc:  # noqa: BLE001 - decoders raise many types on hostile bytes
        raise InvalidPayload(
            f"image does not decode ({len(data)} bytes): {type(exc).__name__}: {exc}"
        ) from None
    if expected_size is not None and (rgb.shape[1], rgb.shape[0]) != tuple(expected_size):
        raise InvalidPayload(
            f"image is {rgb.shape[1]}x{rgb.shape[0]}, expected {expected_size[0]}x{expected_size[1]}"
        )
    return rgb


def is_blank(
    image: np.ndarray,
    std_threshold: float = BLANK_STD_THRESHOLD,
    identical_fraction: float = BLANK_IDENTICAL_FRACTION,
) -> bool:
    """True for a near-constant cutout (outside the footprint, masked, or a placeholder).

    Blank means every channel's std is below ``std_threshold`` or more than
    ``identical_fraction`` of the pixels share one value.
    """
    pixels = image.reshape(-1, image.shape[-1] if image.ndim == 3 else 1)
    if np.all(pixels.std(axis=0) < std_threshold):
        return True
    packed = pixels.astype(np.uint32)
    if packed.shape[1] == 3:
        packed = (packed[:, 0] << 16) | (packed[:, 1] << 8) | packed[:, 2]
    else:
        packed = packed[:, 0]
    # a value held by > 50 % of the pixels is the median, so one O(n) partition finds it
    median = np.partition(packed, len(packed) // 2)[len(packed) // 2]
    return np.count_nonzero(packed == median) / len(packed) > identical_fraction
