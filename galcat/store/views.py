"""Two random views of every galaxy in a batch, for contrastive (self-supervised) pretraining.

Why these augmentations: a view must change what a galaxy's class does not depend on, as the
self-supervised galaxy papers do (Hayat et al. 2021; Stein et al.'s ``decals_augmentations``):
90-degree turns and small rotations, a jittered centre and a crop-resize (scale 0.9-1.1), a
PSF-like Gaussian blur, pixel noise and small colour (reddening-like) gains. Mirror flips are off
by default: a mirror changes a spiral's winding, which GZ1's classes depend on. Everything runs
as batched tensor ops on the batch's device, like :class:`galcat.store.augment.BatchAugment`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from galcat.store.augment import IMAGENET_MEAN, IMAGENET_STD, BatchAugment


class ContrastiveViews(nn.Module):
    """uint8 (B,H,W,3) -> float (2B,3,S,S): view one of every image, then view two, normalised.

    ``max_angle`` degrees of rotation beyond the 90-degree turns; ``jitter``: centre shift as a
    fraction of the side; ``scale``: zoom range (above 1 crops in); ``blur``: largest Gaussian
    sigma in output pixels; ``noise``: largest Gaussian noise sigma (pixel values in [0, 1]);
    ``colour``: sigma of the log of each channel's gain.
    """

    def __init__(
        self,
        image_size: int,
        flips: bool = False,
        max_angle: float = 15.0,
        jitter: float = 0.05,
        scale: tuple[float, float] = (0.9, 1.1),
        blur: float = 1.0,
        noise: float = 0.03,
        colour: float = 0.05,
    ):
        super().__init__()
        self.image_size = int(image_size)
        self.turns = BatchAugment(image_size=None, train=True, flips=flips, rot90=True, normalize=False)
        self.max_angle, self.jitter, self.scale = float(max_angle), float(jitter), tuple(scale)
        self.blur, self.noise, self.colour = float(blur), float(noise), float(colour)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.view(images), self.view(images)])

    def view(self, images: torch.Tensor) -> torch.Tensor:
        """One random view of each image (normalised like BatchAugment's output)."""
        x = self.turns(images)  # float [0, 1], a random 90-degree turn (and flip, if allowed)
        x = self._crop_rotate(x)
        if self.blur > 0:
            x = self._blur(x)
        n = x.shape[0]
        gains = torch.exp(torch.randn(n, 3, 1, 1, device=x.device) * self.colour)
        sigma = torch.rand(n, 1, 1, 1, device=x.device) * self.noise
        x = (x * gains + torch.randn_like(x) * sigma).clamp_(0.0, 1.0)
        return (x - self.mean) / self.std

    def _crop_rotate(self, x: torch.Tensor) -> torch.Tensor:
        """Rotation, zoom and centre shift in one resampling to the output size (reflection padding)."""
        n, dev = x.shape[0], x.device
        angle = (torch.rand(n, device=dev) * 2 - 1) * math.radians(self.max_angle)
        low, high = self.scale
        zoom = low + torch.rand(n, device=dev) * (high - low)
        shift = (torch.rand(n, 2, device=dev) * 2 - 1) * 2 * self.jitter  # grid units span 2
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack(
            [torch.stack([cos, -sin, shift[:, 0]], -1), torch.stack([sin, cos, shift[:, 1]], -1)], 1
        )
        size = [n, x.shape[1], self.image_size, self.image_size]
        if x.shape[-1] > 2 * self.image_size:  # shrink first so bilinear sampling does not alias
            x = F.interpolate(x, size=(2 * self.image_size,) * 2, mode="bilinear", antialias=True)
        grid = F.affine_grid(theta, size, align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        """A Gaussian blur of random width per image (0 to ``blur`` pixels), as one grouped convolution."""
        n, c, h, w = x.shape
        radius = max(1, math.ceil(2 * self.blur))
        sigma = (torch.rand(n, device=x.device) * self.blur).clamp_min(1e-3)
        offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
        kernel = torch.exp(-(offsets.view(1, -1) ** 2) / (2 * sigma.view(-1, 1) ** 2))
        kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (n*c, k)
        planes = F.pad(x.reshape(1, n * c, h, w), (radius,) * 4, mode="reflect")
        planes = F.conv2d(planes, kernel.view(n * c, 1, 1, -1), groups=n * c)
        planes = F.conv2d(planes, kernel.view(n * c, 1, -1, 1), groups=n * c)
        return planes.view(n, c, h, w)
