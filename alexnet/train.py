"""One trainer for the chapters, the CLI and the tests (§5), readable top to bottom.

Every random choice of step ``s`` in epoch ``e`` (the data order, the crops, flips and PCA draws, the dropout
masks) is drawn from generators seeded by ``(seed, e, s)``. So a run restarted from a checkpoint taken after
any step replays the rest exactly: on the CPU with a fixed seed, a killed and resumed run ends bit-identical
to an uninterrupted one. Checkpoints are written at the end of every epoch and, with ``save_every=N``, every
N steps inside an epoch (mid-epoch resume matters for long ImageNet epochs).

Under ``torchrun`` (``WORLD_SIZE`` > 1) the same loop runs data-parallel with ``DistributedDataParallel``:
each rank takes its slice of every global batch through a ``DistributedSampler``, only rank 0 prints and
writes files, and the result equals one process with the same global batch (up to float summation order).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from . import paper
from .checkpoint import atomic_write_bytes, check_writable, kept_message, latest_checkpoint, save_checkpoint
from .data import DATASETS, ImageSet, load_imageset
from .device_data import autocast_dtype, place_images
from .errors import AlexNetError, CheckpointError, NonFiniteLossError, AlexNetWarning
from .evaluate import evaluate
from .folders import name_list
from .model import build_model
from .optim import PaperSGD, param_groups
from .profiles import resolve_device
from .torch_state import preserved_torch_state
from .transforms import BatchAugment, DatasetStats, compute_stats


@dataclass
class TrainConfig:
    dataset: str = "cifar10"
    epochs: int = 10
    batch_size: int = paper.BATCH_SIZE
    lr: float = paper.LR_INITIAL
    momentum: float = paper.MOMENTUM
    weight_decay: float = paper.WEIGHT_DECAY
    bias_decay: bool = False  # cuda-convnet gave biases no weight decay (see alexnet.optim)
    arch: str | None = None  # None: the paper's net for photos, the scaled one for 32×32 data
    model: dict = field(default_factory=dict)  # keyword switches for AlexNet (activation, lrn, pooling, ...)
    augment: str = "paper"  # paper | crop_flip | none
    plateau_patience: int = 5  # epochs without a better validation error before lr ÷ 10
    min_lr: float = 1e-5
    seed: int = 0
    checkpoint_dir: str | None = None
    resume: bool = False
    save_every: int = 0  # also checkpoint every N steps inside an epoch (0: only at epoch ends)
    train_limit: int | None = None
    val_limit: int | None = None
    device: str | None = None
    amp: bool = True  # bf16 (or fp16 + GradScaler) autocast on CUDA; ignored elsewhere
    eval_every: int = 1
    # performance: channels_last None = on for CUDA and the CPU (MPS: off); compile = opt-in torch.compile of the model
    channels_last: bool | None = None
    compile: bool = False

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise AlexNetError(f"unknown dataset {self.dataset!r}: choose one of {', '.join(DATASETS)}")
        for name in ("epochs", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise AlexNetError(f"{name.replace('_', ' ')} must be a positive integer, got {getattr(self, name)!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise AlexNetError(f"learning rate must be positive, got {self.lr!r}")
        if self.resume and not self.checkpoint_dir:
            raise AlexNetError("resume needs a checkpoint directory (--checkpoint-dir)")

    def resolved_arch(self) -> str:
        return self.arch or ("alexnet" if DATASETS[self.dataset].image_size >= 128 else "alexnet-cifar")


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[dict]
    stats: DatasetStats
    config: TrainConfig
    checkpoint: Path | None
    train_images: int | None = None  # how many training images the run saw (after train_limit)


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from several integers (seed, epoch, step, ...)."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") >> 1


def _dist():
    """(rank, world_size, local_rank) from torchrun's environment."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


