"""Figures of chapter 3.2 (§3.2, the two GPUs): who holds what in the forward pass, and Fig. 3's colour split.

The towers are named as the paper names them: GPU 1 (device 0 here, the first half of every layer's units) and
GPU 2 (device 1, the second half).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..experiments.colour import colour_score
from ..experiments.towers import TraceStep
from ..plots import kernel_grid


def plot_tower_colour(trained: torch.Tensor, initial: torch.Tensor | None = None, title: str = ""):
    """Fig. 3, measured: GPU 1's and GPU 2's conv1 kernels (sorted by colour share) and the shares by GPU
    (:func:`alexnet.experiments.colour.colour_score`), after training and, if given, at initialisation."""
    half = trained.shape[0] // 2
    scores = colour_score(trained)
    fig = plt.figure(figsize=(11, 4.4))
    grid = fig.add_gridspec(2, 2, width_ratios=[1.6, 1])
    towers = (("GPU 1 (device 0)", slice(0, half)), ("GPU 2 (device 1)", slice(half, None)))
    for row, (name, sl) in enumerate(towers):
        ax = fig.add_subplot(grid[row, 0])
        order = torch.argsort(scores[sl])
        kernel_grid(trained[sl][order], ncols=min(12 if half <= 24 else 16, half), ax=ax)
        ax.set_title(f"{name}: conv1 kernels, most colour-agnostic first", fontsize=9)
    ax = fig.add_subplot(grid[:, 1])
    rng = np.random.default_rng(0)
    sets = [("after training", trained, 0.0)] + ([("at initialisation", initial, 0.35)] if initial is not None else [])
    for label, w, shift in sets:
        s = colour_score(w).numpy()
        for t, (sl, color) in enumerate(((slice(0, half), "#1f77b4"), (slice(half, None), "#ff7f0e"))):
            x = t + shift + rng.uniform(-0.08, 0.08, size=len(s[sl]))
            ax.scatter(x, s[sl], s=12, color=color, alpha=1.0 if shift == 0 else 0.35,
                       label=f"GPU {t + 1}, {label}")
            ax.hlines(np.mean(s[sl]), t + shift - 0.15, t + shift + 0.15, color="k", lw=1.5)
    ax.set_xticks([0.175, 1.175] if initial is not None else [0, 1], ["GPU 1", "GPU 2"])
    ax.set_ylabel("colour share (0 = grey, 1 = opponent)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=6, loc="lower center")
    ax.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _fmt_shape(shape) -> str:
    return "×".join(map(str, shape))


def _fmt_bytes(n: float) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def draw_devices(trace: list[TraceStep], step: int | None = None, devices=("GPU 1", "GPU 2"), title: str = ""):
    """The two towers as two rows of boxes (GPU 1 above, GPU 2 below) with every stage's per-device tensor shape; red
    arrows mark where activations cross between devices (orange dashed: our LRN halo, grey dashed: the input
    copy), labelled with the forward bytes per image each way. With ``step``, that stage is highlighted and a
    caption says what each device holds and what crosses."""
    n = len(trace)
    fig, ax = plt.subplots(figsize=(min(1.1 * n + 0.4, 14), 3.4 if step is None else 4.1))
    w, h, ys = 0.64, 0.5, (0.75, -0.25)
    colours = ("#cfe2f3", "#fce5cd")
    red, orange, grey = "#cc0000", "#e69138", "#777777"
    for i, s in enumerate(trace):
        for row, shape in enumerate((s.shape_a, s.shape_b)):
            if shape is None:
                continue
            hot = step == i
            ax.add_patch(FancyBboxPatch((i - w / 2, ys[row] - h / 2), w, h, boxstyle="round,pad=0.02",
                                        fc="#ffe599" if hot else colours[row], ec="k", lw=1.8 if hot else 0.6))
            ax.text(i, ys[row] + 0.09, s.stage, ha="center", va="center", fontsize=8, weight="bold")
            ax.text(i, ys[row] - 0.12, _fmt_shape(shape), ha="center", va="center", fontsize=6.5)
        mid = (ys[0] + ys[1]) / 2
        if s.crossing == "input":  # the batch, copied from device 0 to device 1
            ax.add_patch(FancyArrowPatch((i, ys[0] - h / 2), (i, ys[1] + h / 2), arrowstyle="-|>", mutation_scale=9,
                                         color=grey, lw=1.2, linestyle="--"))
            ax.text(i + 0.05, mid, _fmt_bytes(s.bytes_each_way), ha="left", va="center", fontsize=6.5, color=grey)
        if i == 0:
            continue
        for row in (0, 1):  # within each tower: no communication
            before, now = (trace[i - 1].shape_a, trace[i - 1].shape_b)[row], (s.shape_a, s.shape_b)[row]
            if before is not None and now is not None:
                ax.add_patch(FancyArrowPatch((i - 1 + w / 2, ys[row]), (i - w / 2, ys[row]), arrowstyle="-|>",
                                             mutation_scale=8, color="#444444", lw=0.8))
        if s.crossing and s.crossing != "input":
            halo = "halo" in s.crossing
            color = orange if halo else red
            pairs = ((1, 0),) if s.crossing == "logits" else ((0, 1), (1, 0))
            for r0, r1 in pairs:
                ax.add_patch(FancyArrowPatch((i - 1 + w / 2, ys[r0] + (0.1 if r0 == 0 else -0.1)),
                                             (i - w / 2, ys[r1] + (0.1 if r1 == 0 else -0.1)), arrowstyle="-|>",
                                             mutation_scale=9, color=color, lw=1.5, linestyle="--" if halo else "-"))
            ax.text(i - 0.5, mid, _fmt_bytes(s.bytes_each_way), ha="center", va="center", fontsize=6.5, color=color,
                    weight="bold", bbox=dict(fc="white", ec="none", pad=0.8))
    ax.text(-0.4, ys[0] + 0.38, f"{devices[0]} · device 0", fontsize=8.5, color="#1f4e79", weight="bold")
    ax.text(-0.4, ys[1] - 0.45, f"{devices[1]} · device 1", fontsize=8.5, color="#9c5700", weight="bold")
    ax.text(n - 0.6, ys[1] - 0.45, "red: crossings of the paper · orange dashed: LRN halo (ours) · "
            "grey dashed: input copy · labels: forward bytes per image, each way", fontsize=7, ha="right",
            color="#333333")
    ax.set_xlim(-0.45, n - 0.5)
    ax.set_ylim(ys[1] - 0.55 - (0.6 if step is not None else 0), ys[0] + 0.5)
    ax.axis("off")
    if step is not None:
        s = trace[step]
        other = _fmt_shape(s.shape_b) if s.shape_b is not None else "nothing"
        held = f"{devices[0]} holds {_fmt_shape(s.shape_a)}, {devices[1]} holds {other}"
        if s.crossing is None:
            moved = "no communication: each tower works on its own maps"
        elif s.crossing == "input":
            moved = f"the image batch is copied to the second device ({_fmt_bytes(s.bytes_each_way)} per image)"
        elif s.crossing == "logits":
            moved = f"{devices[1]}'s scores go to device 0 for the softmax ({_fmt_bytes(s.bytes_each_way)} per image)"
        elif "halo" in s.crossing:
            moved = (f"LRN halo: 2 boundary maps each way ({_fmt_bytes(s.bytes_each_way)} per image each way); "
                     "not in the paper, needed only to match the one-device grouped net exactly")
        else:
            moved = (f"CROSSING into {s.stage}: each device sends its maps to the other, "
                     f"{_fmt_bytes(s.bytes_each_way)} per image each way (and the same back as gradients)")
        ax.text(-0.4, ys[1] - 0.7, f"step {step}: {s.stage}. {held} (per image).\n{moved}.", fontsize=8.5, va="top")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
