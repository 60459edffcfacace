r"""§4.2 Dropout: the paper's convention, PyTorch's, why they are the same network, and what dropout costs.

*"The recently-introduced technique, called "dropout", consists of setting to zero the output of each hidden
neuron with probability 0.5. [...] At test time, we use all the neurons but multiply their outputs by 0.5,
which is a reasonable approximation to taking the geometric mean of the predictive distributions produced by
the exponentially-many dropout networks. We use dropout in the first two fully-connected layers [...].
Without dropout, our network exhibits substantial overfitting. Dropout roughly doubles the number of
iterations required to converge."* (§4.2)

Two conventions for a mask :math:`m_j \sim \mathrm{Bernoulli}(1-p)`:

- the paper's (:func:`paper_dropout`): train :math:`\tilde h = m \odot h`, test :math:`(1-p)\,h`;
- PyTorch's *inverted* dropout (``nn.Dropout``): train :math:`\tilde h = m \odot h / (1-p)`, test :math:`h`.

Both make the test-time output equal the training-time expectation,
:math:`\mathbb E_m[m \odot h] = (1-p)h` and :math:`\mathbb E_m[m \odot h/(1-p)] = h`
(:func:`dropout_expectation`). And they are one network up to a constant on the weights that follow: a layer
:math:`W` after the paper's dropout computes exactly what :math:`W' = (1-p)\,W` computes after PyTorch's, in
training (same mask) and at test time (:func:`dropout_conventions_equivalence`).

The convergence claim is measured with :func:`iterations_to_converge` on the ablation's training curves.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from ..profiles import Profile, get_profile
from ..results import save_result
from .ablation import AblationResult, run_ablation
from ..scratch import scratch_checkpoint_dir
from .augmentation import compare_arms


# ------------------------------------------------------------------------------------------- the conventions
def paper_dropout(h: torch.Tensor, p: float = 0.5, *, training: bool = True, mask: torch.Tensor | None = None,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """The paper's dropout: training zeroes each unit with probability ``p`` and does *not* rescale; test time
    multiplies every output by ``1 − p`` (0.5 in the paper). ``mask`` (0/1, same shape) may be given."""
    if not training:
        return h * (1.0 - p)
    if mask is None:
        mask = (torch.rand(h.shape, generator=generator, device=h.device) >= p).to(h.dtype)
    return h * mask


def dropout_expectation(h: torch.Tensor, p: float = 0.5, samples: int = 20000, seed: int = 0) -> dict:
    """Average the training-time output over ``samples`` masks, for both conventions, against their test-time
    outputs. Returns the four vectors and the largest absolute gaps (which shrink as 1/√samples)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    drop = nn.Dropout(p).train()
    hs = h.expand(samples, *h.shape)
    paper_mean = paper_dropout(hs, p, generator=gen).mean(0)
    torch_mean = drop(hs).mean(0)
    paper_test = paper_dropout(h, p, training=False)
    torch_test = drop.eval()(h)
    return {"paper_train_mean": paper_mean, "paper_test": paper_test,
            "torch_train_mean": torch_mean, "torch_test": torch_test,
            "paper_max_gap": (paper_mean - paper_test).abs().max().item(),
            "torch_max_gap": (torch_mean - torch_test).abs().max().item(),
            "samples": samples}


def dropout_conventions_equivalence(in_features: int = 64, out_features: int = 10, p: float = 0.5,
                                    batch: int = 16, seed: int = 0) -> dict:
    """The same layer under both conventions: ``Linear(W)`` after :func:`paper_dropout` against PyTorch's
    ``nn.Dropout(p)`` followed by ``Linear(W' = (1−p) W)`` (same bias).

    In training the torch mask is read off ``nn.Dropout``'s own output and reused for the paper's, so both see
    the same mask. Returns the largest absolute differences in training and at test time (float rounding).
    """
    gen = torch.Generator().manual_seed(seed)
    h = torch.rand(batch, in_features, generator=gen) + 0.1  # post-ReLU-like and > 0, so a kept unit is ≠ 0
    paper_fc = nn.Linear(in_features, out_features)
    torch_fc = nn.Linear(in_features, out_features)
    with torch.no_grad():
        torch_fc.weight.copy_((1.0 - p) * paper_fc.weight)
        torch_fc.bias.copy_(paper_fc.bias)
    drop = nn.Dropout(p)
    torch.manual_seed(seed)
    with torch.no_grad():
        dropped = drop.train()(h)
        mask = (dropped != 0).to(h.dtype)
        train_torch = torch_fc(dropped)
        train_paper = paper_fc(paper_dropout(h, p, mask=mask))
        test_torch = torch_fc(drop.eval()(h))
        test_paper = paper_fc(paper_dropout(h, p, training=False))
    return {"train_max_diff": (train_torch - train_paper).abs().max().item(),
            "test_max_diff": (test_torch - test_paper).abs().max().item(),
            "weight_factor": 1.0 - p, "kept_fraction": mask.mean().item(),
            "output_scale": train_paper.abs().max().item()}


