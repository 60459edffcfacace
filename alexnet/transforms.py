r"""The paper's image transforms (§2 and §4.1), batched so they run on whole tensors on the CPU or the GPU.

- §2: rescale the shorter side to 256, keep the centre 256×256 (:func:`paper_resize`, done once when a dataset is
  decoded), then subtract the per-pixel mean image of the training set (:class:`DatasetStats`).
- §4.1, first form: random crops (227 of 256 here, the padding-free equivalent of the paper's 224, which
  cuda-convnet's conv1 extends with implicit zeros; see :mod:`alexnet.model`) with horizontal flips
  (:func:`random_crop_flip`): :math:`(256-227+1)^2 \cdot 2 = 1800` variants per image here, the paper's
  :math:`32^2 \cdot 2 = 2048` for 224.
- §4.1, second form: PCA colour lighting (:func:`pca_lighting`): add
  :math:`[\mathbf p_1, \mathbf p_2, \mathbf p_3][\alpha_1\lambda_1, \alpha_2\lambda_2, \alpha_3\lambda_3]^\top`
  to every pixel, with :math:`\alpha_i \sim \mathcal N(0, 0.1)` drawn once per image each time it is used.
- Test time: :func:`ten_crops`: four corners and the centre, each with its mirror; the softmaxes are averaged
  (:func:`alexnet.evaluate.ten_crop_predict`).

Pixels stay on the 0–255 scale throughout, as in cuda-convnet and Caffe; the mean image carries the offset.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import paper
from .errors import AlexNetError

AUGMENTATIONS = ("none", "crop_flip", "paper")  # paper = crop + flip + PCA lighting


def paper_resize(image, size: int = 256):
    """§2: shorter side to ``size``, then the central ``size``×``size`` (torchvision ``transforms.v2``)."""
    from torchvision.transforms import v2

    return v2.Compose([v2.Resize(size, antialias=True), v2.CenterCrop(size)])(image)


@dataclass
class DatasetStats:
    """What §2 and §4.1 compute over the training pixels: the mean image and the RGB covariance's eigenpairs."""

    mean_image: torch.Tensor  # 3×S×S float32, 0–255 scale
    eigvals: torch.Tensor  # 3, descending, of the [0, 1]-scale covariance
    eigvecs: torch.Tensor  # 3×3, columns are p1, p2, p3
    covariance: torch.Tensor  # 3×3, RGB on the [0, 1] scale

    def to(self, device) -> "DatasetStats":
        return DatasetStats(*(t.to(device) for t in (self.mean_image, self.eigvals, self.eigvecs, self.covariance)))

    def state_dict(self) -> dict:
        return {"mean_image": self.mean_image, "eigvals": self.eigvals, "eigvecs": self.eigvecs,
                "covariance": self.covariance}


def compute_stats(images: torch.Tensor, chunk: int = 512) -> DatasetStats:
    """Mean image and 3×3 RGB covariance over every pixel of ``images`` (N×3×S×S uint8), in chunks."""
    n = images.shape[0]
    if n == 0:
        raise AlexNetError("cannot compute dataset statistics of an empty dataset")
    total = torch.zeros(images.shape[1:], dtype=torch.float64)
    s1, s2, count = torch.zeros(3, dtype=torch.float64), torch.zeros(3, 3, dtype=torch.float64), 0
    for i in range(0, n, chunk):
        x = torch.as_tensor(images[i:i + chunk]).to(torch.float64)
        total += x.sum(0)
        pix = x.permute(1, 0, 2, 3).reshape(3, -1)
        s1 += pix.sum(1)
        s2 += pix @ pix.T
        count += pix.shape[1]
    mu = s1 / count
    cov = (s2 / count - torch.outer(mu, mu)) / 255.0 ** 2  # on the [0, 1] scale: see pca_lighting
    eigvals, eigvecs = torch.linalg.eigh(cov)
    order = eigvals.argsort(descending=True)
    return DatasetStats((total / n).float(), eigvals[order].float(), eigvecs[:, order].float(), cov.float())


def _offsets(n: int, room: int, generator, device) -> torch.Tensor:
    return torch.randint(0, room + 1, (n,), generator=generator, device=device)


