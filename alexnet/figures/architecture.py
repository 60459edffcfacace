"""Figures of chapter 3.5 (§3.5, the overall architecture): the two towers of Fig. 2 and the activation explorer."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .. import paper
from ..experiments.architecture import activation_grid, conv_output_side


def _box(ax, x, y, w, h, text, color):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=color, ec="k", lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=7)


def _arrow(ax, a, b, color="k", lw=0.9):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=8, color=color, lw=lw,
                                 shrinkA=0, shrinkB=0))


def draw_towers(ax=None, input_size: int = paper.INPUT_SIDE):
    """The network of §3.5 / Fig. 2 as two towers (one per GPU), with the connections that cross drawn in red.

    Within a tower: conv1→conv2, conv3→conv4, conv4→conv5 (the grouped layers see only their own GPU's maps).
    Across towers: conv2→conv3 and every fully connected layer. Returns the Axes.
    """
    ax = ax or plt.subplots(figsize=(11, 3.8))[1]
    k1, k2, k3 = paper.CONV_KERNELS[:3]
    side1 = int(conv_output_side(input_size, k1, paper.CONV1_STRIDE))
    z, st = paper.POOL_OVERLAP
    side2 = (side1 - z) // st + 1
    side3 = (side2 - z) // st + 1
    side5 = (side3 - z) // st + 1
    widths, half_fc = paper.CONV_WIDTHS, paper.FC_UNITS // paper.NUM_GPUS
    layers = [("conv1", f"{widths[0] // 2}×{side1}²\n{k1}×{k1}/{paper.CONV1_STRIDE}", True),
              ("conv2", f"{widths[1] // 2}×{side2}²\n{k2}×{k2}", True),
              ("conv3", f"{widths[2] // 2}×{side3}²\n{k3}×{k3}", True),
              ("conv4", f"{widths[3] // 2}×{side3}²\n{k3}×{k3}", True),
              ("conv5", f"{widths[4] // 2}×{side3}²\n→{side5}² pool", True),
              ("fc6", f"{half_fc}", True), ("fc7", f"{half_fc}", True),
              ("fc8", f"{paper.ILSVRC_CLASSES}\nsoftmax", False)]
    xs = {name: 1.3 + 1.25 * i for i, (name, _, _) in enumerate(layers)}
    top, bottom, w, h = 1.0, -1.0, 0.95, 0.8
    _box(ax, 0, 0, 0.9, 1.1, f"input\n{input_size}×{input_size}×3", "#eeeeee")
    for name, text, split in layers:
        if split:
            for y, tower, color in ((top, "GPU 1", "#cfe2f3"), (bottom, "GPU 2", "#fce5cd")):
                _box(ax, xs[name], y, w, h, f"{name}\n{text}", color)
        else:
            _box(ax, xs[name], 0, w, h, f"{name}\n{text}", "#d9ead3")
    for y in (top, bottom):
        _arrow(ax, (0.45, 0.3 * np.sign(y)), (xs["conv1"] - w / 2, y))
    names = [n for n, _, _ in layers]
    crossing = {"conv3", "fc6", "fc7", "fc8"}  # layers whose inputs come from both towers
    for prev, name in zip(names, names[1:]):
        x0, x1 = xs[prev] + w / 2, xs[name] - w / 2
        targets = (top, bottom) if name != "fc8" else (0.0,)
        for y0 in (top, bottom):
            for y1 in targets:
                if y0 == y1 or name == "fc8" or name in crossing:
                    red = name in crossing and (y0 != y1 or name == "fc8")
                    _arrow(ax, (x0, y0 + (0.12 if y1 > y0 else -0.12 if y1 < y0 else 0)), (x1, y1),
                           color="#cc0000" if red else "k", lw=1.3 if red else 0.9)
    ax.text(xs["conv1"] - 0.7, top + 0.62, "GPU 1", fontsize=8, color="#1f4e79")
    ax.text(xs["conv1"] - 0.7, bottom - 0.7, "GPU 2", fontsize=8, color="#9c5700")
    ax.text(xs["conv4"], 0, "conv2→conv3 and every FC layer\ncross between GPU 1 and GPU 2 (red)", ha="center",
            va="center", fontsize=7, color="#cc0000")
    ax.set_xlim(-0.6, xs["fc8"] + 0.7)
    ax.set_ylim(-1.85, 1.85)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def render_activations(acts: dict[str, torch.Tensor], layer: str, title: str = ""):
    """One frame of the activation explorer: the first 16 channels of ``layer`` as a 4×4 mosaic."""
    maps = acts[layer]
    fig, ax = plt.subplots(figsize=(3.6, 3.8))
    cmap = plt.get_cmap("magma").with_extremes(bad="white")
    ax.imshow(activation_grid(maps), cmap=cmap, interpolation="nearest")
    ax.set_title((f"{title}\n" if title else "") + f"{layer}: {maps.shape[0]}×{maps.shape[1]}×{maps.shape[2]}, "
                 f"first 16 maps\nmean {maps.mean().item():.3g}, std {maps.std().item():.3g} (each map scaled alone)",
                 fontsize=8)
    ax.axis("off")
    fig.tight_layout()
    return fig
