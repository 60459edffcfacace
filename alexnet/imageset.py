"""The named datasets (:data:`DATASETS`: sizes, splits, accepted layouts, how to get each) and the container
every split becomes (:class:`ImageSet`: all images as one ``N×3×S×S`` uint8 tensor plus labels), with a
learnable synthetic stand-in (:func:`make_synthetic`). Loading by name is :func:`alexnet.data.load_imageset`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    image_size: int  # the stored side: 256 for photos (§2), 32 for CIFAR
    crop_size: int  # the network's input: 227 for photos, 28 for CIFAR
    num_classes: int
    splits: tuple[str, ...]  # (train, validation); None where a set has no training split
    layouts: tuple[str, ...]
    how_to_get: str


DATASETS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec("cifar10", 32, 28, 10, ("train", "test"),
                           ("cifar10/{train,test}/<class>/*.png (ImageFolder)",
                            "cifar10/cifar-10-batches-py/ (torchvision)"),
                           "torchvision downloads it (170 MB) when online; or set ALEXNET_DATA to a folder that has it"),
    "imagenette": DatasetSpec("imagenette", 256, 227, 10, ("train", "val"),
                              ("imagenette/{train,val}/<class>/* (ImageFolder)",
                               "imagenette/imagenette2-320/{train,val}/ (torchvision)"),
                              "torchvision downloads the 320 px version (330 MB) when online; or set ALEXNET_DATA to a "
                              "folder that has it"),
    "imagenet": DatasetSpec("imagenet", 256, 227, 1000, ("train", "val"),
                            ("imagenet/{train,val}/<wnid>/* (ImageFolder)",),
                            "bring your own copy of ILSVRC-2012 (it is never downloaded) and set ALEXNET_DATA"),
    "imagenet-sample": DatasetSpec("imagenet-sample", 256, 227, 1000, ("", "val"),
                                   ("imagenet-sample/val/<wnid>/*.jpg and imagenet-sample/classes.tsv",),
                                   "it ships beside the project (../shared/data); point ALEXNET_DATA at it"),
    "synthetic": DatasetSpec("synthetic", 32, 28, 10, ("train", "val"), ("none: generated on the fly",),
                             "nothing to get"),
}


@dataclass
class ImageSet:
    """A whole split as tensors: ``images`` is N×3×S×S uint8, ``labels`` is N int64."""

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    source: str = ""
    class_names: list[str] = field(default_factory=list)  # human-readable, where known

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def crop_size(self) -> int:
        return DATASETS[self.name].crop_size if self.name in DATASETS else self.image_size

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, limit: int | None, seed: int = 0) -> "ImageSet":
        """The first ``limit`` images of a fixed class-balanced shuffle (all of them if ``limit`` is None)."""
        if limit is None or limit >= len(self):
            return self
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:limit].sort().values
        return ImageSet(self.name, self.split, self.images[order], self.labels[order], self.classes,
                        self.source, self.class_names)

    def describe(self) -> str:
        return f"{self.name}/{self.split}: {len(self):,} images of {self.image_size}×{self.image_size}, " \
               f"{self.num_classes} classes"


def make_synthetic(n: int, image_size: int = 32, num_classes: int = 10, seed: int = 0) -> ImageSet:
    """A learnable stand-in: each class has its own shape, colour and stripe texture, plus noise and jitter.

    Class ``c`` draws a filled disc, square or cross (``c % 3``) in a class colour over stripes of a class
    frequency and orientation, at a random position and size, on a random-brightness background. A small
    CNN separates them in a few epochs, so curves fall; nothing about it resembles real photos.
    """
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    labels = labels[torch.randperm(n, generator=g)]
    s = image_size
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, s), torch.linspace(-1, 1, s), indexing="ij")
    hues = torch.linspace(0, 1, num_classes + 1)[:-1]
    palette = torch.stack([(torch.sin(2 * np.pi * (hues + o)) + 1) / 2 for o in (0, 1 / 3, 2 / 3)], 1)  # C×3
    images = torch.empty(n, 3, s, s, dtype=torch.uint8)
    for i in range(n):
        c = int(labels[i])
        cx, cy = (torch.rand(2, generator=g) - 0.5) * 0.8
        r = 0.3 + 0.25 * torch.rand(1, generator=g)
        dx, dy = xx - cx, yy - cy
        shape = [dx ** 2 + dy ** 2 < r ** 2, (dx.abs() < r) & (dy.abs() < r),
                 ((dx.abs() < r / 3) & (dy.abs() < r)) | ((dy.abs() < r / 3) & (dx.abs() < r))][c % 3]
        angle = np.pi * c / num_classes
        stripes = 0.5 + 0.5 * torch.sin((2 + c) * 3.0 * (xx * np.cos(angle) + yy * np.sin(angle)))
        background = 0.3 + 0.4 * torch.rand(1, generator=g)
        img = background * (0.7 + 0.3 * stripes)[None].repeat(3, 1, 1)
        img = torch.where(shape[None], palette[c][:, None, None] * (0.8 + 0.2 * stripes), img)
        img = img + 0.08 * torch.randn(3, s, s, generator=g)
        images[i] = (img.clamp(0, 1) * 255).round().to(torch.uint8)
    return ImageSet("synthetic", "train", images, labels, [f"class{c}" for c in range(num_classes)],
                    source=f"synthetic(n={n}, size={s}, seed={seed})")
