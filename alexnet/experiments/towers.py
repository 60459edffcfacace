"""§3.2, training on multiple GPUs: what the chapter measures about the two towers.

- :func:`equality_report`: the grouped AlexNet (``groups=2``) and :class:`~alexnet.parallel.ModelParallelAlexNet`
  on the same weights give the same outputs and gradients.
- :func:`traffic_comparison`: bytes that cross between the two devices per image (forward activations and
  backward gradients, counted on the real copies) against data parallelism's ring all-reduce of every gradient.
- :func:`train_both_ways`: the model-parallel net and the grouped net through the same trainer.
- :func:`towers_ablation`: the paper's ablation, two towers against one tower with half the kernels
  (paper: the two-tower net is better by 1.7% top-1 and 1.2% top-5).
- :func:`colour_score` / :func:`tower_colour_stats`: Fig. 3's specialisation, measured (see :func:`colour_score`).
- :func:`forward_trace` / :func:`draw_devices`: which device holds what at each step of the forward pass.
- :func:`multi_gpu_timings`: single device, model-parallel and DDP training steps timed on ≥2 real GPUs.
"""
from __future__ import annotations

import copy
import json
import os
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..data import ImageSet, load_imageset
from ..model import AlexNet, alexnet, build_model, count_parameters
from ..optim import PaperSGD
from ..parallel import LAYERS, PAPER_CROSSINGS, ModelParallelAlexNet, allreduce_bytes_per_gpu, measure_crossings
from ..plots import kernel_grid
from ..profiles import Profile, get_profile
from ..scratch import scratch_checkpoint_dir
from ..train import TrainConfig, TrainResult, train
from .ablation import AblationResult, base_config, run_ablation

PAPER_ONE_TOWER_COST = {"top1": 0.017, "top5": 0.012}  # §3.2: one GPU, half the kernels: this much worse
ABLATION_ARMS = {"two_towers": {}, "one_tower": {"model": {"towers": 1}}}


# ------------------------------------------------------------------------------------------ equality

def equality_report(grouped: AlexNet, *, devices=("cpu", "cpu"), batch_size: int = 2, input_size: int | None = None,
                    seed: int = 0) -> dict:
    """Max |difference| between the grouped net and its two-device split, on one random batch in eval mode:
    outputs, and the gradients of the same loss (joined back into the grouped layout)."""
    size = input_size or (227 if grouped.stem == "imagenet" else 28)
    dtype = next(grouped.parameters()).dtype
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, 3, size, size, generator=g, dtype=dtype) * 50  # mean-subtracted 0–255 scale
    was_training = grouped.training
    split = ModelParallelAlexNet.from_grouped(grouped, devices=devices).eval()
    grouped.eval().zero_grad(set_to_none=True)
    try:
        out_g, out_s = grouped(x), split(x)
        out_g.square().mean().backward()
        out_s.square().mean().backward()
        grad_diff = 0.0
        for name in LAYERS:
            whole = grouped.get_submodule(("features." if name.startswith("conv") else "classifier.") + name)
            for kind in ("weight", "bias"):
                halves = [getattr(getattr(t, name), kind).grad.to(x.device) for t in (split.tower_a, split.tower_b)]
                joined = torch.cat(halves)
                grad_diff = max(grad_diff, (getattr(whole, kind).grad - joined).abs().max().item())
    finally:
        grouped.zero_grad(set_to_none=True)
        grouped.train(was_training)
    return {"dtype": str(dtype).replace("torch.", ""),
            "output_max_abs_diff": (out_g - out_s.to(out_g.device)).abs().max().item(),
            "output_max_abs": out_g.abs().max().item(), "grad_max_abs_diff": grad_diff,
            "params_grouped": count_parameters(grouped), "params_split": count_parameters(split)}


# ------------------------------------------------------------------------------------------ bytes

