"""The figures of chapter 4.2 (dropout): the dropout-rate explorer."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_dropout_rate(frames: dict, p: float, image_index: int = 0):
    """From :func:`alexnet.experiments.dropout_explorer.precompute_dropout_rates`. Left: fc6 activations (images × first
    units) with the units a rate-``p`` mask drops shown black.
    Right: the true class's probability for one image under many masks, with the test-time output and the
    mask average marked."""
    f = frames[p]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1.4, 1]})
    shown = (f["fc6"] * f["mask"]).numpy()
    ax1.imshow(np.ma.masked_where(f["mask"].numpy() == 0, shown), aspect="auto", cmap="YlGnBu",
               vmin=0, vmax=float(f["fc6"].max()))
    ax1.set_facecolor("black")
    ax1.yaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax1.set_xlabel("fc6 unit")
    ax1.set_ylabel("image")
    ax1.set_title(f"fc6 activations (dark blue = high); dropped units black\n"
                  f"p = {p:g}: {1 - f['mask'].mean():.0%} of these dropped", fontsize=8)
    s = f["true_prob_samples"][:, image_index].numpy()
    ax2.hist(s, bins=np.linspace(0, 1, 26), color="C0", alpha=0.7, label="one mask each")
    ax2.axvline(float(f["true_prob_test"][image_index]), color="C3", lw=2, label="test time (all units)")
    ax2.axvline(float(f["true_prob_mc"][image_index]), color="k", ls="--", label="average over masks")
    ax2.set_xlim(0, 1)
    ax2.set_xlabel("probability of the true class")
    ax2.set_title(f"image {image_index} under {len(s)} masks\nerror on the {len(f['true_prob_test'])} images: "
                  f"test-time net {f['test_error']:.0%}, mask average {f['mc_error']:.0%}", fontsize=8)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig
