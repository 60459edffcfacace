r"""Details of learning (§5): the update rule, the initialisation, the bias-1 pitfall, the schedule, live curves.

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
:func:`update_norms_after_lr_drop`, :func:`initialisation_table`, :func:`resume_max_difference`) and runs the
bias experiment (:func:`bias_init_experiment`), whose step-by-step losses the trainer does not keep.
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
import tempfile
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from ..data import ImageSet, load_imageset
from ..model import build_model
from ..optim import PaperSGD
from ..profiles import Profile, default_device, get_profile
from ..results import save_result, scale
from ..train import TrainConfig, epoch_batches, mix_seed, train
from ..transforms import BatchAugment, compute_stats

# ---------------------------------------------------------------- the update rule


def paper_update_by_hand(weights: list[torch.Tensor], grads: list[torch.Tensor], velocities: list[torch.Tensor],
                         lr: float, momentum: float = 0.9, weight_decay: float = 5e-4) -> None:
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
        eps = lr / 10 if (lr_drop_at is not None and step >= lr_drop_at) else lr
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
    opt_a = PaperSGD(model_a.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    opt_b = torch.optim.SGD(model_b.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    norms = {"paper": [], "torch": []}
    before = 0.0
    for step in range(steps):
        if step == lr_drop_at:
            for opt in (opt_a, opt_b):
                for group in opt.param_groups:
                    group["lr"] = lr / 10
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


# ---------------------------------------------------------------- the bias-1 experiment


@torch.no_grad()
def input_dependence(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """How much each hidden layer's output still depends on the image, at the current weights: the standard
    deviation across the batch divided by the root-mean-square, averaged over units, after every ReLU
    (``act1`` … ``act7``). Near 0, every image gives the same activations and the gradient says nothing about
    the input: the loss cannot fall."""
    out, hooks = {}, []
    for name, module in list(model.features.named_children()) + list(model.classifier.named_children()):
        if name.startswith("act"):
            def hook(_m, _i, y, name=name):
                y = y.flatten(1).double()
                out[name] = (y.std(0) / y.pow(2).mean(0).sqrt().clamp_min(1e-30)).mean().item()
            hooks.append(module.register_forward_hook(hook))
    was = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    return out




def _augmented_batches(train_set: ImageSet, aug: BatchAugment, epoch: int, seed: int, batch_size: int,
                       device: torch.device):
    """The trainer's batches of one epoch: same order, same crop/flip/PCA draws, same dropout seeds."""
    for step, idx in enumerate(epoch_batches(len(train_set), batch_size, seed, epoch)):
        torch.manual_seed(mix_seed(seed, epoch, step, 0))
        gen = torch.Generator(device=device).manual_seed(mix_seed(seed, epoch, step))
        yield aug.train(train_set.images[idx].to(device), gen), train_set.labels[idx].to(device)


def train_steps(model: nn.Module, train_set: ImageSet, *, epochs: int, batch_size: int = 128, lr: float = 0.01,
                augment: str = "paper", seed: int = 0, stats=None) -> dict:
    """The trainer's inner loop (same data order, augmentation draws and :class:`PaperSGD`), keeping the loss of
    every step; it stops at the first non-finite loss and says where. Returns ``{"step_losses", "epoch_losses",
    "diverged_at_step", "steps_per_epoch"}``."""
    device = next(model.parameters()).device
    stats = stats or compute_stats(train_set.images)
    aug = BatchAugment(stats.to(device), train_set.crop_size, augment)
    opt = PaperSGD(model.parameters(), lr=lr)
    model.train()
    losses, epoch_losses, diverged = [], [], None
    per_epoch = len(epoch_batches(len(train_set), batch_size, seed, 0))
    for epoch in range(epochs):
        total = 0.0
        for step, (x, y) in enumerate(_augmented_batches(train_set, aug, epoch, seed, batch_size, device)):
            loss = F.cross_entropy(model(x), y)
            if not torch.isfinite(loss):
                diverged = epoch * per_epoch + step + 1
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            total += loss.item()
        if diverged is not None:
            break
        epoch_losses.append(total / per_epoch)
    return {"step_losses": losses, "epoch_losses": epoch_losses, "diverged_at_step": diverged,
            "steps_per_epoch": per_epoch}


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
            o = torch.optim.SGD(net.parameters(), lr=lr / 10, momentum=0.9, weight_decay=5e-4)
            for p, v in zip(net.parameters(), velocity):
                o.state[p]["momentum_buffer"] = -v.clone() / lr
        else:
            o = PaperSGD(net.parameters(), lr=lr)
            for p, v in zip(net.parameters(), velocity):
                o.state[p]["velocity"] = v.clone()
            for group in o.param_groups:
                group["lr"] = lr / 10 if name == "paper" else lr
        forks[name] = run(net, o, 10_000 + warm_epochs)
    return {**forks, "lr": lr, "steps_per_epoch": len(forks["paper"])}