@dataclass
class TrafficComparison:
    """Bytes between two devices per training step: model parallelism (§3.2) against data parallelism."""
    arch: str
    params: int
    batch_size: int
    world: int
    per_image: dict  # {crossing: {"forward", "backward"}} bytes per image, every crossing counted
    mp_sent_per_gpu_per_image: float  # paper crossings only (no input, no LRN halo), the busier device
    halo_per_image: float  # both directions, forward + backward
    input_per_image: float
    dp_sent_per_gpu_per_step: float

    @property
    def mp_sent_per_gpu_per_step(self) -> float:
        return self.mp_sent_per_gpu_per_image * self.batch_size

    @property
    def ratio(self) -> float:
        """How many times more bytes each GPU sends under data parallelism than under model parallelism."""
        return self.dp_sent_per_gpu_per_step / self.mp_sent_per_gpu_per_step

    @property
    def break_even_batch(self) -> float:
        """The batch size above which model parallelism would send more than the all-reduce."""
        return self.dp_sent_per_gpu_per_step / self.mp_sent_per_gpu_per_image

    def as_dict(self) -> dict:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__},
                "mp_sent_per_gpu_per_step": self.mp_sent_per_gpu_per_step, "ratio": self.ratio,
                "break_even_batch": self.break_even_batch}

    def crossing_table(self) -> str:
        lines = [f"{'crossing':<12}{'forward B/img':>15}{'backward B/img':>16}  counted as"]
        for label, v in self.per_image.items():
            kind = "paper" if label in PAPER_CROSSINGS else ("input copy" if label == "input" else "LRN halo (ours)")
            lines.append(f"{label:<12}{v['forward']:>15,.0f}{v['backward']:>16,.0f}  {kind}")
        return "\n".join(lines)

    def table(self) -> str:
        mb = 1e6
        b = self.batch_size
        return "\n".join([
            f"{self.arch}: {self.params:,} parameters, batch {b}, {self.world} GPUs, float32",
            f"{'':<44}{'per image':>12}{'per step':>12}",
            f"{'model parallel (§3.2), sent by each GPU':<44}{self.mp_sent_per_gpu_per_image / mb:>10.3f}MB"
            f"{self.mp_sent_per_gpu_per_step / mb:>10.1f}MB",
            f"{'data parallel, ring all-reduce, each GPU':<44}{self.dp_sent_per_gpu_per_step / b / mb:>10.3f}MB"
            f"{self.dp_sent_per_gpu_per_step / mb:>10.1f}MB",
            f"data parallel sends {self.ratio:.1f}× more; model parallelism would send more only above a batch of "
            f"{self.break_even_batch:,.0f} images",
            f"(not counted above: our LRN halo, {self.halo_per_image / mb:.3f} MB/image over both directions; "
            f"the input batch copied to the second GPU, {self.input_per_image / mb:.3f} MB/image)"])


def traffic_comparison(model: str | ModelParallelAlexNet = "alexnet", num_classes: int | None = None, *,
                       batch_size: int = 128, world: int = 2) -> TrafficComparison:
    """Count the bytes that cross between the towers (one forward + backward) and set them against a ring
    all-reduce of all parameters over ``world`` GPUs (float32 throughout).

    ``model`` is a :class:`ModelParallelAlexNet` or an architecture name (``"alexnet"``, ``"alexnet-cifar"``),
    which is then built and split over two simulated CPU devices.
    """
    if isinstance(model, str):
        name = model
        torch.manual_seed(0)
        grouped = build_model(name, num_classes or (1000 if name == "alexnet" else 10))
        model = ModelParallelAlexNet.from_grouped(grouped, devices=("cpu", "cpu"))
    else:
        name = "alexnet" if model.stem == "imagenet" else "alexnet-cifar"
    log = measure_crossings(model, batch_size=2)
    per_image = log.per_image()
    halo = sum(v["forward"] + v["backward"] for k, v in per_image.items() if "halo" in k)
    params = count_parameters(model)
    return TrafficComparison(name, params, batch_size, world, per_image, max(log.sent_per_image(PAPER_CROSSINGS)),
                             halo, per_image.get("input", {}).get("forward", 0.0),
                             allreduce_bytes_per_gpu(params, world))


