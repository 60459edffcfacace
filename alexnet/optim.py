r"""The update rule of §5, exactly as printed.

.. math::

    v_{i+1} = 0.9\, v_i - 0.0005\,\epsilon\, w_i - \epsilon \left\langle \tfrac{\partial L}{\partial w} \Big|_{w_i} \right\rangle_{D_i},
    \qquad w_{i+1} = w_i + v_{i+1}

The velocity carries the learning rate ε inside it. ``torch.optim.SGD`` keeps ε outside
(:math:`b \leftarrow \mu b + g + \lambda w,\ w \leftarrow w - \epsilon b`); the two are identical while ε is
constant and differ for a few steps after each ÷10, when the paper's velocity still holds the old ε.
The formula is written for the weights w. Krizhevsky's cuda-convnet gave biases no weight decay (its layer
files set the decay ``wc`` per weight matrix; biases have none), so by default neither do we:
:func:`param_groups` puts biases (and any other 1-d parameter) in a group with ``weight_decay=0``;
``bias_decay=True`` applies it to every parameter instead.
"""
from __future__ import annotations

import torch

from . import paper


def param_groups(model: torch.nn.Module, weight_decay: float, *, bias_decay: bool = False) -> list[dict]:
    """Two parameter groups: the weights (decayed by ``weight_decay``) and the biases (decayed only if
    ``bias_decay``). A parameter with one dimension counts as a bias. Empty groups are left out."""
    weights = [p for p in model.parameters() if p.dim() > 1]
    biases = [p for p in model.parameters() if p.dim() <= 1]
    groups = [{"params": weights, "weight_decay": weight_decay},
              {"params": biases, "weight_decay": weight_decay if bias_decay else 0.0}]
    return [g for g in groups if g["params"]]


class PaperSGD(torch.optim.Optimizer):
    """SGD with momentum and weight decay in the paper's form (§5): ``v ← μv − λεw − εg;  w ← w + v``."""

    def __init__(self, params, lr: float = paper.LR_INITIAL, momentum: float = paper.MOMENTUM,
                 weight_decay: float = paper.WEIGHT_DECAY):
        if lr <= 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            for w in group["params"]:
                if w.grad is None:
                    continue
                state = self.state[w]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(w)
                v = state["velocity"]
                v.mul_(mu).add_(w, alpha=-wd * lr).add_(w.grad, alpha=-lr)
                w.add_(v)
        return loss