def plot_lr_drop_transient(result: dict, ax=None):
    """Per-step training loss of the three forks of :func:`lr_drop_transient`."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6.5, 3.2))[1]
    lr = result["lr"]
    for key, label, style in (("paper", f"paper's rule, ε {lr:g} → {lr / 10:g}", "-"),
                              ("torch", f"torch.optim.SGD, ε {lr:g} → {lr / 10:g}", "--"),
                              ("stay", f"no division, ε {lr:g}", ":")):
        ax.plot(range(1, len(result[key]) + 1), result[key], style, marker="o", ms=2.5, label=label)
    ax.set_xlabel("step after the division")
    ax.set_ylabel("training loss (per step)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return ax


BIAS_ARMS = {f"{init} init, bias {b:g}": {"init": init, "bias_init": b}
             for init in ("paper", "kaiming") for b in (1.0, 0.1, 0.0)}


def bias_init_experiment(profile: Profile | None = None, *, epochs: int | None = None,
                         arms: dict[str, dict] | None = None, train_set: ImageSet | None = None,
                         save: bool = True) -> dict:
    """§5's biases of 1 against 0.1 (Caffe's choice) and 0, under the paper's N(0, 0.01) weights and under He
    init, on the scaled net. §5 says bias 1 "accelerates the early stages of learning by providing the ReLUs with
    positive inputs"; Caffe's reference AlexNet reports that it gave a flat loss and used 0.1.

    Every arm starts from the same seed and sees the same batches. Saved as ``bias_init``:
    ``{"arms": {arm: {"init", "bias_init", "step_losses", "epoch_losses", "diverged_at_step",
    "final_train_loss", "seconds"}}, "chance_loss": ln(classes)}``.
    """
    profile = profile or get_profile()
    epochs = epochs or max(1, min(6, profile.ablation_epochs))
    train_set = train_set or load_imageset(profile.dataset, "train", limit=profile.train_limit, progress=False)
    stats = compute_stats(train_set.images)
    out = {}
    for arm, switches in (arms or BIAS_ARMS).items():
        t0 = time.perf_counter()
        torch.manual_seed(0)
        model = build_model("alexnet-cifar", train_set.num_classes, **switches).to(default_device())
        run = train_steps(model, train_set, epochs=epochs, batch_size=profile.batch_size, stats=stats)
        run.update(init=switches.get("init"), bias_init=switches.get("bias_init"),
                   final_train_loss=run["epoch_losses"][-1] if run["epoch_losses"] and not run["diverged_at_step"]
                   else None, seconds=time.perf_counter() - t0)
        out[arm] = run
    result = {"arms": out, "chance_loss": math.log(train_set.num_classes), "epochs": epochs}
    if save:
        save_result("bias_init", result, scale(profile, dataset=train_set.name, train_images=len(train_set),
                                               epochs=epochs), profile)
    return result


def bias_input_dependence(data: ImageSet, arms: dict[str, dict] | None = None, n: int = 64) -> dict:
    """:func:`input_dependence` of the scaled net at initialisation for each arm of the bias experiment, on the
    centre crops of the first ``n`` images of ``data``."""
    stats = compute_stats(data.images)
    x = BatchAugment(stats, data.crop_size, "none").eval(data.images[:n])
    out = {}
    for arm, switches in (arms or BIAS_ARMS).items():
        torch.manual_seed(0)
        out[arm] = input_dependence(build_model("alexnet-cifar", data.num_classes, **switches), x)
    return out


def format_input_dependence(table: dict) -> str:
    layers = list(next(iter(table.values())))
    w = max(len(arm) for arm in table) + 2
    lines = [f"{'arm':<{w}}" + "".join(f"{name:>9}" for name in layers)]
    for arm, row in table.items():
        lines.append(f"{arm:<{w}}" + "".join(f"{row[name]:>9.1e}" for name in layers))
    return "\n".join(lines)


def plot_bias_losses(result: dict, ax=None):
    """Training loss per step of each arm of :func:`bias_init_experiment`; an × marks a divergence."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 3.8))[1]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (arm, r) in enumerate(result["arms"].items()):
        style = "-" if r["init"] == "paper" else "--"
        losses = r["step_losses"]
        per = max(1, r["steps_per_epoch"])
        xs = [(s + 1) / per for s in range(len(losses))]
        ax.plot(xs, losses, style, color=colors[i % 3], lw=1.2, label=arm)
        if r["diverged_at_step"]:
            x = r["diverged_at_step"] / per
            ax.plot([x], [losses[-1] if losses else result["chance_loss"]], "x", color=colors[i % 3], ms=10, mew=2)
            ax.annotate("diverged", (x, losses[-1] if losses else result["chance_loss"]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
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


def bias_outcome(run: dict, chance: float) -> str:
    """One phrase for one arm of :func:`bias_init_experiment`: diverged, flat at chance, or trains."""
    e = run["epoch_losses"]
    if run["diverged_at_step"]:
        per = max(1, run["steps_per_epoch"])
        return f"diverged (non-finite loss) at step {run['diverged_at_step']}, " \
               f"epoch {(run['diverged_at_step'] - 1) // per + 1}"
    if not e or e[-1] > chance - 0.02:
        return f"flat: still at chance (ln {round(math.exp(chance))}) after {len(e)} epochs"
    if e[0] > chance + 0.5:
        return "a blow-up at the start (epoch 1 above chance), then it trains"
    return "trains"


def bias_summary(result: dict) -> str:
    """One line per arm: mean loss over the first and last epoch, and :func:`bias_outcome`."""
    lines = [f"{'arm':<24}{'epoch 1 loss':>13}{'last epoch loss':>16}  outcome"]
    for arm, r in result["arms"].items():
        e = r["epoch_losses"]
        first = f"{e[0]:.3f}" if e else "—"
        last = f"{e[-1]:.3f}" if e and not r["diverged_at_step"] else "—"
        lines.append(f"{arm:<24}{first:>13}{last:>16}  {bias_outcome(r, result['chance_loss'])}")
    return "\n".join(lines)


# ---------------------------------------------------------------- the main run: live curves, schedule, resume


class LiveCurves:
    """An ``on_epoch`` callback for :func:`alexnet.train.train` that redraws loss, error and learning rate in one
    output (an IPython display handle), so the notebook keeps the final figure."""

    def __init__(self, title: str = ""):
        self.title = title
        self.handle = None

    def figure(self, history: list[dict]):
        import matplotlib.pyplot as plt

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
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig = self.figure(history)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)


def lr_drops(history: list[dict]) -> list[dict]:
    """The epochs after which the learning rate was divided (ReduceLROnPlateau on the validation error)."""
    out = []
    for prev, cur in zip(history, history[1:]):
        if cur["lr"] < prev["lr"] * 0.999:
            out.append({"after_epoch": prev["epoch"], "from": prev["lr"], "to": cur["lr"]})
    return out


def shipped_run_history(path=None) -> list[dict] | None:
    """The per-epoch history kept in the book's shipped checkpoint (``data/checkpoints/alexnet-cifar.pt``: the
    same recipe as the main run, for 40 epochs on the CIFAR-10 sample; see ``data/README.md``), or None when
    there is no checkout (a pip install, e.g. on Colab)."""
    from ..checkpoint import load_checkpoint
    from .results_figs import default_checkpoint

    path = path or default_checkpoint()
    return None if path is None else load_checkpoint(path)["history"]


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


def plot_schedule(history: list[dict], title: str = ""):
    """Top-1 errors (left) and the learning rate (right, log scale) per epoch, with a dotted line after each
    epoch that the plateau rule divided the rate (:func:`lr_drops`)."""
    import matplotlib.pyplot as plt

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


def save_main_run(history: list[dict], profile: Profile | None = None, *, dataset: str, train_images: int,
                  val_images: int | None = None) -> dict:
    """Save the main run's schedule and final errors as ``learning_schedule`` (the scorecard's §5 row)."""
    profile = profile or get_profile()
    last = history[-1]
    data = {"lr_drops": len(lr_drops(history)), "drops": lr_drops(history), "epochs": len(history),
            "val_top1_error": last.get("val_top1_error"), "val_top5_error": last.get("val_top5_error"),
            "train_top1_error": last["train_top1_error"], "history": history,
            "paper": {"lr_drops": 3, "epochs": 90}}
    save_result("learning_schedule", data, scale(profile, dataset=dataset, train_images=train_images,
                                                 epochs=len(history), val_images=val_images), profile,
                seconds=sum(h.get("seconds", 0.0) for h in history))
    return data