# ------------------------------------------------------------------------------------------ training

def train_model_parallel(cfg: TrainConfig, *, devices=("cpu", "cpu"), train_set: ImageSet | None = None,
                         val_set: ImageSet | None = None, progress: bool | None = None) -> TrainResult:
    """Train :class:`ModelParallelAlexNet` with :func:`alexnet.train.train`, from the same initial weights the
    trainer would give the grouped net for ``cfg`` (same seed, same switches)."""
    train_set = train_set or load_imageset(cfg.dataset, "train", limit=cfg.train_limit, progress=False)
    val_set = val_set or load_imageset(cfg.dataset, "val", limit=cfg.val_limit, progress=False)
    torch.manual_seed(cfg.seed)  # as train() does just before it builds the model
    grouped = build_model(cfg.resolved_arch(), train_set.num_classes, **cfg.model)
    split = ModelParallelAlexNet.from_grouped(grouped, devices=devices)
    cfg = replace(cfg, device=str(split.devices[0]))  # the logits, and so the labels, live on device 0
    return train(cfg, model=split, train_set=train_set, val_set=val_set, progress=progress)


def train_both_ways(profile: Profile | None = None, *, epochs: int = 1, train_limit: int | None = 1024,
                    devices=("cpu", "cpu")) -> dict:
    """The grouped net and its two-device split, trained by the same trainer from the same start with dropout 0
    (so that no random mask differs): their histories and the largest weight difference at the end.

    For scale, a third run trains the grouped net again with a different number of CPU threads, which only changes
    the order in which float32 sums are added: ``rounding_reference`` is how far that moves the weights.
    """
    profile = profile or get_profile()
    limits = [x for x in (train_limit, profile.train_limit) if x is not None]
    limit = min(limits) if limits else None
    cfg = base_config(profile, epochs=epochs, train_limit=limit, model={"dropout": 0.0}, device="cpu")
    train_set = load_imageset(cfg.dataset, "train", limit=cfg.train_limit, progress=False)
    val_set = load_imageset(cfg.dataset, "val", limit=cfg.val_limit, progress=False)
    one = train(cfg, train_set=train_set, val_set=val_set, progress=False)
    two = train_model_parallel(cfg, devices=devices, train_set=train_set, val_set=val_set, progress=False)
    threads = torch.get_num_threads()
    other = 1 if threads > 1 else 2
    torch.set_num_threads(other)
    try:
        again = train(cfg, train_set=train_set, val_set=val_set, progress=False)
    finally:
        torch.set_num_threads(threads)

    def max_diff(a, b):
        return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))

    return {"grouped": one.history, "model_parallel": two.history, f"grouped, {other} thread(s)": again.history,
            "max_weight_diff": max_diff(one.model, two.model.to_grouped(device="cpu")),
            "rounding_reference": max_diff(one.model, again.model), "threads": (threads, other),
            "train_images": len(train_set), "epochs": epochs, "crossing_per_image": two.model.traffic.total_per_image()}


def history_table(runs: dict[str, list[dict]], seconds: bool = False) -> str:
    """Per run and epoch: training loss and error, validation error (and the epoch's wall time if asked)."""
    head = f"{'run':<20}{'epoch':>6}{'train loss':>12}{'train err':>10}{'val err':>9}"
    lines = [head + (f"{'seconds':>9}" if seconds else "")]
    for name, hist in runs.items():
        for h in hist:
            lines.append(f"{name:<20}{h['epoch']:>6}{h['train_loss']:>12.5f}{h['train_top1_error']:>10.1%}"
                         f"{h['val_top1_error']:>9.1%}" + (f"{h['seconds']:>9.1f}" if seconds else ""))
    return "\n".join(lines)


