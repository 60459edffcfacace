"""Figures more than one chapter draws: training curves, image grids, conv1 kernels."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def plot_curves(histories: dict[str, list[dict]], metrics=("train_top1_error", "val_top1_error"), ax=None,
                threshold: float | None = None, title: str = ""):
    """Error (or loss) against epoch for several runs; solid = first metric, dashed = second."""
    ax = ax or plt.subplots(figsize=(6, 3.6))[1]
    styles = ["-", "--", ":"]
    for (label, hist), color in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"] * 3):
        for metric, style in zip(metrics, styles):
            pts = [(h["epoch"], h[metric]) for h in hist if metric in h]
            if pts:
                ax.plot(*zip(*pts), style, color=color, label=f"{label} ({metric.replace('_', ' ')})")
    if threshold is not None:
        ax.axhline(threshold, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("epoch")
    ax.set_ylabel("error" if "error" in metrics[0] else metrics[0])
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return ax


def to_display(u8_or_float: torch.Tensor) -> np.ndarray:
    """C×H×W (uint8 or float) → H×W×C float in [0, 1] for imshow; floats are min-max scaled."""
    x = u8_or_float.detach().cpu()
    if x.dtype == torch.uint8:
        return x.permute(1, 2, 0).numpy() / 255.0
    x = x.float()
    x = (x - x.min()) / (x.max() - x.min() + 1e-8)
    return x.permute(1, 2, 0).numpy()


def image_grid(images: torch.Tensor, titles=None, ncols: int = 8, size: float = 1.3, suptitle: str = ""):
    """A grid of N×C×H×W images with optional titles; returns the figure."""
    n = len(images)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.1), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(to_display(images[i]))
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def kernel_grid(weight: torch.Tensor, ncols: int = 16, ax=None, title: str = ""):
    """conv1 kernels (K×3×h×w) as one mosaic, each kernel scaled to [0, 1] on its own (as in Fig. 3)."""
    w = weight.detach().float().cpu()
    k, _, h, wd = w.shape
    nrows = (k + ncols - 1) // ncols
    mosaic = np.ones((nrows * (h + 1) - 1, ncols * (wd + 1) - 1, 3))
    for i in range(k):
        r, c = divmod(i, ncols)
        mosaic[r * (h + 1):r * (h + 1) + h, c * (wd + 1):c * (wd + 1) + wd] = to_display(w[i])
    ax = ax or plt.subplots(figsize=(ncols * 0.45, nrows * 0.45))[1]
    ax.imshow(mosaic, interpolation="nearest")
    ax.axis("off")
    ax.set_title(title)
    return ax
