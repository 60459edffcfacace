"""The figures of chapter 3.1 (ReLU): Figure 1 redrawn and the nonlinearities with their derivatives."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..experiments.relu import NONLINEARITIES


def plot_fig1(result: dict, ax=None, curves: dict | None = None, title: str = ""):
    """Figure 1 redrawn: training error against epochs, ReLU solid, tanh dashed, the 25% line dotted."""
    ax = ax or plt.subplots(figsize=(5.5, 3.6))[1]
    curves = curves or {act: (result["lr"][act], result["curves"][act]) for act in result["curves"]}
    styles = {"relu": "-", "tanh": "--", "sigmoid": "-.", "abs_tanh": ":"}
    for act, (lr, errs) in curves.items():
        ax.plot(range(1, len(errs) + 1), errs, styles.get(act, "-"), color="black" if act in ("relu", "tanh") else None,
                label=f"{act} (lr {lr:g})")
    ax.axhline(result["threshold"], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("epochs")
    ax.set_ylabel("training error rate")
    ax.set_ylim(0, 0.9)
    ax.set_xlim(0, result["scale"]["epochs"] + 1 if "scale" in result else None)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(title)
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
