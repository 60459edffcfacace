r"""Model FLOPs utilisation (MFU): how much of the device's peak the training step turns into model arithmetic.

.. math::

    \text{MFU} = \frac{\text{model FLOPs per image} \times \text{images per second}}{\text{peak FLOPS}},
    \qquad \text{model FLOPs per image} = 3 \times 2 \times \text{MACs}

The MACs are the counted multiply-adds of one image's forward pass (:func:`alexnet.summary.layer_table`), 2 FLOPs
each; the backward pass costs about twice the forward, hence 3. This is the definition of PaLM (Chowdhery et al.,
2022, appendix B: the FLOPs the model needs, not those the hardware ran, so recomputation and padding do not
count) and of nanoGPT's ``estimate_mfu`` (6 FLOPs per parameter per token for a transformer, over the A100's
312 TFLOPS bf16 peak). The peak is the device's dense bf16/fp16 tensor rate (:data:`PEAK_TFLOPS`).
"""
from __future__ import annotations

import os

import torch

from .timing import CROP

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
    """Model FLOPs utilisation (the module's formula): images/s × 3 × 2 × MACs per image ÷ peak; None without a
    peak or a rate."""
    if not peak_tflops or not images_per_second:
        return None
    return images_per_second * 3 * 2 * macs_per_image / (peak_tflops * 1e12)


def macs_per_image(model: torch.nn.Module, size: int = CROP) -> int:
    """Counted multiply-adds of one image's forward pass (convolutions and linear layers)."""
    from ..summary import layer_table

    return layer_table(model, size).total_macs
