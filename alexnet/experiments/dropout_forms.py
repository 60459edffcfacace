r"""§4.2 The paper's dropout against PyTorch's inverted dropout: one function at test time, two trainings.

The paper zeroes each unit with probability p in training and multiplies the outputs by 1 − p at test time
(:class:`alexnet.model.PaperDropout`); ``torch.nn.Dropout`` multiplies the survivors by 1/(1 − p) in training and
does nothing at test time. A layer :math:`W` after the paper's form computes what :math:`W' = (1-p)W` computes
after the inverted one, in training (same mask) and at test time. But the two are not the same *training* from
the same initial weights and learning rate. Read an inverted net in the paper's units, :math:`W = W'/(1-p)`:

- the start: :math:`W' \sim \mathcal N(0, \sigma)` is :math:`W \sim \mathcal N(0, \sigma/(1-p))`: N(0, 0.02) for
  the paper's σ = 0.01 and p = 0.5;
- the step: :math:`\partial L/\partial W' = (\partial L/\partial W)/(1-p)`, so one SGD step moves :math:`W` by
  :math:`1/(1-p)^2` = 4 times as much (the weight-decay term is unchanged).

This concerns the layers after a dropout layer: fc7 and fc8. :func:`units_in_paper_terms` computes both numbers
from one layer; :func:`compare_forms` trains the scaled net both ways from one seed, on the same batches and
the same masks, and records where the curves part.
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from .. import paper
from ..data import load_imageset
from ..model import alexnet_cifar
from ..optim import PaperSGD, param_groups
from ..profiles import Profile, default_device, get_profile
from ..train import epoch_batches, mix_seed
from ..transforms import BatchAugment, compute_stats

FORMS = ("paper", "inverted")
EPOCHS = {"smoke": 1, "quick": 5, "full": 15}  # quick: ≈ 2 min for both forms on the CIFAR sample, one CPU core
AFTER_DROPOUT = ("fc7", "fc8")  # the layers whose input a dropout layer (drop6, drop7) produces


def units_in_paper_terms(p: float = paper.DROPOUT_P, std: float = 0.01, features: int = 512, seed: int = 0,
                         lr: float = 0.01) -> dict:
    """One linear layer after dropout, inverted form with weights ``W'`` against the paper's with ``W = W'/(1−p)``.

    Draws ``W' ~ N(0, std)`` (``features × features``), one input and one mask, checks that both forms give the
    same output, takes one plain SGD step of rate ``lr`` on each with the same loss, and returns
    ``{"output_max_diff", "init_std_paper_units", "update_ratio"}``: the standard deviation of ``W'/(1−p)`` and
    ``‖ΔW'/(1−p)‖ / ‖ΔW_paper‖``, the inverted step read in the paper's units over the paper's own step
    (``1/(1−p)²``, 4 for p = 0.5).
    """
    gen = torch.Generator().manual_seed(seed)
    w_inv = (torch.randn(features, features, generator=gen, dtype=torch.float64) * std).requires_grad_()
    w_pap = (w_inv.detach() / (1 - p)).requires_grad_()
    h = torch.rand(8, features, generator=gen, dtype=torch.float64)
    mask = (torch.rand(h.shape, generator=gen, dtype=torch.float64) >= p).double()
    target = torch.randn(8, features, generator=gen, dtype=torch.float64)
    y_inv = (mask * h / (1 - p)) @ w_inv.T
    y_pap = (mask * h) @ w_pap.T
    for y in (y_inv, y_pap):
        ((y - target) ** 2).sum().backward()
    step_inv, step_pap = -lr * w_inv.grad, -lr * w_pap.grad
    return {"output_max_diff": (y_inv - y_pap).abs().max().item(),
            "init_std_paper_units": (w_inv.detach() / (1 - p)).std().item(),
            "update_ratio": ((step_inv / (1 - p)).norm() / step_pap.norm()).item()}


def scaled_after_dropout(model: nn.Module, factor: float) -> nn.Module:
    """``model`` with the weights of fc7 and fc8 (the layers after drop6 and drop7) multiplied by ``factor``."""
    with torch.no_grad():
        for name in AFTER_DROPOUT:
            getattr(model.classifier, name).weight.mul_(factor)
    return model


@torch.no_grad()
def agreement_at_init(x: torch.Tensor, num_classes: int, p: float = paper.DROPOUT_P, seed: int = 0) -> dict:
    """The scaled net in both forms from one seed, the inverted one with fc7 and fc8 scaled by ``1 − p``.

    Returns the largest output differences at test time (``eval``) and in training with the same generator
    state (hence the same masks), and, for contrast, at test time without the scaling (what swapping the module
    does to a trained net's weights).
    """
    nets = {}
    for form in FORMS:
        torch.manual_seed(seed)
        nets[form] = alexnet_cifar(num_classes, dropout=p, dropout_form=form)
    unscaled = {k: v.clone() for k, v in nets["inverted"].state_dict().items()}
    scaled_after_dropout(nets["inverted"], 1 - p)
    out = {}
    for mode in ("eval", "train"):
        outs = []
        for form in FORMS:
            torch.manual_seed(seed + 1)  # the same masks for both forms in training
            outs.append(getattr(nets[form], mode)()(x))
        out[f"{'test' if mode == 'eval' else 'train'}_max_diff"] = (outs[0] - outs[1]).abs().max().item()
    out["output_scale"] = outs[0].abs().max().item()
    nets["inverted"].load_state_dict(unscaled)
    out["unscaled_test_max_diff"] = (nets["paper"].eval()(x) - nets["inverted"].eval()(x)).abs().max().item()
    return out


def _smooth(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def parting_step(a: list[float], b: list[float], tol: float, window: int) -> int | None:
    """The first step at which the moving averages (``window`` steps) of two loss curves differ by more than
    ``tol``; None if they never do."""
    for i, (x, y) in enumerate(zip(_smooth(a, window), _smooth(b, window))):
        if abs(x - y) > tol:
            return i
    return None


def compare_forms(profile: Profile | None = None, *, epochs: int | None = None, seed: int = 0, p: float = paper.DROPOUT_P,
                  lr: float = 0.01, train_set=None, val_set=None, tol: float = 0.05) -> dict:
    """Train the scaled net with the paper's dropout and with inverted dropout, from one seed, in lockstep.

    Both forms start from the same weights (the package's ``alexnet_cifar`` initialisation) and see the same
    augmented batches and the same masks, with ``PaperSGD`` at rate ``lr``, momentum 0.9 and weight decay 5e-4
    (§5), no schedule. Returns ``{"loss": {form: per-step training loss}, "val_top1_error": {form: per epoch},
    "part_step", "tol", "window", "steps_per_epoch", "agreement", "scale"}``; ``agreement`` is
    :func:`agreement_at_init` on the validation images.
    """
    profile = profile or get_profile()
    epochs = epochs or EPOCHS.get(profile.name, EPOCHS["quick"])
    train_set = train_set or load_imageset(profile.dataset, "train", limit=profile.train_limit, progress=False)
    val_set = val_set or load_imageset(profile.dataset, "val", limit=profile.val_limit, progress=False)
    device = default_device()
    stats = compute_stats(train_set.images)
    aug = BatchAugment(stats, train_set.crop_size, "paper")
    x_val = aug.centre_crop(val_set.images)
    agreement = agreement_at_init(x_val[:256], train_set.num_classes, p, seed)
    nets, opts = {}, {}
    for form in FORMS:
        torch.manual_seed(seed)
        nets[form] = alexnet_cifar(train_set.num_classes, dropout=p, dropout_form=form).to(device)
        opts[form] = PaperSGD(param_groups(nets[form], paper.WEIGHT_DECAY), lr=lr)
    losses = {form: [] for form in FORMS}
    val_error = {form: [] for form in FORMS}
    start, steps_per_epoch = time.time(), 0
    for epoch in range(epochs):
        batches = epoch_batches(len(train_set), profile.batch_size, seed, epoch)
        steps_per_epoch = len(batches)
        for step, idx in enumerate(batches):
            x = aug.augment(train_set.images[idx], torch.Generator().manual_seed(mix_seed(seed, epoch, step)))
            x, y = x.to(device), train_set.labels[idx].to(device)
            for form in FORMS:
                torch.manual_seed(mix_seed(seed, epoch, step, 1))  # the same masks for both forms
                loss = F.cross_entropy(nets[form].train()(x), y)
                opts[form].zero_grad(set_to_none=True)
                loss.backward()
                opts[form].step()
                losses[form].append(loss.item())
        with torch.no_grad():
            for form in FORMS:
                logits = torch.cat([nets[form].eval()(x_val[i:i + 512].to(device)).cpu()
                                    for i in range(0, len(x_val), 512)])
                val_error[form].append((logits.argmax(1) != val_set.labels).float().mean().item())
    window = max(1, steps_per_epoch // 4)
    return {"loss": losses, "val_top1_error": val_error, "steps_per_epoch": steps_per_epoch, "tol": tol,
            "window": window, "part_step": parting_step(losses["paper"], losses["inverted"], tol, window),
            "agreement": agreement,
            "scale": {"profile": profile.name, "dataset": train_set.name, "train_images": len(train_set),
                      "val_images": len(val_set), "epochs": epochs, "batch_size": profile.batch_size, "lr": lr,
                      "seed": seed, "device": str(device), "seconds": round(time.time() - start, 1)}}


def forms_summary(result: dict) -> list[str]:
    """Lines for the chapter: the agreement at init, where the curves part, the final losses and errors."""
    a, sc = result["agreement"], result["scale"]
    spe, part = result["steps_per_epoch"], result["part_step"]
    where = ("never, within this run" if part is None else
             f"at step {part} (epoch {part / spe:.2f}; moving average over {result['window']} steps differs by more "
             f"than {result['tol']} nats)")
    last = {f: sum(result["loss"][f][-spe:]) / spe for f in FORMS}
    return [
        f"at init, inverted with fc7/fc8 weights ×(1−p): max |output difference| test {a['test_max_diff']:.1e}, "
        f"training (same masks) {a['train_max_diff']:.1e} (outputs up to {a['output_scale']:.2f})",
        f"at init, inverted with the same weights (no ×(1−p)): test difference {a['unscaled_test_max_diff']:.2e}",
        f"the training-loss curves part {where}",
        "last epoch's mean training loss: " + ", ".join(f"{f} {last[f]:.3f}" for f in FORMS),
        "validation top-1 error after each epoch: " + "; ".join(
            f"{f} " + " ".join(f"{e:.1%}" for e in result["val_top1_error"][f]) for f in FORMS),
        f"scale: {sc['dataset']}, {sc['train_images']:,} training / {sc['val_images']:,} validation images, "
        f"{sc['epochs']} epoch(s) of {spe} steps, batch {sc['batch_size']}, ε = {sc['lr']}, one seed, "
        f"{sc['device']}, profile {sc['profile']}",
    ]
