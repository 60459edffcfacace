"""``python -m alexnet bench``: every measurement in one run (:func:`run_benchmark`), printed or as JSON."""
from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Callable

import torch

from .. import paper
from ..errors import AlexNetError
from .inputs import BenchPhotos, time_input_ours, time_input_torchvision
from .loops import time_train_ours, time_train_torchvision
from .utilisation import device_name, device_peak_tflops, macs_per_image, mfu
from .report import format_report
from .steps import time_model_variants, time_torchvision_step
from .timing import CROP, time_lrn


def default_sizes(device: torch.device) -> tuple[int, int]:
    """(batch size, timed steps): the paper's 128 and 20 steps on a GPU; 32 and 3 on a CPU, where one step of the
    paper's net takes seconds."""
    return (paper.BATCH_SIZE, 20) if torch.device(device).type != "cpu" else (32, 3)


def run_benchmark(device=None, batch_size: int | None = None, steps: int | None = None, *,
                  peak_tflops: float | None = None, compile: bool | None = None, budget_s: float | None = None,
                  warmup: int | None = None, log: Callable[[str], None] | None = None) -> dict:
    """Everything ``python -m alexnet bench`` measures, as one JSON-serialisable dict (see the module docstring).

    ``budget_s`` caps the timed part of each measurement (default: 30 s on a CPU, 120 s elsewhere); a measurement
    that hits it reports the steps it did time. ``warmup`` untimed steps precede each measurement (default 1 on a
    CPU, 3 elsewhere, where cuDNN autotuning and the allocator settle in the first steps).
    """
    from ..device_data import autocast_dtype, plan_placement
    from ..model import alexnet
    from ..profiles import resolve_device

    device = resolve_device(device)
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
        macs, tv_macs = macs_per_image(alexnet()), macs_per_image(tv_alexnet(num_classes=paper.ILSVRC_CLASSES))
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
        stage("train_ours_no_lrn", "(a) without LRN: the trainer on the net without its LRN layers",
              lambda: time_train_ours(photos, device, batch_size, steps_a, warmup=warmup > 0, model={"lrn": False}))
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
    out["ratio_no_lrn"] = out["train_ours_no_lrn"]["img_s"] / out["b_img_s"]
    out["mfu_a"] = mfu(out["a_img_s"], macs, peak)
    out["mfu_b"] = mfu(out["b_img_s"], tv_macs, peak)
    out["mfu_step_ours"] = mfu(trainer_step["img_s"], macs, peak)
    best = max((r for r in out["variants"] if r["img_s"]), key=lambda r: r["img_s"])
    out["mfu_step_best"] = mfu(best["img_s"], macs, peak)
    out["best_variant"] = best["variant"]
    out["total_seconds"] = time.perf_counter() - started
    return out


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
    (``batch_size``/``steps`` None mean the device's defaults, :func:`default_sizes`); with ``step_costs``, the
    per-step costs of the scaled CIFAR net instead (:mod:`.step_costs`)."""
    if getattr(args, "quick", False) or getattr(args, "budget", None) is not None:
        if not getattr(args, "step_costs", False):
            raise AlexNetError("--quick and --budget go with --step-costs")
    if getattr(args, "step_costs", False):
        from .step_costs import main as step_costs_main

        return step_costs_main(args)
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
