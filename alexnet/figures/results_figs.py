"""Figures of chapter 6 (§6, results): Fig. 3 (conv1 kernels by GPU) and Fig. 4 (top-5 bars, nearest neighbours)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..data import ImageSet
from ..experiments.colour import tower_colour_stats
from ..plots import kernel_grid, to_display


def plot_conv1_by_tower(weight: torch.Tensor, ncols: int = 8, title: str = "", what: str = "conv1 kernels"):
    """Fig. 3: conv1's kernels (``K×3×h×w``), GPU 1's (the first half of the channels) above GPU 2's, each kernel
    scaled to [0, 1] on its own; each title gives the GPU's mean colour share (:func:`alexnet.experiments.colour.
    colour_score`)."""
    w = weight.detach().cpu()
    half = len(w) // 2
    colour = tower_colour_stats(w, permutations=0)
    share1, share2 = colour["mean_gpu1"], colour["mean_gpu2"]
    rows = (half + ncols - 1) // ncols
    fig, axes = plt.subplots(2, 1, figsize=(ncols * 0.55, 2 * rows * 0.6 + 1.0))
    kernel_grid(w[:half], ncols=ncols, ax=axes[0], title=f"GPU 1: {what} 1–{half} (colour share {share1:.2f})")
    kernel_grid(w[half:], ncols=ncols, ax=axes[1],
                title=f"GPU 2: {what} {half + 1}–{len(w)} (colour share {share2:.2f})")
    for ax in axes:
        ax.title.set_fontsize(8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_top5(images: torch.Tensor, probs: torch.Tensor, labels: torch.Tensor, class_names: list[str],
              ncols: int = 4, title: str = ""):
    """Fig. 4 (left): each image with the five highest softmax probabilities as bars; the correct label's bar
    is red (as in the paper), and the correct label is written under the image."""
    n = len(images)
    rows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(rows * 2, ncols, figsize=(ncols * 2.2, rows * 3.0),
                             gridspec_kw={"height_ratios": [1.2, 1] * rows}, squeeze=False)
    for i in range(rows * ncols):
        r, c = divmod(i, ncols)
        ax_img, ax_bar = axes[2 * r, c], axes[2 * r + 1, c]
        ax_img.axis("off")
        if i >= n:
            ax_bar.axis("off")
            continue
        ax_img.imshow(to_display(images[i]), interpolation="nearest")
        truth = int(labels[i])
        ax_img.set_title(class_names[truth], fontsize=8)
        p, k = probs[i].topk(min(5, probs.shape[1]))
        colors = ["tab:red" if int(j) == truth else "tab:blue" for j in k]
        ax_bar.barh(range(len(k))[::-1], p.tolist(), color=colors)
        ax_bar.set_yticks(range(len(k))[::-1])
        ax_bar.set_yticklabels([class_names[int(j)][:14] for j in k], fontsize=7)
        ax_bar.set_xlim(0, 1)
        ax_bar.tick_params(axis="x", labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_neighbours(query_images: torch.Tensor, query_labels: torch.Tensor, bank: ImageSet,
                    neighbour_idx: torch.Tensor, class_names: list[str], title: str = ""):
    """Fig. 4 (right): each test image in the first column, then its nearest training images in fc7 space;
    a neighbour of another class gets a red frame."""
    n, k = neighbour_idx.shape
    fig, axes = plt.subplots(n, k + 1, figsize=((k + 1) * 1.05, n * 1.15), squeeze=False)
    for r in range(n):
        axes[r, 0].imshow(to_display(query_images[r]), interpolation="nearest")
        axes[r, 0].set_title(f"test: {class_names[int(query_labels[r])]}", fontsize=6)
        for c in range(k):
            j = int(neighbour_idx[r, c])
            ax = axes[r, c + 1]
            ax.imshow(to_display(bank.images[j]), interpolation="nearest")
            if int(bank.labels[j]) != int(query_labels[r]):
                for side in ax.spines.values():
                    side.set_edgecolor("red")
                    side.set_linewidth(2)
        for c in range(k + 1):
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
    axes[0, 1].set_title("nearest training images (fc7, Euclidean) →", fontsize=6, loc="left")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
