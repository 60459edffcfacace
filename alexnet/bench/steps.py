"""The model step alone, on one synthetic batch already on the device: ours with the trainer's switches added one
at a time (cuDNN autotuning, mixed precision, channels_last, torch.compile), and torchvision's AlexNet in fp32."""
from __future__ import annotations

import contextlib
import time
from typing import Callable

import torch
import torch.nn.functional as F

from .. import paper
from .timing import CROP, _cudnn_benchmark, _rate


NO_LRN = "the trainer's settings, without LRN (§3.3)"


def _make_step(model, optimizer, x, y, device, amp_dtype, channels_last, scaler=None, batch=None):
    """``step(i)``: one training step on the fixed ``x``, ``y``, or on ``batch(i)``'s ``(x, y)`` when given."""
    if channels_last and x is not None:
        x = x.contiguous(memory_format=torch.channels_last)
    autocast = (torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None
                else contextlib.nullcontext())

    def step(i):
        xb, yb = (x, y) if batch is None else batch(i)
        if channels_last and batch is not None:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast:
            loss = F.cross_entropy(model(xb).float(), yb)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        return len(yb)

    return step


def time_model_variants(device, batch_size: int, steps: int, *, warmup: int = 2, budget_s: float = 60.0,
                        compile: bool | None = None, log: Callable[[str], None] = lambda s: None) -> list[dict]:
    """Our model step alone (paper AlexNet, PaperSGD) on one synthetic batch already on the device, adding the
    switches one at a time: cuDNN autotuning, mixed precision, channels_last, then torch.compile (on CUDA by default,
    elsewhere only when ``compile`` is True: compiling on a CPU takes minutes). The row marked ``trainer`` is the
    configuration :func:`alexnet.train.train` uses on this device. A last row (:data:`NO_LRN`) runs the trainer's
    configuration on the net without its two LRN layers: the same kinds of layers as torchvision's AlexNet."""
    from ..device_data import autocast_dtype
    from ..model import alexnet
    from ..optim import PaperSGD

    device = torch.device(device)
    cuda = device.type == "cuda"
    compile = cuda if compile is None else compile
    nets = {}
    for key, switches in (("paper", {}), ("no_lrn", {"lrn": False})):  # the paper's net, and it without LRN
        torch.manual_seed(0)
        net = alexnet(**switches).to(device)
        nets[key] = (net, PaperSGD(net.parameters(), lr=1e-3))
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = (torch.randn(batch_size, 3, CROP, CROP, generator=gen) * 50).to(device)
    y = torch.randint(0, paper.ILSVRC_CLASSES, (batch_size,), generator=gen).to(device)
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
    # the trainer's settings on the net without its two LRN layers: torchvision's kinds of layers
    ladder.append((NO_LRN, dict(ladder[trainer_row][1], net="no_lrn")))
    for i, (name, opts) in enumerate(ladder):
        model, optimizer = nets[opts.get("net", "paper")]
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
    """``torchvision.models.alexnet`` fp32 step (SGD with the paper's momentum and weight decay) on a synthetic batch
    on the device, with cuDNN autotuning on CUDA as the PyTorch ImageNet example sets it."""
    from torchvision.models import alexnet as tv_alexnet

    device = torch.device(device)
    torch.manual_seed(0)
    model = tv_alexnet(num_classes=paper.ILSVRC_CLASSES).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=paper.MOMENTUM, weight_decay=paper.WEIGHT_DECAY)
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(batch_size, 3, CROP, CROP, generator=gen).to(device)
    y = torch.randint(0, paper.ILSVRC_CLASSES, (batch_size,), generator=gen).to(device)
    with _cudnn_benchmark(device.type == "cuda"):
        return _rate(_make_step(model, optimizer, x, y, device, None, False), device, steps, warmup, budget_s)
