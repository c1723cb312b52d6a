"""Hostile image files made byte by byte: 16-bit PNGs, decompression-bomb headers, odd PIL modes."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png16(values: np.ndarray) -> bytes:
    """A real 16-bit PNG (grey (H,W), RGB (H,W,3) or RGBA (H,W,4)) from uint16 samples."""
    height, width = values.shape[:2]
    channels = 1 if values.ndim == 2 else values.shape[2]
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    rows = b"".join(b"\x00" + np.ascontiguousarray(values[y]).astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header claims ``width x height`` 8-bit RGB pixels (900 megapixels by default).

    The pixel data is a few bytes of a zlib stream of zeros: decoding it would need gigabytes,
    which is what a decompression bomb is; a validator must refuse it from the header.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1_000_000, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def encoded(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def gradient(size: int = 24, seed: int = 0) -> np.ndarray:
    """A non-blank RGB uint8 test image."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x * 255 // size, y * 255 // size, (x + y) * 127 // size], axis=-1)
    return np.clip(base + rng.integers(0, 20, base.shape), 0, 255).astype(np.uint8)
