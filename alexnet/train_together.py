"""The seeds of one ablation arm trained at once (§5's recipe, :class:`alexnet.batched.BatchedTrainer`).

An ablation repeats each arm with several seeds. On a GPU one CIFAR-sized AlexNet at batch 128 leaves most of the
chip idle, waiting on kernel launches, so K seeds trained one after another cost about K times one seed. Here the
K models are stacked and stepped as one (``torch.func.vmap`` on CUDA, one model after another on the CPU), which
turns the K launch sequences into one. Each model keeps its own seed's initial weights and data order, its own
learning rate and its own plateau schedule (lr ÷ 10 when its validation error stops improving, as
:func:`alexnet.train.train` does with ``ReduceLROnPlateau``), and gets its own history and final model.

What differs from K runs of :func:`alexnet.train.train`: the random draws. The data order of seed ``s`` is the
same (:func:`alexnet.train.epoch_batches`), but the crops, flips, PCA draws and dropout masks come from one
generator per step for all K models, so a model trained here is a fair sample of the same recipe, not
bit-identical to ``train(seed=s)``. No checkpoints are written (an arm that keeps its weights, or needs every
step's loss, is trained by :func:`alexnet.train.train`), biases get no weight decay (``bias_decay`` must be off),
and nothing is read back to the host during an epoch.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable, Sequence

import torch

from .batched import BatchedTrainer
from .data import ImageSet, load_imageset
from .device_data import place_images
from .errors import AlexNetError, NonFiniteLossError
from .text import plural
from .evaluate import evaluate
from .model import build_model
from .profiles import resolve_device
from .torch_state import preserved_torch_state
from .train import TrainConfig, TrainResult, epoch_batches, mix_seed
from .transforms import BatchAugment, compute_stats


def can_train_together(cfg: TrainConfig) -> bool:
    """Whether :func:`train_together` runs this recipe as :func:`alexnet.train.train` would (no checkpoints,
    no resume, no bias decay, no compile)."""
    return not (cfg.checkpoint_dir or cfg.resume or cfg.bias_decay or cfg.save_every or cfg.compile)


@preserved_torch_state()
def train_together(cfg: TrainConfig, seeds: Sequence[int], *, models: Sequence[torch.nn.Module] | None = None,
                   train_set: ImageSet | None = None, val_set: ImageSet | None = None,
                   on_epoch: Callable[[list[dict]], None] | None = None) -> list[TrainResult]:
    """Train one model per seed in ``seeds`` with ``cfg``'s recipe, all at once; one :class:`TrainResult` per seed.

    ``models`` (optional, one per seed) replaces ``build_model(cfg.resolved_arch(), classes, **cfg.model)`` drawn
    after ``torch.manual_seed(seed)``. Every history record has :func:`alexnet.train.train`'s keys (``epoch``,
    ``train_loss``, ``train_top1_error``: the running error over the epoch's augmented batches, ``lr``,
    ``seconds``: the epoch's wall time for all K together, and the validation errors every ``eval_every``
    epochs). ``on_epoch(history)`` is called once per model and epoch. Raises :class:`AlexNetError` for a recipe
    that :func:`can_train_together` refuses, :class:`NonFiniteLossError` naming the seed whose loss diverged.
    """
    cfg.validate()
    if not seeds:
        raise AlexNetError("train_together needs at least one seed")
    if not can_train_together(cfg):
        raise AlexNetError("train_together does not write checkpoints, resume, decay biases or compile: "
                           "train this recipe with alexnet.train.train")
    device = resolve_device(cfg.device)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    train_set = train_set or load_imageset(cfg.dataset, "train", limit=cfg.train_limit, progress=False)
    val_set = val_set or load_imageset(cfg.dataset, "val", limit=cfg.val_limit, progress=False)
    if models is None:
        models = []
        for seed in seeds:
            torch.manual_seed(seed)  # the same initial weights train(seed=seed) draws
            models.append(build_model(cfg.resolved_arch(), train_set.num_classes, **cfg.model))
    if len(models) != len(seeds):
        raise AlexNetError(f"{plural(len(models), 'model')} for {plural(len(seeds), 'seed')}")
    k = len(seeds)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    trainer = BatchedTrainer(models, [cfg.lr] * k, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                             device=device, amp=cfg.amp)
    # one ReduceLROnPlateau per model, each on a stand-in optimizer whose lr is copied into the trainer
    stand_ins = [torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.lr) for _ in seeds]
    schedules = [torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode="min", factor=0.1,
                                                            patience=cfg.plateau_patience, min_lr=cfg.min_lr)
                 for o in stand_ins]
    stats = compute_stats(train_set.images)
    aug = BatchAugment(stats.to(device), train_set.crop_size, cfg.augment)
    placed = place_images(train_set.images, train_set.labels, device)
    histories: list[list[dict]] = [[] for _ in seeds]
    for epoch in range(cfg.epochs):
        orders = [epoch_batches(len(train_set), cfg.batch_size, seed, epoch) for seed in seeds]
        if not orders[0]:
            raise AlexNetError(f"batch size {cfg.batch_size} is larger than the {len(train_set)} training images: "
                               f"use a batch size of {len(train_set)} or less (--batch-size)")
        trainer.train(True)
        t0 = time.perf_counter()
        for step in range(len(orders[0])):
            torch.manual_seed(mix_seed(seeds[0], k, epoch, step))  # dropout masks
            gen = torch.Generator(device=device).manual_seed(mix_seed(seeds[0], k, epoch, step))
            u8, y = placed.batch(torch.cat([order[step] for order in orders]))
            x = aug.augment(u8, gen)
            try:
                trainer.step(x.view(k, -1, *x.shape[1:]), y.view(k, -1))
            except torch.cuda.OutOfMemoryError:
                raise AlexNetError(f"CUDA ran out of memory training {plural(k, 'model')} at batch size {cfg.batch_size}: "
                                   "train fewer seeds at once or use a smaller batch") from None
        seconds = time.perf_counter() - t0
        epoch_stats = trainer.epoch_stats()
        lrs = []
        for i, seed in enumerate(seeds):
            if not epoch_stats["alive"][i]:
                raise NonFiniteLossError(f"seed {seed}: the training loss became non-finite in epoch {epoch + 1} "
                                         f"(lr {stand_ins[i].param_groups[0]['lr']:g}); try a lower learning rate")
            record = {"epoch": epoch + 1, "train_loss": epoch_stats["train_loss"][i],
                      "train_top1_error": epoch_stats["train_top1_error"][i],
                      "lr": stand_ins[i].param_groups[0]["lr"], "seconds": seconds}
            if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
                val = evaluate(trainer.model(i), val_set, aug, device=device)
                record.update(val_loss=val["loss"], val_top1_error=val["top1_error"],
                              val_top5_error=val["top5_error"])
                schedules[i].step(val["top1_error"])
            lrs.append(stand_ins[i].param_groups[0]["lr"])
            histories[i].append(record)
            if on_epoch is not None:
                on_epoch(histories[i])
        trainer.lrs = torch.tensor(lrs, device=device)
    out = []
    for i, seed in enumerate(seeds):
        out.append(TrainResult(trainer.model(i), histories[i], stats, replace(cfg, seed=seed), None, len(train_set)))
    return out