# ------------------------------------------------------------------------------------------- convergence
def epochs_to_threshold(history: list[dict], threshold: float, metric: str = "train_top1_error") -> float | None:
    """The (fractional) epoch at which ``metric`` first falls to ``threshold``, linearly interpolated between
    epochs (from 0 at epoch 0 is not assumed: before the first record nothing is interpolated); None if never."""
    prev = None
    for rec in history:
        if metric not in rec:
            continue
        e, v = rec["epoch"], rec[metric]
        if v <= threshold:
            if prev is None or prev[1] == v:
                return float(e)
            pe, pv = prev
            return pe + (pv - threshold) / (pv - v) * (e - pe)
        prev = (e, v)
    return None


def at_initial_lr(history: list[dict]) -> list[dict]:
    """The records of the epochs trained at the run's first learning rate (up to the schedule's first ÷10)."""
    first = history[0].get("lr") if history else None
    out = []
    for rec in history:
        if rec.get("lr") != first:
            break
        out.append(rec)
    return out


def first_lr_drop(history: list[dict]) -> int | None:
    """The last epoch at the initial learning rate, when the schedule later divides it (§5: when the validation
    error stops improving); None if it never does."""
    kept = at_initial_lr(history)
    return kept[-1]["epoch"] if len(kept) < len(history) else None


def convergence_threshold(histories: list[list[dict]], metric: str = "train_top1_error", margin: float = 0.01) -> float:
    """A threshold every run reaches: the highest of the runs' best (lowest) ``metric`` values, plus ``margin``."""
    return max(min(r[metric] for r in h if metric in r) for h in histories) + margin


def iterations_to_converge(history: list[dict], reference: list[dict], *, metric: str = "train_top1_error",
                           threshold: float | None = None, margin: float = 0.01, same_lr: bool = True) -> dict:
    """How many times as many iterations ``history`` needs as ``reference`` to bring ``metric`` down to
    ``threshold`` (§4.2: "dropout roughly doubles the number of iterations required to converge").

    Both runs use the same batch size and data, so iterations are proportional to epochs (interpolated
    between epochs, :func:`epochs_to_threshold`). With ``same_lr`` (the default) only the epochs at the initial
    learning rate count (:func:`at_initial_lr`): the plateau schedule divides one run's rate earlier than the
    other's, and the sudden fall in training error that follows would be credited to dropout otherwise. The
    default threshold is the level both runs reach in that window (:func:`convergence_threshold`): the slower
    run's best value plus ``margin``. Returns ``{"ratio", "threshold", "epochs", "reference_epochs", "metric",
    "same_lr", "lr_drop_epochs"}``; ``ratio`` is None when a run never gets there.
    """
    h, r = (at_initial_lr(history), at_initial_lr(reference)) if same_lr else (history, reference)
    if threshold is None:
        threshold = convergence_threshold([h, r], metric, margin)
    e, e_ref = epochs_to_threshold(h, threshold, metric), epochs_to_threshold(r, threshold, metric)
    ratio = e / e_ref if e is not None and e_ref else None
    return {"ratio": ratio, "threshold": threshold, "epochs": e, "reference_epochs": e_ref, "metric": metric,
            "same_lr": same_lr, "lr_drop_epochs": [first_lr_drop(history), first_lr_drop(reference)]}


