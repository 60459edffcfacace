"""Where the uint8 image cache lives while a model trains: on the accelerator, or streamed from pinned host memory.

:mod:`alexnet.data` decodes every dataset once into an ``N×3×S×S`` uint8 tensor (memory-mapped from disk), and
:class:`alexnet.transforms.BatchAugment` augments whole batches on the device. What is left is moving each batch's
pixels to the device, and that is this module's one job. There are three placements, chosen by how much memory
the cache needs (the choice is explicit and :meth:`DeviceImageCache.describe` says it in one line):

==========  ==========================================================  =============================================
placement   what happens per step                                       when (``where="auto"``)
==========  ==========================================================  =============================================
``device``  index the cache on the device: no host work, no copy        CUDA/MPS, cache ≤ ``max_fraction`` of free memory
``pinned``  gather the batch on the host into a pinned staging buffer    CUDA/MPS, the cache does not fit
            (in a background thread, one batch ahead), then copy it
            asynchronously
``host``    ``images[idx]`` on the host (what the CPU trainer always    the device is the CPU
            did: nothing to move)
==========  ==========================================================  =============================================

The uint8 cache is 4× smaller than float pixels: CIFAR-10 is 150 MB, Imagenette 1.9 GB (they sit on any GPU);
ImageNet at 256×256 is about 250 GB, so it streams. Every placement runs on the CPU too (with ordinary memory in
place of pinned), so the GPU code paths are tested without a GPU, and all three return exactly
``images[idx], labels[idx]``.
"""
from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass

import torch

from .errors import AlexNetError

PLACEMENTS = ("device", "pinned", "host")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for ``device``: bf16 where the GPU has it natively (Ampere and later), fp16 (with a
    GradScaler) on older GPUs such as the T4, and None elsewhere (the trainer runs fp32 on CPU/MPS).

    ``torch.cuda.is_bf16_supported()`` alone is not enough: it answers True on a T4, where bf16 is only emulated.
    """
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    try:
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.3 has no including_emulation; it did not count emulation either
        native = torch.cuda.is_bf16_supported()
    return torch.bfloat16 if native else torch.float16


def _device_free_bytes(device: torch.device) -> int | None:
    """Free memory on an accelerator, or None for the CPU."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        recommended = getattr(torch.mps, "recommended_max_memory", None)
        used = getattr(torch.mps, "driver_allocated_memory", None)
        if recommended is None:
            return None
        return int(recommended() - (used() if used else 0))
    return None


def plan_placement(nbytes: int, device: torch.device, *, max_fraction: float = 0.5,
                   free_bytes: int | None = None) -> tuple[str, str]:
    """``(placement, reason)`` for a cache of ``nbytes`` on ``device`` (see the module docstring's table).

    ``free_bytes`` overrides the measured free device memory (for tests and for planning ahead).
    """
    device = torch.device(device)
    size = _human(nbytes)
    if device.type == "cpu":
        return "host", f"{size} of uint8 images in host memory (the model runs on the CPU)"
    free = free_bytes if free_bytes is not None else _device_free_bytes(device)
    if free is None:
        return "device", f"{size} of uint8 images on {device} (free memory unknown)"
    budget = int(max_fraction * free)
    if nbytes <= budget:
        return "device", f"{size} of uint8 images on {device} ({_human(free)} free)"
    return "pinned", (f"{size} of uint8 images do not fit in {max_fraction:.0%} of the {_human(free)} free on "
                      f"{device}: streaming each batch from pinned host memory")


