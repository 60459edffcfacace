"""The figures of chapter 5 (details of learning): step sizes around a division of ε, the bias experiment's
losses, the schedule of a run, and live training curves."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt

from .. import paper
from ..experiments.learning import lr_drops


def _finish(ax, xlabel: str, ylabel: str, legend_size: int):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=legend_size)
    ax.grid(alpha=0.3)
    return ax


def plot_update_norms(drop: dict, ax=None):
    """Step sizes ‖w_{i+1} − w_i‖ of the paper's rule and of ``torch.optim.SGD`` from
    :func:`alexnet.experiments.learning.update_norms_after_lr_drop`, with the division of ε marked."""
    ax = ax or plt.subplots(figsize=(6.5, 3.2))[1]
    ax.semilogy(drop["paper"], "o-", ms=3, label="paper's rule (PaperSGD)")
    ax.semilogy(drop["torch"], "s--", ms=3, label="torch.optim.SGD")
    ax.axvline(drop["lr_drop_at"] - 0.5, color="grey", ls=":", lw=1)
    ax.text(drop["lr_drop_at"], ax.get_ylim()[1], f" ε ÷ {paper.LR_DIVISOR}", va="top", fontsize=8)
    return _finish(ax, "step", "‖w_{i+1} − w_i‖", 8)


def plot_lr_drop_transient(result: dict, ax=None):
    """Per-step training loss of the three forks of :func:`alexnet.experiments.learning.lr_drop_transient`."""
    ax = ax or plt.subplots(figsize=(6.5, 3.2))[1]
    lr = result["lr"]
    for key, label, style in (("paper", f"paper's rule, ε {lr:g} → {lr / paper.LR_DIVISOR:g}", "-"),
                              ("torch", f"torch.optim.SGD, ε {lr:g} → {lr / paper.LR_DIVISOR:g}", "--"),
                              ("stay", f"no division, ε {lr:g}", ":")):
        ax.plot(range(1, len(result[key]) + 1), result[key], style, marker="o", ms=2.5, label=label)
    return _finish(ax, "step after the division", "training loss (per step)", 7)


def plot_bias_losses(result: dict, ax=None):
    """Training loss per step of each arm of :func:`alexnet.experiments.bias.bias_init_experiment`."""
    ax = ax or plt.subplots(figsize=(7, 3.8))[1]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (arm, r) in enumerate(result["arms"].items()):
        style = "-" if r["init"] == "paper" else "--"
        losses = r["step_losses"]
        per = max(1, r["steps_per_epoch"])
        xs = [(s + 1) / per for s in range(len(losses))]
        ax.plot(xs, losses, style, color=colors[i % 3], lw=1.2, label=arm)
    ax.axhline(result["chance_loss"], color="grey", lw=0.8, ls=":")
    ax.text(0.99, result["chance_loss"] + 0.03, "chance: ln(classes)", ha="right", va="bottom", fontsize=7,
            color="grey", transform=ax.get_yaxis_transform())
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (per step)")
    top = result["chance_loss"] * 1.6
    ax.set_ylim(0, top)
    if any(x > top for r in result["arms"].values() for x in r["step_losses"]):
        ax.text(0.99, 0.98, "losses above the top edge are clipped", ha="right", va="top", fontsize=7,
                color="grey", transform=ax.transAxes)
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    ax.grid(alpha=0.3)
    return ax


class LiveCurves:
    """An ``on_epoch`` callback for :func:`alexnet.train.train` that redraws loss, error and learning rate in one
    output (an IPython display handle), so the notebook keeps the final figure."""

    def __init__(self, title: str = ""):
        self.title = title
        self.handle = None

    def figure(self, history: list[dict]):
        fig, (a, b, c) = plt.subplots(1, 3, figsize=(11, 3.2))
        ep = [h["epoch"] for h in history]
        a.plot(ep, [h["train_loss"] for h in history], label="train")
        a.plot(ep, [h.get("val_loss", float("nan")) for h in history], "--", label="val")
        a.set_title("loss")
        b.plot(ep, [h["train_top1_error"] for h in history], label="train top-1")
        b.plot(ep, [h.get("val_top1_error", float("nan")) for h in history], "--", label="val top-1")
        b.plot(ep, [h.get("val_top5_error", float("nan")) for h in history], ":", label="val top-5")
        b.set_title("error")
        c.semilogy(ep, [h["lr"] for h in history], drawstyle="steps-post")
        c.set_title("learning rate ε (÷10 on plateau)")
        for ax in (a, b, c):
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        a.legend(fontsize=7)
        b.legend(fontsize=7)
        fig.suptitle(self.title, fontsize=9)
        fig.tight_layout()
        return fig

    def __call__(self, history: list[dict]) -> None:
        from IPython.display import display

        fig = self.figure(history)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)


def plot_schedule(history: list[dict], title: str = ""):
    """Top-1 errors (left) and the learning rate (right, log scale) per epoch, with a dotted line after each
    epoch that the plateau rule divided the rate (:func:`alexnet.experiments.learning.lr_drops`)."""
    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(epochs, [h["train_top1_error"] for h in history], label="train (augmented, dropout on)")
    left.plot(epochs, [h.get("val_top1_error", math.nan) for h in history], label="validation")
    right.semilogy(epochs, [h["lr"] for h in history], drawstyle="steps-mid", color="0.3")
    for d in lr_drops(history):
        for ax in (left, right):
            ax.axvline(d["after_epoch"] + 0.5, ls=":", color="0.4")
    left.set(xlabel="epoch", ylabel="top-1 error", title="errors")
    right.set(xlabel="epoch", ylabel="learning rate ε", title="ε (÷10 on a validation plateau)")
    left.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