def towers_ablation(profile: Profile | None = None, base: dict | None = None,
                    checkpoint_dir: str | Path | None = None) -> tuple[AblationResult, Path]:
    """§3.2's ablation through :func:`~alexnet.experiments.run_ablation`, saved as ``towers_ablation``: two towers
    (baseline) against one tower with half the kernels (``towers=1``). The paper: one tower is worse by 1.7% top-1
    and 1.2% top-5.

    The two-tower arm's weights are kept in ``checkpoint_dir`` (by default
    :func:`alexnet.scratch.scratch_checkpoint_dir`) for the specialisation measurement; the folder is left out
    of the saved result. Returns the result and that checkpoint's path.
    """
    profile = profile or get_profile()
    folder = Path(checkpoint_dir or scratch_checkpoint_dir("towers-two_towers", profile))
    arms = copy.deepcopy(ABLATION_ARMS)
    arms["two_towers"]["checkpoint_dir"] = str(folder)
    result = run_ablation("towers_ablation", arms, baseline="two_towers", profile=profile, base=base)
    return result, folder / "last.pt"


def ablation_comparison(result: AblationResult) -> str:
    """Ours against the paper: how much worse one tower with half the kernels is than two towers, with the
    sampling noise of the difference (one standard error of a difference of two error rates on the test images,
    treating the arms as independent)."""
    d = result.deltas["one_tower"]
    s = result.scale
    n = s.get("val_images") or 1
    se = {k: sum(e * (1 - e) / n for e in (result.arms["two_towers"][f"val_{k}_error"],
                                            result.arms["one_tower"][f"val_{k}_error"])) ** 0.5
          for k in ("top1", "top5")}
    return "\n".join([
        f"{'one tower − two towers':<26}{'top-1':>8}{'top-5':>8}",
        f"{'paper (ILSVRC-2012 val)':<26}{PAPER_ONE_TOWER_COST['top1']:>+8.1%}{PAPER_ONE_TOWER_COST['top5']:>+8.1%}",
        f"{'ours':<26}{d['top1']:>+8.1%}{d['top5']:>+8.1%}",
        f"{'ours: ± 1 standard error':<26}{se['top1']:>8.1%}{se['top5']:>8.1%}",
        f"ours: {s['dataset']}, {s['train_images']:,} training / {s.get('val_images', '?')} validation images, "
        f"{s['epochs']} epochs, {s['seeds']} seed(s), profile {s['profile']}, device {s['device']}"])


# ------------------------------------------------------------------------------------------ Fig. 3: colour

def colour_score(weight: torch.Tensor) -> torch.Tensor:
    r"""How colour-specific each conv1 kernel is: the share of its norm that is not grey, from 0 to 1.

    Split a kernel :math:`w \in \mathbb{R}^{3\times h\times w}` into its grey part (at each position, the mean
    of R, G and B, copied to all three channels) and the rest, :math:`w = \bar w + \tilde w`. The two parts are
    orthogonal, so :math:`\|w\|^2 = \|\bar w\|^2 + \|\tilde w\|^2`, and

    .. math::

        s(w) = \frac{\|\tilde w\|}{\|w\|}
             = \frac{\sqrt{\operatorname{mean}_{x,y}\ \operatorname{var}_{c}\, w_{c,x,y}}}
                    {\sqrt{\operatorname{mean}_{c,x,y}\, w_{c,x,y}^2}}

    i.e. the spread across the colour channels at each position (population std, pooled over positions as an
    RMS) divided by the kernel's RMS, so the kernel's scale drops out. A kernel that weighs R, G and B alike at
    every position (a grey edge or blob, the upper rows of Fig. 3) scores 0; one whose RGB weights sum to zero at
    every position (a pure colour-opponent pattern) scores 1; one that looks at a single channel scores
    √(2/3) ≈ 0.82. Independent random weights (the initialisation) score about 0.8 too, so an untrained kernel
    already looks "colourful" by this measure: what training can show is kernels moving *down* towards 0
    (colour-agnostic) or *up* towards 1 (colour-opponent), away from the initial level.
    """
    w = weight.detach().double().cpu()
    colour = w - w.mean(dim=1, keepdim=True)
    return (colour.flatten(1).norm(dim=1) / w.flatten(1).norm(dim=1).clamp_min(1e-12)).float()


