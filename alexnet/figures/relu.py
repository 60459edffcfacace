"""The figures of chapter 3.1 (ReLU): Figure 1 redrawn and the nonlinearities with their derivatives."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..experiments.relu import NONLINEARITIES


def plot_fig1(result: dict, ax=None, curves: dict | None = None, title: str = ""):
    """Figure 1 redrawn from :func:`alexnet.experiments.relu.figure1`'s result: training error (the running error
    over each epoch's batches, mean over seeds) against epochs for each net at its best rate, ReLU solid, tanh
    dashed, the 25% line dotted. ``curves`` (``{activation: (lr, errors)}``) draws other runs instead."""
    ax = ax or plt.subplots(figsize=(5.5, 3.6))[1]
    curves = curves or {act: (result["lr"][act], result["curves"][act]) for act in result.get("curves", {})}
    styles = {"relu": "-", "tanh": "--", "sigmoid": "-.", "abs_tanh": ":"}
    for act, (lr, errs) in curves.items():
        ax.plot(range(1, len(errs) + 1), errs, styles.get(act, "-"), color="black" if act in ("relu", "tanh") else None,
                label=f"{act} (lr {lr:g})")
    ax.axhline(result["threshold"], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("epochs")
    ax.set_ylabel("training error rate")
    ax.set_ylim(0, 0.95)
    ax.set_xlim(0, result["scale"]["epochs"] + 1 if "scale" in result else None)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    return ax


def plot_fig1_ratios(result: dict, ax=None, paper_ratio: float | None = None):
    """The ratio tanh / ReLU of epochs to each training-error threshold, with its interval (± 2 s.e. over seeds),
    for every input convention; the paper's ratio at 25% as a star. Thresholds not reached by both nets are left
    out (the x axis still spans them all)."""
    ax = ax or plt.subplots(figsize=(5.5, 3.4))[1]
    for conv, nets in result["conventions"].items():
        rows = nets.get("ratios", {})
        ts = [float(t) for t, r in rows.items() if r["ratio"] is not None]
        rs = [r["ratio"] for r in rows.values() if r["ratio"] is not None]
        lo = [r["ratio"] - r["low"] for r in rows.values() if r["ratio"] is not None]
        hi = [r["high"] - r["ratio"] for r in rows.values() if r["ratio"] is not None]
        ax.errorbar(ts, rs, yerr=[lo, hi], marker="o", capsize=3, label=f"{conv} inputs")
    if paper_ratio is not None:
        ax.plot([result["threshold"]], [paper_ratio], "*", color="black", ms=10, label="paper")
    ax.axhline(1.0, color="grey", lw=0.8)
    thresholds = result["setup"]["thresholds"]
    ax.set_xlim(min(thresholds) - 0.02, max(thresholds) + 0.02)
    ax.set_xlabel("training-error threshold")
    ax.set_ylabel("epochs tanh / epochs ReLU")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_nonlinearities(names=("relu", "tanh", "sigmoid", "abs_tanh"), span: float = 4.0):
    """Each nonlinearity (left) and its derivative (right), with tanh's saturated range (|tanh′| < 0.1) shaded."""
    x = torch.linspace(-span, span, 801)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    saturated = (NONLINEARITIES["tanh"][1](x) < 0.1).numpy()
    for ax in (a, b):
        ax.fill_between(x, 0, 1, where=saturated, transform=ax.get_xaxis_transform(), color="0.9",
                        label="tanh saturated (|tanh′| < 0.1)" if ax is b else None)
    for name in names:
        f, df = NONLINEARITIES[name]
        a.plot(x, f(x), label=name)
        b.plot(x, df(x), label=name)
    a.set_title("f(x)")
    b.set_title("f′(x)")
    for ax in (a, b):
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right" if ax is b else "upper left")
    b.set_ylim(-1.1, 1.1)
    fig.tight_layout()
    return fig
