r"""``python -m alexnet bench``: training images per second, ours against the usual torchvision recipe.

One run measures, at the same batch size, crop size (227) and device:

- **(a) ours**: the paper's AlexNet (:func:`alexnet.model.alexnet`) trained by :func:`alexnet.train.train`
  itself, fed from the uint8 image cache (:mod:`alexnet.data`), placed on the device
  (:mod:`alexnet.device_data`) and augmented there in whole batches (:class:`alexnet.transforms.BatchAugment`:
  crops, flips, PCA lighting, mean subtraction), with the trainer's defaults: bf16 autocast (fp16 + GradScaler on
  GPUs without native bf16), channels_last and cuDNN autotuning on CUDA.
- **(b) the usual recipe**: ``torchvision.models.alexnet`` with a ``DataLoader`` over JPEG files that decodes every
  image with PIL in ``min(8, cpu_count)`` worker processes and applies ``RandomResizedCrop(227)``,
  ``RandomHorizontalFlip``, ``ToTensor`` and ``Normalize`` per image, fp32, ``torch.optim.SGD`` (the PyTorch
  ImageNet example).

and, so that the bottleneck is visible, each half alone: the two input pipelines without a model, and the two
model steps on synthetic tensors already on the device (plus the step with each of our switches added one at a
time: cuDNN autotuning, mixed precision, channels_last, and the opt-in ``torch.compile``). It also times our
LRN layer against ``torch.nn.LocalResponseNorm`` at conv1's shape (forward + backward).

Model FLOPs utilisation is :math:`\text{MFU} = \text{img/s} \times 3 \times 2\,\text{MACs} / \text{peak}`: the
counted multiply-adds of one image's forward pass (:func:`alexnet.summary.layer_table`), ×2 FLOPs each, ×3 for
forward plus backward, over the device's dense bf16/fp16 tensor peak (:data:`PEAK_TFLOPS`, or ``--peak-tflops``).

Photos: the ImageNet sample's JPEGs when ``$ALEXNET_DATA`` has them, else synthetic 256×256 images written as
JPEGs to a temporary folder. Both pipelines read the same files; ours decodes them once into its cache (the time
that takes is reported, and it is not part of the per-step numbers).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from .errors import AlexNetError

CROP = 227  # the paper's input (its "224" is a slip), for both (a) and (b)
STORED = 256  # §2: the cache stores the centre 256×256

# Dense (no sparsity) tensor-core peaks in TFLOPS for the dtype the trainer uses there: bf16 from Ampere on, fp16
# on the T4 and V100. Matched against torch.cuda.get_device_name(), first match wins (so "H100 PCIe" before "H100").
PEAK_TFLOPS: list[tuple[str, float]] = [
    ("H100 PCIe", 756.0),
    ("H200", 989.0),
    ("H100", 989.0),  # SXM
    ("A100", 312.0),
    ("L4", 121.0),
    ("T4", 65.0),  # fp16
    ("V100", 125.0),  # fp16
]


def peak_for_name(name: str) -> float | None:
    """The :data:`PEAK_TFLOPS` entry whose key appears in a GPU's name (first match), else None."""
    return next((peak for key, peak in PEAK_TFLOPS if key.lower() in name.lower()), None)


def device_peak_tflops(device: torch.device) -> float | None:
    """The dense bf16/fp16 tensor peak of ``device`` from :data:`PEAK_TFLOPS`, or None (CPUs, unknown GPUs)."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    return peak_for_name(torch.cuda.get_device_name(device))


def device_name(device: torch.device) -> str:
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"
    return str(device)


def mfu(images_per_second: float, macs_per_image: int, peak_tflops: float | None) -> float | None:
    """Model FLOPs utilisation: 3 × (2 FLOPs × MACs) per image for forward + backward, over the peak."""
    if not peak_tflops or not images_per_second:
        return None
    return images_per_second * 3 * 2 * macs_per_image / (peak_tflops * 1e12)


def macs_per_image(model: torch.nn.Module, size: int = CROP) -> int:
    """Counted multiply-adds of one image's forward pass (convolutions and linear layers)."""
    from .summary import layer_table

    return layer_table(model, size).total_macs


