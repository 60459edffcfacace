"""The bias-1 experiment of §5: "We initialized the neuron biases in the second, fourth, and fifth convolutional
layers, as well as in the fully-connected hidden layers, with the constant 1. This initialization accelerates the
early stages of learning by providing the ReLUs with positive inputs."

:func:`bias_init_experiment` trains the scaled net from one seed under each bias (1, Caffe's 0.1, 0) and each
initialisation (the paper's N(0, 0.01), He) as an ablation of model switches, keeping the loss of every step
(:func:`alexnet.train.train`'s ``on_step``); :func:`input_dependence` shows why the paper's initialisation leaves
this net flat at chance. Figures: :mod:`alexnet.figures.learning`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..data import ImageSet, load_imageset
from ..hooks import layer_outputs
from ..model import build_model
from ..profiles import Profile, get_profile
from ..text import plural
from ..transforms import BatchAugment, compute_stats
from .ablation import AblationResult, reuse_or_run

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


BIAS_ARMS = {f"{init} init, bias {b:g}": {"init": init, "bias_init": b}
             for init in ("paper", "kaiming") for b in (1.0, 0.1, 0.0)}


def with_step_curves(result: AblationResult, chance_loss: float) -> dict:
    """The fields this experiment saves besides the ablation's: per arm its ``init`` and ``bias_init``, the
    first seed's ``step_losses``, ``epoch_losses`` (the trainer's running mean per epoch), ``steps_per_epoch``
    and ``final_train_loss``; and ``chance_loss``, ln(classes)."""
    arms = {}
    for arm, r in result.arms.items():
        steps, epochs = r["runs"][0]["step_losses"], [h["train_loss"] for h in r["histories"][0]]
        switches = r["overrides"].get("model", {})
        arms[arm] = {**r, "init": switches.get("init"), "bias_init": switches.get("bias_init"),
                     "step_losses": steps, "epoch_losses": epochs, "steps_per_epoch": len(steps) // len(epochs),
                     "final_train_loss": epochs[-1]}
    return {"arms": arms, "chance_loss": chance_loss}


def bias_init_experiment(profile: Profile | None = None, *, epochs: int | None = None,
                         arms: dict[str, dict] | None = None, train_set: ImageSet | None = None,
                         val_set: ImageSet | None = None, save: bool = True) -> dict:
    """§5's biases of 1 against 0.1 (Caffe's choice) and 0, under the paper's N(0, 0.01) weights and under He
    init, on the scaled net. §5 says bias 1 "accelerates the early stages of learning by providing the ReLUs with
    positive inputs"; Caffe's reference AlexNet reports that it gave a flat loss and used 0.1.

    An ablation (:func:`~alexnet.experiments.ablation.reuse_or_run`: the trainer's recipe, every arm from the same
    seed on the same batches; ``arms`` are model switches) that keeps every step's loss; a stored result made by
    this code at this scale is reused instead (the one rule). A non-finite loss stops it with the trainer's
    :class:`~alexnet.errors.NonFiniteLossError`, which names the step. Saved as ``bias_init``: the ablation's
    fields plus :func:`with_step_curves`'; returns ``{"arms", "baseline", "deltas", "chance_loss", "epochs",
    "scale"}``.
    """
    profile = profile or get_profile()
    epochs = epochs or max(1, min(6, profile.ablation_epochs))
    train_set = train_set or load_imageset(profile.dataset, "train", limit=profile.train_limit, progress=False)
    chance = math.log(train_set.num_classes)
    spec = {arm: {"model": dict(switches)} for arm, switches in (arms or BIAS_ARMS).items()}
    result = reuse_or_run("bias_init", spec, profile, base={"epochs": epochs}, train_set=train_set, val_set=val_set,
                          save=save, step_losses=True, extra=lambda r: with_step_curves(r, chance))
    return {"arms": result.arms, "baseline": result.baseline, "deltas": result.deltas, "chance_loss": chance,
            "epochs": epochs, "scale": result.scale}


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
    """One phrase for one arm of :func:`bias_init_experiment`: flat at chance, a blow-up then training, or trains."""
    e = run["epoch_losses"]
    if not e or e[-1] > chance - 0.02:
        return f"flat: still at chance (ln {round(math.exp(chance))}) after {plural(len(e), 'epoch')}"
    if e[0] > chance + 0.5:
        return "a blow-up at the start (epoch 1 above chance), then it trains"
    return "trains"


def bias_summary(result: dict) -> str:
    """One line per arm: mean loss over the first and last epoch, and :func:`bias_outcome`."""
    lines = [f"{'arm':<24}{'epoch 1 loss':>13}{'last epoch loss':>16}  outcome"]
    for arm, r in result["arms"].items():
        e = r["epoch_losses"]
        first = f"{e[0]:.3f}" if e else "—"
        last = f"{e[-1]:.3f}" if e else "—"
        lines.append(f"{arm:<24}{first:>13}{last:>16}  {bias_outcome(r, result['chance_loss'])}")
    return "\n".join(lines)
