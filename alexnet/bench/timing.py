"""The benchmark's clock: synchronised timing of a step function within a time budget, cuDNN autotuning as a
context, the input size both recipes train at, and the LRN micro-benchmark (§3.3's layer against torch's)."""
from __future__ import annotations

import contextlib
import math
import time
from typing import Callable

import torch

from .. import paper

CROP = paper.INPUT_SIDE  # the paper's input (its "224" is a slip), for both (a) and (b)
STORED = paper.STORED_SIDE  # §2: the cache stores the centre 256×256


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

def time_lrn(device, batch: int = 32, repeats: int = 5, channels: int = paper.CONV_WIDTHS[0], side: int = 55) -> dict:
    """Forward + backward of our LRN with the paper's constants (:data:`alexnet.paper.LRN`) and
    ``torch.nn.LocalResponseNorm`` fed α·n (the same function: torch divides α by n) on a ReLU-like
    ``batch×96×55×55`` tensor (conv1's output), interleaved, best of ``repeats``. Returns milliseconds and the
    speedup."""
    from ..lrn import LocalResponseNorm

    device = torch.device(device)
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = (torch.randn(batch, channels, side, side, generator=gen) * 30).relu_().to(device)
    g = torch.randn(x.shape, generator=gen).to(device)
    n, alpha, beta, k = paper.LRN.size, paper.LRN.alpha, paper.LRN.beta, paper.LRN.k
    layers = {"ours": LocalResponseNorm(n, alpha, beta, k), "torch": torch.nn.LocalResponseNorm(n, alpha * n, beta, k)}
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