def tower_colour_stats(weight: torch.Tensor, *, permutations: int = 20000, seed: int = 0) -> dict:
    """The colour score of each conv1 kernel by tower (tower A = the first half of the output channels, the maps
    conv2's group 0 sees), the difference of the towers' means, and how often a random split of the same
    kernels into two halves gives a difference at least as large (a permutation p-value)."""
    scores = colour_score(weight)
    half = len(scores) // 2
    a, b = scores[:half], scores[half:]
    observed = (b.mean() - a.mean()).item()
    g = torch.Generator().manual_seed(seed)
    perms = torch.stack([torch.randperm(len(scores), generator=g) for _ in range(permutations)])
    shuffled = scores[perms]
    null = shuffled[:, half:].mean(1) - shuffled[:, :half].mean(1)
    p = ((null.abs() >= abs(observed) - 1e-12).sum().item() + 1) / (permutations + 1)
    return {"tower_a": a.tolist(), "tower_b": b.tolist(), "mean_a": a.mean().item(), "mean_b": b.mean().item(),
            "median_a": a.median().item(), "median_b": b.median().item(), "b_minus_a": observed, "p_value": p,
            "more_colour_specific": "B" if observed > 0 else "A"}


def colour_table(stats: dict[str, dict]) -> str:
    """One row per weight set (e.g. ``{"at initialisation": ..., "after training": ...}``)."""
    lines = [f"{'conv1 kernels':<22}{'tower A mean':>13}{'tower B mean':>13}{'B − A':>8}{'p (perm.)':>11}"]
    for name, s in stats.items():
        lines.append(f"{name:<22}{s['mean_a']:>13.3f}{s['mean_b']:>13.3f}{s['b_minus_a']:>+8.3f}{s['p_value']:>11.3f}")
    return "\n".join(lines)


def plot_tower_colour(trained: torch.Tensor, initial: torch.Tensor | None = None, title: str = ""):
    """Fig. 3, measured: each tower's conv1 kernels (sorted by colour score) and the scores by tower."""
    half = trained.shape[0] // 2
    scores = colour_score(trained)
    fig = plt.figure(figsize=(11, 4.4))
    grid = fig.add_gridspec(2, 2, width_ratios=[1.6, 1])
    towers = (("tower A (device 0)", slice(0, half)), ("tower B (device 1)", slice(half, None)))
    for row, (name, sl) in enumerate(towers):
        ax = fig.add_subplot(grid[row, 0])
        order = torch.argsort(scores[sl])
        kernel_grid(trained[sl][order], ncols=min(12 if half <= 24 else 16, half), ax=ax)
        ax.set_title(f"{name}: conv1 kernels, most colour-agnostic first", fontsize=9)
    ax = fig.add_subplot(grid[:, 1])
    rng = np.random.default_rng(0)
    sets = [("after training", trained, 0.0)] + ([("at initialisation", initial, 0.35)] if initial is not None else [])
    for label, w, shift in sets:
        s = colour_score(w).numpy()
        for t, (sl, color) in enumerate(((slice(0, half), "#1f77b4"), (slice(half, None), "#ff7f0e"))):
            x = t + shift + rng.uniform(-0.08, 0.08, size=len(s[sl]))
            ax.scatter(x, s[sl], s=12, color=color, alpha=1.0 if shift == 0 else 0.35,
                       label=f"tower {'AB'[t]}, {label}")
            ax.hlines(np.mean(s[sl]), t + shift - 0.15, t + shift + 0.15, color="k", lw=1.5)
    ax.set_xticks([0.175, 1.175] if initial is not None else [0, 1], ["tower A", "tower B"])
    ax.set_ylabel("colour score (0 = grey, 1 = opponent)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=6, loc="lower center")
    ax.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------ who holds what

@dataclass
class TraceStep:
    stage: str
    shape_a: tuple
    shape_b: tuple | None
    crossing: str | None  # the crossing label whose bytes move just before / inside this stage
    bytes_each_way: float  # forward bytes per image per direction for that crossing


_CROSSING_AT = {"input": "input", "pool1": "lrn1 halo", "pool2": "lrn2 halo", "conv3": "conv3", "fc6": "fc6",
                "fc7": "fc7", "fc8": "fc8", "softmax": "logits"}


def forward_trace(model: ModelParallelAlexNet, input_size: int | None = None) -> list[TraceStep]:
    """Run one image through ``model`` and record, per stage, each device's tensor shape and the crossing."""
    size = input_size or (227 if model.stem == "imagenet" else 28)
    was_training = model.training
    model.eval()
    model.traffic.reset()
    model.trace = []
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, dtype=next(model.parameters()).dtype))
        trace, per_image = model.trace, model.traffic.per_image()
    finally:
        model.trace = None
        model.train(was_training)
    steps = []
    for stage, shape_a, shape_b in trace:
        label = _CROSSING_AT.get(stage)
        fwd = per_image.get(label, {}).get("forward", 0.0) if label else 0.0
        if label and fwd == 0:
            label = None
        two_way = label not in (None, "input", "logits")
        steps.append(TraceStep(stage, shape_a, shape_b, label, fwd / 2 if two_way else fwd))
    return steps


