"""The cost of one optimizer step of the scaled CIFAR net, in each way the package can run it: the number that decides
how long ``reproduce --profile full`` takes on a GPU (:func:`alexnet.plan.project_with_costs` reads it back).

One step is what the ablations do 128 images at a time (§5: batch 128, :class:`alexnet.optim.PaperSGD` with weight
decay on the weights): 128 indices into uint8 32×32 images already on the device (synthetic noise, never zeros),
the paper's augmentation there (§4.1: crop, flip, PCA lighting; :class:`alexnet.transforms.BatchAugment`), forward,
loss, backward, update, on :func:`alexnet.model.alexnet_cifar`. Nothing is read back to the host between steps: the
clock reads the device before and after the timed steps (:func:`alexnet.bench.timing._rate`). The variants (row
``key``):

- ``eager_fp32``, ``eager_amp_cl``: plain eager fp32, and bf16 autocast (fp16 + GradScaler where bf16 is not native;
  none on a CPU) with channels_last: the trainer's switches on a GPU;
- ``trainer``: :func:`alexnet.train.train` itself, as it runs today (it reads the loss and the error count every
  step); timed by its own clock over its second epoch;
- ``graphed`` (CUDA only): the whole step, augmentation and update included, captured once as a CUDA graph and
  replayed (``torch.cuda.CUDAGraph``): the floor that launch overhead leaves;
- ``eval``: forward only on centre crops (no grad), batch 1000: the test passes' rate;
- ``compile``, ``compile_cudagraphs``: ``torch.compile`` of the net in its default mode and in
  ``mode="reduce-overhead"`` (CUDA graphs), bf16 + channels_last; ``compile_s`` is the first step's wall time,
  compilation included. Not run on a CPU (compiling there takes minutes) unless asked;
- ``batched_k3``, ``batched_k8``: :class:`alexnet.batched.BatchedTrainer`, K nets at once each on its own batch
  (``per_model_step_ms`` = step / K); ``batched_plain_k…`` the same net without LRN and dropout (what vmap can run
  if the full net cannot); ``fig1_k15``: Figure 1's four-layer net, a whole group of 5 rates × 3 seeds;
  ``fig1_k60`` (CUDA only, last): four such groups in one step, the per-net cost that merging Figure 1's
  nonlinearities and input conventions into one batched group would buy (not built: measure first).

Each variant runs in its own ``try``: a failure is a row with its ``error`` text, and the rest go on. A time guard
(``budget_s``) skips a variant that would not fit the time left (``skipped``). Every row is also logged as a
``step-cost {json}`` line as soon as it is measured, so that a run killed from outside leaves its rows behind.
"""
from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Callable

import torch

from .. import paper
from .steps import _make_step
from .timing import _cudnn_benchmark, _rate, _sync
from .utilisation import device_name, device_peak_tflops, mfu

SIDE, CROP, CLASSES = 32, 28, 10  # CIFAR-10's stored side, the scaled net's training crop, classes
GPU_BUDGET_S, CPU_BUDGET_S = 100.0, 60.0
COMPILE_NEED_S = 25.0  # the least time left in which a compiled variant is started (its compilation cannot be cut)


