"""§3.2, training on multiple GPUs: what chapter 3.2 measures about the two towers (GPU 1 and GPU 2).

- :func:`equality_report`: the grouped AlexNet (``groups=2``) and :class:`~alexnet.parallel.ModelParallelAlexNet`
  on the same weights give the same outputs and gradients.
- :func:`traffic_comparison`: bytes that cross between the two devices per image (forward activations and
  backward gradients, counted on the real copies) against data parallelism's ring all-reduce of every gradient.
- :func:`train_both_ways`: the model-parallel net and the grouped net through the same trainer.
- :func:`towers_ablation`: the paper's ablation, two towers against one tower with half the kernels
  (:data:`alexnet.paper.TOWERS_BENEFIT`).
- :func:`forward_trace`: which device holds what at each step of the forward pass
  (drawn by :func:`alexnet.figures.towers.draw_devices`).

Fig. 3's colour split is measured in :mod:`alexnet.experiments.colour`; timings on two real GPUs and the DDP
comparison are in :mod:`alexnet.experiments.multi_gpu`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .. import paper
from ..data import ImageSet, load_imageset
from ..model import ONE_GPU, AlexNet, build_model, count_parameters
from ..parallel import LAYERS, PAPER_CROSSINGS, ModelParallelAlexNet, allreduce_bytes_per_gpu, measure_crossings
from ..profiles import Profile, experiment_epochs, get_profile
from ..scratch import scratch_checkpoint_dir
from ..train import TrainConfig, TrainResult, train
from .ablation import AblationResult, base_config, reuse_or_run

ABLATION_ARMS = {"two_towers": {}, "one_tower": {"model": dict(ONE_GPU)}}  # GPU 1 + GPU 2 against one GPU
CIFAR_INPUT = 28  # the scaled net's training crop


# ------------------------------------------------------------------------------------------ equality

def equality_report(grouped: AlexNet, *, devices=("cpu", "cpu"), batch_size: int = 2, input_size: int | None = None,
                    seed: int = 0) -> dict:
    """Max |difference| between the grouped net and its two-device split, on one random batch in eval mode:
    outputs, and the gradients of the same loss (joined back into the grouped layout)."""
    size = input_size or (paper.INPUT_SIDE if grouped.stem == "imagenet" else CIFAR_INPUT)
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
                halves = [getattr(getattr(t, name), kind).grad.to(x.device) for t in (split.gpu1, split.gpu2)]
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
                       batch_size: int = paper.BATCH_SIZE, world: int = paper.NUM_GPUS) -> TrafficComparison:
    """Count the bytes that cross between the towers (one forward + backward) and set them against a ring
    all-reduce of all parameters over ``world`` GPUs (float32 throughout).

    ``model`` is a :class:`ModelParallelAlexNet` or an architecture name (``"alexnet"``, ``"alexnet-cifar"``),
    which is then built and split over two simulated CPU devices.
    """
    if isinstance(model, str):
        name = model
        torch.manual_seed(0)
        grouped = build_model(name, num_classes or (paper.ILSVRC_CLASSES if name == "alexnet" else 10))
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
    """§3.2's ablation through :func:`~alexnet.experiments.run_ablation`, saved as ``towers_ablation``: the two
    GPUs' net (baseline, ``groups=2``) against one GPU with half the kernels (:data:`alexnet.model.ONE_GPU`,
    ``groups=1, conv_widths="one_gpu"``). The paper: one GPU is worse by :data:`alexnet.paper.TOWERS_BENEFIT`.

    The two-tower arm's weights are kept in ``checkpoint_dir`` (by default
    :func:`alexnet.scratch.scratch_checkpoint_dir`) for the specialisation measurement; the folder is left out
    of the saved result. Epochs per arm: :func:`alexnet.profiles.experiment_epochs` unless ``base`` sets them. A
    stored result made by this code at this scale is reused when that checkpoint is there too. Returns the result
    and that checkpoint's path.
    """
    profile = profile or get_profile()
    folder = Path(checkpoint_dir or scratch_checkpoint_dir("towers-two_towers", profile))
    base = {"epochs": experiment_epochs(profile, "towers_ablation"), **(base or {})}
    arms = copy.deepcopy(ABLATION_ARMS)
    arms["two_towers"]["checkpoint_dir"] = str(folder)
    result = reuse_or_run("towers_ablation", arms, profile, base=base, needs=folder / "last.pt",
                          baseline="two_towers")
    return result, folder / "last.pt"


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
    size = input_size or (paper.INPUT_SIDE if model.stem == "imagenet" else CIFAR_INPUT)
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
