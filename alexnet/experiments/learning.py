r"""Details of learning (§5): the update rule, the initialisation, the schedule, the main run.

§5: "We trained our models using stochastic gradient descent with a batch size of 128 examples, momentum of 0.9,
and weight decay of 0.0005. [...] The update rule for weight w was

.. math::

    v_{i+1} := 0.9\, v_i - 0.0005\,\epsilon\, w_i - \epsilon \left\langle \tfrac{\partial L}{\partial w}
    \Big|_{w_i} \right\rangle_{D_i}, \qquad w_{i+1} := w_i + v_{i+1}

[...] We initialized the weights in each layer from a zero-mean Gaussian distribution with standard deviation
0.01. We initialized the neuron biases in the second, fourth, and fifth convolutional layers, as well as in the
fully-connected hidden layers, with the constant 1. [...] We initialized the neuron biases in the remaining
layers with the constant 0. [...] The heuristic which we followed was to divide the learning rate by 10 when
the validation error rate stopped improving with the current learning rate."

This module checks the trainer against that text (the update rule in :mod:`alexnet.experiments.update_rule`,
re-exported here; :func:`initialisation_table`, :func:`resume_max_difference`), finds the divisions of the
learning rate in a run (:func:`lr_drops`: the one place that does) and runs the chapter's main run
(:func:`main_run`). The bias experiment is in :mod:`alexnet.experiments.bias`; the figures are in
:mod:`alexnet.figures.learning`.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import replace

from torch import nn

from .. import paper
from ..checkpoint import find_shipped_checkpoint
from ..data import ImageSet
from ..profiles import Profile, get_profile
from ..results import save_result, scale
from ..scratch import scratch_checkpoint_dir
from ..train import TrainConfig, TrainResult, load_trained, train
from ..text import plural
# the update-rule checks live in their own module; chapter 5 and the tests reach them from here
from .update_rule import (lr_drop_transient, paper_update_by_hand, update_norms_after_lr_drop,  # noqa: F401
                          update_rule_max_difference)

# ---------------------------------------------------------------- the initialisation


def initialisation_table(model: nn.Module) -> list[dict]:
    """For every conv/linear layer: its name, the measured std of its weights, and its bias values (§5: weights
    N(0, 0.01); biases 1 in conv2, conv4, conv5, fc6, fc7 and 0 elsewhere)."""
    rows = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            b = module.bias.detach()
            rows.append({"layer": name.split(".")[-1], "weight_shape": tuple(module.weight.shape),
                         "weight_std": module.weight.detach().std().item(),
                         "bias_min": b.min().item(), "bias_max": b.max().item()})
    return rows


def format_initialisation_table(rows: list[dict]) -> str:
    lines = [f"{'layer':<7}{'weight shape':<22}{'weight std':>11}{'bias':>9}"]
    for r in rows:
        bias = f"{r['bias_min']:g}" if r["bias_min"] == r["bias_max"] else f"{r['bias_min']:g}..{r['bias_max']:g}"
        lines.append(f"{r['layer']:<7}{'×'.join(map(str, r['weight_shape'])):<22}{r['weight_std']:>11.4f}{bias:>9}")
    return "\n".join(lines)


# ---------------------------------------------------------------- the main run: live curves, schedule, resume


def lr_drops(history: list[dict]) -> list[dict]:
    """The epochs after which the learning rate was divided (ReduceLROnPlateau on the validation error); records
    without an ``lr`` show no division."""
    out = []
    for prev, cur in zip(history, history[1:]):
        if "lr" in cur and "lr" in prev and cur["lr"] < prev["lr"] * 0.999:
            out.append({"after_epoch": prev["epoch"], "from": prev["lr"], "to": cur["lr"]})
    return out


def plateau_replay(history: list[dict], patience: int, threshold: float = 1e-4) -> dict:
    """The ÷10-on-plateau rule (§5; the trainer's ``ReduceLROnPlateau(mode="min", factor=0.1)`` with its default
    relative threshold) replayed by hand on the recorded validation top-1 errors. An epoch is *bad* when its
    error is not below ``best · (1 − threshold)``; more than ``patience`` bad epochs in a row divide ε and reset
    the count. Returns ``drops`` (the epochs after which ε is divided), ``longest`` (the longest run of bad
    epochs) and ``longest_epochs`` (its first and last epoch, or None)."""
    best, bad, drops, longest, span, start = float("inf"), 0, [], 0, None, None
    for h in history:
        if h["val_top1_error"] < best * (1 - threshold):
            best, bad = h["val_top1_error"], 0
        else:
            bad += 1
            start = h["epoch"] if bad == 1 else start
            if bad > longest:
                longest, span = bad, (start, h["epoch"])
        if bad > patience:
            drops.append(h["epoch"])
            bad = 0
    return {"drops": drops, "longest": longest, "longest_epochs": span}


def plateau_summary(history: list[dict], patience: int) -> list[str]:
    """Lines that say what the plateau rule did in a run: :func:`plateau_reasons` for each division of ε, else
    why it never fired (the longest run of epochs without a better validation error, against ``patience``)."""
    reasons = plateau_reasons(history)
    if reasons:
        return reasons
    r = plateau_replay(history, patience)
    where = f" (epochs {r['longest_epochs'][0]}–{r['longest_epochs'][1]})" if r["longest_epochs"] else ""
    return [f"ε stayed at {history[0]['lr']:g} for all {len(history)} epochs: the longest run of epochs without a "
            f"better validation error was {r['longest']}{where}, and the rule divides only after more than "
            f"{patience}"]


def shipped_run(path=None) -> dict | None:
    """What the book's shipped checkpoint (``data/checkpoints/alexnet-cifar10-50k.pt``: the same recipe as the
    main run, for 30 epochs on all 50,000 CIFAR-10 training images; see ``data/README.md``) kept of its run:
    ``name`` (the file's), ``history`` (one record per epoch) and ``config`` (the trainer's settings, e.g.
    ``plateau_patience``); None when there is no checkout (a pip install, e.g. on Colab)."""
    from ..checkpoint import load_checkpoint

    path = path or find_shipped_checkpoint()
    if path is None:
        return None
    state = load_checkpoint(path)
    return {"name": path.name, "history": state["history"], "config": state["config"]}


def shipped_run_history(path=None) -> list[dict] | None:
    """The per-epoch history of :func:`shipped_run`, or None when there is no shipped checkpoint."""
    run = shipped_run(path)
    return None if run is None else run["history"]


def epochs_at_initial_lr(history: list[dict]) -> list[dict]:
    """The records of the epochs trained at the run's first learning rate: up to the first division
    (:func:`lr_drops`), or the whole run if there is none."""
    drops = lr_drops(history)
    return history[:drops[0]["after_epoch"]] if drops else list(history)


def first_lr_drop(history: list[dict]) -> int | None:
    """The epoch after which the learning rate was first divided (:func:`lr_drops`), or None."""
    drops = lr_drops(history)
    return drops[0]["after_epoch"] if drops else None


def plateau_reasons(history: list[dict]) -> list[str]:
    """For each division of ε in ``history`` (:func:`lr_drops`): the best validation error before it, its epoch,
    and how many epochs without a better one preceded the division."""
    out = []
    for d in lr_drops(history):
        best = min(history[:d["after_epoch"]], key=lambda h: h["val_top1_error"])
        out.append(f"best validation error {best['val_top1_error']:.1%} at epoch {best['epoch']}; no better in the "
                   f"{plural(d['after_epoch'] - best['epoch'], 'epoch')} after it, so ε went {d['from']:g} → {d['to']:g} "
                   f"after epoch {d['after_epoch']}")
    return out



def main_run_config(profile: Profile | None = None, **overrides) -> TrainConfig:
    """The chapter's main run: the paper's recipe at the profile's scale. The plateau patience is a tenth of the
    run (at least 2 epochs): the paper divided ε three times in ~90 epochs, and a 30-epoch run needs a shorter
    wait to show a division at all."""
    p = profile or get_profile()
    cfg = TrainConfig(dataset=p.dataset, epochs=p.epochs, batch_size=p.batch_size, train_limit=p.train_limit,
                      val_limit=p.val_limit, plateau_patience=max(2, p.epochs // 10))
    return replace(cfg, **overrides)


def resume_max_difference(dataset: str = "synthetic", epochs: int = 3, stop_after: int = 2,
                          train_limit: int | None = 256, batch_size: int = 32) -> float:
    """Train ``epochs`` epochs straight, and again stopped after ``stop_after`` and resumed from the checkpoint
    (what a Colab disconnect forces); return the largest absolute difference between the two final models'
    weights. 0.0 on the CPU: every random draw is seeded by (seed, epoch, step), and the checkpoint holds the
    weights, the velocities, the scheduler and the running sums."""
    base = TrainConfig(dataset=dataset, epochs=epochs, batch_size=batch_size, train_limit=train_limit,
                       val_limit=64, device="cpu")
    straight = train(base, progress=False).model
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        train(replace(base, epochs=stop_after, checkpoint_dir=folder), progress=False)
        resumed = train(replace(base, checkpoint_dir=folder, resume=True), progress=False).model
    return max((a - b).abs().max().item() for a, b in zip(straight.state_dict().values(),
                                                            resumed.state_dict().values()))


def main_run(profile: Profile | None = None, *, train_set: ImageSet, val_set: ImageSet, on_epoch=None,
             **overrides) -> tuple[TrainResult, dict]:
    """Train the chapter's main run (:func:`main_run_config`) and save its schedule (:func:`save_main_run`).
    Returns the training result and the saved record's data.

    The final weights are kept in :func:`alexnet.scratch.scratch_checkpoint_dir` (``main-run``). Without
    ``overrides``, a stored ``learning_schedule`` made by this code at this scale is reused when that checkpoint
    is there too (the line says so; ``on_epoch`` is called once with the stored history)."""
    from ..results import reusable_result, reuse_note

    profile = profile or get_profile()
    folder = scratch_checkpoint_dir("main-run", profile)
    cfg = main_run_config(profile, **overrides)
    same = {"dataset": train_set.name, "train_images": len(train_set), "val_images": len(val_set),
            "epochs": cfg.epochs}
    record = reusable_result("learning_schedule", profile, **same) if not overrides and (folder / "last.pt").exists() \
        else None
    if record is not None:
        print(reuse_note("learning_schedule", record))
        model, stats, _ = load_trained(folder / "last.pt")
        history = record["data"]["history"]
        if on_epoch is not None:
            on_epoch(history)
        return TrainResult(model, history, stats, cfg, folder / "last.pt"), record["data"]
    run = train(replace(cfg, checkpoint_dir=str(folder)), train_set=train_set, val_set=val_set, on_epoch=on_epoch)
    return run, save_main_run(run.history, profile, dataset=train_set.name, train_images=len(train_set),
                              val_images=len(val_set))


def save_main_run(history: list[dict], profile: Profile | None = None, *, dataset: str, train_images: int,
                  val_images: int | None = None) -> dict:
    """Save the main run's schedule and final errors as ``learning_schedule`` (the scorecard's §5 row)."""
    profile = profile or get_profile()
    last = history[-1]
    data = {"lr_drops": len(lr_drops(history)), "drops": lr_drops(history), "epochs": len(history),
            "val_top1_error": last.get("val_top1_error"), "val_top5_error": last.get("val_top5_error"),
            "train_top1_error": last["train_top1_error"], "history": history,
            "paper": {"lr_drops": paper.LR_DROPS, "epochs": paper.EPOCHS}}
    save_result("learning_schedule", data, scale(profile, dataset=dataset, train_images=train_images,
                                                 epochs=len(history), val_images=val_images), profile,
                seconds=sum(h.get("seconds", 0.0) for h in history))
    return data
