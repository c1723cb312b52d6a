"""BatchAugment: shapes, dihedral augmentation that only moves pixels, eval determinism, ImageNet values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from galcat.store.augment import IMAGENET_MEAN, IMAGENET_STD, BatchAugment
from galcat.synth import render_galaxy


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return torch.from_numpy(
        np.stack([render_galaxy(c, s, 24) for s in range(4) for c in ("E3-5", "SBb", "Irr")])
    )


def test_output_shape_dtype_and_memory_format(batch):
    out = BatchAugment(image_size=32)(batch)
    assert out.shape == (12, 3, 32, 32) and out.dtype == torch.float32
    assert out.is_contiguous()
    cl = BatchAugment(image_size=32, train=False, channels_last=True)(batch)
    assert cl.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(cl, BatchAugment(image_size=32, train=False)(batch))
    assert BatchAugment(image_size=None)(batch).shape == (12, 3, 24, 24)
    wide = torch.zeros(2, 10, 14, 3, dtype=torch.uint8)
    assert BatchAugment(image_size=None, rot90=True)(wide).shape == (2, 3, 10, 14)  # non-square: 0/180 only
    with pytest.raises(ValueError, match="B,H,W,3"):
        BatchAugment()(batch.permute(0, 3, 1, 2))


def test_flips_and_rot90_only_move_pixels(batch):
    torch.manual_seed(0)
    aug = BatchAugment(image_size=None, normalize=False)
    plain = batch.permute(0, 3, 1, 2).float()
    for _ in range(3):
        out = torch.round(aug(batch) * 255.0)
        for i in range(len(batch)):
            for c in range(3):
                assert torch.equal(
                    torch.sort(out[i, c].flatten()).values, torch.sort(plain[i, c].flatten()).values
                )
    assert not torch.equal(out, plain)


def test_random_transforms_are_dihedral_and_rot90_alone_never_reflects():
    torch.manual_seed(1)
    base = torch.arange(5 * 5 * 3, dtype=torch.uint8).reshape(1, 5, 5, 3).repeat(200, 1, 1, 1)
    ref = base[0].permute(2, 0, 1).float()
    rotations = [torch.rot90(ref, k, dims=(-2, -1)) for k in range(4)]
    dihedral = rotations + [r.flip(-1) for r in rotations]

    def which(out, candidates):
        return [next(j for j, cand in enumerate(candidates) if torch.equal(o, cand)) for o in out]

    seen = which(torch.round(BatchAugment(image_size=None, normalize=False)(base) * 255), dihedral)
    assert set(seen) == set(range(8))  # all 8 flips/rotations occur
    seen = which(
        torch.round(BatchAugment(image_size=None, normalize=False, flips=False)(base) * 255), rotations
    )
    assert set(seen) == set(range(4))


def test_eval_mode_is_deterministic_and_plain(batch):
    aug = BatchAugment(image_size=None, max_angle=15.0).eval()
    a, b = aug(batch), aug(batch)
    assert torch.equal(a, b)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    expected = (batch.permute(0, 3, 1, 2).float() / 255.0 - mean) / std
    torch.testing.assert_close(a, expected, atol=1e-5, rtol=1e-5)
    assert BatchAugment(train=False).training is False


def test_normalisation_matches_torchvision(batch):
    img = batch[4].numpy()
    tv = transforms.Compose([transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    expected = tv(Image.fromarray(img))
    out = BatchAugment(image_size=None, train=False)(batch[4:5])[0]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    white = BatchAugment(image_size=None, train=False)(torch.full((1, 2, 2, 3), 255, dtype=torch.uint8))
    for c in range(3):
        assert white[0, c, 0, 0].item() == pytest.approx((1.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c], abs=1e-5)
    raw = BatchAugment(image_size=None, train=False, normalize=False)(batch[:1])
    assert 0.0 <= raw.min() and raw.max() <= 1.0


def test_resize_is_close_to_pil_antialiased_resize(batch):
    img = batch[1].numpy()
    pil = np.asarray(Image.fromarray(img).resize((12, 12), Image.BILINEAR), dtype=np.float32) / 255.0
    out = BatchAugment(image_size=12, train=False, normalize=False)(batch[1:2])[0].permute(1, 2, 0).numpy()
    assert np.abs(out - pil).mean() < 0.02


def test_small_rotation_changes_pixels_but_not_brightness(batch):
    torch.manual_seed(2)
    aug = BatchAugment(image_size=None, flips=False, rot90=False, max_angle=20.0, normalize=False)
    out = aug(batch)
    plain = batch.permute(0, 3, 1, 2).float() / 255.0
    assert out.shape == plain.shape and not torch.allclose(out, plain)
    torch.testing.assert_close(out.mean((1, 2, 3)), plain.mean((1, 2, 3)), atol=0.02, rtol=0.1)