def random_crop_flip(batch: torch.Tensor, size: int, generator: torch.Generator | None = None,
                     flip: bool = True, crop: bool = True) -> torch.Tensor:
    """Per-image random ``size``×``size`` crops and 50% horizontal flips of an N×C×S×S batch, in one gather.

    With ``crop=False`` the crop is the centre one; with ``flip=False`` nothing is mirrored.
    """
    n, c, h, w = batch.shape
    if size > h or size > w:
        raise AlexNetError(f"image of {h}×{w} is smaller than the {size}×{size} crop")
    dev = batch.device
    if crop:
        top, left = _offsets(n, h - size, generator, dev), _offsets(n, w - size, generator, dev)
    else:
        top = torch.full((n,), (h - size) // 2, device=dev)
        left = torch.full((n,), (w - size) // 2, device=dev)
    ar = torch.arange(size, device=dev)
    rows = top[:, None] + ar  # n×size
    cols = left[:, None] + ar
    if flip:
        mirrored = torch.rand(n, generator=generator, device=dev) < 0.5
        cols = torch.where(mirrored[:, None], cols.flip(1), cols)
    idx_n = torch.arange(n, device=dev)[:, None, None]
    out = batch.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]]  # n×size×size×C
    return out.permute(0, 3, 1, 2)


def pca_lighting(batch: torch.Tensor, eigvals: torch.Tensor, eigvecs: torch.Tensor, std: float = paper.PCA_STD,
                 generator: torch.Generator | None = None, alphas: torch.Tensor | None = None) -> torch.Tensor:
    """§4.1: add ``P @ (α ∘ λ)`` to every pixel of each image; α ~ N(0, ``std``) is drawn once per image.

    The eigenvalues λ are those of the RGB covariance with pixel values on the [0, 1] scale (the paper does not
    say which scale; this is the reading of the widely used fb.resnet.torch port, where ImageNet gives
    λ ≈ 0.22, 0.019, 0.0045). The shift is then added in 0–255 units, so a typical draw moves a pixel by a few
    grey levels. ``alphas`` (N×3) may be given to relight deterministically (the chapter's widget does).
    """
    n = batch.shape[0]
    if alphas is None:
        alphas = torch.randn(n, 3, generator=generator, device=batch.device) * std
    # n×3: Σ_i α_i λ_i p_i, with λ from RGB values on the [0, 1] scale, added in 0–255 units (×255)
    shift = 255.0 * (alphas * eigvals.to(batch.device)) @ eigvecs.to(batch.device).T
    return batch + shift[:, :, None, None].to(batch.dtype)


def ten_crops(batch: torch.Tensor, size: int) -> torch.Tensor:
    """The 10 test crops (4 corners + centre, and their mirrors): returns 10×N×C×size×size."""
    from torchvision.transforms.v2 import functional as TF

    if size > batch.shape[-1] or size > batch.shape[-2]:
        raise AlexNetError(f"image of {batch.shape[-2]}×{batch.shape[-1]} is smaller than the {size}×{size} crop")
    return torch.stack(list(TF.ten_crop(batch, [size, size])))


class BatchAugment:
    """Turns uint8 N×3×S×S batches into network inputs: mean subtraction, then ``mode``'s augmentation.

    ``mode`` is ``"paper"`` (crop + flip + PCA lighting), ``"crop_flip"`` or ``"none"`` (centre crop only).
    Every random choice comes from the ``generator`` passed in, so a step can be replayed exactly.
    """

    def __init__(self, stats: DatasetStats, crop_size: int, mode: str = "paper", pca_std: float = paper.PCA_STD):
        if mode not in AUGMENTATIONS:
            raise AlexNetError(f"unknown augmentation {mode!r}: choose one of {', '.join(AUGMENTATIONS)}")
        self.stats, self.crop_size, self.mode, self.pca_std = stats, crop_size, mode, pca_std

    def _centred(self, u8: torch.Tensor) -> torch.Tensor:
        if u8.shape[-1] != self.stats.mean_image.shape[-1]:
            raise AlexNetError(f"images are {u8.shape[-1]} px but the mean image is "
                               f"{self.stats.mean_image.shape[-1]} px: statistics from another dataset?")
        return u8.float() - self.stats.mean_image.to(u8.device)

    def augment(self, u8: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """N×3×c×c training inputs (§4.1): a random c×c crop and mirror, then PCA lighting, as ``mode`` says;
        ``"none"`` gives the centre crop. Random draws come from ``generator``."""
        x = self._centred(u8)
        augment = self.mode != "none"
        x = random_crop_flip(x, self.crop_size, generator, flip=augment, crop=augment)
        if self.mode == "paper":
            x = pca_lighting(x, self.stats.eigvals, self.stats.eigvecs, self.pca_std, generator)
        return x.contiguous()

    def centre_crop(self, u8: torch.Tensor) -> torch.Tensor:
        """N×3×c×c test inputs: the centre crop, mean subtracted."""
        return random_crop_flip(self._centred(u8), self.crop_size, None, flip=False, crop=False).contiguous()

    def ten_crops(self, u8: torch.Tensor) -> torch.Tensor:
        """10×N×3×c×c test inputs: the ten crops of §4.1 (four corners and the centre, and their mirrors)."""
        return ten_crops(self._centred(u8), self.crop_size)