def convergence_table(history: list[dict], reference: list[dict], thresholds, metric: str = "train_top1_error",
                      names=("dropout", "no dropout")) -> str:
    """Epochs each run needs to reach each threshold of ``metric`` (whole runs), and their ratio; † marks a
    crossing after that run's first learning-rate drop."""
    drops = (first_lr_drop(history), first_lr_drop(reference))
    lines = [f"{metric + ' ≤':<22}{names[0]:>12}{names[1]:>12}{'ratio':>8}"]
    for t in thresholds:
        r = iterations_to_converge(history, reference, metric=metric, threshold=t, same_lr=False)

        def fmt(x, drop):
            return "never" if x is None else f"{x:.1f}" + ("†" if drop is not None and x > drop else " ")

        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}×"
        lines.append(f"{t:<22.0%}{fmt(r['epochs'], drops[0]):>12}{fmt(r['reference_epochs'], drops[1]):>12}"
                     f"{ratio:>8}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- the ablation
def dropout_ablation(profile: Profile | None = None, base: dict | None = None, metric: str = "train_top1_error",
                     checkpoint_dir: str | Path | None = None) -> tuple[AblationResult, dict, Path]:
    """Train with dropout 0.5 on fc6 and fc7 (the paper) and without, save them as ``dropout_ablation`` with the
    measured ``convergence_ratio`` (:func:`iterations_to_converge`, dropout over no dropout).

    The dropout arm's final weights are kept in ``checkpoint_dir`` (by default
    :func:`alexnet.scratch.scratch_checkpoint_dir`) for the dropout-rate explorer. Returns the result, the convergence record and that checkpoint's path.
    """
    profile = profile or get_profile()
    folder = Path(checkpoint_dir or scratch_checkpoint_dir("dropout", profile))
    arms = {"dropout": {"checkpoint_dir": str(folder)}, "no_dropout": {"model": {"dropout": 0.0}}}
    result = run_ablation("dropout_ablation", arms, baseline="dropout", profile=profile, base=base, save=False)
    hist = result.histories()
    convergence = iterations_to_converge(hist["dropout"], hist["no_dropout"], metric=metric)
    save_result(result.name, {"arms": result.arms, "baseline": result.baseline, "deltas": result.deltas,
                              "convergence_ratio": convergence["ratio"], "convergence": convergence},
                result.scale, profile)
    return result, convergence, folder / "last.pt"


def dropout_verdicts(result: AblationResult, convergence: dict) -> list[str]:
    """The dropout ablation in sentences, worked out from its numbers (so that the prose cannot drift)."""
    gaps = {arm: r["val_top1_error"] - r["train_top1_error"] for arm, r in result.arms.items()}
    c = convergence
    window = " at the initial learning rate" if c.get("same_lr") else ""
    speed = ("no ratio: a run never reached the threshold" if c["ratio"] is None else
             f"dropout needs {c['ratio']:.2f}× the iterations to bring the training error to {c['threshold']:.1%}"
             f"{window} ({c['epochs']:.1f} against {c['reference_epochs']:.1f} epochs; the paper: roughly 2×)")
    epochs = result.scale.get("epochs")
    drop_d, drop_n = c.get("lr_drop_epochs", [None, None])

    def plateau(drop):
        return f"after epoch {drop}" if drop is not None else f"not within {epochs} epochs"

    speed2 = (f"the plateau schedule first divided the learning rate (validation error no longer improving): "
              f"with dropout {plateau(drop_d)}, without {plateau(drop_n)}")
    return [compare_arms(result, "dropout", "no_dropout", "dropout against none"),
            f"overfitting gap (validation − training error at the end): dropout {gaps['dropout']:+.1%}, "
            f"no dropout {gaps['no_dropout']:+.1%}",
            speed, speed2]


# ------------------------------------------------------------------------------------------- the explorer
@torch.no_grad()
def fc6_activations(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """fc6's outputs after its ReLU (before dropout) for a batch of network inputs."""
    model.eval()
    feats = torch.flatten(model.avgpool(model.features(x * model.input_scale)), 1)
    c = model.classifier
    return c.act6(c.fc6(feats).clone())


@torch.no_grad()
def dropout_output_samples(model: nn.Module, x: torch.Tensor, p: float, samples: int = 200, seed: int = 0) -> dict:
    """The network's softmax under ``samples`` random dropout masks of rate ``p`` on fc6 and fc7 (an ensemble
    member each), against the deterministic test-time net (all units, scaled: PyTorch's inverted form).

    The convolutional part has no dropout, so it runs once; only the classifier runs per mask, all masks in one
    batch. Returns ``{"samples": S×N×classes, "test": N×classes, "mc_mean": N×classes}``. The model's own rate
    is restored afterwards.
    """
    model.eval()
    feats = torch.flatten(model.avgpool(model.features(x * model.input_scale)), 1)
    test = torch.softmax(model.classifier(feats), 1)
    if p == 0:
        return {"samples": test[None], "test": test, "mc_mean": test}
    drops = [m for m in model.classifier.modules() if isinstance(m, nn.Dropout)]
    saved = [d.p for d in drops]
    torch.manual_seed(seed)
    try:
        for d in drops:
            d.p = p
            d.train()
        logits = model.classifier(feats.repeat(samples, 1))
    finally:
        for d, q in zip(drops, saved):
            d.p = q
        model.eval()
    outs = torch.softmax(logits, 1).reshape(samples, *test.shape)
    return {"samples": outs, "test": test, "mc_mean": outs.mean(0)}


def precompute_dropout_rates(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, rates=(0.0, 0.25, 0.5, 0.75),
                             samples: int = 200, units: int = 64, seed: int = 0) -> dict:
    """Everything the dropout-rate explorer draws, computed once per rate: fc6 activations of the batch with a
    mask of that rate, and the softmax of the true class under many masks against the test-time output."""
    h = fc6_activations(model, x)[:, :units]
    gen = torch.Generator().manual_seed(seed)
    frames = {}
    for p in rates:
        mask = (torch.rand(h.shape, generator=gen) >= p).float()
        out = dropout_output_samples(model, x, p, samples, seed)
        idx = torch.arange(len(labels))
        frames[p] = {"fc6": h, "mask": mask,
                     "true_prob_samples": out["samples"][:, idx, labels],  # S×N
                     "true_prob_test": out["test"][idx, labels],
                     "true_prob_mc": out["mc_mean"][idx, labels],
                     "mc_error": (out["mc_mean"].argmax(1) != labels).float().mean().item(),
                     "test_error": (out["test"].argmax(1) != labels).float().mean().item()}
    return frames


def plot_dropout_rate(frames: dict, p: float, image_index: int = 0):
    """Left: fc6 activations (images × first units) with the units a rate-``p`` mask drops shown black.
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