# ---------------------------------------------------------------------------- timing helpers

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _rate(step: Callable[[int], int], device: torch.device, steps: int, warmup: int, budget_s: float) -> dict:
    """Run ``step(i)`` (returns images processed) ``warmup`` times untimed, then up to ``steps`` times timed, stopping
    early (after at least one) once ``budget_s`` seconds have passed. Returns images/s and what was timed."""
    for i in range(warmup):
        step(i)
    _sync(device)
    images, done, start = 0, 0, time.perf_counter()
    for i in range(steps):
        images += step(warmup + i)
        done += 1
        if time.perf_counter() - start > budget_s:
            break
    _sync(device)
    seconds = time.perf_counter() - start
    return {"img_s": images / seconds, "steps": done, "seconds": seconds}


@contextlib.contextmanager
def _cudnn_benchmark(on: bool):
    old = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = on
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = old


# ---------------------------------------------------------------------------- the LRN micro-benchmark

def time_lrn(device, batch: int = 32, repeats: int = 5, channels: int = 96, side: int = 55) -> dict:
    """Forward + backward of our LRN and ``torch.nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2)`` (the same
    function: torch divides α by n) on a ReLU-like ``batch×96×55×55`` tensor (conv1's output), interleaved,
    best of ``repeats``. Returns milliseconds and the speedup."""
    from .lrn import LocalResponseNorm

    device = torch.device(device)
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = (torch.randn(batch, channels, side, side, generator=gen) * 30).relu_().to(device)
    g = torch.randn(x.shape, generator=gen).to(device)
    layers = {"ours": LocalResponseNorm(5, 1e-4, 0.75, 2.0), "torch": torch.nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0)}
    best = {name: math.inf for name in layers}
    for r in range(repeats + 1):  # the first round warms up
        for name, layer in layers.items():
            a = x.clone().requires_grad_()
            _sync(device)
            t = time.perf_counter()
            layer(a).backward(g)
            _sync(device)
            if r:
                best[name] = min(best[name], time.perf_counter() - t)
    return {"shape": [batch, channels, side, side], "ours_ms": best["ours"] * 1e3, "torch_ms": best["torch"] * 1e3,
            "speedup": best["torch"] / best["ours"], "repeats": repeats}


# ---------------------------------------------------------------------------- the photos

class BenchPhotos:
    """JPEG files in an ImageFolder for (b), and the same photos decoded once into the uint8 cache for (a)."""

    def __init__(self, n_synthetic: int = 64):
        from .data import DATASETS, data_root, load_folder, load_imageset

        self._tmp = None
        sample = data_root() / "imagenet-sample" / "val"
        start = time.perf_counter()
        if sample.is_dir():
            self.folder = sample
            self.cache = load_imageset("imagenet-sample", "val", progress=False)
            self.source = f"the ImageNet sample: {len(self.cache)} JPEG photos, 256×256"
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="alexnet-bench-")
            self.folder = Path(self._tmp.name) / "photos"
            _write_synthetic_jpegs(self.folder, n_synthetic)
            self.cache = load_folder(self.folder, DATASETS["imagenet"].image_size, "bench-synthetic", "train",
                                     root=Path(self._tmp.name), progress=False)
            self.source = f"{len(self.cache)} synthetic 256×256 images written as JPEG files (no ImageNet sample found)"
        self.cache_seconds = time.perf_counter() - start  # decoding once (or reading the cache back)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _write_synthetic_jpegs(folder: Path, n: int, classes: int = 10) -> None:
    """``n`` photo-like 256×256 JPEGs (smooth colour fields plus grain; quality 90) in ``classes`` class folders."""
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    for start in range(0, n, 64):
        m = min(64, n - start)
        coarse = torch.rand(m, 3, 6, 6, generator=g) * 255
        images = F.interpolate(coarse, size=(STORED, STORED), mode="bicubic", align_corners=False)
        images = (images + 12 * torch.randn(images.shape, generator=g)).clamp(0, 255).to(torch.uint8)
        for j, img in enumerate(images):
            i = start + j
            d = folder / f"class{i % classes}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(d / f"{i:05d}.jpg", quality=90)


