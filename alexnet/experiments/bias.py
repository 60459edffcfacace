"""The bias-1 experiment of §5: "We initialized the neuron biases in the second, fourth, and fifth convolutional
layers, as well as in the fully-connected hidden layers, with the constant 1. This initialization accelerates the
early stages of learning by providing the ReLUs with positive inputs."

:func:`bias_init_experiment` trains the scaled net from one seed under each bias (1, Caffe's 0.1, 0) and each
initialisation (the paper's N(0, 0.01), He), keeping the loss of every step (:func:`train_steps`: the trainer's
own loop, which :func:`alexnet.train.train` does not expose step by step); :func:`input_dependence` shows why
the paper's initialisation leaves this net flat at chance. Figures: :mod:`alexnet.figures.learning`.
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from .. import paper
from ..data import ImageSet, load_imageset
from ..hooks import layer_outputs
from ..model import build_model
from ..optim import PaperSGD
from ..profiles import Profile, default_device, get_profile
from ..results import save_result, scale
from ..train import epoch_batches
from ..transforms import BatchAugment, compute_stats
from .ablation import reusable_result
from .learning import _augmented_batches

@torch.no_grad()
def input_dependence(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """How much each hidden layer's output still depends on the image, at the current weights: the standard
    deviation across the batch divided by the root-mean-square, averaged over units, after every ReLU
    (``act1`` … ``act7``). Near 0, every image gives the same activations and the gradient says nothing about
    the input: the loss cannot fall."""
    names = [n for n, _ in list(model.features.named_children()) + list(model.classifier.named_children())
             if n.startswith("act")]
    was = model.training
    model.eval()
    try:
        outs = layer_outputs(model, x, names)
    finally:
        model.train(was)
    out = {}
    for name, y in outs.items():
        y = y.flatten(1).double()
        out[name] = (y.std(0) / y.pow(2).mean(0).sqrt().clamp_min(1e-30)).mean().item()
    return out


def train_steps(model: nn.Module, train_set: ImageSet, *, epochs: int, batch_size: int = paper.BATCH_SIZE,
                lr: float = paper.LR_INITIAL, augment: str = "paper", seed: int = 0, stats=None) -> dict:
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



BIAS_ARMS = {f"{init} init, bias {b:g}": {"init": init, "bias_init": b}
             for init in ("paper", "kaiming") for b in (1.0, 0.1, 0.0)}


def bias_init_experiment(profile: Profile | None = None, *, epochs: int | None = None,
                         arms: dict[str, dict] | None = None, train_set: ImageSet | None = None,
                         save: bool = True) -> dict:
    """§5's biases of 1 against 0.1 (Caffe's choice) and 0, under the paper's N(0, 0.01) weights and under He
    init, on the scaled net. §5 says bias 1 "accelerates the early stages of learning by providing the ReLUs with
    positive inputs"; Caffe's reference AlexNet reports that it gave a flat loss and used 0.1.

    Every arm starts from the same seed and sees the same batches. A stored result at this scale made by this code
    is returned instead (:func:`~alexnet.experiments.ablation.reusable_result`). Saved as ``bias_init``:
    ``{"arms": {arm: {"init", "bias_init", "step_losses", "epoch_losses", "diverged_at_step",
    "final_train_loss", "seconds"}}, "chance_loss": ln(classes)}``.
    """
    profile = profile or get_profile()
    epochs = epochs or max(1, min(6, profile.ablation_epochs))
    train_set = train_set or load_imageset(profile.dataset, "train", limit=profile.train_limit, progress=False)
    same = {"dataset": train_set.name, "train_images": len(train_set), "epochs": epochs}
    record = reusable_result("bias_init", same, profile) if save and arms is None else None
    if record is not None:
        return record["data"]
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
    x = BatchAugment(stats, data.crop_size, "none").centre_crop(data.images[:n])
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
