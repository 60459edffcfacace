import math

import pytest
import torch

from alexnet import AlexNetError, BatchAugment, compute_stats, pca_lighting, random_crop_flip, ten_crops


def test_random_crop_flip_shapes_and_content():
    x = torch.arange(4 * 3 * 8 * 8, dtype=torch.float32).reshape(4, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    out = random_crop_flip(x, 5, g)
    assert out.shape == (4, 3, 5, 5)
    for i in range(4):  # every output is some 5×5 window of its own image, maybe mirrored
        windows = [x[i, :, r:r + 5, c:c + 5] for r in range(4) for c in range(4)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(-1)) for w in windows)
    centre = random_crop_flip(x, 6, None, flip=False, crop=False)
    assert torch.equal(centre, x[:, :, 1:7, 1:7])


def test_flips_happen_half_the_time():
    x = torch.arange(8.0).reshape(1, 1, 1, 8).repeat(2000, 3, 8, 1)
    out = random_crop_flip(x, 8, torch.Generator().manual_seed(1), crop=False)
    flipped = (out[:, 0, 0, 0] == 7).float().mean().item()
    assert 0.45 < flipped < 0.55


def test_crop_larger_than_image_is_refused():
    with pytest.raises(AlexNetError, match="smaller than"):
        random_crop_flip(torch.zeros(1, 3, 20, 20), 28)


def test_ten_crops_are_corners_centre_and_mirrors():
    x = torch.randn(2, 3, 10, 10)
    crops = ten_crops(x, 6)
    assert crops.shape == (10, 2, 3, 6, 6)
    assert torch.equal(crops[0], x[:, :, :6, :6])  # top-left
    assert torch.equal(crops[4], x[:, :, 2:8, 2:8])  # centre
    assert torch.equal(crops[5], x.flip(-1)[:, :, :6, :6])  # mirrored top-left


def test_stats_match_a_direct_computation():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (20, 3, 6, 6), generator=g, dtype=torch.uint8)
    stats = compute_stats(images, chunk=7)
    torch.testing.assert_close(stats.mean_image, images.float().mean(0))
    pix = images.permute(1, 0, 2, 3).reshape(3, -1).double() / 255
    cov = torch.cov(pix, correction=0).float()
    torch.testing.assert_close(stats.covariance, cov, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(stats.eigvecs @ torch.diag(stats.eigvals) @ stats.eigvecs.T, cov, rtol=1e-4, atol=1e-6)
    assert stats.eigvals[0] >= stats.eigvals[1] >= stats.eigvals[2]


def test_pca_lighting_mean_and_covariance_over_many_draws():
    eigvecs, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(0)))
    eigvals = torch.tensor([0.2, 0.02, 0.005])
    n = 20000
    out = pca_lighting(torch.zeros(n, 3, 2, 2), eigvals, eigvecs, 0.1, torch.Generator().manual_seed(1))
    shift = out[:, :, 0, 0]
    assert torch.allclose(out, shift[:, :, None, None].expand_as(out))  # one colour shift per image
    assert shift.mean(0).abs().max() < 0.1
    # shift = 255 P diag(λ) α with α ~ N(0, 0.1²): covariance 255² P diag(λ² 0.01) Pᵀ
    expected = 255.0 ** 2 * eigvecs @ torch.diag(eigvals ** 2 * 0.01) @ eigvecs.T
    torch.testing.assert_close(torch.cov(shift.T), expected, rtol=0.05, atol=0.02)
    assert math.isclose(float(pca_lighting(torch.zeros(1, 3, 1, 1), eigvals, eigvecs,
                                           alphas=torch.tensor([[1.0, 0, 0]])).squeeze()[0]),
                        255 * 0.2 * float(eigvecs[0, 0]), rel_tol=1e-5)


def test_batch_augment_modes():
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    stats = compute_stats(images)
    g = torch.Generator().manual_seed(0)
    for mode in ("paper", "crop_flip", "none"):
        assert BatchAugment(stats, 28, mode).augment(images, g).shape == (8, 3, 28, 28)
    none = BatchAugment(stats, 28, "none")
    torch.testing.assert_close(none.augment(images, g), none.centre_crop(images))
    assert BatchAugment(stats, 28).ten_crops(images).shape == (10, 8, 3, 28, 28)
    with pytest.raises(AlexNetError):
        BatchAugment(stats, 28, "mixup")