# ---------------------------------------------------------------------------- the two input pipelines

def torchvision_loader(folder: Path, batch_size: int, batches: int, device: torch.device, workers: int | None = None):
    """The usual recipe's input pipeline: per-image PIL decode + RandomResizedCrop + flip + ToTensor + Normalize in
    ``min(8, cpu_count)`` worker processes, sampling ``batches`` batches with replacement."""
    from torchvision import datasets, transforms

    workers = min(8, os.cpu_count() or 1) if workers is None else workers
    transform = transforms.Compose([
        transforms.RandomResizedCrop(CROP), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    dataset = datasets.ImageFolder(str(folder), transform)
    sampler = torch.utils.data.RandomSampler(dataset, replacement=True, num_samples=batch_size * batches,
                                             generator=torch.Generator().manual_seed(0))
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                                       pin_memory=device.type == "cuda", drop_last=True), workers


def _random_batches(n: int, batch_size: int, count: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, n, (batch_size,), generator=g) for _ in range(count)]


def time_input_ours(photos: BenchPhotos, device, batch_size: int, steps: int, warmup: int = 2,
                    budget_s: float = 30.0, channels_last: bool | None = None, where: str = "auto") -> dict:
    """Our input pipeline alone: the placed uint8 cache → a batch on the device → BatchAugment (paper mode).
    ``where`` forces a placement (``"pinned"``: streamed from pinned host memory, as ImageNet would be)."""
    from .device_data import place_images
    from .transforms import BatchAugment, compute_stats

    device = torch.device(device)
    channels_last = device.type == "cuda" if channels_last is None else channels_last
    placed = place_images(photos.cache.images, photos.cache.labels, device, where=where)
    aug = BatchAugment(compute_stats(photos.cache.images).to(device), CROP, "paper")
    order = _random_batches(len(photos.cache), batch_size, warmup + steps + 1)
    gen = torch.Generator(device=device).manual_seed(0)

    def step(i):
        u8, y = placed.batch(order[i], prefetch=order[i + 1])
        x = aug.train(u8, gen)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return len(y)

    result = _rate(step, device, steps, warmup, budget_s)
    placed.close()
    return {**result, "placement": placed.where, "placement_note": placed.describe()}


def time_input_torchvision(photos: BenchPhotos, device, batch_size: int, steps: int, warmup: int = 2,
                           budget_s: float = 30.0) -> dict:
    """The usual recipe's input pipeline alone: DataLoader batches moved to the device."""
    device = torch.device(device)
    loader, workers = torchvision_loader(photos.folder, batch_size, warmup + steps, device)
    it = iter(loader)

    def step(_i):
        x, y = next(it)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        return len(y)

    result = _rate(step, device, steps, warmup, budget_s)
    del it
    return {**result, "workers": workers}


# ---------------------------------------------------------------------------- model steps on synthetic tensors

def _make_step(model, optimizer, x, y, device, amp_dtype, channels_last, scaler=None):
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    autocast = (torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None
                else contextlib.nullcontext())

    def step(_i):
        with autocast:
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        return len(y)

    return step


