r"""§3.1, ReLU nonlinearity, and its Figure 1: ReLU against tanh in a small CNN on CIFAR-10.

The paper (§3.1): "Deep convolutional neural networks with ReLUs train several times faster than their
equivalents with tanh units." Figure 1: "A four-layer convolutional neural network with ReLUs (solid line)
reaches a 25% training error rate on CIFAR-10 six times faster than an equivalent network with tanh neurons
(dashed line). The learning rates for each network were chosen independently to make training as fast as
possible. No regularization of any kind was employed."

The nonlinearities compared (:data:`NONLINEARITIES`):

.. math::

    \text{ReLU}(x) = \max(0, x), \qquad \tanh(x), \qquad \sigma(x) = (1 + e^{-x})^{-1}, \qquad |\tanh(x)|

ReLU is *non-saturating*: its derivative is 1 for every positive input, however large. tanh and σ have
derivatives that vanish for large :math:`|x|`, so a unit driven far from zero stops learning.

The paper does not give the four-layer net. :class:`~alexnet.experiments.fig1_net.FourLayerNet` is our
documented choice, modelled on
cuda-convnet's ``layers-18pct.cfg`` (Krizhevsky's own CIFAR-10 example of the time): three 5×5 convolutions of
32, 32 and 64 kernels, each followed by the nonlinearity and a 3×3 stride-2 pool (max, then average, then
average), then one fully connected layer to the 10 classes: four layers with weights. We leave out that
config's response normalisation, so that the nonlinearity is the only thing that differs, and keep its
initialisation. The experiment (:func:`relu_vs_tanh`) trains it with the
paper's SGD (:class:`alexnet.optim.PaperSGD`, momentum 0.9) and *no* regularisation (weight decay 0, no
dropout, no augmentation: every epoch sees the same centre 28×28 crops), for each nonlinearity at each
learning rate of a small grid (:data:`LR_GRIDS`), keeps the learning rate that reaches 25% training error in
the fewest epochs (:func:`alexnet.stats.epochs_to_error`, interpolated between epochs), and reports the ratio
of the two epoch counts (the paper's is :data:`alexnet.paper.FIG1_RATIO`). The figures are in
:mod:`alexnet.figures.relu`.
"""
from __future__ import annotations

import functools
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from .. import paper
from ..data import ImageSet, load_imageset
from ..errors import NonFiniteLossError
from ..profiles import Profile, default_device, get_profile
from ..results import save_result, scale
from ..stats import epochs_to_error
from ..train import TrainConfig, train
from .ablation import reusable_result
from .fig1_net import FIG1_WIDTHS, FourLayerNet, four_layer_param_count
from .progress import OverallProgress


NONLINEARITIES = {  # name: (f, f′) as plain tensor functions, for the saturation figure
    "relu": (torch.relu, lambda x: (x > 0).to(x.dtype)),
    "tanh": (torch.tanh, lambda x: 1 - torch.tanh(x) ** 2),
    "sigmoid": (torch.sigmoid, lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x))),
    "abs_tanh": (lambda x: torch.tanh(x).abs(), lambda x: torch.sign(x) * (1 - torch.tanh(x) ** 2)),
}

# The learning rates tried for each nonlinearity (the paper tuned them "independently"), per profile: steps of
# about 3, wide enough that each net's best rate should lie inside the grid (the result records whether it fell
# on an end, "lr_at_edge"). The pruning of :func:`tune_learning_rate` keeps the runs that cannot win short.
LR_GRIDS = {
    "smoke": (0.003,),
    "quick": (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1),
    "full": (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1),
}
# Batch size and epochs per profile (None: the profile's own). On the 3,728-image sample an epoch at batch 128
# is only 29 SGD steps, against 390 on the full CIFAR-10, and neither net gets near 25% in a CPU budget of
# epochs; batch 32 gives 116 steps per epoch. The full profile keeps cuda-convnet's batch of 128.
FIG1_BATCH = {"smoke": 32, "quick": 32, "full": None}
FIG1_EPOCHS = {"smoke": None, "quick": 40, "full": None}
SPEEDUP_THRESHOLDS = (0.7, 0.6, 0.5, 0.4, 0.3, 0.25)

