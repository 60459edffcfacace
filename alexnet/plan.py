"""The work behind ``reproduce``, counted in model FLOPs, and the GPU time it projects to.

Every job of :data:`alexnet.reproduce_jobs.JOBS` trains and evaluates known nets on a known number of images, so its
work is counted, not guessed: multiply-adds per image from :func:`alexnet.summary.layer_table` (convolutions and
linear layers), times 2 FLOPs per multiply-add, times 3 for a training step (forward + backward) or 1 for an
evaluation pass. The time on a GPU is that count over a *stated* throughput: the device's dense bf16/fp16 peak
(:data:`alexnet.bench.PEAK_TFLOPS`) times an assumed model-FLOPs utilisation (:data:`ASSUMED_MFU`), until a
device check measures the real one (pass it as ``mfu``).
"""
from __future__ import annotations

from functools import lru_cache

from .model import ONE_GPU

# Assumed MFU of our CIFAR-sized nets at batch 128 (small convolutions leave most of a big GPU idle): a stated
# assumption, to be replaced by the device check's measurement.
ASSUMED_MFU = {"H100": 0.10, "H200": 0.10, "A100": 0.15, "T4": 0.20, "L4": 0.20}

# Assumed fixed cost of one optimizer step beyond its FLOPs (Python, ~100 kernel launches, the optimizer's loop over
# parameters): what bounds a small net at batch 128 on a big GPU. Stated, to be replaced by the device check's rates.
ASSUMED_STEP_S = {"H100": 0.003, "H200": 0.003, "A100": 0.003, "T4": 0.004, "L4": 0.004}
BATCH = 128

# the result each ablation job stores (its epochs per arm: alexnet.profiles.experiment_epochs)
ABLATION_RESULTS = {"lrn": "lrn_ablation", "pooling": "pooling_ablation", "towers": "towers_ablation",
                    "augmentation": "augmentation_ablation", "dropout": "dropout_ablation", "depth": "depth_ablation"}

# the arms' model switches per ablation job (the depth arm removes conv4: counted as the full net, an upper bound)
ABLATION_ARMS = {
    "lrn": [{}, {"lrn": False}], "pooling": [{}, {"pooling": "plain"}], "towers": [{}, ONE_GPU],
    "augmentation": [{}, {}, {}], "dropout": [{}, {"dropout": 0.0}], "depth": [{}, {}],
}


@lru_cache(maxsize=None)
def _macs(switches: tuple = (), crop: int = 28) -> int:
    from .model import build_model
    from .summary import layer_table

    return layer_table(build_model("alexnet-cifar", 10, **dict(switches)), crop).total_macs


@lru_cache(maxsize=None)
def fig1_macs() -> int:
    """Multiply-adds per 28×28 image of Figure 1's four-layer net."""
    from .experiments.relu import FourLayerNet
    from .summary import layer_table

    return layer_table(FourLayerNet(), 28).total_macs


