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

This module checks the trainer against that text (:func:`update_rule_max_difference`,
:func:`update_norms_after_lr_drop`, :func:`initialisation_table`, :func:`resume_max_difference`), finds the
divisions of the learning rate in a run (:func:`lr_drops`: the one place that does) and runs the chapter's main
run (:func:`main_run`). The bias experiment is in :mod:`alexnet.experiments.bias`; the figures are in
:mod:`alexnet.figures.learning`.
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
import tempfile
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from .. import paper
from ..checkpoint import find_shipped_checkpoint
from ..data import ImageSet
from ..optim import PaperSGD
from ..profiles import Profile, get_profile
from ..results import save_result, scale
from ..train import TrainConfig, TrainResult, epoch_batches, mix_seed, train
from ..transforms import BatchAugment, compute_stats

# ---------------------------------------------------------------- the update rule


def paper_update_by_hand(weights: list[torch.Tensor], grads: list[torch.Tensor], velocities: list[torch.Tensor],
                         lr: float, momentum: float = paper.MOMENTUM, weight_decay: float = paper.WEIGHT_DECAY) -> None:
    r"""One step of §5's formula, written out with plain tensor arithmetic (in place):
    :math:`v \leftarrow 0.9 v - 0.0005\,\epsilon\,w - \epsilon\,\partial L/\partial w`, :math:`w \leftarrow w + v`."""
    for w, g, v in zip(weights, grads, velocities):
        v.copy_(momentum * v - weight_decay * lr * w - lr * g)
        w.copy_(w + v)


def _tiny_problem(seed: int = 0):
    """A small conv net and a fixed stream of batches: enough to exercise every kind of parameter."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                          nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10))
    g = torch.Generator().manual_seed(seed + 1)
    batches = [(torch.randn(16, 3, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)) for _ in range(64)]
    return model, batches


def update_rule_max_difference(steps: int = 20, lr: float = 0.01, lr_drop_at: int | None = 10,
                               seed: int = 0) -> float:
    """Run :class:`~alexnet.optim.PaperSGD` and :func:`paper_update_by_hand` side by side on the same small
    model and batches for ``steps`` steps (ε ÷ 10 at step ``lr_drop_at``); return the largest absolute
    difference between their weights at any step. It is 0 (or float rounding) when the trainer does what §5
    prints."""
    model_a, batches = _tiny_problem(seed)
    model_b = copy.deepcopy(model_a)
    opt = PaperSGD(model_a.parameters(), lr=lr)
    velocities = [torch.zeros_like(p) for p in model_b.parameters()]
    worst = 0.0
    for step in range(steps):
        eps = lr / paper.LR_DIVISOR if (lr_drop_at is not None and step >= lr_drop_at) else lr
        for group in opt.param_groups:
            group["lr"] = eps
        x, y = batches[step % len(batches)]
        for model in (model_a, model_b):
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
        opt.step()
        with torch.no_grad():
            params = list(model_b.parameters())
            paper_update_by_hand(params, [p.grad for p in params], velocities, eps)
            worst = max(worst, max((a - b).abs().max().item()
                                   for a, b in zip(model_a.parameters(), model_b.parameters())))
    return worst


def update_norms_after_lr_drop(steps: int = 40, lr: float = 0.01, lr_drop_at: int = 20, seed: int = 0) -> dict:
    """Step sizes ‖w_{i+1} − w_i‖ of the paper's rule and of ``torch.optim.SGD`` (same momentum and decay) on the
    same problem, with ε ÷ 10 at ``lr_drop_at``.

    While ε is constant the two are the same algorithm (``torch`` keeps ε outside the velocity, the paper
    inside). After a drop ``torch`` scales the whole step by 1/10 at once; the paper's velocity still holds the
    old ε and decays by 0.9 a step, so its steps shrink gradually. Returns ``{"paper": [...], "torch": [...],
    "max_weight_difference_before_drop": float, "lr_drop_at": int}``.
    """
    model_a, batches = _tiny_problem(seed)
    model_b = copy.deepcopy(model_a)
    opt_a = PaperSGD(model_a.parameters(), lr=lr, momentum=paper.MOMENTUM, weight_decay=paper.WEIGHT_DECAY)
    opt_b = torch.optim.SGD(model_b.parameters(), lr=lr, momentum=paper.MOMENTUM, weight_decay=paper.WEIGHT_DECAY)
    norms = {"paper": [], "torch": []}
    before = 0.0
    for step in range(steps):
        if step == lr_drop_at:
            for opt in (opt_a, opt_b):
                for group in opt.param_groups:
                    group["lr"] = lr / paper.LR_DIVISOR
        x, y = batches[step % len(batches)]
        for key, model, opt in (("paper", model_a, opt_a), ("torch", model_b, opt_b)):
            old = [p.detach().clone() for p in model.parameters()]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
            norms[key].append(math.sqrt(sum(((p.detach() - o) ** 2).sum().item()
                                            for p, o in zip(model.parameters(), old))))
        if step < lr_drop_at:
            before = max(before, max((a - b).abs().max().item()
                                     for a, b in zip(model_a.parameters(), model_b.parameters())))
    return {**norms, "max_weight_difference_before_drop": before, "lr_drop_at": lr_drop_at}


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


def _augmented_batches(train_set: ImageSet, aug: BatchAugment, epoch: int, seed: int, batch_size: int,
                       device: torch.device):
    """The trainer's batches of one epoch: same order, same crop/flip/PCA draws, same dropout seeds."""
    for step, idx in enumerate(epoch_batches(len(train_set), batch_size, seed, epoch)):
        torch.manual_seed(mix_seed(seed, epoch, step, 0))
        gen = torch.Generator(device=device).manual_seed(mix_seed(seed, epoch, step))
        yield aug.train(train_set.images[idx].to(device), gen), train_set.labels[idx].to(device)



