"""The figure of chapter 7 (the scorecard): paper against ours, Δ top-1 error for each component."""
from __future__ import annotations

import matplotlib.pyplot as plt

from ..stats import Z


def plot_deltas(rows: list[dict], ax=None):
    """Paper vs ours (:func:`alexnet.experiments.scorecard.delta_comparison`), Δ top-1 error in points for adding
    each component (left of 0 = it helps), ours with ± two standard errors: the verdict's threshold."""
    ax = ax or plt.subplots(figsize=(6.5, 0.45 * max(2, len(rows)) + 1))[1]
    ys = range(len(rows))
    ax.barh([y + 0.2 for y in ys], [r["paper"] for r in rows], height=0.4, color="grey", label="paper (ImageNet)")
    ax.barh([y - 0.2 for y in ys], [r["ours"] for r in rows], height=0.4, xerr=[Z * r["se"] for r in rows],
            color="tab:blue", label=f"ours (± {Z:g} s.e.)", error_kw={"lw": 1})
    ax.set_yticks(list(ys))
    ax.set_yticklabels([r["label"] for r in rows], fontsize=8)
    ax.axvline(0, color="k", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("Δ top-1 error from adding the component (points; < 0 helps)")
    ax.legend(fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    return ax
