r"""§2, The dataset: the scale of ILSVRC, the 256×256 preprocessing, the mean image, and the CIFAR-10 stand-in.

The paper (§2): "ILSVRC uses a subset of ImageNet with roughly 1000 images in each of 1000 categories. In all,
there are roughly 1.2 million training images, 50,000 validation images, and 150,000 testing images. [...]
Given a rectangular image, we first rescaled the image such that the shorter side was of length 256, and then
cropped out the central 256×256 patch from the resulting image. We did not pre-process the images in any other
way, except for subtracting the mean activity over the training set from each pixel."

- :func:`ilsvrc_scale`: what 1.2 million 256×256 images mean in bytes, steps and images per second.
- :func:`to_shape` and :func:`preprocessing_stages`: the rescale-then-centre-crop of §2
  (:func:`alexnet.transforms.paper_resize`) stage by stage.
- :func:`centred_display`: an image minus the training set's mean image, as it can be shown.
- :func:`class_counts`: a dataset's classes, counted.

The figures of chapter 2 are drawn by :mod:`alexnet.figures.dataset`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import paper
from ..data import ImageSet
from ..text import plural
from ..transforms import paper_resize

ILSVRC2012_TRAIN_IMAGES = 1_281_167  # the official count behind the paper's "roughly 1.2 million" (not in the paper)


@dataclass
class Scale:
    """The arithmetic of §2 and §5 for one dataset; every field is derived from the constructor's inputs."""

    images: int
    side: int
    batch_size: int
    epochs: int
    days: float | None  # wall-clock training time, where known

    @property
    def bytes_per_image(self) -> int:
        return 3 * self.side * self.side  # uint8 RGB

    @property
    def dataset_bytes(self) -> int:
        return self.images * self.bytes_per_image

    @property
    def steps_per_epoch(self) -> int:
        return self.images // self.batch_size

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    @property
    def images_seen(self) -> int:
        return self.images * self.epochs

    @property
    def images_per_second(self) -> float:
        return self.images_seen / (self.days * 86400) if self.days else float("nan")

    def rows(self) -> dict[str, str]:
        """Label → formatted value; the time rows only where the training time is known."""
        rows = {"training images": f"{self.images:,}",
                "bytes per image (uint8 RGB)": f"{self.side}×{self.side}×3 = {self.bytes_per_image:,}",
                "whole training set": _human_bytes(self.dataset_bytes),
                f"steps per epoch (batch {self.batch_size})": f"{self.steps_per_epoch:,}",
                f"steps in {plural(self.epochs, 'epoch')}": f"{self.total_steps:,}",
                f"images seen in {plural(self.epochs, 'epoch')}": f"{self.images_seen:,}"}
        if self.days:
            rows["training time"] = f"{self.days:g} days"
            rows["images per second, on average"] = f"{self.images_per_second:,.0f}"
        return rows


def ilsvrc_scale(images: int = ILSVRC2012_TRAIN_IMAGES, side: int = paper.STORED_SIDE,
                 batch_size: int = paper.BATCH_SIZE, epochs: int = paper.EPOCHS,
                 days: float | None = sum(paper.TRAINING_DAYS) / 2) -> Scale:
    """§2 and §5 in numbers: 1.2 M images at 256×256, batches of 128, "roughly 90 cycles" in "five to six days"
    (5.5 by default)."""
    return Scale(images, side, batch_size, epochs, days)


def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"


def scale_table(scales: dict[str, Scale]) -> str:
    """Several :class:`Scale` side by side as a text table (one column per dataset)."""
    rows = [s.rows() for s in scales.values()]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    width = max(len(k) for k in keys) + 2
    col = max(24, *(len(n) + 2 for n in scales), *(len(v) + 2 for r in rows for v in r.values()))
    lines = [f"{'':<{width}}" + "".join(f"{n:>{col}}" for n in scales)]
    lines += [f"{key:<{width}}" + "".join(f"{r.get(key, '—'):>{col}}" for r in rows) for key in keys]
    return "\n".join(lines)


def to_shape(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resample a C×H×W uint8 image to ``height``×``width`` (aspect ratio changed): a stand-in for a raw photo."""
    from torchvision.transforms.v2 import functional as TF

    return TF.resize(image, [height, width], antialias=True)


def preprocessing_stages(image: torch.Tensor, size: int = paper.STORED_SIDE) -> list[tuple[str, torch.Tensor]]:
    """§2 step by step: the input, the shorter side rescaled to ``size``, and the central ``size``×``size``."""
    from torchvision.transforms.v2 import functional as TF

    resized = TF.resize(image, size, antialias=True)  # shorter side → size, aspect ratio kept
    cropped = paper_resize(image, size)  # the two steps together, as the data pipeline runs them
    assert torch.equal(TF.center_crop(resized, [size, size]), cropped)
    return [("input", image), ("shorter side → %d" % size, resized), ("centre %d×%d" % (size, size), cropped)]


def centred_display(image: torch.Tensor, mean_image: torch.Tensor) -> torch.Tensor:
    """(image − mean) shown around mid-grey: 0.5 + (x − μ)/255, clipped to [0, 1]; C×H×W float."""
    return (0.5 + (image.float() - mean_image) / 255.0).clamp(0, 1)


def class_counts(data: ImageSet) -> dict[str, int]:
    """Number of images per class, by class name."""
    counts = torch.bincount(data.labels, minlength=data.num_classes).tolist()
    names = data.class_names or data.classes
    return dict(zip(names, counts))
