"""Top-1 / top-5 error on the centre crop or with the ten-crop average of §4.1 (as reported in §6)."""
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
def predict(model: torch.nn.Module, data: ImageSet, aug: BatchAugment, *, ten_crop: bool = False,
            batch_size: int = 256, device=None) -> torch.Tensor:
    """Softmax probabilities (N×classes) for every image of ``data``."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(data), batch_size):
        u8 = data.images[i:i + batch_size].to(device)
        if ten_crop:
            out.append(ten_crop_predict(model, aug.eval_ten(u8)).cpu())
        else:
            out.append(F.softmax(model(aug.eval(u8)).float(), dim=1).cpu())
    model.train(was_training)
    return torch.cat(out)


def evaluate(model: torch.nn.Module, data: ImageSet, aug: BatchAugment, *, ten_crop: bool = False,
             batch_size: int = 256, device=None) -> dict:
    """``loss``, ``top1_error`` and ``top5_error`` (fractions) on ``data``, centre crop or ten crops."""
    probs = predict(model, data, aug, ten_crop=ten_crop, batch_size=batch_size, device=device)
    labels = data.labels
    loss = F.nll_loss(probs.clamp_min(1e-12).log(), labels).item()
    errs = topk_errors(probs, labels)
    return {"loss": loss, "top1_error": errs[1], "top5_error": errs[5], "n": len(labels), "ten_crop": ten_crop}