def job_work(job: str, profile_name: str) -> dict:
    """``{"train_images", "eval_images", "flops"}`` for one job at a profile's scale (Figure 1: the most it can
    train, every rate of its grid and extensions for the whole epoch budget; it usually stops earlier)."""
    from .profiles import REPRODUCE_SCALES, experiment_epochs, reproduce_profile

    p = reproduce_profile(profile_name)
    s = REPRODUCE_SCALES[profile_name]
    n, v = s["train_images"], s["val_images"]
    if job == "fig1":
        from .experiments.fig1_protocol import FIG1_SCALES
        f = FIG1_SCALES[profile_name]
        models = len(f.get("conventions", ("raw", "standardised"))) * 2 * (f["grid_size"] + f["max_extensions"]) \
            * f["seeds"]
        train = models * f["epochs"] * (n // f["batch_size"]) * f["batch_size"]
        groups = len(f.get("conventions", ("raw", "standardised"))) * 2 * (1 + f["max_extensions"])
        steps = groups * f["epochs"] * (n // f["batch_size"])  # one batched step trains a whole group
        return {"train_images": train, "eval_images": 0, "flops": 6 * fig1_macs() * train, "steps": steps}
    if job in ABLATION_ARMS:
        flops = train = evals = 0
        for arm in ABLATION_ARMS[job]:
            epochs = experiment_epochs(p, ABLATION_RESULTS[job])
            t, e = p.seeds * epochs * n, p.seeds * epochs * v
            macs = _macs(tuple(sorted(arm.items())))
            train, evals, flops = train + t, evals + e, flops + 6 * macs * t + 2 * macs * e
        if job == "augmentation":  # the ten-crop measurement of the paper arm: 1 + 10 crops of the test set
            evals, flops = evals + 11 * v, flops + 2 * _macs() * 11 * v
        return {"train_images": train, "eval_images": evals, "flops": flops, "steps": train // p.batch_size}
    if job == "bias":
        train = 6 * max(1, min(6, p.ablation_epochs)) * n
        return {"train_images": train, "eval_images": 0, "flops": 6 * _macs() * train, "steps": train // p.batch_size}
    if job in ("main", "results"):
        # the main run (chapter 5) evaluates after every epoch; chapter 6's model is the shipped checkpoint in
        # quick (evaluated only, centre + ten crops) and trained with the same recipe elsewhere
        train = 0 if job == "results" and profile_name == "quick" else p.epochs * n
        evals = p.epochs * v if job == "main" else 11 * v
        return {"train_images": train, "eval_images": evals, "flops": 6 * _macs() * train + 2 * _macs() * evals,
                "steps": train // p.batch_size}
    raise KeyError(job)


def project(profile_name: str = "full", gpu: str = "H100", mfu: float | None = None, jobs=None,
            step_s: float | None = None) -> dict:
    """Projected seconds per job on ``gpu``: counted FLOPs over peak × ``mfu`` (default :data:`ASSUMED_MFU`), plus
    ``step_s`` per optimizer step (default :data:`ASSUMED_STEP_S`). Returns ``{"gpu", "peak_tflops", "mfu",
    "step_s", "jobs": {job: work + seconds}, "flops", "seconds"}``."""
    from .bench import peak_for_name
    from .reproduce_jobs import JOBS

    peak = peak_for_name(gpu)
    if peak is None:
        raise ValueError(f"no peak known for {gpu!r}")
    mfu = mfu if mfu is not None else ASSUMED_MFU.get(gpu, 0.1)
    step_s = step_s if step_s is not None else ASSUMED_STEP_S.get(gpu, 0.003)
    rate = peak * 1e12 * mfu
    out = {}
    for j in JOBS:
        if jobs is None or j.name in jobs:
            w = job_work(j.name, profile_name)
            out[j.name] = {**w, "seconds": w["flops"] / rate + w["steps"] * step_s}
    return {"gpu": gpu, "peak_tflops": peak, "mfu": mfu, "step_s": step_s, "profile": profile_name, "jobs": out,
            "flops": sum(w["flops"] for w in out.values()), "seconds": sum(w["seconds"] for w in out.values())}


def format_projection(profile_name: str = "full", gpus=("H100", "T4"), mfu: float | None = None) -> str:
    """A table of counted work and projected minutes per job on each of ``gpus``."""
    runs = [project(profile_name, g, mfu) for g in gpus]
    head = f"{'job':<14}{'train img':>14}{'eval img':>12}{'steps':>10}{'PFLOP':>9}" + "".join(
        f"{r['gpu'] + ' min':>11}" for r in runs)
    lines = [f"reproduce --profile {profile_name}: counted model FLOPs (6 per MAC trained, 2 per MAC evaluated)",
             "assumed throughput: " + "; ".join(f"{r['gpu']} {r['peak_tflops']:g} TFLOP/s peak × MFU {r['mfu']:.0%} "
                                                f"+ {1000 * r['step_s']:g} ms per step" for r in runs), head]
    for name, w in runs[0]["jobs"].items():
        lines.append(f"{name:<14}{w['train_images']:>14,}{w['eval_images']:>12,}{w['steps']:>10,}{w['flops'] / 1e15:>9.1f}"
                     + "".join(f"{r['jobs'][name]['seconds'] / 60:>11.1f}" for r in runs))
    lines.append(f"{'total':<14}{'':>36}{runs[0]['flops'] / 1e15:>9.1f}"
                 + "".join(f"{r['seconds'] / 60:>11.1f}" for r in runs))
    lines.append("(Figure 1 is its upper bound: every rate for the whole epoch budget; it stops once its winner is known)")
    return "\n".join(lines)
