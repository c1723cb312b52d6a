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


class BatchAugment(nn.Module):
    """uint8 (B,H,W,3) on any device -> float32 (B,3,S,S), contiguous (or channels_last).

    ``image_size``: output side (None keeps the input size); resizing is bilinear with antialias,
    like PIL. ``flips``: independent horizontal and vertical flips (p=0.5 each). ``rot90``: a
    random multiple of 90° per sample (square images). ``max_angle``: extra uniform rotation in
    [-max_angle, max_angle] degrees (bilinear, reflection padding). ``normalize``: ImageNet mean/std,
    else values in [0, 1]. ``train``: initial mode; ``.eval()`` turns every random op off.
    ``channels_last``: return channels_last memory (for channels_last models; costs a copy on CPU).
    """

    def __init__(
        self,
        image_size: int | None = 75,
        train: bool = True,
        flips: bool = True,
        rot90: bool = True,
        max_angle: float = 0.0,
        normalize: bool = True,
        channels_last: bool = False,
    ):
        super().__init__()
        self.image_size = None if image_size is None else int(image_size)
        self.flips = bool(flips)
        self.rot90 = bool(rot90)
        self.max_angle = float(max_angle)
        self.normalize = bool(normalize)
        self.channels_last = bool(channels_last)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        # x_uint8 * scale + shift == (x / 255 - mean) / std
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
            f"max_angle={self.max_angle}, normalize={self.normalize}, channels_last={self.channels_last}"
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[-1] != 3:
            raise ValueError(f"BatchAugment expects uint8 (B,H,W,3) batches, got {tuple(images.shape)}")
        height, width = images.shape[1:3]
        size = (height, width) if self.image_size is None else (self.image_size, self.image_size)
        augment = self.training and (self.flips or self.rot90)
        if images.dtype == torch.uint8:
            # flips and 90-degree turns on the raw uint8 pixels (4x fewer bytes than float), written
            # straight into a contiguous float NCHW batch: one conversion pass instead of four copies
            square = augment and height == width
            codes = self._random_codes(images.shape[0], True, images.device) if square else None
            x = self._to_float_planes(images, codes)
        else:
            x = images.permute(0, 3, 1, 2).contiguous().float() * 255.0
            if augment and height == width:
                x = self._dihedral(x)
        if (height, width) != size:
            x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        if augment and height != width:
            x = self._dihedral(x)
        if self.training and self.max_angle > 0:
            x = self._small_rotation(x)
        x = x.mul_(self.scale.to(x.dtype)).add_(self.shift.to(x.dtype))  # x is a fresh tensor: in place
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _random_codes(self, batch: int, square: bool, device) -> torch.Tensor:
        """Per-sample transform code: bit 2 transpose, bit 1 horizontal flip, bit 0 vertical flip.

        Applied in that order, rot90 by k (counter-clockwise) is: k=1 T+V, k=2 H+V, k=3 T+H.
        """
        transpose = torch.zeros(batch, dtype=torch.bool, device=device)
        hflip, vflip = torch.zeros_like(transpose), torch.zeros_like(transpose)
        if self.rot90:
            k = torch.randint(0, 4, (batch,), device=device)
            if square:
                transpose = (k % 2) == 1
                vflip = (k == 1) | (k == 2)
                hflip = (k == 2) | (k == 3)
            else:  # a non-square output only keeps its shape under 0 or 180 degrees
                hflip = vflip = (k % 2) == 1
        if self.flips:
            hflip = hflip ^ (torch.rand(batch, device=device) < 0.5)
            vflip = vflip ^ (torch.rand(batch, device=device) < 0.5)
        return transpose.long() * 4 + hflip.long() * 2 + vflip.long()

    @staticmethod
    def _to_float_planes(images: torch.Tensor, codes: torch.Tensor | None) -> torch.Tensor:
        """uint8 (B,H,W,3) -> float32 (B,3,H,W), each sample turned by its transform code (or none)."""
        batch, height, width = images.shape[:3]
        out = torch.empty((batch, 3, height, width), dtype=torch.float32, device=images.device)
        if codes is None:
            return out.copy_(images.permute(0, 3, 1, 2))
        for code in range(8):
            rows = (codes == code).nonzero().flatten()
            if rows.numel() == 0:
                continue
            part = images.index_select(0, rows)  # (b,H,W,3): H is dim 1, W is dim 2
            if code & 4:
                part = part.transpose(1, 2)
            if code & 2:
                part = part.flip(2)
            if code & 1:
                part = part.flip(1)
            out[rows] = part.permute(0, 3, 1, 2).float()
        return out

    def _dihedral(self, x: torch.Tensor) -> torch.Tensor:
        """Random flips / 90-degree turns of an NCHW batch: samples sorted by transform, one sync."""
        codes = self._random_codes(x.shape[0], x.shape[-1] == x.shape[-2], x.device)
        order = torch.argsort(codes)
        counts = torch.bincount(codes, minlength=8).tolist()
        grouped = x.index_select(0, order)
        parts = []
        for code, part in enumerate(torch.split(grouped, counts)):
            if not counts[code]:
                continue
            if code & 4:
                part = part.transpose(-1, -2)
            if code & 2:
                part = part.flip(-1)
            if code & 1:
                part = part.flip(-2)
            parts.append(part)
        return torch.cat(parts).index_select(0, torch.argsort(order))

    def _small_rotation(self, x: torch.Tensor) -> torch.Tensor:
        angle = (torch.rand(x.shape[0], device=x.device, dtype=x.dtype) * 2.0 - 1.0) * math.radians(
            self.max_angle
        )
        cos, sin = torch.cos(angle), torch.sin(angle)
        zero = torch.zeros_like(angle)
        theta = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
