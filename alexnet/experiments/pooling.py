r"""§3.4 Overlapping pooling: the geometry of z and s, the output size, the ablation.

"A pooling layer can be thought of as consisting of a grid of pooling units spaced s pixels apart, each summarizing
a neighborhood of size z × z centered at the location of the pooling unit. If we set s = z, we obtain traditional
local pooling [...]. If we set s < z, we obtain overlapping pooling. This is what we use throughout our network,
with s = 2 and z = 3. This scheme reduces the top-1 and top-5 error rates by 0.4% and 0.3%, respectively [...]. We
generally observe during training that models with overlapping pooling find it slightly more difficult to overfit."

A window of side ``z`` stepping by ``s`` over ``W`` pixels (no padding) fits

.. math::  W_\text{out} = \left\lfloor \frac{W - z}{s} \right\rfloor + 1

times, e.g. 55 → 27 → (conv2) 27 → 13 → (conv5) 13 → 6 in the paper's net.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle

from ..profiles import Profile
from .ablation import AblationResult
from .lrn import reuse_or_run_ablation

PAPER_OVERLAP_BENEFIT = {"top1": 0.004, "top5": 0.003}  # §3.4: z=3, s=2 against z=2, s=2


def pool_output_size(width: int, z: int, s: int, padding: int = 0) -> int:
    """⌊(W + 2p − z)/s⌋ + 1: how many z-wide windows, s apart, fit in W pixels (what ``nn.MaxPool2d`` gives)."""
    if z > width + 2 * padding:
        raise ValueError(f"a window of {z} does not fit in {width} pixels (+ {padding} padding each side)")
    return (width + 2 * padding - z) // s + 1


def window_starts(width: int, z: int, s: int) -> list[int]:
    """The first pixel of each pooling window along one side."""
    return [i * s for i in range(pool_output_size(width, z, s))]


def draw_pooling_windows(ax=None, width: int = 9, z: int = 3, s: int = 2, rows: int = 1):
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


def pooling_geometry_figure(width: int = 9, settings=((3, 2), (2, 2), (3, 3))):
    """Side by side: overlapping (3/2), the plain pooling it replaced (2/2) and non-overlapping 3/3."""
    fig, axes = plt.subplots(1, len(settings), figsize=(3.3 * len(settings), 3.5))
    for ax, (z, s) in zip(axes, settings):
        draw_pooling_windows(ax, width, z, s)
    fig.tight_layout()
    return fig


def max_pool_map(feature: torch.Tensor, z: int, s: int) -> torch.Tensor:
    """Max-pool an ``H×W`` map with z×z windows, stride s."""
    return F.max_pool2d(feature[None, None], z, s)[0, 0]


def render_pooling(feature: torch.Tensor, *, z: int = 3, s: int = 2, label: str = "conv1 map"):
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


def run_pooling_ablation(profile: Profile | None = None, **kwargs) -> AblationResult:
    """§3.4's ablation at the profile's scale: overlapping (z=3, s=2) against plain (z=2, s=2) pooling."""
    return reuse_or_run_ablation("pooling_ablation", {"overlap": {}, "plain": {"model": {"pooling": "plain"}}},
                                 profile, **kwargs)


def generalisation_gaps(result: AblationResult, last: int = 3) -> dict[str, dict]:
    """Per arm: training and validation error/loss averaged over the last ``last`` epochs, and val − train.

    The training numbers are the running averages over each epoch's augmented, dropout-on batches (what the
    trainer logs), so the gap understates true overfitting; compare arms with each other, not with zero.
    """
    out = {}
    for arm, hist in result.histories().items():
        tail = hist[-last:]
        mean = lambda key: sum(h[key] for h in tail) / len(tail)  # noqa: E731
        out[arm] = {"train_error": mean("train_top1_error"), "val_error": mean("val_top1_error"),
                    "error_gap": mean("val_top1_error") - mean("train_top1_error"),
                    "train_loss": mean("train_loss"), "val_loss": mean("val_loss"),
                    "loss_gap": mean("val_loss") - mean("train_loss")}
    return out


def format_gaps(gaps: dict[str, dict]) -> str:
    lines = [f"{'arm':<10}{'train err':>10}{'val err':>9}{'gap':>8}{'train loss':>12}{'val loss':>10}{'gap':>8}"]
    for arm, g in gaps.items():
        lines.append(f"{arm:<10}{g['train_error']:>10.1%}{g['val_error']:>9.1%}{g['error_gap']:>+8.1%}"
                     f"{g['train_loss']:>12.3f}{g['val_loss']:>10.3f}{g['loss_gap']:>+8.3f}")
    return "\n".join(lines)
