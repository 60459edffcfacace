r"""§2, The dataset: the scale of ILSVRC, the 256×256 preprocessing, the mean image, and the CIFAR-10 stand-in.

The paper (§2): "ILSVRC uses a subset of ImageNet with roughly 1000 images in each of 1000 categories. In all,
there are roughly 1.2 million training images, 50,000 validation images, and 150,000 testing images. [...]
Given a rectangular image, we first rescaled the image such that the shorter side was of length 256, and then
cropped out the central 256×256 patch from the resulting image. We did not pre-process the images in any other
way, except for subtracting the mean activity over the training set from each pixel."

- :func:`ilsvrc_scale`: what 1.2 million 256×256 images mean in bytes, steps and images per second.
- :func:`to_shape` and :func:`plot_preprocessing`: the rescale-then-centre-crop of §2
  (:func:`alexnet.transforms.paper_resize`) drawn stage by stage.
- :func:`plot_crop_window`: which part of a photo of a given aspect ratio survives the centre crop.
- :func:`plot_mean_subtraction`: an image, the training set's mean image, and their difference.
- :func:`class_counts` and :func:`plot_class_grid`: a dataset's classes, counted and shown.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import ImageSet
from ..plots import to_display
from ..transforms import DatasetStats, paper_resize

ILSVRC2012_TRAIN_IMAGES = 1_281_167  # the official count behind the paper's "roughly 1.2 million"
ILSVRC2012_VAL_IMAGES = 50_000
ILSVRC2012_TEST_IMAGES = 100_000  # ILSVRC-2012's test set; the paper's 150,000 is ILSVRC-2010's


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
                f"steps in {self.epochs} epochs": f"{self.total_steps:,}",
                f"images seen in {self.epochs} epochs": f"{self.images_seen:,}"}
        if self.days:
            rows["training time"] = f"{self.days:g} days"
            rows["images per second, on average"] = f"{self.images_per_second:,.0f}"
        return rows


def ilsvrc_scale(images: int = ILSVRC2012_TRAIN_IMAGES, side: int = 256, batch_size: int = 128,
                 epochs: int = 90, days: float | None = 5.5) -> Scale:
    """§2 and §5 in numbers: 1.2 M images at 256×256, batches of 128, "roughly 90 cycles" in "five to six days"."""
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


def preprocessing_stages(image: torch.Tensor, size: int = 256) -> list[tuple[str, torch.Tensor]]:
    """§2 step by step: the input, the shorter side rescaled to ``size``, and the central ``size``×``size``."""
    from torchvision.transforms.v2 import functional as TF

    resized = TF.resize(image, size, antialias=True)  # shorter side → size, aspect ratio kept
    cropped = paper_resize(image, size)  # the two steps together, as the data pipeline runs them
    assert torch.equal(TF.center_crop(resized, [size, size]), cropped)
    return [("input", image), ("shorter side → %d" % size, resized), ("centre %d×%d" % (size, size), cropped)]


def plot_preprocessing(images: list[torch.Tensor], size: int = 256, titles=None):
    """One row per image: input → rescaled → centre-cropped, drawn to a common pixel scale, crop box marked."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    stages = [preprocessing_stages(im, size) for im in images]
    fig, axes = plt.subplots(len(images), 3, figsize=(8, 2.6 * len(images)), squeeze=False)
    for r, row in enumerate(stages):
        biggest = max(max(t.shape[-1], t.shape[-2]) for _, t in row)  # one pixel scale per row
        for c, (name, t) in enumerate(row):
            ax = axes[r, c]
            h, w = t.shape[-2:]
            ax.imshow(to_display(t), extent=(0, w, h, 0))
            ax.set_xlim(0, biggest)
            ax.set_ylim(biggest, 0)
            ax.set_title(f"{name}\n{w}×{h}" + (f"  ({titles[r]})" if titles and c == 0 else ""), fontsize=8)
            ax.tick_params(labelsize=6)
            if c == 1:  # the window that the centre crop keeps
                ax.add_patch(Rectangle(((w - size) / 2, (h - size) / 2), size, size, fill=False, ec="yellow",
                                       lw=1.5, ls="--"))
    fig.tight_layout()
    return fig


def plot_crop_window(image: torch.Tensor, aspect: float, size: int = 256):
    """A photo reshaped to width/height = ``aspect``, with the part §2's centre crop keeps outlined."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    h, w = (size, round(size * aspect)) if aspect >= 1 else (round(size / aspect), size)
    photo = to_shape(image, h, w)
    fig, (a, b) = plt.subplots(1, 2, figsize=(6, 2.7), gridspec_kw={"width_ratios": [2, 1]})
    a.imshow(to_display(photo), extent=(0, w, h, 0))
    a.add_patch(Rectangle(((w - size) / 2, (h - size) / 2), size, size, fill=False, ec="yellow", lw=2))
    kept = size * size / (h * w)
    a.set_title(f"{w}×{h} (aspect {aspect:g}): the crop keeps {kept:.0%}", fontsize=9)
    a.set_xlim(0, 2 * size)
    a.set_ylim(2 * size, 0)
    b.imshow(to_display(paper_resize(photo, size)))
    b.set_title(f"what the net sees: {size}×{size}", fontsize=9)
    for ax in (a, b):
        ax.axis("off")
    fig.tight_layout()
    return fig


def centred_display(image: torch.Tensor, mean_image: torch.Tensor) -> torch.Tensor:
    """(image − mean) shown around mid-grey: 0.5 + (x − μ)/255, clipped to [0, 1]; C×H×W float."""
    return (0.5 + (image.float() - mean_image) / 255.0).clamp(0, 1)


def plot_mean_subtraction(images: torch.Tensor, stats: DatasetStats, titles=None):
    """Each image, the mean image of its training set, and the centred image the network is fed."""
    import matplotlib.pyplot as plt

    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(6, 2.1 * n), squeeze=False)
    mean = stats.mean_image
    for r in range(n):
        panels = [(images[r].permute(1, 2, 0).numpy() / 255.0, "image" + (f" ({titles[r]})" if titles else "")),
                  ((mean / 255.0).permute(1, 2, 0).numpy(), "mean image (true colours)"),
                  (centred_display(images[r], mean).permute(1, 2, 0).numpy(), "image − mean (grey = 0)")]
        for ax, (img, title) in zip(axes[r], panels):
            ax.imshow(img.clip(0, 1))
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return fig


def class_counts(data: ImageSet) -> dict[str, int]:
    """Number of images per class, by class name."""
    counts = torch.bincount(data.labels, minlength=data.num_classes).tolist()
    names = data.class_names or data.classes
    return dict(zip(names, counts))


def plot_class_grid(data: ImageSet, per_class: int = 8, seed: int = 0):
    """``per_class`` random images of each class, one row per class, the class name and count on the left."""
    import matplotlib.pyplot as plt

    g = torch.Generator().manual_seed(seed)
    counts = class_counts(data)
    fig, axes = plt.subplots(data.num_classes, per_class, figsize=(per_class * 0.9, data.num_classes * 0.95),
                             squeeze=False)
    for c, (name, count) in enumerate(counts.items()):
        idx = (data.labels == c).nonzero().flatten()
        pick = idx[torch.randperm(len(idx), generator=g)[:per_class]]
        for j, ax in enumerate(axes[c]):
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if j < len(pick):
                ax.imshow(data.images[pick[j]].permute(1, 2, 0).numpy(), interpolation="nearest")
        axes[c, 0].set_ylabel(f"{name}\n({count})", rotation=0, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(wspace=0.05, hspace=0.05, left=0.2)
    return fig
