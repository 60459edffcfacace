"""Figures of chapter 4.2's comparison of the paper's dropout with inverted dropout
(:mod:`alexnet.experiments.dropout_forms`)."""
from __future__ import annotations

import matplotlib.pyplot as plt

from ..experiments.dropout_forms import FORMS, _smooth

LABELS = {"paper": "paper's dropout (×0.5 at test)", "inverted": "inverted (nn.Dropout, ×2 in training)"}


def plot_dropout_forms(result: dict):
    """Left: each form's training loss per step (moving average), the step where they part marked. Right: the
    validation top-1 error after each epoch. ``result`` is :func:`compare_forms`'s. Returns the figure."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    spe, window = result["steps_per_epoch"], result["window"]
    for form, style in zip(FORMS, ("-", "--")):
        losses = result["loss"][form]
        left.plot([s / spe for s in range(len(losses))], _smooth(losses, window), style, label=LABELS[form])
        errors = result["val_top1_error"][form]
        right.plot(range(1, len(errors) + 1), errors, style, marker="o", ms=3, label=LABELS[form])
    if result["part_step"] is not None:
        left.axvline(result["part_step"] / spe, color="grey", ls=":", lw=1)
        left.annotate(f"curves part (step {result['part_step']})", (result["part_step"] / spe, left.get_ylim()[1]),
                      fontsize=7, va="top", ha="left")
    left.set(xlabel="epoch", ylabel=f"training loss (mean of {window} steps)",
             title="training loss, same batches and masks")
    right.set(xlabel="epoch", ylabel="validation top-1 error", title="validation error (centre crops)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    sc = result["scale"]
    fig.suptitle(f"{sc['dataset']}, {sc['train_images']:,} training images, one seed ({sc['profile']} profile)",
                 fontsize=9)
    fig.tight_layout()
    return fig
