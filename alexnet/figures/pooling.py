"""Figures of chapter 3.4 (§3.4, overlapping pooling): the windows of z and s, and the pooling explorer."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from .. import paper
from ..experiments.pooling import max_pool_map, pool_output_size, window_starts


def draw_pooling_windows(ax=None, width: int = 9, z: int = paper.POOL_OVERLAP[0], s: int = paper.POOL_OVERLAP[1],
                         rows: int = 1):
    """Draw a ``width``×``width`` grid, shaded by how many z×z windows (spaced s apart) cover each pixel, and
    outline the windows of the first ``rows`` rows (staggered so that overlaps show).

    Pixels no window reaches (when (W − z) is not a multiple of s) are hatched. Returns the Axes.
    """
    ax = ax or plt.subplots(figsize=(3.4, 3.4))[1]
    starts = window_starts(width, z, s)
    cover = torch.zeros(width, width)
    for r in starts:
        for c in starts:
            cover[r:r + z, c:c + z] += 1
    ax.imshow(cover.numpy(), cmap="Blues", vmin=0, vmax=max(4, cover.max().item()),
              extent=(0, width, width, 0))
    for i in range(width + 1):
        ax.axhline(i, color="grey", lw=0.4)
        ax.axvline(i, color="grey", lw=0.4)
    for y in range(width):
        for x in range(width):
            if cover[y, x] == 0:
                ax.add_patch(Rectangle((x, y), 1, 1, fill=False, hatch="///", color="red", lw=0))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ri, r in enumerate(starts[:rows]):
        for ci, c in enumerate(starts):
            off = 0.12 * ((ci + ri) % 2)
            ax.add_patch(Rectangle((c + off, r + off), z - 2 * off, z - 2 * off, fill=False, lw=2.2,
                                   color=colors[(ci + 3 * ri) % len(colors)]))
    out = pool_output_size(width, z, s)
    ax.set_title(f"z={z}, s={s}: ⌊({width}−{z})/{s}⌋+1 = {out} per side\n"
                 f"darker = covered by more windows (max {int(cover.max().item())})", fontsize=9)
    ax.set_xlim(-0.25, width + 0.25)
    ax.set_ylim(width + 0.25, -0.25)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def pooling_geometry_figure(width: int = 9, settings=(paper.POOL_OVERLAP, paper.POOL_PLAIN, (3, 3))):
    """Side by side: overlapping (3/2), the plain pooling it replaced (2/2) and non-overlapping 3/3."""
    fig, axes = plt.subplots(1, len(settings), figsize=(3.3 * len(settings), 3.5))
    for ax, (z, s) in zip(axes, settings):
        draw_pooling_windows(ax, width, z, s)
    fig.tight_layout()
    return fig


def render_pooling(feature: torch.Tensor, *, z: int = paper.POOL_OVERLAP[0], s: int = paper.POOL_OVERLAP[1],
                   label: str = "conv1 map"):
    """One frame of the pooling explorer: a map, its first row of windows, and the max-pooled result."""
    pooled = max_pool_map(feature, z, s)
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6))
    vmin, vmax = feature.min().item(), feature.max().item()
    axes[0].imshow(feature.numpy(), cmap="magma", vmin=vmin, vmax=vmax)
    for i, c in enumerate(window_starts(feature.shape[-1], z, s)[:6]):
        axes[0].add_patch(Rectangle((c - 0.5, -0.5 + 0.15 * (i % 2)), z, z, fill=False, lw=1.2,
                                    color="cyan" if i % 2 else "lime"))
    axes[0].set_title(f"{label}: {feature.shape[-2]}×{feature.shape[-1]}\n(first windows outlined)", fontsize=9)
    axes[1].imshow(pooled.numpy(), cmap="magma", vmin=vmin, vmax=vmax)
    n = pooled.shape[-1]
    axes[1].set_title(f"max-pool z={z}, s={s}: {n}×{n}\n⌊({feature.shape[-1]}−{z})/{s}⌋+1 = {n}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