class _IndexSet(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[torch.Tensor]:
    """This rank's index batches for one epoch: a seeded shuffle, whole global batches only.

    Rank ``r`` of ``W`` takes positions ``r, r+W, ...`` of every global batch of ``batch_size``
    (``DistributedSampler`` interleaving), so the ranks' batches together are exactly the one-process batch.
    """
    sampler = torch.utils.data.DistributedSampler(_IndexSet(n), num_replicas=world, rank=rank, shuffle=True,
                                                  seed=seed, drop_last=True)
    sampler.set_epoch(epoch)
    local = torch.tensor(list(iter(sampler)), dtype=torch.long)
    per_rank = batch_size // world
    steps = len(local) // per_rank
    return [local[i * per_rank:(i + 1) * per_rank] for i in range(steps)]


def _autocast(device: torch.device, amp: bool):
    if device.type == "cuda" and amp:
        dtype = autocast_dtype(device)  # bf16 only where native; a T4 gets fp16 + GradScaler
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast(device.type, enabled=False)


@preserved_torch_state()  # the global switches set below are put back on return
def train(config: TrainConfig, *, model: torch.nn.Module | None = None, train_set: ImageSet | None = None,
          val_set: ImageSet | None = None, progress: bool | None = None, log: bool | None = None,
          on_epoch: Callable[[list[dict]], None] | None = None,
          on_step: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None) -> TrainResult:
    """Train with the paper's recipe (§5) and return the model, the per-epoch history and the data statistics.

    ``on_epoch(history)`` is called after every epoch. ``on_step(step, loss, error)`` is called once a step, after
    the backward pass and before the update, with the step's index counted from the first step of epoch 1
    (``epoch · steps_per_epoch + step``, 0-based), its training loss and its top-1 error on the batch (a
    fraction), both 0-dim tensors, detached, on the training device. The hook adds no host synchronisation of
    its own (the trainer already reads the loss once a step, for the non-finite check and the epoch's sums):
    keep the tensors and ``torch.stack`` them at the end rather than calling ``.item()`` on each. It sees the
    non-finite loss that stops a run. Both hooks run on rank 0 only (under DDP, ``on_step`` gets rank 0's share
    of the global batch).
    """
    cfg = config
    cfg.validate()
    rank, world, local_rank = _dist()
    if world > 1 and cfg.batch_size % world:
        raise AlexNetError(f"batch size {cfg.batch_size} must divide evenly over {world} processes")
    is_main = rank == 0
    if progress is None:
        progress = os.environ.get("ALEXNET_STATIC", "") in ("", "0")
    device = resolve_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
        # perf: deterministic mode also fills every new tensor with NaN, a debugging aid that took ~14% of a CPU
        # step (aten::fill_ in a profile); the kernels stay deterministic without it
        if hasattr(torch.utils, "deterministic"):
            torch.utils.deterministic.fill_uninitialized_memory = False
    folder = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
    if folder is not None and is_main:
        check_writable(folder)  # a read-only or misspelt folder is found now, not after the first epoch

    state = latest_checkpoint(folder) if cfg.resume and folder is not None else None
    if state is not None:
        refuse_changed_settings(state.get("config", {}), cfg, folder)
    elif cfg.resume and is_main:
        warnings.warn(f"nothing to resume: no checkpoint in {folder}; training starts from the beginning",
                      AlexNetWarning, stacklevel=2)
    train_set = train_set or load_imageset(cfg.dataset, "train", limit=cfg.train_limit, progress=progress and is_main)
    val_set = val_set or load_imageset(cfg.dataset, "val", limit=cfg.val_limit, progress=progress and is_main)
    if val_set.classes != train_set.classes:
        raise AlexNetError(f"the validation set's classes ({name_list(val_set.classes)}) are not the training "
                           f"set's ({name_list(train_set.classes)}): its labels would name other classes")
    arch = cfg.resolved_arch()
    torch.manual_seed(cfg.seed)
    model = model or build_model(arch, train_set.num_classes, **cfg.model)
    # perf: NHWC layout (channels_last=None means "on for CUDA and the CPU", where the model step measured
    # fastest in that layout) and cuDNN autotuning on CUDA
    channels_last = cfg.channels_last if cfg.channels_last is not None else device.type in ("cuda", "cpu")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    optimizer = PaperSGD(param_groups(model, cfg.weight_decay, bias_decay=cfg.bias_decay), lr=cfg.lr,
                         momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1,
                                                           patience=cfg.plateau_patience, min_lr=cfg.min_lr)
    # the dropout form is recorded explicitly: checkpoints without it were trained with inverted dropout
    identity = {"arch": arch, "model": {"dropout_form": "paper", **cfg.model}, "num_classes": train_set.num_classes}

    start_epoch, start_step, history, sums = 0, 0, [], [0.0, 0.0, 0]
    stats = None
    if state is not None:
        if state.get("identity") != identity:
            raise CheckpointError(
                f"checkpoint in {folder} is for {state.get('identity')}, not {identity}: a different "
                "architecture or dataset; use another --checkpoint-dir or drop --resume")
        check_same_classes(state.get("classes"), train_set, f"the checkpoint in {folder}")
        model.load_state_dict(state["model"])
        try:
            optimizer.load_state_dict(state["optimizer"])
        except ValueError as e:  # e.g. a checkpoint from before biases had their own group
            raise CheckpointError(f"the optimizer state in {folder} does not match this run ({e}); "
                                  "use another --checkpoint-dir or drop --resume") from None
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, start_step, history = state["epoch"], state["step"], state["history"]
        sums = state["sums"]
        stats = DatasetStats(**state["stats"])
        if is_main:
            print(f"resuming from {folder} at epoch {start_epoch + 1}, step {start_step}")
    stats = stats or compute_stats(train_set.images)
    aug = BatchAugment(stats.to(device), train_set.crop_size, cfg.augment)
    scaler = torch.amp.GradScaler("cuda", enabled=(device.type == "cuda" and cfg.amp
                                                    and autocast_dtype(device) == torch.float16))
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    # the uint8 cache on the GPU if it fits, else streamed from pinned host memory (said once);
    # on the CPU this is plain images[idx]
    placed = place_images(train_set.images, train_set.labels, device)
    if is_main and placed.where != "host":
        print(placed.describe())
    if cfg.compile:  # perf (see the performance appendix): opt-in; the first steps pay the compilation
        net = torch.compile(net)

    def snapshot(epoch: int, step: int) -> dict:
        return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "epoch": epoch, "step": step, "history": history,
                "sums": list(sums), "stats": stats.state_dict(), "identity": identity, "config": asdict(cfg),
                "classes": train_set.classes, "train_images": len(train_set)}

    def checkpoint(epoch: int, step: int) -> None:
        if folder is not None and is_main:
            save_checkpoint(snapshot(epoch, step), folder)

    from tqdm.auto import tqdm

    for epoch in range(start_epoch, cfg.epochs):
        batches = epoch_batches(len(train_set), cfg.batch_size, cfg.seed, epoch, rank, world)
        if not batches:
            raise AlexNetError(f"batch size {cfg.batch_size} is larger than the {len(train_set)} training images: "
                               f"use a batch size of {len(train_set)} or less (--batch-size)")
        model.train()
        t0 = time.perf_counter()
        bar = tqdm(total=len(batches), initial=start_step, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not (progress and is_main), leave=False)
        for step in range(start_step, len(batches)):
            torch.manual_seed(mix_seed(cfg.seed, epoch, step, rank))  # dropout masks
            gen = torch.Generator(device=device).manual_seed(mix_seed(cfg.seed, epoch, step))
            idx = batches[step]
            u8, y = placed.batch(idx, prefetch=batches[step + 1] if step + 1 < len(batches) else None)
            # under DDP, rank r's j-th image sits at position j·W + r of the global batch: repeating each local
            # image W times and keeping rows r, r+W, ... gives it exactly the crop/flip/PCA draws one process
            # would have made for that position
            x = aug.augment(u8.repeat_interleave(world, 0) if world > 1 else u8, gen)
            if world > 1:
                x = x[rank::world]
            if channels_last:  # perf (see the performance appendix)
                x = x.contiguous(memory_format=torch.channels_last)
            try:
                with _autocast(device, cfg.amp):
                    out = net(x)
                    loss = F.cross_entropy(out.float(), y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
            except torch.cuda.OutOfMemoryError:
                raise AlexNetError(
                    f"CUDA ran out of memory at batch size {cfg.batch_size}; try --batch-size "
                    f"{max(1, cfg.batch_size // 2)}; {kept_message(folder)}") from None
            wrong = (out.argmax(1) != y).sum()
            if on_step is not None and is_main:
                on_step(epoch * len(batches) + step, loss.detach(), wrong.detach() / len(y))
            if not torch.isfinite(loss):
                kept = kept_message(folder)
                raise NonFiniteLossError(
                    f"training loss became {loss.item()} at epoch {epoch + 1}, step {step + 1} "
                    f"(lr {optimizer.param_groups[0]['lr']:g}); {kept}. Try a lower learning rate, e.g. "
                    f"--lr {optimizer.param_groups[0]['lr'] / 10:g}")
            scaler.step(optimizer)
            scaler.update()
            sums[0] += loss.item() * len(y)
            sums[1] += wrong.item()
            sums[2] += len(y)
            bar.update(1)
            if cfg.save_every and (step + 1) % cfg.save_every == 0 and step + 1 < len(batches):
                checkpoint(epoch, step + 1)
        bar.close()
        start_step = 0
        record = {"epoch": epoch + 1, "train_loss": sums[0] / sums[2], "train_top1_error": sums[1] / sums[2],
                  "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
        if world > 1:  # the ranks' sums together are the global batch's
            t = torch.tensor(sums, dtype=torch.float64, device=device)
            torch.distributed.all_reduce(t)
            record["train_loss"], record["train_top1_error"] = (t[0] / t[2]).item(), (t[1] / t[2]).item()
        sums = [0.0, 0.0, 0]
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            val = evaluate(model, val_set, aug, device=device)
            record.update(val_loss=val["loss"], val_top1_error=val["top1_error"], val_top5_error=val["top5_error"])
            scheduler.step(val["top1_error"])
        history.append(record)
        checkpoint(epoch + 1, 0)
        if folder is not None and is_main:
            atomic_write_bytes(folder / "history.json", lambda f: f.write(json.dumps(history, indent=1).encode()))
        if is_main and (progress if log is None else log):  # one line per epoch
            tqdm.write(_epoch_line(record, cfg.epochs))
        if on_epoch is not None and is_main:
            on_epoch(history)
    return TrainResult(model, history, stats, cfg, (folder / "last.pt") if folder else None, len(train_set))


# Settings that may differ on --resume: more epochs, and where or how fast the run goes. Every other field
# defines the run (its data, optimiser, randomness, model), and a changed value is refused, never ignored.
RESUMABLE = ("epochs", "resume", "checkpoint_dir", "device", "save_every", "eval_every", "amp", "channels_last",
             "compile")


def refuse_changed_settings(saved: dict, cfg: TrainConfig, folder: Path) -> None:
    """Raise :class:`CheckpointError` listing every setting of ``cfg`` that differs from the checkpoint's run."""
    now = asdict(cfg)
    changed = [f"{k.replace('_', '-')} {saved[k]!r} → {now[k]!r}" for k in now
               if k not in RESUMABLE and k in saved and saved[k] != now[k]]
    if changed:
        raise CheckpointError(f"cannot resume from {folder}: settings are different from the checkpoint's run "
                              f"({'; '.join(changed)}); repeat the checkpoint's settings (only --epochs may change) "
                              "or start a new run in another --checkpoint-dir")


def check_same_classes(trained: list[str] | None, data: ImageSet, what: str) -> None:
    """Raise :class:`CheckpointError` if a model trained on the classes ``trained`` meets ``data`` with others
    (or the same in another order: its outputs would name the wrong classes). None (old checkpoints) passes."""
    if trained is not None and list(trained) != list(data.classes):
        raise CheckpointError(f"{what} was trained on {len(trained)} classes ({name_list(list(trained))}) but "
                              f"{data.name} has {data.num_classes} ({name_list(data.classes)}); use a checkpoint "
                              "trained on this dataset")


def _epoch_line(r: dict, epochs: int) -> str:
    text = f"epoch {r['epoch']:>3}/{epochs}  train loss {r['train_loss']:.3f}  train err {r['train_top1_error']:.1%}"
    if "val_top1_error" in r:
        text += f"  val err {r['val_top1_error']:.1%} (top-5 {r['val_top5_error']:.1%})"
    return text + f"  lr {r['lr']:g}  {r['seconds']:.1f}s"


def model_switches(identity: dict) -> dict:
    """The model keywords a checkpoint was trained with. Checkpoints written before the paper's dropout became
    the default (no ``dropout_form`` recorded) were trained with ``torch.nn.Dropout``: they get ``"inverted"``."""
    return {"dropout_form": "inverted", **identity.get("model", {})}


def load_trained(path: str | Path, device=None) -> tuple[torch.nn.Module, DatasetStats, dict]:
    """A model, its data statistics and the checkpoint dict, from a checkpoint written by :func:`train`."""
    from .checkpoint import load_checkpoint

    device = resolve_device(device)  # a wrong device is named before the checkpoint is read
    state = load_checkpoint(path)
    ident = state["identity"]
    model = build_model(ident["arch"], ident["num_classes"], **model_switches(ident))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise CheckpointError(f"{path} does not match architecture {ident['arch']}: {str(e).splitlines()[0]}") from None
    model.to(device).eval()
    return model, DatasetStats(**state["stats"]), state