class _StopRun(Exception):
    """Raised from the trainer's epoch callback to end a grid run early; its message is the run's status."""


def train_fig1_run(activation: str, lr: float, train_set: ImageSet, val_set: ImageSet, *, epochs: int,
                   batch_size: int, seed: int = 0, widths=FIG1_WIDTHS, init: str = "cuda-convnet",
                   threshold: float = paper.FIG1_THRESHOLD, stop_after: int | None = None,
                   reference: list[float] | None = None, margin: float = 0.1, stall_epochs: int | None = 3,
                   progress: bool | None = None, tick=None) -> dict:
    """Train one :class:`FourLayerNet` with :func:`alexnet.train.train`, no regularisation, a constant rate;
    ``tick()``, if given, is called after each epoch (for the overall progress bar).

    Returns ``{"history", "epochs_to", "status"}``. The status is ``"done"`` for a run of all ``epochs``, or
    says why it ended early:

    - ``"diverged"``: the loss became NaN or infinite;
    - ``"stalled"``: after ``stall_epochs`` epochs the training error is still within 2 points of chance (a
      rate so large that the units died or saturated);
    - ``"stopped"``: with ``stop_after=k`` (an earlier rate reached ``threshold`` in ``k`` epochs), it has
      trained ``k`` epochs, reaching the threshold no sooner, so it cannot be the fastest (ties go to the
      rate tried first);
    - ``"behind"``: with a ``reference`` curve (the best training error of the rates tried so far, per epoch),
      from epoch 5 on it is ``margin`` or more above that curve at the same epoch.
    """
    cfg = TrainConfig(dataset=train_set.name, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=0.0,
                      augment="none", plateau_patience=10 ** 9, seed=seed, eval_every=10 ** 9, channels_last=True,
                      model={"fig1": "four-layer", "activation": activation, "widths": list(widths), "init": init})
    history: list[dict] = []
    chance = 1 - 1 / train_set.num_classes

    def on_epoch(h: list[dict]) -> None:
        history[:] = [dict(r) for r in h]
        if tick is not None:
            tick()
        err, k = h[-1]["train_top1_error"], len(h)
        if stall_epochs and k == stall_epochs and err >= chance - 0.02:
            raise _StopRun("stalled")
        reached = epochs_to_error(h, threshold)
        if stop_after is not None and k >= stop_after and (reached is None or reached >= stop_after):
            raise _StopRun("stopped")
        if reference is not None and k >= 5 and k <= len(reference) and err >= reference[k - 1] + margin:
            raise _StopRun("behind")

    torch.manual_seed(seed)
    model = FourLayerNet(activation, train_set.num_classes, widths, input_size=train_set.crop_size, init=init)
    status = "done"
    try:
        train(cfg, model=model, train_set=train_set, val_set=val_set, progress=progress, log=False,
              on_epoch=on_epoch)
    except _StopRun as why:
        status = str(why)
    except NonFiniteLossError:
        status = "diverged"
    return {"history": history, "epochs_to": epochs_to_error(history, threshold), "status": status}


def _rank(run: dict, epochs: int, order: int) -> tuple:
    """Sort key: fewest epochs to the threshold (ties: the rate tried first); if it was never reached, the
    lowest training error at the end of the run."""
    if run["status"] in ("diverged", "stalled") or not run["history"]:
        return (math.inf, math.inf, order)
    if run["epochs_to"] is not None:
        return (run["epochs_to"], -math.inf, order)
    return (epochs + 1, run["history"][-1]["train_top1_error"], order)