def time_model_variants(device, batch_size: int, steps: int, *, warmup: int = 2, budget_s: float = 60.0,
                        compile: bool | None = None, log: Callable[[str], None] = lambda s: None) -> list[dict]:
    """Our model step alone (paper AlexNet, PaperSGD) on one synthetic batch already on the device, adding the
    switches one at a time: cuDNN autotuning, mixed precision, channels_last, then torch.compile (on CUDA by default,
    elsewhere only when ``compile`` is True: compiling on a CPU takes minutes). The row marked ``trainer`` is the
    configuration :func:`alexnet.train.train` uses on this device."""
    from .device_data import autocast_dtype
    from .model import alexnet
    from .optim import PaperSGD

    device = torch.device(device)
    cuda = device.type == "cuda"
    compile = cuda if compile is None else compile
    torch.manual_seed(0)
    model = alexnet().to(device)
    optimizer = PaperSGD(model.parameters(), lr=1e-3)
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = (torch.randn(batch_size, 3, CROP, CROP, generator=gen) * 50).to(device)
    y = torch.randint(0, 1000, (batch_size,), generator=gen).to(device)
    amp = autocast_dtype(device)
    rows: list[dict] = []
    ladder = [("fp32", dict(benchmark=False, amp=None, cl=False))]
    if cuda:
        ladder.append(("+ cudnn.benchmark", dict(benchmark=True, amp=None, cl=False)))
        ladder.append((f"+ {str(amp).replace('torch.', '')} autocast", dict(benchmark=True, amp=amp, cl=False)))
    ladder.append(("+ channels_last", dict(benchmark=cuda, amp=amp if cuda else None, cl=True)))
    trainer_row = len(ladder) - 1  # the trainer's default: all of the above (on a CPU: fp32, channels_last)
    if compile:
        ladder.append(("+ torch.compile", dict(benchmark=cuda, amp=amp if cuda else None, cl=True, compile=True)))
    for i, (name, opts) in enumerate(ladder):
        model.to(memory_format=torch.channels_last if opts["cl"] else torch.contiguous_format)
        scaler = torch.amp.GradScaler("cuda") if (cuda and opts["amp"] == torch.float16) else None
        t0 = time.perf_counter()
        try:
            net = torch.compile(model) if opts.get("compile") else model
            with _cudnn_benchmark(opts["benchmark"]):
                step = _make_step(net, optimizer, x, y, device, opts["amp"], opts["cl"], scaler)
                result = _rate(step, device, steps, warmup + (2 if opts.get("compile") else 0), budget_s)
        except Exception as e:  # torch.compile can fail on a machine without a working compiler toolchain
            if not opts.get("compile"):
                raise
            error = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:160]}"
            rows.append({"variant": name, "img_s": None, "error": error, "trainer": False})
            log(f"  model step, {name}: failed ({error})")
            continue
        rows.append({"variant": name, **result, "trainer": i == trainer_row,
                     "wall_seconds": time.perf_counter() - t0})
        log(f"  model step, {name}: {result['img_s']:.1f} img/s")
    return rows


def time_torchvision_step(device, batch_size: int, steps: int, *, warmup: int = 2, budget_s: float = 60.0) -> dict:
    """``torchvision.models.alexnet`` fp32 step (SGD, momentum 0.9, weight decay 5e-4) on a synthetic batch on the
    device, with cuDNN autotuning on CUDA as the PyTorch ImageNet example sets it."""
    from torchvision.models import alexnet as tv_alexnet

    device = torch.device(device)
    torch.manual_seed(0)
    model = tv_alexnet(num_classes=1000).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(batch_size, 3, CROP, CROP, generator=gen).to(device)
    y = torch.randint(0, 1000, (batch_size,), generator=gen).to(device)
    with _cudnn_benchmark(device.type == "cuda"):
        return _rate(_make_step(model, optimizer, x, y, device, None, False), device, steps, warmup, budget_s)


# ---------------------------------------------------------------------------- the two whole training loops