class _CifarBatches:
    """Synthetic uint8 CIFAR-sized images placed on the device, and step ``i``'s augmented batch, drawn without any
    host round trip (the index batches are made once, on the device)."""

    def __init__(self, device, n: int, batch_size: int, max_k: int = 1, seed: int = 0):
        from ..device_data import place_images
        from ..transforms import BatchAugment, compute_stats

        g = torch.Generator().manual_seed(seed)
        images = torch.randint(0, 256, (n, 3, SIDE, SIDE), generator=g, dtype=torch.uint8)
        self.labels = torch.randint(0, CLASSES, (n,), generator=g)
        self.images, self.batch_size, self.device = images, batch_size, torch.device(device)
        self.placed = place_images(images, self.labels, self.device, where="device")
        self.aug = BatchAugment(compute_stats(images).to(self.device), CROP, "paper")
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        self.order = torch.randint(0, n, (32, max_k * batch_size), generator=g).to(self.device)

    def batch(self, i: int, k: int = 1, augment: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``(k·B)×3×28×28`` float inputs and ``k·B`` labels for step ``i``."""
        idx = self.order[i % len(self.order), :k * self.batch_size]
        u8, y = self.placed.batch(idx)
        return (self.aug.augment(u8, self.gen) if augment else self.aug.centre_crop(u8)), y


def _net(**switches):
    from ..model import alexnet_cifar

    torch.manual_seed(0)
    return alexnet_cifar(CLASSES, **switches)


def _single(data: _CifarBatches, device, *, amp: bool, channels_last: bool, compile: bool = False,
            compile_mode: str | None = None):
    """The step function of one net (optionally compiled) fed by ``data``."""
    from ..device_data import autocast_dtype
    from ..optim import PaperSGD, param_groups

    model = _net().to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    optimizer = PaperSGD(param_groups(model, paper.WEIGHT_DECAY), lr=1e-3)
    dtype = autocast_dtype(device) if amp else None
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    net = torch.compile(model, mode=compile_mode) if compile else model
    step = _make_step(net, optimizer, None, None, device, dtype, channels_last, scaler, batch=data.batch)
    if compile_mode != "reduce-overhead":
        return step

    def graphed_step(i):  # CUDA graphs: tell the graph trees that a new iteration begins
        torch.compiler.cudagraph_mark_step_begin()
        return step(i)

    return graphed_step


def _graphed(data: _CifarBatches, device):
    """The whole step (gather, augmentation, forward, backward, update) captured once as a CUDA graph and replayed
    (PyTorch's whole-network capture: warm-up on a side stream, grads left to the graph's pool): what a step costs
    when the host launches nothing but the replay. bf16 + channels_last; random draws from the default generator."""
    import torch.nn.functional as F

    from ..device_data import autocast_dtype
    from ..optim import PaperSGD, param_groups

    dtype = autocast_dtype(device)
    if dtype == torch.float16:
        raise RuntimeError("fp16 needs a GradScaler, whose skipped steps a fixed graph cannot express")
    model = _net().to(device, memory_format=torch.channels_last)
    optimizer = PaperSGD(param_groups(model, paper.WEIGHT_DECAY), lr=1e-3)
    idx = data.order[0, :data.batch_size].clone()

    def body():
        x = data.aug.augment(data.placed.images[idx]).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=dtype or torch.bfloat16, enabled=dtype is not None, cache_enabled=False):
            loss = F.cross_entropy(model(x).float(), data.placed.labels[idx])
        loss.backward()
        optimizer.step()

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            body()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        body()

    def step(i):
        idx.copy_(data.order[i % len(data.order), :data.batch_size])
        graph.replay()
        return data.batch_size

    return step


def _batched(data: _CifarBatches, device, k: int, make: Callable, augment: bool = True):
    from ..batched import BatchedTrainer

    trainer = BatchedTrainer([make() for _ in range(k)], [1e-3] * k, weight_decay=paper.WEIGHT_DECAY, device=device)
    b = data.batch_size

    def step(i):
        x, y = data.batch(i, k, augment)
        trainer.step(x.view(k, b, *x.shape[1:]), y.view(k, b))
        return k * b

    return step, trainer.mode


def _eval(data: _CifarBatches, device, batch_size: int):
    from ..device_data import autocast_dtype

    model = _net().to(device, memory_format=torch.channels_last).eval()
    dtype = autocast_dtype(device)
    evals = _CifarBatches(device, len(data.images), batch_size)

    @torch.no_grad()
    def step(i):
        x, _y = evals.batch(i, augment=False)
        with torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext():
            model(x.contiguous(memory_format=torch.channels_last))
        return len(x)

    return step


def _trainer(device, batch_size: int, steps: int) -> dict:
    """:func:`alexnet.train.train` on ``steps`` batches of synthetic CIFAR images, two epochs; the second is timed."""
    from ..data import ImageSet
    from ..train import TrainConfig, train

    data = _CifarBatches("cpu", batch_size * steps, batch_size)
    classes = [f"class{i}" for i in range(CLASSES)]
    train_set = ImageSet("cifar10", "train", data.images, data.labels, classes)
    val_set = ImageSet("cifar10", "test", data.images[:2], data.labels[:2], classes)
    with contextlib.redirect_stdout(sys.stderr):  # the trainer's placement line is not part of the report
        result = train(TrainConfig(dataset="cifar10", arch="alexnet-cifar", epochs=2, batch_size=batch_size, lr=1e-3,
                                   device=str(device), seed=0), train_set=train_set, val_set=val_set, progress=False)
    seconds = result.history[-1]["seconds"]
    return {"img_s": steps * batch_size / seconds, "steps": steps, "seconds": seconds}


def run_step_costs(device=None, *, batch_size: int = paper.BATCH_SIZE, steps: int | None = None,
                   budget_s: float | None = None, quick: bool = False, compile: bool | None = None,
                   ks: tuple = (3, 8), fig1_k: int = 15, log: Callable[[str], None] = lambda s: None) -> dict:
    """Every variant of the module docstring on ``device``, as one JSON-serialisable dict:
    ``{"device", "device_name", "torch", "batch_size", "macs_per_image", "fig1_macs_per_image", "peak_tflops",
    "budget_s", "notes", "rows": [{"key", "variant", "k", "step_ms", "per_model_step_ms", "img_s", "tflops", "mfu",
    "first_step_s", "compile_s", "steps", "error", "skipped"}], "seconds"}``. ``quick``: the tiny form a CPU test
    runs (batch 8, 2 steps, K = 2, no compile). Times in ms per step; ``tflops`` counts model FLOPs
    (6 per multiply-add trained, 2 evaluated)."""
    from ..experiments.relu import FourLayerNet
    from ..profiles import resolve_device
    from ..summary import layer_table

    device = resolve_device(device)
    cuda = device.type == "cuda"
    if quick:
        batch_size, ks, fig1_k = min(batch_size, 8), (2,), 2
    steps = steps or (2 if quick else (200 if cuda else 5))
    warmup = 1 if quick or not cuda else 10
    budget_s = budget_s or (GPU_BUDGET_S if cuda else CPU_BUDGET_S)
    compile = cuda and not quick if compile is None else compile
    started = time.perf_counter()
    deadline = started + budget_s
    with torch.device("meta"):
        macs = layer_table(_net(), CROP).total_macs
        fig1_macs = layer_table(FourLayerNet(), CROP).total_macs
    peak = device_peak_tflops(device)
    max_k = max(ks + (fig1_k,))
    data = _CifarBatches(device, max(4, max_k) * batch_size, batch_size, max_k)
    notes = [] if compile else ["torch.compile not measured here (off on a CPU, where compiling takes minutes, and "
                                "in the quick form; compile=True forces it)"]
    rows: list[dict] = []
    meta = {"device": str(device), "device_name": device_name(device), "torch": torch.__version__,
            "batch_size": batch_size, "crop": CROP, "macs_per_image": macs, "fig1_macs_per_image": fig1_macs,
            "peak_tflops": peak, "budget_s": budget_s, "quick": quick}
    log("step-cost-run " + json.dumps(meta))

    def measure(key: str, variant: str, make: Callable, *, k: int = 1, need_s: float = 2.0, compiled: bool = False,
                flops_per_image: float | None = None, timed: Callable | None = None) -> None:
        row = {"key": key, "variant": variant, "k": k, "step_ms": None, "per_model_step_ms": None, "img_s": None,
               "tflops": None, "mfu": None, "first_step_s": None, "compile_s": None, "steps": 0, "error": None,
               "skipped": None}
        left = deadline - time.perf_counter()
        if left < need_s:
            row["skipped"] = f"time budget: {max(left, 0):.0f} s left of {budget_s:.0f}, needs ~{need_s:.0f}"
        else:
            try:
                with _cudnn_benchmark(cuda):
                    if timed is not None:
                        result = timed()
                    else:
                        step = make()
                        t0 = time.perf_counter()
                        step(0)
                        _sync(device)
                        row["first_step_s"] = time.perf_counter() - t0
                        if compiled:
                            row["compile_s"] = row["first_step_s"]
                        cap = max(0.5, min(10.0, deadline - time.perf_counter() - 1.0))
                        result = _rate(step, device, steps, warmup + (3 if compiled else 0), cap)
                per_step = result["seconds"] / result["steps"]
                fpi = flops_per_image if flops_per_image is not None else 6 * macs
                row.update(steps=result["steps"], step_ms=1e3 * per_step, per_model_step_ms=1e3 * per_step / k,
                           img_s=result["img_s"], tflops=result["img_s"] * fpi / 1e12,
                           mfu=mfu(result["img_s"], fpi // 6, peak) if fpi else None)
            except Exception as e:  # noqa: BLE001 - a variant that fails is a measurement too: its error is kept
                lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()] or [""]
                text = " ".join(lines[:2]) if lines[0].endswith(":") else lines[0]  # inductor: the cause is line 2
                row["error"] = f"{type(e).__name__}: {text[:300]}"
            finally:
                if cuda:
                    torch.cuda.empty_cache()
        rows.append(row)
        log("step-cost " + json.dumps(row))

    from ..device_data import autocast_dtype

    amp = autocast_dtype(device)
    amp_name = str(amp).replace("torch.", "") if amp else "fp32"
    measure("eager_fp32", "eager fp32", lambda: _single(data, device, amp=False, channels_last=False))
    measure("eager_amp_cl", f"eager {amp_name} autocast + channels_last" if amp else "eager fp32 + channels_last",
            lambda: _single(data, device, amp=True, channels_last=True))
    if cuda:
        measure("graphed", f"whole step as one CUDA graph (torch.cuda.graph), {amp_name} + channels_last",
                lambda: _graphed(data, device), need_s=4.0)
    else:
        notes.append("the whole-step CUDA graph needs CUDA: not measured here")
    trainer_steps = 2 if quick else (40 if cuda else 4)
    measure("trainer", "train.train as it runs today (reads loss and errors every step)", None, need_s=4.0,
            timed=lambda: _trainer(device, batch_size, trainer_steps))
    eval_batch = 16 if quick else 1000
    measure("eval", f"eval forward, centre crops, batch {eval_batch}", lambda: _eval(data, device, eval_batch),
            flops_per_image=2 * macs)
    mode = {}

    def batched(k, make, augment=True):
        step, mode["batched"] = _batched(data, device, k, make, augment)
        return step

    measure(f"fig1_k{fig1_k}", f"Figure 1's four-layer net, batched K={fig1_k}",
            lambda: batched(fig1_k, FourLayerNet, augment=False), k=fig1_k, flops_per_image=6 * fig1_macs)
    def batched_rows(k):
        measure(f"batched_k{k}", f"batched trainer, K={k}", lambda: batched(k, _net), k=k)
        measure(f"batched_plain_k{k}", f"batched trainer, K={k}, no LRN nor dropout",
                lambda: batched(k, lambda: _net(lrn=False, dropout=0.0)), k=k,
                flops_per_image=6 * macs)  # LRN has no multiply-adds of its own: the same count

    batched_rows(ks[0])  # the first K (the profile's seeds), then compilation, then the larger Ks if time is left
    if compile:
        for key, cmode, name in (("compile", None, "torch.compile (default mode)"),
                                 ("compile_cudagraphs", "reduce-overhead", 'torch.compile(mode="reduce-overhead")')):
            measure(key, f"{name}, {amp_name} + channels_last", need_s=COMPILE_NEED_S, compiled=True,
                    make=lambda: _single(data, device, amp=True, channels_last=True, compile=True, compile_mode=cmode))
            if rows[-1]["error"]:  # e.g. LRN's in-place mask on a channels_last view: try the plain layout
                measure(key + "_nchw", f"{name}, {amp_name}, NCHW (channels_last failed)", need_s=COMPILE_NEED_S,
                        compiled=True, make=lambda: _single(data, device, amp=True, channels_last=False, compile=True,
                                                            compile_mode=cmode))
    for k in ks[1:]:
        batched_rows(k)
    if cuda:  # would one step for every group of Figure 1's full protocol pay? (measured last: informative only)
        measure("fig1_k60", "Figure 1's four-layer net, batched K=60 (all four groups of the full protocol)",
                lambda: batched(60, FourLayerNet, augment=False), k=60, flops_per_image=6 * fig1_macs)
    if mode.get("batched"):
        notes.append(f"batched trainer mode here: {mode['batched']} (vmap on CUDA, one net after another elsewhere)")
    return {**meta, "notes": notes, "rows": rows, "seconds": time.perf_counter() - started}


def main(args) -> int:
    """``python -m alexnet bench --step-costs [--quick] [--budget S] [--json]``: the table, or one JSON document."""
    from .report import format_step_costs

    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731 - rows go to stderr as they come
    result = run_step_costs(args.device, batch_size=args.batch_size or paper.BATCH_SIZE, steps=args.steps,
                            budget_s=args.budget, quick=args.quick, log=log)
    print(json.dumps(result) if args.json else format_step_costs(result))
    return 0


def read_step_cost_run(json_path, log_path=None) -> dict:
    """The document a ``bench --step-costs --json`` run wrote to ``json_path``; if that run was cut short (an empty
    or broken file), the rows it logged as ``step-cost {json}`` lines in ``log_path``, marked ``"partial": True``."""
    from pathlib import Path

    try:
        return json.loads(Path(json_path).read_text())
    except (OSError, ValueError):
        pass
    meta, rows = {"device": None, "device_name": None, "torch": None, "batch_size": None, "crop": CROP,
                  "quick": None, "budget_s": None}, []
    lines = Path(log_path).read_text(errors="replace").splitlines() if log_path and Path(log_path).exists() else []
    for line in lines:
        head, _, doc = line.partition(" ")
        with contextlib.suppress(ValueError):
            if head == "step-cost-run":
                meta.update(json.loads(doc))
            elif head == "step-cost":
                rows.append(json.loads(doc))
    return {**meta, "seconds": None, "rows": rows, "partial": True,
            "notes": ["the run was cut short: these rows come from its log"]}
