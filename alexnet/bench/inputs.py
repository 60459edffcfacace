"""The benchmark's photos and the two input pipelines alone: ours (the uint8 cache placed on the device, augmented
there in whole batches) and the usual recipe (a DataLoader decoding JPEGs with PIL in worker processes)."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .timing import CROP, STORED, _rate


class BenchPhotos:
    """JPEG files in an ImageFolder for (b), and the same photos decoded once into the uint8 cache for (a)."""

    def __init__(self, n_synthetic: int = 64):
        from ..data import DATASETS, data_root, load_folder, load_imageset

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
    from ..device_data import place_images
    from ..transforms import BatchAugment, compute_stats

    device = torch.device(device)
    channels_last = device.type == "cuda" if channels_last is None else channels_last
    placed = place_images(photos.cache.images, photos.cache.labels, device, where=where)
    aug = BatchAugment(compute_stats(photos.cache.images).to(device), CROP, "paper")
    order = _random_batches(len(photos.cache), batch_size, warmup + steps + 1)
    gen = torch.Generator(device=device).manual_seed(0)

    def step(i):
        u8, y = placed.batch(order[i], prefetch=order[i + 1])
        x = aug.augment(u8, gen)
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
    it = None  # drop the iterator now, so that its DataLoader workers shut down
    return {**result, "workers": workers}