def lr_drop_transient(model: nn.Module, train_set: ImageSet, stats=None, *, lr: float = 0.01,
                      warm_epochs: int = 1, batch_size: int = 128, seed: int = 0) -> dict:
    """What one ε ÷ 10 does in the next epoch, under the paper's rule and under ``torch.optim.SGD``.

    A copy of ``model`` trains ``warm_epochs`` at ε = ``lr`` with :class:`PaperSGD` (so its velocity is that of a
    run at ε), then forks into three copies that see the same next epoch of batches: ``"paper"`` (PaperSGD,
    ε/10, its velocity kept: the old ε is still inside it), ``"torch"`` (``torch.optim.SGD`` at ε/10 from the
    equivalent state, buffer = −v/ε, so its next step is already 10× shorter) and ``"stay"`` (PaperSGD at ε).
    Returns the per-step training losses of each and the number of steps per epoch.
    """
    device = next(model.parameters()).device
    stats = stats or compute_stats(train_set.images)
    aug = BatchAugment(stats.to(device), train_set.crop_size, "paper")
    base = copy.deepcopy(model).train()
    opt = PaperSGD(base.parameters(), lr=lr)

    def run(net, optimizer, epoch):
        out = []
        for x, y in _augmented_batches(train_set, aug, epoch, seed, batch_size, device):
            loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            out.append(loss.item())
        return out

    for e in range(warm_epochs):
        run(base, opt, 10_000 + e)
    velocity = [opt.state[p]["velocity"] for p in base.parameters()]
    forks = {}
    for name in ("paper", "torch", "stay"):
        net = copy.deepcopy(base)
        if name == "torch":
            o = torch.optim.SGD(net.parameters(), lr=lr / paper.LR_DIVISOR, momentum=paper.MOMENTUM,
                                weight_decay=paper.WEIGHT_DECAY)
            for p, v in zip(net.parameters(), velocity):
                o.state[p]["momentum_buffer"] = -v.clone() / lr
        else:
            o = PaperSGD(net.parameters(), lr=lr)
            for p, v in zip(net.parameters(), velocity):
                o.state[p]["velocity"] = v.clone()
            for group in o.param_groups:
                group["lr"] = lr / paper.LR_DIVISOR if name == "paper" else lr
        forks[name] = run(net, o, 10_000 + warm_epochs)
    return {**forks, "lr": lr, "steps_per_epoch": len(forks["paper"])}



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
                   f"{d['after_epoch'] - best['epoch']} epochs after it, so ε went {d['from']:g} → {d['to']:g} "
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
    Returns the training result and the saved record's data."""
    profile = profile or get_profile()
    run = train(main_run_config(profile, **overrides), train_set=train_set, val_set=val_set, on_epoch=on_epoch)
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
