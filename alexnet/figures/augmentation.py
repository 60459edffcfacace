"""The figures of chapter 4.1 (data augmentation): crops and flips, the RGB principal components, relighting,
the ten test crops, and the overfitting curves of the ablation."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import paper
from ..experiments.augmentation import crop_flip_samples, lighting_shift, mean_colour, random_alphas, relight
from ..plots import plot_curves, to_display
from ..transforms import DatasetStats, ten_crops


def _box(ax, top, left, size, **kw):
    ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), size, size, fill=False, **kw))

def plot_crop_flip(image: torch.Tensor, crop_size: int, n: int = 8, seed: int = 0):
    """Left: the image with the centre crop and the four extreme crops (the range of translations).
    Right: ``n`` random crop + flip views, as the network sees them in training."""
    s = image.shape[-1]
    room = s - crop_size
    fig = plt.figure(figsize=(10, 3.4))
    ax = fig.add_axes([0.0, 0.05, 0.3, 0.85])
    ax.imshow(to_display(image))
    for top, left in [(0, 0), (0, room), (room, 0), (room, room)]:
        _box(ax, top, left, crop_size, ec="yellow", lw=0.8, ls="--")
    _box(ax, room // 2, room // 2, crop_size, ec="red", lw=1.5)
    ax.set_title(f"{s}×{s}: centre {crop_size} crop (red),\nextreme crops (yellow)", fontsize=8)
    ax.axis("off")
    views = crop_flip_samples(image, crop_size, n, seed)
    cols = (n + 1) // 2
    for i, v in enumerate(views):
        a = fig.add_axes([0.32 + (i % cols) * 0.68 / cols, 0.5 - (i // cols) * 0.47, 0.66 / cols, 0.42])
        a.imshow(to_display(v))
        a.axis("off")
    fig.suptitle(f"random {crop_size}×{crop_size} crops with 50% horizontal flips (seed {seed})", fontsize=9)
    return fig

def plot_rgb_eigenvectors(stats: DatasetStats, pixels: torch.Tensor | None = None, title: str = "", k: float = 2.0):
    """The three principal directions of RGB colour, two ways.

    Left: pixels in the RGB cube with the eigenvectors drawn from the mean colour, each arrow
    :math:`k\\sqrt{\\lambda_i}` long (k standard deviations along :math:`\\mathbf p_i`). Right: swatches along
    each direction, mean colour :math:`+ t\\sqrt{\\lambda_i}\\,\\mathbf p_i` for :math:`t \\in [-k, k]`.
    """
    mu = mean_colour(stats) / 255.0
    fig = plt.figure(figsize=(9.5, 3.6))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    if pixels is not None:
        p = pixels.numpy() / 255.0
        ax.scatter(p[:, 0], p[:, 1], p[:, 2], c=np.clip(p, 0, 1), s=1, alpha=0.15, depthshade=False)
    for i in range(3):
        v = (k * stats.eigvals[i].clamp_min(0).sqrt() * stats.eigvecs[:, i]).numpy()
        for sign in (1, -1):
            ax.quiver(*mu.numpy(), *(sign * v), color=["k", "m", "c"][i], lw=2.5, arrow_length_ratio=0.2)
        ax.text(*(mu.numpy() + v * 1.15), f"p{i + 1}", fontsize=8, color=["k", "m", "c"][i])
    ax.set_xlabel("R")
    ax.set_ylabel("G")
    ax.set_zlabel("B")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_zlim(0, 1)
    ax.set_title("pixels and the eigenvectors (±%g σ)" % k, fontsize=8)
    ax2 = fig.add_subplot(1, 2, 2)
    ts = np.linspace(-k, k, 9)
    strip = np.stack([np.stack([(mu + t * stats.eigvals[i].clamp_min(0).sqrt() * stats.eigvecs[:, i]).clamp(0, 1)
                                .numpy() for t in ts]) for i in range(3)])
    ax2.imshow(strip, aspect="auto")
    ax2.set_yticks(range(3), [f"p{i + 1}  λ={stats.eigvals[i]:.4f}\n({tuple(round(float(x), 2) for x in stats.eigvecs[:, i])})"
                              for i in range(3)], fontsize=7)
    ax2.set_xticks(range(len(ts)), [f"{t:+.1f}σ" for t in ts], fontsize=7)
    ax2.set_title("mean colour moved along each eigenvector", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig

def plot_relit(image: torch.Tensor, stats: DatasetStats, alphas, diff_gain: float | None = None):
    """Original, relit (:func:`relight`), and the difference around grey, amplified ×``diff_gain`` (by default
    so that the largest channel shift shows as ±100 grey levels: the colour of the direction, whatever its size)."""
    relit = relight(image, stats, alphas)
    shift = lighting_shift(stats, alphas)
    if diff_gain is None:
        biggest = float(shift.abs().max())
        diff_gain = 100.0 / biggest if biggest > 0.05 else 1.0
    exact = (image.float() + shift[:, None, None]).clamp(0, 255)  # before rounding; clipping still shows
    diff = (128 + diff_gain * (exact - image.float())).clamp(0, 255).to(torch.uint8)
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
    for ax, img, t in zip(axes, (image, relit, diff),
                          ("original", "relit", f"difference ×{diff_gain:.0f}, around grey")):
        ax.imshow(to_display(img))
        ax.set_title(t, fontsize=8)
        ax.axis("off")
    a = ", ".join(f"{float(x):+.2f}" for x in torch.as_tensor(alphas))
    fig.suptitle(f"α = ({a}) → add RGB ({', '.join(f'{float(x):+.1f}' for x in shift)}) grey levels",
                 fontsize=9)
    fig.tight_layout()
    return fig

def plot_random_relightings(image: torch.Tensor, stats: DatasetStats, n: int = 6, seed: int = 0):
    """The image and ``n`` relightings with α ~ N(0, :data:`alexnet.paper.PCA_STD`), as training would draw them."""
    alphas = random_alphas(n, seed)
    imgs = [image] + [relight(image, stats, a) for a in alphas]
    titles = ["original"] + ["shift " + ",".join(f"{float(x):+.0f}" for x in lighting_shift(stats, a)) for a in alphas]
    fig, axes = plt.subplots(1, n + 1, figsize=(1.5 * (n + 1), 1.9))
    for ax, img, t in zip(axes, imgs, titles):
        ax.imshow(to_display(img))
        ax.set_title(t, fontsize=6)
        ax.axis("off")
    fig.suptitle(f"PCA lighting with α ~ N(0, {paper.PCA_STD:g}) (RGB shift in grey levels)", fontsize=9)
    fig.tight_layout()
    return fig

def plot_ten_crops(image: torch.Tensor, crop_size: int):
    """The ten test crops of one image (:func:`alexnet.transforms.ten_crops`): the corners and centre of the image,
    then those of its mirror image (torchvision's order; "mirrored, top-left" is the top-right crop, flipped)."""
    crops = ten_crops(image[None], crop_size)[:, 0]
    names = ["top-left", "top-right", "bottom-left", "bottom-right", "centre"]
    fig, axes = plt.subplots(2, 5, figsize=(8, 3.6))
    for i, ax in enumerate(axes.flat):
        ax.imshow(to_display(crops[i]))
        ax.set_title(("mirrored, " if i >= 5 else "") + names[i % 5], fontsize=7)
        ax.axis("off")
    fig.suptitle(f"the ten {crop_size}×{crop_size} test crops; their softmaxes are averaged", fontsize=9)
    fig.tight_layout()
    return fig

def plot_overfitting(histories: dict[str, list[dict]], title: str = ""):
    """Left: training (solid) and validation (dashed) top-1 error per arm. Right: the gap, validation − training
    error, per epoch: how much each arm overfits."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    plot_curves(histories, ("train_top1_error", "val_top1_error"), ax=ax1, title="top-1 error")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"] * 3
    for (arm, h), color in zip(histories.items(), colors):
        pts = [(e["epoch"], e["val_top1_error"] - e["train_top1_error"]) for e in h if "val_top1_error" in e]
        ax2.plot(*zip(*pts), color=color, label=arm)
    ax2.axhline(0, color="grey", lw=0.8)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation − training error")
    ax2.set_title("the overfitting gap")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
