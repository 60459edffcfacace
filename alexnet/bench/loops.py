"""The two whole training loops, timed: (a) ours, :func:`alexnet.train.train` itself on the photos' uint8 cache, and
(b) the PyTorch ImageNet example's loop (DataLoader batches → torchvision AlexNet, fp32, SGD)."""
from __future__ import annotations

import contextlib
import sys

import torch
import torch.nn.functional as F

from .. import paper
from .inputs import BenchPhotos, torchvision_loader
from .timing import _cudnn_benchmark, _rate


def time_train_ours(photos: BenchPhotos, device, batch_size: int, steps: int, warmup: bool = True,
                    max_images: int = 4096, model: dict | None = None) -> dict:
    """(a): :func:`alexnet.train.train` itself, for two epochs of ``steps`` batches drawn from the photos' cache;
    the first epoch warms up (cuDNN autotuning, allocator), the second is timed (the trainer's own clock).
    With ``warmup=False``, one epoch, timed. ``model`` holds :class:`alexnet.AlexNet` switches (``TrainConfig.model``),
    e.g. ``{"lrn": False}`` for the same loop with torchvision's kinds of layers."""
    from ..data import ImageSet
    from ..train import TrainConfig, train

    device = torch.device(device)
    steps = max(1, min(steps, max_images // batch_size))
    n = batch_size * steps
    pick = torch.randint(0, len(photos.cache), (n,), generator=torch.Generator().manual_seed(0)).sort().values
    classes = [f"class{i}" for i in range(paper.ILSVRC_CLASSES)]  # the paper's 1000-way fc8, whatever the labels
    images = torch.as_tensor(photos.cache.images)
    labels = photos.cache.labels % paper.ILSVRC_CLASSES
    train_set = ImageSet("imagenet", "train", images[pick], labels[pick], classes)
    val_set = ImageSet("imagenet", "val", images[:2], labels[:2], classes)
    # train() leaves the global torch state (deterministic algorithms, cuDNN autotuning) as it found it
    with contextlib.redirect_stdout(sys.stderr):  # the trainer's placement line goes to stderr, not the report
        result = train(TrainConfig(dataset="imagenet", epochs=2 if warmup else 1, batch_size=batch_size,
                                   arch="alexnet", device=str(device), seed=0, model=dict(model or {})),
                       train_set=train_set, val_set=val_set, progress=False)
    seconds = result.history[-1]["seconds"]
    return {"img_s": n / seconds, "steps": steps, "seconds": seconds}


def time_train_torchvision(photos: BenchPhotos, device, batch_size: int, steps: int, warmup: int = 2,
                           budget_s: float = 60.0) -> dict:
    """(b): the PyTorch ImageNet example's loop: DataLoader batches → torchvision AlexNet, fp32, SGD, and
    ``loss.item()`` every step for the running average it prints."""
    from torchvision.models import alexnet as tv_alexnet

    device = torch.device(device)
    torch.manual_seed(0)
    model = tv_alexnet(num_classes=paper.ILSVRC_CLASSES).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=paper.MOMENTUM, weight_decay=paper.WEIGHT_DECAY)
    loader, workers = torchvision_loader(photos.folder, batch_size, warmup + steps, device)
    it = iter(loader)
    losses = []

    def step(_i):
        x, y = next(it)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        return len(y)

    with _cudnn_benchmark(device.type == "cuda"):
        result = _rate(step, device, steps, warmup, budget_s)
    it = None  # drop the iterator now, so that its DataLoader workers shut down
    return {**result, "workers": workers}
