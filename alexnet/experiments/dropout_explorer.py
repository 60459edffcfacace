"""The dropout-rate explorer of chapter 4.2: a trained net's fc6 activations under masks of a chosen rate, and its
softmax under many masks (an ensemble member each) against the deterministic test-time net of §4.2
(:class:`alexnet.model.PaperDropout` scales by 1 − p). Drawn by :func:`alexnet.figures.dropout.plot_dropout_rate`.
"""
from __future__ import annotations

import torch
from torch import nn

from ..model import DROPOUT_FORMS


@torch.no_grad()
def fc6_activations(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """fc6's outputs after its ReLU (before dropout) for a batch of network inputs."""
    model.eval()
    feats = torch.flatten(model.avgpool(model.features(x * model.input_scale)), 1)
    c = model.classifier
    return c.act6(c.fc6(feats).clone())


@torch.no_grad()
def dropout_output_samples(model: nn.Module, x: torch.Tensor, p: float, samples: int = 200, seed: int = 0) -> dict:
    """The network's softmax under ``samples`` random dropout masks of rate ``p`` on fc6 and fc7 (an ensemble
    member each), against the deterministic test-time net (all units; the paper's form scales them by 1 − p).

    The convolutional part has no dropout, so it runs once; only the classifier runs per mask, all masks in one
    batch. Returns ``{"samples": S×N×classes, "test": N×classes, "mc_mean": N×classes}``. The model's own rate
    is restored afterwards.
    """
    model.eval()
    feats = torch.flatten(model.avgpool(model.features(x * model.input_scale)), 1)
    drops = [m for m in model.classifier.modules() if isinstance(m, tuple(DROPOUT_FORMS.values()))]
    saved = [d.p for d in drops]
    torch.manual_seed(seed)
    try:
        for d in drops:  # the test-time net at rate p (the paper's form scales its outputs by 1 − p)
            d.p = p
        test = torch.softmax(model.classifier(feats), 1)
        if p == 0:
            return {"samples": test[None], "test": test, "mc_mean": test}
        for d in drops:
            d.train()
        logits = model.classifier(feats.repeat(samples, 1))
    finally:
        for d, q in zip(drops, saved):
            d.p = q
        model.eval()
    outs = torch.softmax(logits, 1).reshape(samples, *test.shape)
    return {"samples": outs, "test": test, "mc_mean": outs.mean(0)}


def precompute_dropout_rates(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, rates=(0.0, 0.25, 0.5, 0.75),
                             samples: int = 200, units: int = 64, seed: int = 0) -> dict:
    """Everything the dropout-rate explorer draws, computed once per rate: fc6 activations of the batch with a
    mask of that rate, and the softmax of the true class under many masks against the test-time output."""
    h = fc6_activations(model, x)[:, :units]
    gen = torch.Generator().manual_seed(seed)
    frames = {}
    for p in rates:
        mask = (torch.rand(h.shape, generator=gen) >= p).float()
        out = dropout_output_samples(model, x, p, samples, seed)
        idx = torch.arange(len(labels))
        frames[p] = {"fc6": h, "mask": mask,
                     "true_prob_samples": out["samples"][:, idx, labels],  # S×N
                     "true_prob_test": out["test"][idx, labels],
                     "true_prob_mc": out["mc_mean"][idx, labels],
                     "mc_error": (out["mc_mean"].argmax(1) != labels).float().mean().item(),
                     "test_error": (out["test"].argmax(1) != labels).float().mean().item()}
    return frames
