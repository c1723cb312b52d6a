"""Deterministic image preprocessing applied once, at store build time.

The paper centre-crops the 424x424 Galaxy Zoo cutouts to 224 px and resizes the crop; doing it
once at build time keeps the training loader a pure uint8 reader. For inputs of another size the
same *fraction* of the image (224/424) is cropped, so a 423 px GZ1 cutout and a 255 px EFIGI
cutout show the same part of the galaxy, unless ``crop_relative`` is switched off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from galcat.errors import GalcatError

_RESAMPLE = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
}


@dataclass
class PreprocessConfig:
    """Centre crop then resize; recorded in every store's config."""

    crop: int = 224  #: crop size in pixels for an image of ``crop_reference`` pixels; 0 = no crop
    crop_reference: int = 424  #: the image size ``crop`` refers to (the GZ2 cutout size)
    crop_relative: bool = True  #: other sizes crop the same fraction (crop/crop_reference)
    size: int = 75  #: output side in pixels (square)
    resample: str = "bilinear"  #: PIL filter; PIL antialiases when shrinking


def crop_size_for(side: int, config) -> int:
    """The centre-crop side (pixels) used for an input whose shorter side is ``side``."""
    crop = int(getattr(config, "crop", 224) or 0)
    if crop <= 0:
        return side
    reference = int(getattr(config, "crop_reference", 424) or 424)
    if side != reference and getattr(config, "crop_relative", True):
        crop = int(round(side * crop / reference))
    return max(1, min(crop, side))


def as_rgb_uint8(image) -> np.ndarray:
    """Coerce grey (H,W), (H,W,1), RGB or RGBA uint8 images to (H,W,3) uint8."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise GalcatError(f"image must be uint8, got {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise GalcatError(f"image must be (H,W), (H,W,1), (H,W,3) or (H,W,4); got shape {arr.shape}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    return np.ascontiguousarray(arr)


def preprocess(image_uint8, config: PreprocessConfig | dict | None = None) -> np.ndarray:
    """Centre-crop and resize one image to ``(size, size, 3)`` uint8, deterministically.

    ``config`` is a :class:`PreprocessConfig`, a dict of its fields, or ``None`` for the paper's
    defaults. The crop offset follows torchvision ``CenterCrop`` (``round((H - crop) / 2)``).
    """
    if config is None:
        config = PreprocessConfig()
    elif isinstance(config, dict):
        config = PreprocessConfig(
            **{k: v for k, v in config.items() if k in PreprocessConfig.__annotations__}
        )
    elif not isinstance(config, PreprocessConfig):
        raise TypeError(f"preprocess() takes a PreprocessConfig, not {type(config).__name__}")
    arr = as_rgb_uint8(image_uint8)
    height, width = arr.shape[:2]
    crop = crop_size_for(min(height, width), config)
    top = int(round((height - crop) / 2.0))
    left = int(round((width - crop) / 2.0))
    arr = arr[top : top + crop, left : left + crop]
    size = int(getattr(config, "size", 75))
    if arr.shape[0] == size and arr.shape[1] == size:
        return np.ascontiguousarray(arr)
    method = str(getattr(config, "resample", "bilinear")).lower()
    if method not in _RESAMPLE:
        raise GalcatError(f"unknown resample filter {method!r}; choose one of {sorted(_RESAMPLE)}")
    out = Image.fromarray(arr).resize((size, size), resample=_RESAMPLE[method])
    return np.asarray(out, dtype=np.uint8)
