"""Figures of chapter 3.3 (§3.3, local response normalisation): the LRN explorer and how much it normalises."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .. import paper
from ..lrn import local_response_norm


def plot_suppression_vs_gain(curves: dict, base_activation: float, ax=None):
    """Plot :func:`suppression_vs_gain`: the mean data-dependent factor against the mean active unit."""
    ax = ax or plt.subplots(figsize=(6, 3.4))[1]
    xs = [g * base_activation for g in curves["gains"]]
    for name, ys in curves.items():
        if name != "gains":
            ax.semilogx(xs, ys, marker="o", ms=3, label=name)
    ax.axvline(base_activation, color="grey", ls=":", lw=0.8)
    ax.set_xlabel("mean active conv1 unit (the fresh net's scale at the dotted line)")
    ax.set_ylabel("mean (1 + αS/k)^-β")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def render_lrn(a: torch.Tensor, channel: int = 0, *, k: float = paper.LRN.k, n: int = paper.LRN.size,
               alpha: float = paper.LRN.alpha, beta: float = paper.LRN.beta):
    """One frame of the LRN explorer: channel ``channel`` of ``a`` before and after LRN, and the ratio b/a."""
    b = local_response_norm(a, n, alpha, beta, k)
    ratio = torch.where(a > 0, b / a.clamp_min(1e-12), (k + 0 * a) ** -beta)[0, channel]
    fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
    for ax, img, title in ((axes[0], a[0, channel], "a (conv1, ReLU)"), (axes[1], b[0, channel], "b = LRN(a)")):
        im = ax.imshow(img.numpy(), cmap="magma", interpolation="nearest")
        ax.set_title(f"{title}\nmax {img.max().item():.3g}", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    im = axes[2].imshow(ratio.numpy(), cmap="viridis", interpolation="nearest")
    axes[2].set_title(f"b/a  (k^-β = {k ** -beta:.3f})\nrange {ratio.min().item():.4f}–{ratio.max().item():.4f}",
                      fontsize=9)
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(f"k={k:g}, n={n}, α={alpha:g}, β={beta:g}", fontsize=10)
    fig.tight_layout()
    return fig
