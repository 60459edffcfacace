"""Top-1 / top-5 error on the centre crop and with the ten-crop average of §4.1 (as reported in §6).

:func:`evaluate` scores one way of testing; :func:`evaluate_crops` scores both in one loop over the data (the
centre crop and the ten crops of each batch), and keeps which images each gets right, so that the two can be
compared image by image (:func:`alexnet.stats.paired`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import ImageSet
from .transforms import BatchAugment


def topk_errors(probs: torch.Tensor, labels: torch.Tensor, ks=(1, 5)) -> dict[int, float]:
    """Fraction of rows whose label is not among the ``k`` highest scores, for each ``k``."""
    top = probs.topk(min(max(ks), probs.shape[1]), dim=1).indices
    hits = top == labels[:, None]
    return {k: 1.0 - hits[:, :k].any(1).float().mean().item() for k in ks}


@torch.no_grad()
def ten_crop_predict(model: torch.nn.Module, crops: torch.Tensor) -> torch.Tensor:
    """Average the softmax over the ten crops (10×N×3×c×c) of each image: §4.1's test-time procedure."""
    probs = torch.stack([F.softmax(model(c).float(), dim=1) for c in crops])
    return probs.mean(0)


@torch.no_grad()
def _predict_ways(model: torch.nn.Module, data: ImageSet, aug: BatchAugment, ways: tuple[str, ...],
                  batch_size: int, device) -> dict[str, torch.Tensor]:
    """Softmax probabilities (N×classes) for each way of testing in ``ways`` ("centre", "ten_crop"), in one loop
    over the data in eval mode (dropout off; the model's mode is restored)."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: dict[str, list[torch.Tensor]] = {w: [] for w in ways}
    try:
        for i in range(0, len(data), batch_size):
            u8 = data.images[i:i + batch_size].to(device)
            if "centre" in out:
                out["centre"].append(F.softmax(model(aug.centre_crop(u8)).float(), dim=1).cpu())
            if "ten_crop" in out:
                out["ten_crop"].append(ten_crop_predict(model, aug.ten_crops(u8)).cpu())
    finally:
        model.train(was_training)
    return {w: torch.cat(p) for w, p in out.items()}


def predict(model: torch.nn.Module, data: ImageSet, aug: BatchAugment, *, ten_crop: bool = False,
            batch_size: int = 256, device=None) -> torch.Tensor:
    """Softmax probabilities (N×classes) for every image of ``data``."""
    way = "ten_crop" if ten_crop else "centre"
    return _predict_ways(model, data, aug, (way,), batch_size, device)[way]


def _scores(probs: torch.Tensor, labels: torch.Tensor) -> dict:
    errs = topk_errors(probs, labels)
    return {"loss": F.nll_loss(probs.clamp_min(1e-12).log(), labels).item(), "top1_error": errs[1],
            "top5_error": errs[5], "n": len(labels)}


def evaluate(model: torch.nn.Module, data: ImageSet, aug: BatchAugment, *, ten_crop: bool = False,
             batch_size: int = 256, device=None) -> dict:
    """``loss``, ``top1_error`` and ``top5_error`` (fractions) on ``data``, centre crop or ten crops."""
    probs = predict(model, data, aug, ten_crop=ten_crop, batch_size=batch_size, device=device)
    return {**_scores(probs, data.labels), "ten_crop": ten_crop}


def evaluate_crops(model: torch.nn.Module, data: ImageSet, aug: BatchAugment, *, batch_size: int = 256,
                   device=None) -> dict[str, dict]:
    """Both ways of testing of §4.1/§6 in one loop over ``data``: ``{"centre": {...}, "ten_crop": {...}}``, each
    as :func:`evaluate` returns it, plus ``correct``: a length-N boolean tensor, True where the top-1 guess is
    right."""
    probs = _predict_ways(model, data, aug, ("centre", "ten_crop"), batch_size, device)
    return {way: {**_scores(p, data.labels), "ten_crop": way == "ten_crop", "correct": p.argmax(1) == data.labels}
            for way, p in probs.items()}
