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

import torch
import torch.nn.functional as F

from ..profiles import Profile
from .ablation import AblationResult
from .ablation import reuse_or_run


def pool_output_size(width: int, z: int, s: int, padding: int = 0) -> int:
    """⌊(W + 2p − z)/s⌋ + 1: how many z-wide windows, s apart, fit in W pixels (what ``nn.MaxPool2d`` gives)."""
    if z > width + 2 * padding:
        raise ValueError(f"a window of {z} does not fit in {width} pixels (+ {padding} padding each side)")
    return (width + 2 * padding - z) // s + 1


def window_starts(width: int, z: int, s: int) -> list[int]:
    """The first pixel of each pooling window along one side."""
    return [i * s for i in range(pool_output_size(width, z, s))]


def max_pool_map(feature: torch.Tensor, z: int, s: int) -> torch.Tensor:
    """Max-pool an ``H×W`` map with z×z windows, stride s."""
    return F.max_pool2d(feature[None, None], z, s)[0, 0]


def run_pooling_ablation(profile: Profile | None = None, **kwargs) -> AblationResult:
    """§3.4's ablation at the profile's scale: overlapping (z=3, s=2) against plain (z=2, s=2) pooling."""
    return reuse_or_run("pooling_ablation", {"overlap": {}, "plain": {"model": {"pooling": "plain"}}}, profile,
                        **kwargs)


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
    """:func:`generalisation_gaps` as a text table, one row per arm."""
    lines = [f"{'arm':<10}{'train err':>10}{'val err':>9}{'gap':>8}{'train loss':>12}{'val loss':>10}{'gap':>8}"]
    for arm, g in gaps.items():
        lines.append(f"{arm:<10}{g['train_error']:>10.1%}{g['val_error']:>9.1%}{g['error_gap']:>+8.1%}"
                     f"{g['train_loss']:>12.3f}{g['val_loss']:>10.3f}{g['loss_gap']:>+8.3f}")
    return "\n".join(lines)
