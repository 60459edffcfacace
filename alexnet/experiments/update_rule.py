r"""§5's update rule, checked against the printed formula, and what one division of ε does to it.

§5: "The update rule for weight w was

.. math::

    v_{i+1} := 0.9\, v_i - 0.0005\,\epsilon\, w_i - \epsilon \left\langle \tfrac{\partial L}{\partial w}
    \Big|_{w_i} \right\rangle_{D_i}, \qquad w_{i+1} := w_i + v_{i+1}"

:func:`update_rule_max_difference` runs :class:`~alexnet.optim.PaperSGD` beside :func:`paper_update_by_hand`;
:func:`update_norms_after_lr_drop` and :func:`lr_drop_transient` show where it parts from ``torch.optim.SGD``: ε
sits inside the paper's velocity, so after ε ÷ 10 its steps shrink gradually. Chapter 5 imports these through
:mod:`alexnet.experiments.learning`; the figures are in :mod:`alexnet.figures.learning`.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import paper
from ..data import ImageSet
from ..optim import PaperSGD
from ..train import epoch_batches, mix_seed
from ..transforms import BatchAugment, compute_stats

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


def _augmented_batches(train_set: ImageSet, aug: BatchAugment, epoch: int, seed: int, batch_size: int,
                       device: torch.device):
    """The trainer's batches of one epoch: same order, same crop/flip/PCA draws, same dropout seeds."""
    for step, idx in enumerate(epoch_batches(len(train_set), batch_size, seed, epoch)):
        torch.manual_seed(mix_seed(seed, epoch, step, 0))
        gen = torch.Generator(device=device).manual_seed(mix_seed(seed, epoch, step))
        yield aug.augment(train_set.images[idx].to(device), gen), train_set.labels[idx].to(device)



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
