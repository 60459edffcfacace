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

The convergence claim is measured with :func:`convergence` on the ablation's training curves: the ratio of
epochs to a training error, dropout over none, at every threshold both runs reach at the initial learning rate
and for every seed, summarised by :func:`alexnet.stats.ratio_interval`. The dropout-rate explorer is in :mod:`alexnet.experiments.dropout_explorer`, its figure in
:mod:`alexnet.figures.dropout`.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .. import paper
from ..profiles import Profile, experiment_epochs, get_profile
from ..stats import describe, epochs_to_error, ratio_interval, ratio_verdict, verdict
from ..scratch import scratch_checkpoint_dir
from ..text import plural
from .ablation import AblationResult, reuse_or_run, train_error
from .learning import epochs_at_initial_lr, first_lr_drop


# ------------------------------------------------------------------------------------------- the conventions
def paper_dropout(h: torch.Tensor, p: float = paper.DROPOUT_P, *, training: bool = True,
                  mask: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """The paper's dropout: training zeroes each unit with probability ``p`` and does *not* rescale; test time
    multiplies every output by ``1 − p`` (:data:`alexnet.paper.DROPOUT_TEST_SCALE` in the paper). ``mask`` (0/1,
    same shape) may be given."""
    if not training:
        return h * (1.0 - p)
    if mask is None:
        mask = (torch.rand(h.shape, generator=generator, device=h.device) >= p).to(h.dtype)
    return h * mask


def dropout_expectation(h: torch.Tensor, p: float = paper.DROPOUT_P, samples: int = 20000, seed: int = 0) -> dict:
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


def dropout_conventions_equivalence(in_features: int = 64, out_features: int = 10, p: float = paper.DROPOUT_P,
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
def convergence_threshold(histories: list[list[dict]], metric: str = "train_top1_error", margin: float = 0.01) -> float:
    """A threshold every run reaches: the highest of the runs' best (lowest) ``metric`` values, plus ``margin``."""
    return max(min(r[metric] for r in h if metric in r) for h in histories) + margin


def iterations_to_converge(history: list[dict], reference: list[dict], *, metric: str = "train_top1_error",
                           threshold: float | None = None, margin: float = 0.01, same_lr: bool = True) -> dict:
    """How many times as many iterations ``history`` needs as ``reference`` to bring ``metric`` down to one
    ``threshold`` (§4.2: "dropout roughly doubles the number of iterations required to converge").

    Both runs use the same batch size and data, so iterations are proportional to epochs
    (:func:`alexnet.stats.epochs_to_error`, interpolated). With ``same_lr`` (the default) only the epochs at the
    initial learning rate count (:func:`alexnet.experiments.learning.epochs_at_initial_lr`): the plateau schedule
    divides one run's rate earlier than the other's, and the fall in training error that follows would be
    credited to dropout otherwise. The default threshold is :func:`convergence_threshold`. Returns ``{"ratio",
    "threshold", "epochs", "reference_epochs", "metric", "same_lr", "lr_drop_epochs"}``; ``ratio`` is None when
    a run never gets there.
    """
    h, r = (epochs_at_initial_lr(history), epochs_at_initial_lr(reference)) if same_lr else (history, reference)
    if threshold is None:
        threshold = convergence_threshold([h, r], metric, margin)
    e, e_ref = epochs_to_error(h, threshold, metric), epochs_to_error(r, threshold, metric)
    ratio = e / e_ref if e is not None and e_ref else None
    return {"ratio": ratio, "threshold": threshold, "epochs": e, "reference_epochs": e_ref, "metric": metric,
            "same_lr": same_lr, "lr_drop_epochs": [first_lr_drop(history), first_lr_drop(reference)]}


def convergence_thresholds(histories: list[list[dict]], metric: str = "train_top1_error", step: float = 0.05,
                           ) -> list[float]:
    """The thresholds the convergence ratio is measured at: every multiple of ``step`` below every run's first
    record (so that no run reaches it before its first epoch) and at or above the level every run reaches
    (:func:`convergence_threshold` with no margin). Highest first."""
    top = min(h[0][metric] for h in histories)
    floor = convergence_threshold(histories, metric, margin=0.0)
    levels = [k * step for k in range(int(top / step) + 1)]
    return sorted((round(t, 6) for t in levels if floor <= t < top), reverse=True)


def convergence(dropout_runs: list[list[dict]], plain_runs: list[list[dict]], metric: str = "train_top1_error",
                step: float = 0.05) -> dict:
    """§4.2's ratio, dropout over no dropout, of the epochs to a training error, at every threshold of
    :func:`convergence_thresholds` for every seed (histories paired by seed), counting only the epochs at the
    initial learning rate.

    The ratios are summarised by :func:`alexnet.stats.ratio_interval` (their mean, ± two standard errors of their
    spread across thresholds and seeds) and judged by :func:`alexnet.stats.ratio_verdict`. Returns ``{"ratio",
    "low", "high", "verdict", "thresholds", "ratios": [{"seed", "threshold", "ratio"}], "same_lr": True,
    "lr_drop_epochs": [[dropout, none] per seed], "metric"}``; ``ratio`` is None where no threshold is reached
    by both runs.
    """
    rows, drops = [], []
    thresholds: list[float] = []
    for seed, (d, p) in enumerate(zip(dropout_runs, plain_runs)):
        window = [epochs_at_initial_lr(d), epochs_at_initial_lr(p)]
        levels = convergence_thresholds(window, metric, step) if all(window) else []
        thresholds = sorted(set(thresholds) | set(levels), reverse=True)
        drops.append([first_lr_drop(d), first_lr_drop(p)])
        for t in levels:
            a, b = epochs_to_error(window[0], t, metric), epochs_to_error(window[1], t, metric)
            if a is not None and b:
                rows.append({"seed": seed, "threshold": t, "ratio": a / b})
    out = {"thresholds": thresholds, "ratios": rows, "same_lr": True, "lr_drop_epochs": drops, "metric": metric}
    if not rows:
        return {**out, "ratio": None, "low": None, "high": None, "verdict": verdict(None, None)}
    ratio, low, high = ratio_interval([r["ratio"] for r in rows], [1.0] * len(rows))
    return {**out, "ratio": ratio, "low": low, "high": high, "verdict": ratio_verdict(low, high, ratio)}


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
DROPOUT_ARMS = {"dropout": {}, "no_dropout": {"model": {"dropout": 0.0}}}


def dropout_ablation(profile: Profile | None = None, base: dict | None = None, metric: str = "train_top1_error",
                     checkpoint_dir: str | Path | None = None) -> tuple[AblationResult, dict, Path]:
    """Train with dropout on fc6 and fc7 (the paper's rate) and without, and save them as ``dropout_ablation``
    with their :func:`convergence` record (and ``convergence_ratio``, its ratio).

    The dropout arm's final weights are kept in ``checkpoint_dir`` (by default
    :func:`alexnet.scratch.scratch_checkpoint_dir`) for the dropout-rate explorer. A stored result is reused
    (:func:`~alexnet.experiments.ablation.reuse_or_run`) only when that checkpoint is there too. Returns the
    result, the convergence record and the checkpoint's path. Epochs per arm:
    :func:`alexnet.profiles.experiment_epochs` unless ``base`` sets them.
    """
    profile = profile or get_profile()
    folder = Path(checkpoint_dir or scratch_checkpoint_dir("dropout", profile))
    base = {"epochs": experiment_epochs(profile, "dropout_ablation"), **(base or {})}
    arms = {"dropout": {"checkpoint_dir": str(folder)}, "no_dropout": DROPOUT_ARMS["no_dropout"]}

    def measured(r: AblationResult) -> dict:
        return convergence(r.arms["dropout"]["histories"], r.arms["no_dropout"]["histories"], metric)

    def saved_with_it(r: AblationResult) -> dict:
        conv = measured(r)
        return {"convergence_ratio": conv["ratio"], "convergence": conv}

    result = reuse_or_run("dropout_ablation", arms, profile, base=base, needs=folder / "last.pt", baseline="dropout",
                          extra=saved_with_it)
    conv = measured(result)  # from the histories, so a reused result gives the same record
    return result, conv, folder / "last.pt"


def dropout_verdicts(result: AblationResult, conv: dict) -> list[str]:
    """The dropout ablation in sentences, worked out from its numbers (so that the prose cannot drift)."""
    gaps = {arm: r["val_top1_error"] - train_error(r) for arm, r in result.arms.items()}
    effect, se, pair = result.compare("dropout", "no_dropout")
    how = "paired on the same images" if pair is not None else "unpaired: this result has no per-image data"
    p = pair.p_value if pair is not None else None
    paper_ratio = paper.CLAIMS["dropout_iterations"].paper_text
    speed = ("no ratio: no threshold was reached by both runs at the initial learning rate" if conv["ratio"] is None
             else f"dropout needs {conv['ratio']:.2f}× the iterations (interval "
                  f"{conv['low']:.2f}–{conv['high']:.2f}×, "
                  f"over {len(conv['ratios'])} threshold(s) × seed(s) at the initial learning rate; the paper: "
                  f"roughly {paper_ratio}): {conv['verdict']}")
    epochs = result.scale.get("epochs")

    def plateau(drop):
        return f"after epoch {drop}" if drop is not None else f"not within {plural(epochs, 'epoch')}"

    drop_d, drop_n = conv["lr_drop_epochs"][0] if conv.get("lr_drop_epochs") else (None, None)
    speed2 = (f"the plateau schedule first divided the learning rate (validation error no longer improving): "
              f"with dropout {plateau(drop_d)}, without {plateau(drop_n)}")
    return [f"dropout against none, validation top-1 error removed: {describe(effect, se, p)} ({how}): "
            f"{verdict(effect, se)}",
            f"overfitting gap (validation − training error at the end): dropout {gaps['dropout']:+.1%}, "
            f"no dropout {gaps['no_dropout']:+.1%}",
            speed, speed2]