def _fmt_shape(shape) -> str:
    return "×".join(map(str, shape))


def _fmt_bytes(n: float) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def draw_devices(trace: list[TraceStep], step: int | None = None, devices=("device 0", "device 1"), title: str = ""):
    """The two towers as two rows of boxes (one per device) with every stage's per-device tensor shape; red
    arrows mark where activations cross between devices (orange dashed: our LRN halo, grey dashed: the input
    copy), labelled with the forward bytes per image each way. With ``step``, that stage is highlighted and a
    caption says what each device holds and what crosses."""
    n = len(trace)
    fig, ax = plt.subplots(figsize=(min(1.1 * n + 0.4, 14), 3.4 if step is None else 4.1))
    w, h, ys = 0.64, 0.5, (0.75, -0.25)
    colours = ("#cfe2f3", "#fce5cd")
    red, orange, grey = "#cc0000", "#e69138", "#777777"
    for i, s in enumerate(trace):
        for row, shape in enumerate((s.shape_a, s.shape_b)):
            if shape is None:
                continue
            hot = step == i
            ax.add_patch(FancyBboxPatch((i - w / 2, ys[row] - h / 2), w, h, boxstyle="round,pad=0.02",
                                        fc="#ffe599" if hot else colours[row], ec="k", lw=1.8 if hot else 0.6))
            ax.text(i, ys[row] + 0.09, s.stage, ha="center", va="center", fontsize=8, weight="bold")
            ax.text(i, ys[row] - 0.12, _fmt_shape(shape), ha="center", va="center", fontsize=6.5)
        mid = (ys[0] + ys[1]) / 2
        if s.crossing == "input":  # the batch, copied from device 0 to device 1
            ax.add_patch(FancyArrowPatch((i, ys[0] - h / 2), (i, ys[1] + h / 2), arrowstyle="-|>", mutation_scale=9,
                                         color=grey, lw=1.2, linestyle="--"))
            ax.text(i + 0.05, mid, _fmt_bytes(s.bytes_each_way), ha="left", va="center", fontsize=6.5, color=grey)
        if i == 0:
            continue
        for row in (0, 1):  # within each tower: no communication
            before, now = (trace[i - 1].shape_a, trace[i - 1].shape_b)[row], (s.shape_a, s.shape_b)[row]
            if before is not None and now is not None:
                ax.add_patch(FancyArrowPatch((i - 1 + w / 2, ys[row]), (i - w / 2, ys[row]), arrowstyle="-|>",
                                             mutation_scale=8, color="#444444", lw=0.8))
        if s.crossing and s.crossing != "input":
            halo = "halo" in s.crossing
            color = orange if halo else red
            pairs = ((1, 0),) if s.crossing == "logits" else ((0, 1), (1, 0))
            for r0, r1 in pairs:
                ax.add_patch(FancyArrowPatch((i - 1 + w / 2, ys[r0] + (0.1 if r0 == 0 else -0.1)),
                                             (i - w / 2, ys[r1] + (0.1 if r1 == 0 else -0.1)), arrowstyle="-|>",
                                             mutation_scale=9, color=color, lw=1.5, linestyle="--" if halo else "-"))
            ax.text(i - 0.5, mid, _fmt_bytes(s.bytes_each_way), ha="center", va="center", fontsize=6.5, color=color,
                    weight="bold", bbox=dict(fc="white", ec="none", pad=0.8))
    ax.text(-0.4, ys[0] + 0.38, f"tower A · {devices[0]}", fontsize=8.5, color="#1f4e79", weight="bold")
    ax.text(-0.4, ys[1] - 0.45, f"tower B · {devices[1]}", fontsize=8.5, color="#9c5700", weight="bold")
    ax.text(n - 0.6, ys[1] - 0.45, "red: crossings of the paper · orange dashed: LRN halo (ours) · "
            "grey dashed: input copy · labels: forward bytes per image, each way", fontsize=7, ha="right",
            color="#333333")
    ax.set_xlim(-0.45, n - 0.5)
    ax.set_ylim(ys[1] - 0.55 - (0.6 if step is not None else 0), ys[0] + 0.5)
    ax.axis("off")
    if step is not None:
        s = trace[step]
        other = _fmt_shape(s.shape_b) if s.shape_b is not None else "nothing"
        held = f"{devices[0]} holds {_fmt_shape(s.shape_a)}, {devices[1]} holds {other}"
        if s.crossing is None:
            moved = "no communication: each tower works on its own maps"
        elif s.crossing == "input":
            moved = f"the image batch is copied to the second device ({_fmt_bytes(s.bytes_each_way)} per image)"
        elif s.crossing == "logits":
            moved = f"tower B's scores go to device 0 for the softmax ({_fmt_bytes(s.bytes_each_way)} per image)"
        elif "halo" in s.crossing:
            moved = (f"LRN halo: 2 boundary maps each way ({_fmt_bytes(s.bytes_each_way)} per image each way); "
                     "not in the paper, needed only to match the one-device grouped net exactly")
        else:
            moved = (f"CROSSING into {s.stage}: each device sends its maps to the other, "
                     f"{_fmt_bytes(s.bytes_each_way)} per image each way (and the same back as gradients)")
        ax.text(-0.4, ys[1] - 0.7, f"step {step}: {s.stage}. {held} (per image).\n{moved}.", fontsize=8.5, va="top")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------ timing (≥2 GPUs)