def _human(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return ""


@dataclass
class _Slot:
    """One pinned staging buffer and the event that says its last copy to the device has finished."""

    images: torch.Tensor
    labels: torch.Tensor
    copied: object = None  # a torch.cuda.Event on CUDA, else None


class DeviceImageCache:
    """A dataset's uint8 images and labels, placed for training on ``device``; :meth:`batch` gives a step's data.

    ``where`` is ``"auto"`` (see :func:`plan_placement`) or one of ``"device"``, ``"pinned"``, ``"host"`` to force
    a placement (every one works on every device, which is how the CPU tests cover the GPU paths).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, device, *, where: str = "auto",
                 max_fraction: float = 0.5, chunk_bytes: int = 256 * 2 ** 20):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise AlexNetError(f"the image cache must be N×C×H×W uint8, got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(labels):
            raise AlexNetError(f"{len(images)} images but {len(labels)} labels")
        self.device = torch.device(device)
        nbytes = images.numel()
        if where == "auto":
            self.where, self.reason = plan_placement(nbytes, self.device, max_fraction=max_fraction)
        elif where in PLACEMENTS:
            self.where, self.reason = where, f"{_human(nbytes)} of uint8 images, placement '{where}' (forced)"
        else:
            raise AlexNetError(f"unknown placement {where!r}: choose auto or one of {', '.join(PLACEMENTS)}")
        self.nbytes = nbytes
        self.host_images, self.host_labels = images, labels
        self.labels = labels.to(self.device)  # labels are tiny (8 bytes per image): always on the device
        self.images = None
        self._slots: list[_Slot] = []
        self._next_slot = 0
        self._pending: tuple[torch.Tensor, concurrent.futures.Future] | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        if self.where == "device":
            self.images = torch.empty(images.shape, dtype=torch.uint8, device=self.device)
            step = max(1, chunk_bytes // max(1, images[0].numel()))
            for i in range(0, len(images), step):  # in chunks, so a memory-mapped cache is never copied whole in RAM
                self.images[i:i + step].copy_(torch.as_tensor(images[i:i + step]))

    def __len__(self) -> int:
        return len(self.host_labels)

    def describe(self) -> str:
        """One line: how big the cache is, where it lives and why."""
        return f"training images: {self.reason}"

    # ------------------------------------------------------------------ per step

    def batch(self, idx: torch.Tensor, prefetch: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images[idx], labels[idx])`` on the device; ``prefetch`` (the next step's indices) lets the pinned
        placement gather that batch in the background while the device computes this one."""
        idx = torch.as_tensor(idx, dtype=torch.long)
        if self.where == "host":
            return self.host_images[idx].to(self.device), self.host_labels[idx].to(self.device)
        dev_idx = idx.to(self.device, non_blocking=True)
        labels = self.labels[dev_idx]
        if self.where == "device":
            return self.images[dev_idx], labels
        slot = self._take_pending(idx)
        if slot is None:
            slot = self._gather(idx, self._free_slot())
        images = self._upload(slot, len(idx))
        if prefetch is not None:
            self._start_prefetch(torch.as_tensor(prefetch, dtype=torch.long))
        return images, labels

    # ------------------------------------------------------------------ the pinned (streaming) placement

    def _free_slot(self) -> int:
        """The next staging buffer of two, round robin: while one uploads, the other is being filled."""
        if not self._slots:
            pin = self.device.type == "cuda" and torch.cuda.is_available()
            shape = self.host_images.shape[1:]
            for _ in range(2):
                self._slots.append(_Slot(torch.empty((0, *shape), dtype=torch.uint8, pin_memory=pin),
                                         torch.empty(0, dtype=torch.long)))
        i = self._next_slot
        self._next_slot = (i + 1) % len(self._slots)
        return i

    def _gather(self, idx: torch.Tensor, i: int) -> _Slot:
        """Copy ``images[idx]`` into staging buffer ``i``, after its previous upload has finished."""
        slot = self._slots[i]
        if slot.copied is not None:
            slot.copied.synchronize()
        n = len(idx)
        if slot.images.shape[0] < n:  # grow (rarely: the first batch, or a larger one)
            pin = self.device.type == "cuda" and torch.cuda.is_available()
            slot.images = torch.empty((n, *self.host_images.shape[1:]), dtype=torch.uint8, pin_memory=pin)
        torch.index_select(torch.as_tensor(self.host_images), 0, idx, out=slot.images[:n])
        return slot

    def _upload(self, slot: _Slot, n: int) -> torch.Tensor:
        # asynchronous only from pinned memory on CUDA; the event below guards the buffer until the copy is done
        images = slot.images[:n].to(self.device, non_blocking=self.device.type == "cuda")
        if self.device.type == "cuda":
            slot.copied = torch.cuda.Event()
            slot.copied.record()
        elif self.device.type == "cpu" and images.data_ptr() == slot.images.data_ptr():
            images = images.clone()  # .to("cpu") is a no-op: never hand out the staging buffer itself
        return images

    def _start_prefetch(self, idx: torch.Tensor) -> None:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="alexnet-prefetch")
        i = self._free_slot()
        self._pending = (idx, self._pool.submit(self._gather, idx, i))

    def _take_pending(self, idx: torch.Tensor) -> _Slot | None:
        if self._pending is None:
            return None
        want, future = self._pending
        self._pending = None
        slot = future.result()  # also re-raises an error from the background thread
        if want is idx or (want.shape == idx.shape and torch.equal(want, idx)):
            return slot
        return None  # the caller asked for another batch: gather it now (the prefetched slot is simply reused)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def place_images(images: torch.Tensor, labels: torch.Tensor, device, *, where: str = "auto",
                 max_fraction: float = 0.5) -> DeviceImageCache:
    """Place a uint8 image cache for training on ``device`` (see :class:`DeviceImageCache`)."""
    return DeviceImageCache(images, labels, device, where=where, max_fraction=max_fraction)
