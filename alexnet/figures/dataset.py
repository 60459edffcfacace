"""Figures of chapter 2 (§2, the dataset): the rescale-and-crop, the crop window, the mean image, the classes."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from .. import paper
from ..data import ImageSet
from ..experiments.dataset import centred_display, class_counts, preprocessing_stages, to_shape
from ..plots import to_display
from ..transforms import DatasetStats, paper_resize


def plot_preprocessing(images: list[torch.Tensor], size: int = paper.STORED_SIDE, titles=None):
    """One row per image: input → rescaled → centre-cropped, drawn to a common pixel scale, crop box marked."""
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


def plot_crop_window(image: torch.Tensor, aspect: float, size: int = paper.STORED_SIDE):
    """A photo reshaped to width/height = ``aspect``, with the part §2's centre crop keeps outlined."""
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


def plot_mean_subtraction(images: torch.Tensor, stats: DatasetStats, titles=None):
    """Each image, the mean image of its training set, and the centred image the network is fed."""
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


def plot_class_grid(data: ImageSet, per_class: int = 8, seed: int = 0):
    """``per_class`` random images of each class, one row per class, the class name and count on the left."""
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