def tune_learning_rate(activation: str, lrs, train_set: ImageSet, val_set: ImageSet, *, epochs: int,
                       batch_size: int, threshold: float = paper.FIG1_THRESHOLD, prune: bool = True,
                       threads: int | None = None, **run_kwargs) -> dict[float, dict]:
    """Train one nonlinearity at each rate of ``lrs`` in turn, largest first, and return ``{lr: run}``.

    With ``prune``, a later run gets the earlier runs' results: the fewest epochs any of them needed to reach
    ``threshold`` (``stop_after``) and their best training error per epoch (``reference``), so that a run that
    can no longer win ends early (see :func:`train_fig1_run`). ``threads`` sets torch's CPU threads (for a
    worker process).
    """
    if threads:
        torch.set_num_threads(threads)
    runs: dict[float, dict] = {}
    for lr in sorted(lrs, reverse=True):
        done = [r for r in runs.values() if r["status"] not in ("diverged", "stalled") and r["history"]]
        best = min((r["epochs_to"] for r in done if r["epochs_to"] is not None), default=None)
        curves = [[h["train_top1_error"] for h in r["history"]] for r in done]
        reference = [min(c[k] for c in curves if len(c) > k) for k in range(max(map(len, curves), default=0))]
        runs[lr] = train_fig1_run(activation, lr, train_set, val_set, epochs=epochs, batch_size=batch_size,
                                  threshold=threshold, stop_after=best if prune else None,
                                  reference=reference if prune and reference else None, **run_kwargs)
    return runs


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def relu_vs_tanh(profile: Profile | None = None, *, activations=("relu", "tanh"), lrs=None,
                 epochs: int | None = None, batch_size: int | None = None, threshold: float = paper.FIG1_THRESHOLD,
                 widths=FIG1_WIDTHS, init: str = "cuda-convnet", seed: int = 0, prune: bool = True,
                 workers: int | None = None, save: bool = True, train_set: ImageSet | None = None,
                 val_set: ImageSet | None = None, progress: bool | None = None) -> dict:
    """Figure 1: train :class:`FourLayerNet` for each nonlinearity at each learning rate, keep the fastest.

    ``lrs`` defaults to the profile's :data:`LR_GRIDS` entry, ``batch_size`` and ``epochs`` to
    :data:`FIG1_BATCH` and :data:`FIG1_EPOCHS` (else the profile's ``batch_size`` and ``fig1_epochs``). For each
    nonlinearity the rate that reaches ``threshold`` training error in the fewest epochs is chosen (if none
    does, the one with the lowest final training error); :func:`tune_learning_rate` runs the grid and, with
    ``prune``, ends the runs that can no longer win. The nonlinearities are independent, so on a CPU each one's
    grid runs in its own worker process (``workers``, default: one per nonlinearity, up to the number of cores;
    1 on a GPU or in smoke), with the cores shared out; every run is seeded, so the numbers do not depend on
    ``workers``. Returns (and, with ``save``, stores as ``fig1_relu_tanh``)::

        {"epochs_to_25": {act: epochs or None}, "ratio": tanh / relu epochs, "ratio_is_lower_bound": bool,
         "lr": {act: chosen rate}, "curves": {act: chosen run's training error per epoch},
         "grid": {act: {lr: {"train_top1_error": [...], "epochs_to": .., "status": ..}}},
         "speedup": {threshold: {"relu": epochs, "tanh": epochs, "ratio": tanh / relu}},
         "lr_at_edge": {act: True if the chosen rate is the grid's smallest or largest},
         "threshold", "paper_ratio": paper.FIG1_RATIO, "seconds", "scale": {...}}

    If tanh never reaches the threshold the ratio is a lower bound: ``(epochs + 1) / relu's epochs``. A stored
    result at the same scale made by this code is returned instead of training again
    (:func:`~alexnet.experiments.ablation.reusable_result`), and the cell says so.
    ``speedup`` repeats the measure at the higher error levels of :data:`SPEEDUP_THRESHOLDS`, for the chosen
    runs (the rates chosen for 25%), so a run too short for 25% still shows the trend.
    """
    profile = profile or get_profile()
    lrs = tuple(sorted(lrs or LR_GRIDS.get(profile.name, LR_GRIDS["quick"]), reverse=True))
    epochs = epochs or FIG1_EPOCHS.get(profile.name) or profile.fig1_epochs
    batch_size = batch_size or FIG1_BATCH.get(profile.name) or profile.batch_size
    train_set = train_set or load_imageset(profile.dataset, "train", limit=profile.train_limit, progress=False)
    same = {"dataset": train_set.name, "train_images": len(train_set), "epochs": epochs, "batch_size": batch_size,
            "lr_grid": list(lrs), "init": init}
    record = reusable_result("fig1_relu_tanh", same, profile) if save and tuple(activations) == ("relu", "tanh") \
        else None
    if record is not None:
        return {**record["data"], "scale": record["scale"]}
    val_set = val_set or load_imageset(profile.dataset, "val", limit=profile.val_limit, progress=False)
    if workers is None:
        on_cpu = default_device().type == "cpu"
        workers = min(len(activations), _cpu_count()) if on_cpu and profile.meaningful else 1
    common = dict(epochs=epochs, batch_size=batch_size, threshold=threshold, prune=prune, seed=seed,
                  widths=widths, init=init)
    t0 = time.perf_counter()
    bar = OverallProgress("Figure 1", len(activations) * len(lrs), epochs, profile, show=progress, parallel=workers)
    if workers > 1:
        threads = max(1, _cpu_count() // workers)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool, context.Manager() as manager:
            ticks = manager.Queue()  # each worker reports its epochs here, for the one bar in this process
            tick = functools.partial(ticks.put_nowait, 1)
            futures = {act: pool.submit(tune_learning_rate, act, lrs, train_set, val_set, threads=threads,
                                        progress=False, tick=tick, **common) for act in activations}
            bar.follow(ticks, futures.values())
            grid_runs = {act: f.result() for act, f in futures.items()}
    else:
        grid_runs = {act: tune_learning_rate(act, lrs, train_set, val_set, progress=progress, tick=bar.epoch_done,
                                             **common) for act in activations}
    bar.close()
    grid, chosen = {}, {}
    for act, runs in grid_runs.items():
        order = list(runs)  # the order they were tried in
        chosen[act] = min(runs, key=lambda lr: _rank(runs[lr], epochs, order.index(lr)))
        grid[act] = {lr: {"train_top1_error": [h["train_top1_error"] for h in r["history"]],
                          "train_loss": [h["train_loss"] for h in r["history"]],
                          "epochs_to": r["epochs_to"], "status": r["status"]} for lr, r in runs.items()}
    epochs_to = {act: grid[act][chosen[act]]["epochs_to"] for act in activations}
    ratio, lower_bound = None, False
    if "relu" in epochs_to and "tanh" in epochs_to and epochs_to["relu"]:
        if epochs_to["tanh"] is not None:
            ratio = epochs_to["tanh"] / epochs_to["relu"]
        else:
            ratio, lower_bound = (epochs + 1) / epochs_to["relu"], True
    curves = {act: grid[act][chosen[act]]["train_top1_error"] for act in activations}
    result = {"epochs_to_25": epochs_to, "ratio": ratio, "ratio_is_lower_bound": lower_bound,
              "lr": chosen, "curves": curves, "speedup": speedup_by_threshold(curves),
              "lr_at_edge": {act: len(lrs) > 1 and chosen[act] in (min(lrs), max(lrs)) for act in activations},
              "grid": {act: {str(lr): g for lr, g in runs.items()} for act, runs in grid.items()},
              "threshold": threshold, "paper_ratio": paper.FIG1_RATIO, "seconds": time.perf_counter() - t0}
    sc = scale(profile, dataset=train_set.name, train_images=len(train_set), epochs=epochs,
               batch_size=batch_size, crop=train_set.crop_size, lr_grid=list(lrs), init=init, seed=seed,
               net="-".join(f"conv{w}" for w in widths) + f"-fc{train_set.num_classes}",
               params=four_layer_param_count(widths, train_set.num_classes, train_set.crop_size))
    result["scale"] = sc
    if save:
        save_result("fig1_relu_tanh", {k: v for k, v in result.items() if k != "scale"}, sc, profile,
                    seconds=result["seconds"], seeds=[seed])
    return result


def speedup_by_threshold(curves: dict[str, list[float]], thresholds=SPEEDUP_THRESHOLDS) -> dict[str, dict]:
    """Epochs for ReLU and for tanh to reach each training error in ``thresholds``, and their ratio (None where
    either never gets there). ``curves`` maps a nonlinearity to its training error per epoch."""
    out = {}
    for thr in thresholds:
        e = {act: epochs_to_error(c, thr) for act, c in curves.items() if act in ("relu", "tanh")}
        ok = e.get("relu") and e.get("tanh")
        out[f"{thr:g}"] = {**e, "ratio": e["tanh"] / e["relu"] if ok else None}
    return out


def fig1_table(result: dict) -> str:
    """A small text table: chosen rate, epochs to the threshold for each nonlinearity, and the ratio."""
    thr = result["threshold"]
    lines = [f"{'nonlinearity':<14}{'chosen lr':>10}{f'epochs to {thr:.0%}':>16}"]
    for act, e in result["epochs_to_25"].items():
        lines.append(f"{act:<14}{result['lr'][act]:>10g}{(f'{e:.1f}' if e is not None else 'not reached'):>16}")
    if result["ratio"] is not None:
        sign = "≥ " if result["ratio_is_lower_bound"] else ""
        lines.append(f"ratio tanh / ReLU: {sign}{result['ratio']:.1f}×   (paper: {result['paper_ratio']:g}×)")
    else:
        lines.append(f"ratio tanh / ReLU: undefined (ReLU did not reach {thr:.0%})   "
                     f"(paper: {result['paper_ratio']:g}×)")
    if result.get("speedup"):
        lines += ["", "the chosen runs at other error levels:",
                  f"{'training error':<16}{'ReLU epochs':>12}{'tanh epochs':>12}{'ratio':>8}"]
        show = lambda e: f"{e:.1f}" if e is not None else "—"  # noqa: E731
        for level, row in result["speedup"].items():
            r = f"{row['ratio']:.1f}×" if row["ratio"] is not None else "—"
            lines.append(f"{float(level):<16.0%}{show(row.get('relu')):>12}{show(row.get('tanh')):>12}{r:>8}")
    return "\n".join(lines)


def fig1_summary(result: dict) -> str:
    """The paper's Fig. 1 claim next to ours, with the scale ours was measured at, in a few lines."""
    sc, e, lr = result["scale"], result["epochs_to_25"], result["lr"]
    thr = f"{result['threshold']:.0%}"
    lines = [f"paper: tanh needs {result['paper_ratio']:g}× the epochs of ReLU to reach {thr} training error "
             "(CIFAR-10, 50,000 training images, a four-layer CNN, GPU)"]
    if result["ratio"] is None:
        ours = f"ReLU did not reach {thr} in {sc['epochs']} epochs, so there is no ratio"
    else:
        sign = "at least " if result["ratio_is_lower_bound"] else ""
        tanh = f"{e['tanh']:.1f} at lr {lr['tanh']:g}" if e["tanh"] is not None else f"not reached, lr {lr['tanh']:g}"
        ours = (f"tanh needs {sign}{result['ratio']:.1f}× the epochs of ReLU (ReLU {e['relu']:.1f} epochs at lr "
                f"{lr['relu']:g}, tanh {tanh})")
    lines.append(f"ours:  {ours}")
    lines.append(f"       at {sc['dataset']} {sc['train_images']:,} training images, {sc['crop']}×{sc['crop']} crops, "
                 f"batch {sc['batch_size']}, up to {sc['epochs']} epochs, {sc['net']} ({sc['params']:,} "
                 f"parameters), {sc['init']} init, one seed, {sc['device']}, {sc['profile']} profile")
    if result["ratio"] is not None:
        verdict = "faster than tanh, as in the paper" if result["ratio"] > 1 else "not faster than tanh here"
        lines.append(f"direction: ReLU is {verdict}; size: {result['ratio']:.1f}× against "
                     f"{result['paper_ratio']:g}×")
    return "\n".join(lines)