def time_train_ours(photos: BenchPhotos, device, batch_size: int, steps: int, warmup: bool = True,
                    max_images: int = 4096) -> dict:
    """(a): :func:`alexnet.train.train` itself, for two epochs of ``steps`` batches drawn from the photos' cache;
    the first epoch warms up (cuDNN autotuning, allocator), the second is timed (the trainer's own clock).
    With ``warmup=False``, one epoch, timed."""
    from .data import ImageSet
    from .train import TrainConfig, train

    device = torch.device(device)
    steps = max(1, min(steps, max_images // batch_size))
    n = batch_size * steps
    pick = torch.randint(0, len(photos.cache), (n,), generator=torch.Generator().manual_seed(0)).sort().values
    classes = [f"class{i}" for i in range(1000)]  # the paper's 1000-way fc8, whatever the photos' labels
    images = torch.as_tensor(photos.cache.images)
    labels = photos.cache.labels % 1000
    train_set = ImageSet("imagenet", "train", images[pick], labels[pick], classes)
    val_set = ImageSet("imagenet", "val", images[:2], labels[:2], classes)
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    benchmark = torch.backends.cudnn.benchmark
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the trainer's placement line goes to stderr, not the report
            result = train(TrainConfig(dataset="imagenet", epochs=2 if warmup else 1, batch_size=batch_size, arch="alexnet",
                                       device=str(device), seed=0),
                           train_set=train_set, val_set=val_set, progress=False)
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.benchmark = benchmark
    seconds = result.history[-1]["seconds"]
    return {"img_s": n / seconds, "steps": steps, "seconds": seconds}


def time_train_torchvision(photos: BenchPhotos, device, batch_size: int, steps: int, warmup: int = 2,
                           budget_s: float = 60.0) -> dict:
    """(b): the PyTorch ImageNet example's loop: DataLoader batches → torchvision AlexNet, fp32, SGD, and
    ``loss.item()`` every step for the running average it prints."""
    from torchvision.models import alexnet as tv_alexnet

    device = torch.device(device)
    torch.manual_seed(0)
    model = tv_alexnet(num_classes=1000).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
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
    del it
    return {**result, "workers": workers}


# ---------------------------------------------------------------------------- the whole benchmark

def default_sizes(device: torch.device) -> tuple[int, int]:
    """(batch size, timed steps): the paper's 128 and 20 steps on a GPU; 32 and 3 on a CPU, where one step of the
    paper's net takes seconds."""
    return (128, 20) if torch.device(device).type != "cpu" else (32, 3)


def run_benchmark(device=None, batch_size: int | None = None, steps: int | None = None, *,
                  peak_tflops: float | None = None, compile: bool | None = None, budget_s: float | None = None,
                  warmup: int | None = None, log: Callable[[str], None] | None = None) -> dict:
    """Everything ``python -m alexnet bench`` measures, as one JSON-serialisable dict (see the module docstring).

    ``budget_s`` caps the timed part of each measurement (default: 30 s on a CPU, 120 s elsewhere); a measurement
    that hits it reports the steps it did time. ``warmup`` untimed steps precede each measurement (default 1 on a
    CPU, 3 elsewhere, where cuDNN autotuning and the allocator settle in the first steps).
    """
    from .device_data import autocast_dtype, plan_placement
    from .model import alexnet
    from .profiles import default_device

    device = torch.device(device) if device else default_device()
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AlexNetError("--device cuda was asked for, but CUDA is not available here")
    b_default, s_default = default_sizes(device)
    batch_size, steps = batch_size or b_default, steps or s_default
    budget_s = budget_s or (30.0 if device.type == "cpu" else 120.0)
    warmup = (1 if device.type == "cpu" else 3) if warmup is None else warmup
    log = log or (lambda s: None)
    input_steps = max(steps, 10)  # the input pipelines alone are cheap: time more batches
    started = time.perf_counter()

    peak = peak_tflops if peak_tflops else device_peak_tflops(device)
    from torchvision.models import alexnet as tv_alexnet
    with torch.device("meta"):  # shapes only: counting multiply-adds needs no weights
        macs, tv_macs = macs_per_image(alexnet()), macs_per_image(tv_alexnet(num_classes=1000))
    amp = autocast_dtype(device)
    out: dict = {"device": str(device), "device_name": device_name(device), "batch_size": batch_size, "steps": steps,
                 "warmup": warmup,
                 "crop": CROP, "peak_tflops": peak, "peak_source": ("--peak-tflops" if peak_tflops else
                                                                   ("table" if peak else None)),
                 "amp_dtype": str(amp).replace("torch.", "") if amp else None,
                 "macs_per_image": macs, "torchvision_macs_per_image": tv_macs, "torch": torch.__version__}

    stage_seconds: dict[str, float] = {}

    def stage(key: str, what: str, fn: Callable[[], object]):
        log(what + " ...")
        t0 = time.perf_counter()
        out[key] = fn()
        stage_seconds[key] = time.perf_counter() - t0

    stage("lrn", f"LRN at {batch_size}×96×55×55", lambda: time_lrn(device, batch_size, repeats=max(3, min(steps, 10))))
    photos = BenchPhotos(n_synthetic=max(16, min(2 * batch_size, 512)))
    try:
        out["data"] = photos.source
        out["cache_seconds"] = photos.cache_seconds
        out["placement"] = plan_placement(photos.cache.images.numel(), device)[1]
        stage("input_ours", "input pipeline alone, ours",
              lambda: time_input_ours(photos, device, batch_size, input_steps, warmup, budget_s))
        if device.type != "cpu":  # the streaming placement, as a cache too big for the device would use
            stage("input_ours_streamed", "input pipeline alone, ours, streamed from pinned host memory",
                  lambda: time_input_ours(photos, device, batch_size, input_steps, warmup, budget_s, where="pinned"))
        stage("input_torchvision", "input pipeline alone, torchvision",
              lambda: time_input_torchvision(photos, device, batch_size, input_steps, warmup, budget_s))
        stage("variants", "model step alone (synthetic tensors), ours",
              lambda: time_model_variants(device, batch_size, steps, warmup=warmup, budget_s=budget_s,
                                          compile=compile, log=log))
        stage("step_torchvision", "model step alone (synthetic tensors), torchvision",
              lambda: time_torchvision_step(device, batch_size, steps, warmup=warmup, budget_s=budget_s))
        # the trainer's epoch cannot stop early: size it from the model step's rate to stay within the budget
        step_rate = next(r for r in out["variants"] if r["trainer"])["img_s"]
        steps_a = max(1, min(steps, int(budget_s * step_rate / batch_size)))
        stage("train_ours", "(a) ours: the trainer with the uint8 cache",
              lambda: time_train_ours(photos, device, batch_size, steps_a, warmup=warmup > 0))
        stage("train_torchvision", "(b) torchvision AlexNet + DataLoader",
              lambda: time_train_torchvision(photos, device, batch_size, steps, warmup, budget_s))
    finally:
        photos.close()
    out["stage_seconds"] = stage_seconds
    trainer_step = next(r for r in out["variants"] if r["trainer"])
    out["step_ours"] = trainer_step
    out["a_img_s"] = out["train_ours"]["img_s"]
    out["b_img_s"] = out["train_torchvision"]["img_s"]
    out["ratio"] = out["a_img_s"] / out["b_img_s"]
    out["mfu_a"] = mfu(out["a_img_s"], macs, peak)
    out["mfu_b"] = mfu(out["b_img_s"], tv_macs, peak)
    out["mfu_step_ours"] = mfu(trainer_step["img_s"], macs, peak)
    best = max((r for r in out["variants"] if r["img_s"]), key=lambda r: r["img_s"])
    out["mfu_step_best"] = mfu(best["img_s"], macs, peak)
    out["best_variant"] = best["variant"]
    out["total_seconds"] = time.perf_counter() - started
    return out


def _pct(x: float | None) -> str:
    return f"{x:.1%}" if x is not None else "n/a (pass --peak-tflops)"


def _cell(x: float | None) -> str:
    return f"{x:.1%}" if x is not None else "n/a"


def format_report(r: dict) -> str:
    """The human-readable report ``python -m alexnet bench`` prints."""
    lrn = r["lrn"]
    peak = f"{r['peak_tflops']:g} TFLOPS ({r['peak_source']})" if r["peak_tflops"] else "unknown"
    lines = [
        f"AlexNet training throughput on {r['device']} ({r['device_name']}), batch {r['batch_size']}, "
        f"{r['crop']}×{r['crop']} crops, torch {r['torch']}",
        f"photos: {r['data']}; our cache: {r['placement']}",
        f"counted forward multiply-adds per image: ours {r['macs_per_image'] / 1e9:.3f} G, torchvision "
        f"{r['torchvision_macs_per_image'] / 1e9:.3f} G; peak {peak}; mixed precision: {r['amp_dtype'] or 'off (fp32)'}",
        "",
        f"{'':64}{'img/s':>10}{'MFU':>10}",
        f"{'(a) ours: paper AlexNet, uint8 cache + BatchAugment on the device':64}{r['a_img_s']:>10.1f}"
        f"{_cell(r['mfu_a']):>10}",
        f"{'(b) torchvision AlexNet + DataLoader (PIL JPEG decode, ' + str(r['train_torchvision']['workers']) + ' workers)':64}"
        f"{r['b_img_s']:>10.1f}{_cell(r['mfu_b']):>10}",
        f"ratio (a)/(b): {r['ratio']:.2f}×",
        f"MFU of (a): {_pct(r['mfu_a'])}",
        "",
        "where the time goes:",
        f"{'  input pipeline alone, ours (cache on ' + r['input_ours']['placement'] + ')':64}"
        f"{r['input_ours']['img_s']:>10.1f}",
        *([f"{'  input pipeline alone, ours, streamed from pinned host memory':64}"
           f"{r['input_ours_streamed']['img_s']:>10.1f}"] if "input_ours_streamed" in r else []),
        f"{'  input pipeline alone, torchvision DataLoader':64}{r['input_torchvision']['img_s']:>10.1f}",
        f"{'  model step alone (synthetic tensors), ours as the trainer runs it':64}{r['step_ours']['img_s']:>10.1f}"
        f"{_cell(r['mfu_step_ours']):>10}",
        f"{'  model step alone (synthetic tensors), torchvision fp32':64}{r['step_torchvision']['img_s']:>10.1f}",
        "",
        "our model step, one switch at a time:",
    ]
    for row in r["variants"]:
        if row["img_s"] is None:
            lines.append(f"{'  ' + row['variant']:64}  failed: {row.get('error', '')}")
            continue
        mark = "  <- the trainer's default here" if row["trainer"] else ""
        m = mfu(row["img_s"], r["macs_per_image"], r["peak_tflops"])
        lines.append(f"{'  ' + row['variant']:64}{row['img_s']:>10.1f}{_cell(m):>10}{mark}")
    if not any("compile" in row["variant"] for row in r["variants"]):
        lines.append("  + torch.compile: not measured on this device (opt-in: ALEXNET_BENCH_COMPILE=1)")
    lines += [
        "",
        f"LRN forward+backward at {'×'.join(map(str, lrn['shape']))}: ours {lrn['ours_ms']:.1f} ms, "
        f"torch.nn.LocalResponseNorm {lrn['torch_ms']:.1f} ms: {lrn['speedup']:.2f}× faster",
        f"(decoding the photos into the uint8 cache took {r['cache_seconds']:.1f} s, once; the whole benchmark "
        f"{r['total_seconds']:.0f} s)",
    ]
    return "\n".join(lines)


def targets(r: dict) -> list[dict]:
    """The issue's targets next to what this run measured: ``target``, ``measured``, ``met`` (True/False, or None
    where the target does not apply to this device)."""
    gpu = r["device"].startswith("cuda")
    h100 = gpu and "H100" in r["device_name"]
    lrn = r["lrn"]["speedup"]
    rows = [
        {"target": "LRN forward+backward ≥ 2× torch.nn.LocalResponseNorm at conv1's shape",
         "measured": f"{lrn:.2f}×", "met": lrn >= 2.0},
        {"target": "(a)/(b) ≥ 2× on a GPU", "measured": f"{r['ratio']:.2f}×", "met": (r["ratio"] >= 2.0) if gpu else None},
        {"target": "MFU of (a) ≥ 40% on an H100 in bf16",
         "measured": f"{r['mfu_a']:.1%}" if r["mfu_a"] is not None else "n/a",
         "met": (r["mfu_a"] >= 0.40) if (h100 and r["mfu_a"] is not None) else None},
    ]
    return rows


def format_targets(r: dict) -> str:
    verdict = {True: "met", False: "NOT met", None: "n/a on this device"}
    lines = [f"{'target':<72}{'measured':>10}  verdict"]
    lines += [f"{t['target']:<72}{t['measured']:>10}  {verdict[t['met']]}" for t in targets(r)]
    return "\n".join(lines)


def plot_benchmark(r: dict):
    """Three panels: the two training loops and their halves (img/s, log scale), our model step with one switch
    added at a time, and the LRN micro-benchmark. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), gridspec_kw={"width_ratios": [1.6, 1.1, 0.7]})
    ours, theirs = "tab:blue", "tab:grey"
    rows = [("(a) ours: whole training loop", r["a_img_s"], ours),
            ("(b) torchvision: whole training loop", r["b_img_s"], theirs),
            ("ours: input pipeline alone", r["input_ours"]["img_s"], ours),
            ("torchvision: input pipeline alone", r["input_torchvision"]["img_s"], theirs),
            ("ours: model step alone", r["step_ours"]["img_s"], ours),
            ("torchvision: model step alone", r["step_torchvision"]["img_s"], theirs)]
    ax = axes[0]
    y = range(len(rows))[::-1]
    ax.barh(list(y), [v for _, v, _ in rows], color=[c for _, _, c in rows])
    ax.set_yticks(list(y), [name for name, _, _ in rows], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("images per second (log scale)")
    for yi, (_, v, _) in zip(y, rows):
        ax.text(v, yi, f" {v:,.0f}" if v >= 10 else f" {v:.2f}", va="center", fontsize=7)
    ax.set_title(f"(a)/(b) = {r['ratio']:.2f}×, batch {r['batch_size']}", fontsize=9)
    ax.margins(x=0.25)

    ax = axes[1]
    variants = [v for v in r["variants"] if v["img_s"]]
    ax.barh(range(len(variants))[::-1], [v["img_s"] for v in variants],
            color=[ours if v["trainer"] else "tab:cyan" for v in variants])
    ax.set_yticks(list(range(len(variants))[::-1]), [v["variant"] for v in variants], fontsize=8)
    ax.set_xlabel("images per second")
    title = "our model step, one switch at a time"
    if r.get("mfu_step_best") is not None:
        title += f"\n(best: {r['mfu_step_best']:.0%} MFU)"
    ax.set_title(title, fontsize=9)

    ax = axes[2]
    lrn = r["lrn"]
    ax.bar(["ours", "torch"], [lrn["ours_ms"], lrn["torch_ms"]], color=[ours, theirs])
    ax.set_ylabel("ms, forward + backward")
    ax.set_title(f"LRN at {'×'.join(map(str, lrn['shape']))}\n{lrn['speedup']:.1f}× faster", fontsize=9)
    fig.suptitle(f"{r['device_name']}", fontsize=9)
    fig.tight_layout()
    return fig


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def main(args) -> int:
    """``python -m alexnet bench``: ``args`` has ``device``, ``batch_size``, ``steps``, ``json``, ``peak_tflops``
    (``batch_size``/``steps`` None mean the device's defaults, :func:`default_sizes`)."""
    compile = getattr(args, "compile", None) or (os.environ.get("ALEXNET_BENCH_COMPILE", "") not in ("", "0")) or None
    if args.peak_tflops is not None and not args.peak_tflops > 0:
        raise AlexNetError(f"--peak-tflops must be positive, got {args.peak_tflops}")
    log = (lambda s: None) if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
    result = run_benchmark(args.device, args.batch_size, args.steps, peak_tflops=args.peak_tflops, compile=compile,
                           log=log)
    if args.json:
        print(json.dumps(_jsonable(result)))
    else:
        print(format_report(result))
    return 0

