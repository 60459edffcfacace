"""Many small models trained at once, as one: the Figure 1 grid (learning rates × seeds) in a single pass per step.

A CIFAR-sized net such as Figure 1's four-layer CNN is far too small to fill a GPU: one model at batch 128 leaves
it waiting on kernel launches and on the host. Stacking K models of the same architecture
(:func:`torch.func.stack_module_state`) and running them through :func:`torch.func.functional_call` under
:func:`torch.vmap` turns each layer of the K models into one batched kernel (a convolution with ``groups=K``, a
batched matrix product), so K models cost about one launch sequence.

The models stay independent: model k sees its own batch ``x[k]``, gets its own loss and gradient, and is updated
with its own learning rate by the paper's rule (§5, :class:`alexnet.optim.PaperSGD`:
``v ← μv − λεw − εg;  w ← w + v``). Nothing is read back to the host during an epoch: the running training error
and loss of every model (what cuda-convnet printed: the error over the epoch's batches so far) accumulate on the
device and are read once, by :meth:`BatchedTrainer.epoch_stats`. A model whose loss turns NaN or infinite is
marked dead on the device and its updates stop; the others go on.

Shapes: ``x`` is ``K×B×C×H×W`` (one batch per model) or ``B×C×H×W`` (the same batch for all), ``y`` is ``K×B``
or ``B``. On CUDA the forward pass runs under bf16 autocast (fp16 where bf16 is not native); the loss is float32.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state

from . import paper
from .device_data import autocast_dtype
from .errors import AlexNetError
from .text import plural


class BatchedTrainer:
    """Train ``models`` (same architecture, any weights) side by side, each with its own learning rate.

    ``lrs``: one learning rate per model. ``weight_decay`` applies to parameters with more than one dimension
    (biases get none, as in cuda-convnet and :func:`alexnet.optim.param_groups`). ``amp`` turns on autocast on
    CUDA; ``compile`` wraps the batched step's forward in :func:`torch.compile` (opt-in). ``mode`` is how the K
    forward passes run: ``"vmap"`` (one batched kernel per layer: what pays on a GPU) or ``"loop"`` (one model
    after another, channels_last: on a CPU this measured about 1.6× faster than vmap's grouped convolutions);
    ``"auto"`` picks vmap on CUDA and the loop elsewhere. Both compute the same function.
    """

    def __init__(self, models: Sequence[nn.Module], lrs: Sequence[float], *, momentum: float = paper.MOMENTUM,
                 weight_decay: float = 0.0, device=None, amp: bool = True, compile: bool = False,
                 mode: str = "auto"):
        if not models:
            raise AlexNetError("BatchedTrainer needs at least one model")
        if len(lrs) != len(models):
            raise AlexNetError(f"{plural(len(models), 'model')} but {plural(len(lrs), 'learning rate')}")
        kinds = {tuple((n, tuple(p.shape)) for n, p in m.named_parameters()) for m in models}
        if len(kinds) != 1:
            raise AlexNetError("every model trained together must have the same architecture")
        self.device = torch.device(device) if device is not None else next(models[0].parameters()).device
        self.k = len(models)
        models = [m.to(self.device) for m in models]
        params, buffers = stack_module_state(models)
        self.params = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
        self.buffers = {n: b.detach().clone() for n, b in buffers.items()}
        self.velocity = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.base = copy.deepcopy(models[0]).to("meta").train()
        self.lrs = torch.tensor([float(lr) for lr in lrs], device=self.device)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.amp_dtype = autocast_dtype(self.device) if amp else None
        self.alive = torch.ones(self.k, dtype=torch.bool, device=self.device)
        if mode not in ("auto", "vmap", "loop"):
            raise AlexNetError(f"unknown mode {mode!r}: choose auto, vmap or loop")
        self.mode = ("vmap" if self.device.type == "cuda" else "loop") if mode == "auto" else mode
        forward = self._vmapped if self.mode == "vmap" else self._looped
        self._forward = torch.compile(forward) if compile else forward
        self.reset_epoch()

    # ------------------------------------------------------------------ the batched model

    def _one(self, params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.base, (params, buffers), (x,))

    def _vmapped(self, params: dict, buffers: dict, x: torch.Tensor, shared: bool) -> torch.Tensor:
        # randomness="different": each model draws its own dropout masks (as K separate runs would)
        return torch.vmap(self._one, in_dims=(0, 0, None if shared else 0), randomness="different")(params, buffers, x)

    def _looped(self, params: dict, buffers: dict, x: torch.Tensor, shared: bool) -> torch.Tensor:
        outs = []
        for k in range(self.k):
            w = {n: p[k].contiguous(memory_format=torch.channels_last) if p.dim() == 5 else p[k]
                 for n, p in params.items()}
            w.update({n: b[k] for n, b in buffers.items()})
            xk = (x if shared else x[k]).contiguous(memory_format=torch.channels_last)
            outs.append(functional_call(self.base, w, (xk,)))
        return torch.stack(outs)

    def train(self, mode: bool = True) -> "BatchedTrainer":
        """Training (dropout on) or evaluation mode for every model, as :meth:`torch.nn.Module.train`."""
        self.base.train(mode)
        return self

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``K×B×classes``: every model's output for its batch (``x``: ``K×B×…``) or the shared batch (``B×…``)."""
        shared = x.dim() == 4
        if not shared and x.shape[0] != self.k:
            raise AlexNetError(f"x has {plural(x.shape[0], 'batch', 'batches')} for {plural(self.k, 'model')}")
        if self.amp_dtype is not None:
            with torch.autocast(self.device.type, dtype=self.amp_dtype):
                return self._forward(self.params, self.buffers, x, shared).float()
        return self._forward(self.params, self.buffers, x, shared)

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(losses K, logits K×B×classes)``: each model's mean cross-entropy on its batch."""
        out = self.logits(x)
        yk = y if y.dim() == 2 else y.expand(self.k, -1)
        loss = F.cross_entropy(out.flatten(0, 1), yk.flatten(), reduction="none").view(self.k, -1).mean(1)
        return loss, out

    # ------------------------------------------------------------------ one step, no host synchronisation

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One SGD step of every model on its batch; returns the K losses (on the device, not read)."""
        loss, out = self.losses(x, y)
        finite = torch.isfinite(loss)
        self.alive &= finite
        for p in self.params.values():
            p.grad = None
        # a dead model's loss is left out of the sum; the models are independent, so the sum's gradient with
        # respect to model k's parameters is model k's own gradient
        torch.where(self.alive, loss, torch.zeros_like(loss)).sum().backward()
        with torch.no_grad():
            live = self.alive.to(loss.dtype)
            for n, w in self.params.items():
                shape = (self.k,) + (1,) * (w.dim() - 1)
                lr = (self.lrs * live).view(shape)
                g = torch.nan_to_num(w.grad, nan=0.0, posinf=0.0, neginf=0.0)
                v = self.velocity[n]
                v.mul_(self.momentum).sub_(lr * g)
                if self.weight_decay and w.dim() > 2:  # weights (K×…×…); biases are K×C
                    v.sub_(self.weight_decay * lr * w)
                w.add_(v)
            yk = y if y.dim() == 2 else y.expand(self.k, -1)
            self._loss_sum += torch.where(finite, loss.detach(), torch.zeros_like(loss)) * yk.shape[1]
            self._err_sum += (out.argmax(-1) != yk).sum(1)
            self._seen += yk.shape[1]
        return loss.detach()

    def reset_epoch(self) -> None:
        self._loss_sum = torch.zeros(self.k, dtype=torch.float64, device=self.device)
        self._err_sum = torch.zeros(self.k, dtype=torch.long, device=self.device)
        self._seen = 0

    def epoch_stats(self) -> dict[str, list]:
        """The epoch's running training error and loss per model (one read from the device), then a reset.

        ``{"train_top1_error": [K], "train_loss": [K], "alive": [K]}``; a dead model's error is NaN.
        """
        seen = max(self._seen, 1)
        err = (self._err_sum.double() / seen).tolist()
        loss = (self._loss_sum / seen).tolist()
        alive = self.alive.tolist()
        self.reset_epoch()
        nan = float("nan")
        return {"train_top1_error": [e if a else nan for e, a in zip(err, alive)],
                "train_loss": [v if a else nan for v, a in zip(loss, alive)], "alive": alive}

    def model(self, i: int) -> nn.Module:
        """Model ``i`` as an ordinary module (a copy of its current weights, on the device)."""
        m = copy.deepcopy(self.base).to_empty(device=self.device)
        state = {n: p[i].detach().clone() for n, p in self.params.items()}
        state.update({n: b[i].clone() for n, b in self.buffers.items()})
        m.load_state_dict(state)
        return m
