"""Batch augmentation as tensor ops on whole batches, on whatever device the batch lives on.

Why: per-image PIL transforms cost more than the network on small images. Here a uint8 BHWC batch
(straight from the store loader) becomes a normalised float BCHW batch in a few vectorised ops:
resize, a random element of the dihedral group per sample (flips and 90-degree rotations: the
paper's RandomHorizontalFlip/RandomVerticalFlip/RandomRotation, minus interpolation for 90° steps),
an optional small-angle rotation, and ImageNet normalisation. Eval mode applies no randomness.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), a, b)


class BatchAugment(nn.Module):
    """uint8 (B,H,W,3) on any device -> float32 (B,3,S,S) in channels_last memory format.

    ``image_size``: output side (None keeps the input size); resizing is bilinear with antialias,
    like PIL. ``flips``: independent horizontal and vertical flips (p=0.5 each). ``rot90``: a
    random multiple of 90° per sample (square images). ``max_angle``: extra uniform rotation in
    [-max_angle, max_angle] degrees (bilinear, reflection padding). ``normalize``: ImageNet mean/std,
    else values in [0, 1]. ``train``: initial mode; ``.eval()`` turns every random op off.
    """

    def __init__(
        self,
        image_size: int | None = 75,
        train: bool = True,
        flips: bool = True,
        rot90: bool = True,
        max_angle: float = 0.0,
        normalize: bool = True,
    ):
        super().__init__()
        self.image_size = None if image_size is None else int(image_size)
        self.flips = bool(flips)
        self.rot90 = bool(rot90)
        self.max_angle = float(max_angle)
        self.normalize = bool(normalize)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        # x_uint8 * scale + shift == (x / 255 - mean) / std, in one fused multiply-add
        self.register_buffer(
            "scale",
            1.0 / (255.0 * std) if normalize else torch.full((1, 3, 1, 1), 1 / 255.0),
            persistent=False,
        )
        self.register_buffer("shift", -mean / std if normalize else torch.zeros(1, 3, 1, 1), persistent=False)
        self.train(train)

    def extra_repr(self) -> str:
        return (
            f"image_size={self.image_size}, flips={self.flips}, rot90={self.rot90}, "
            f"max_angle={self.max_angle}, normalize={self.normalize}"
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[-1] != 3:
            raise ValueError(f"BatchAugment expects uint8 (B,H,W,3) batches, got {tuple(images.shape)}")
        x = images.permute(0, 3, 1, 2)  # a BCHW view with channels_last strides: no copy
        x = x.float() if images.dtype == torch.uint8 else (x * 255.0).float()
        if self.image_size is not None and tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            x = F.interpolate(
                x,
                size=(self.image_size, self.image_size),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )
        if self.training:
            x = self._dihedral(x)
            if self.max_angle > 0:
                x = self._small_rotation(x)
        x = torch.addcmul(self.shift.to(x.dtype), x, self.scale.to(x.dtype))
        return x.contiguous(memory_format=torch.channels_last)

    def _dihedral(self, x: torch.Tensor) -> torch.Tensor:
        """Per sample: rotate by k*90° (k uniform in 0..3), then flip horizontally/vertically (p=0.5)."""
        b, device = x.shape[0], x.device
        hflip = torch.zeros(b, dtype=torch.bool, device=device)
        vflip = torch.zeros_like(hflip)
        if self.rot90:
            k = torch.randint(0, 4, (b,), device=device)
            if x.shape[-1] == x.shape[-2]:
                # rot90 by k (counter-clockwise) = optional transpose then flips: k=1 T+V, k=2 H+V, k=3 T+H
                transpose = (k % 2) == 1
                x = _where(transpose, x.transpose(-1, -2), x)
                vflip ^= (k == 1) | (k == 2)
                hflip ^= (k == 2) | (k == 3)
            else:  # non-square: only 0 or 180 degrees keep the shape
                half_turn = (k % 2) == 1
                vflip ^= half_turn
                hflip ^= half_turn
        if self.flips:
            hflip ^= torch.rand(b, device=device) < 0.5
            vflip ^= torch.rand(b, device=device) < 0.5
        if hflip.any():
            x = _where(hflip, x.flip(-1), x)
        if vflip.any():
            x = _where(vflip, x.flip(-2), x)
        return x

    def _small_rotation(self, x: torch.Tensor) -> torch.Tensor:
        angle = (torch.rand(x.shape[0], device=x.device, dtype=x.dtype) * 2.0 - 1.0) * math.radians(
            self.max_angle
        )
        cos, sin = torch.cos(angle), torch.sin(angle)
        zero = torch.zeros_like(angle)
        theta = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