def time_training_steps(model: torch.nn.Module, *, batch_size: int = 128, input_size: int = 227, steps: int = 20,
                        warmup: int = 5, device=None) -> float:
    """Images per second of plain training steps (forward, backward, PaperSGD update) on random data, float32."""
    device = torch.device(device or (model.devices[0] if isinstance(model, ModelParallelAlexNet)
                                     else next(model.parameters()).device))
    opt = PaperSGD(model.parameters(), lr=0.01)
    x = torch.randn(batch_size, 3, input_size, input_size, device=device)
    y = torch.randint(0, 1000, (batch_size,), device=device)
    model.train()

    def sync():
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                torch.cuda.synchronize(i)

    for i in range(warmup + steps):
        if i == warmup:
            sync()
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    sync()
    return batch_size * steps / (time.perf_counter() - t0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, batch_size: int, steps: int, warmup: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    cuda = torch.cuda.is_available()
    torch.distributed.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    device = torch.device("cuda", rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(0)
    net = torch.nn.parallel.DistributedDataParallel(alexnet().to(device), device_ids=[rank] if cuda else None)
    speed = time_training_steps(net, batch_size=batch_size // world, steps=steps, warmup=warmup, device=device)
    torch.distributed.barrier()
    if rank == 0:
        Path(out).write_text(json.dumps({"images_per_second": speed * world}))
    torch.distributed.destroy_process_group()


def ddp_images_per_second(world: int = 2, *, batch_size: int = 128, steps: int = 20, warmup: int = 5) -> float:
    """Training images per second of the paper's net under DDP over ``world`` processes (one per GPU; gloo on
    CPU), global batch ``batch_size``. Launched with ``torch.multiprocessing.spawn``."""
    with tempfile.TemporaryDirectory(prefix="alexnet-ddp-") as folder:
        out = Path(folder) / "speed.json"
        torch.multiprocessing.spawn(_ddp_worker, args=(world, _free_port(), batch_size, steps, warmup, str(out)),
                                    nprocs=world, join=True)
        return json.loads(out.read_text())["images_per_second"]


def multi_gpu_timings(*, batch_size: int = 128, steps: int = 20) -> dict:
    """The paper's net (227×227, float32), training images per second: one GPU (grouped), the two towers on two
    GPUs (§3.2), and DDP on two GPUs. Needs at least two CUDA devices."""
    if torch.cuda.device_count() < 2:
        raise RuntimeError("multi_gpu_timings needs at least two CUDA devices")
    torch.manual_seed(0)
    single = time_training_steps(alexnet().to("cuda:0"), batch_size=batch_size, steps=steps)
    torch.manual_seed(0)
    split = ModelParallelAlexNet.from_grouped(alexnet(), devices=("cuda:0", "cuda:1"))
    towers = time_training_steps(split, batch_size=batch_size, steps=steps)
    ddp = ddp_images_per_second(2, batch_size=batch_size, steps=steps)
    return {"single_gpu": single, "model_parallel_2gpu": towers, "ddp_2gpu": ddp, "batch_size": batch_size,
            "gpu": torch.cuda.get_device_name(0)}


# ------------------------------------------------------------------------------------------ DDP, as a reader runs it

def ddp_command(processes: int, *args: str) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node=N -m alexnet ARGS`` (one machine)."""
    import sys

    launcher = (["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
                if processes > 1 else [])
    return [sys.executable, *launcher, "-m", "alexnet", *args]


def compare_ddp_with_one_process(workdir: str | Path, *, processes: int = 2, epochs: int = 1, batch_size: int = 32,
                                 train_limit: int = 128, val_limit: int = 32, timeout: int = 600) -> dict:
    """Train the same recipe (synthetic data, dropout 0, global batch ``batch_size``) with the CLI twice: under
    torchrun with ``processes`` gloo processes, and as one process. Returns the largest weight difference, both
    histories, the files each run wrote and the wall time of each launch (start-up included)."""
    import subprocess
    import sys

    workdir = Path(workdir)
    package_parent = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, OMP_NUM_THREADS="1", ALEXNET_STATIC="1",
               PYTHONPATH=package_parent + os.pathsep + os.environ.get("PYTHONPATH", ""))
    common = ["train", "--dataset", "synthetic", "--epochs", str(epochs), "--batch-size", str(batch_size),
              "--train-limit", str(train_limit), "--val-limit", str(val_limit), "--dropout", "0", "--device", "cpu",
              "--quiet"]
    runs = {}
    for name, n in (("ddp", processes), ("one_process", 1)):
        folder = workdir / name
        t0 = time.perf_counter()
        done = subprocess.run(ddp_command(n, *common, "--checkpoint-dir", str(folder)), env=env, cwd=workdir,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{name} run failed:\n{done.stderr[-2000:]}")
        state = torch.load(folder / "last.pt", map_location="cpu", weights_only=False)
        runs[name] = {"state": state, "seconds": time.perf_counter() - t0,
                      "files": sorted(p.name for p in folder.iterdir())}
    a, b = runs["ddp"]["state"]["model"], runs["one_process"]["state"]["model"]
    return {"processes": processes, "max_weight_diff": max((a[k] - b[k]).abs().max().item() for k in a),
            "histories": {k: r["state"]["history"] for k, r in runs.items()},
            "files": {k: r["files"] for k, r in runs.items()}, "seconds": {k: r["seconds"] for k, r in runs.items()}}
