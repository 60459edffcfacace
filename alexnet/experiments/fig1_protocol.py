"""Figure 1 by a stated protocol (§3.1): every learning rate and seed of both nonlinearities trained at once.

The protocol, for each input convention and each nonlinearity (ReLU, tanh):

1. the documented four-layer net (:class:`~alexnet.experiments.fig1_net.FourLayerNet`), every training image, batch
   128, a constant learning rate, no regularisation of any kind (no weight decay, dropout or augmentation: each
   epoch sees the centre crops), as the caption says;
2. a learning-rate grid whose neighbours are a factor 2 apart (:data:`GRID_FACTOR`); if the best rate (fewest
   mean epochs to 25%) sits on the grid's edge, the grid is extended by one rate beyond that edge, at most
   ``max_extensions`` times, and the result says whether the best rate still sits on an edge;
3. ``seeds`` seeds (each seed fixes the initial weights, the same for both nonlinearities, and the data order);
4. training error as cuda-convnet printed it: the running error over the epoch's batches, with the epoch at which
   it crosses a threshold interpolated (:func:`alexnet.stats.epochs_to_error`);
5. the ratio tanh / ReLU of the epochs to 25% with an interval over seeds (:func:`alexnet.stats.ratio_interval`),
   and the same ratio for every threshold of :data:`THRESHOLDS` (20% … 35%).

The two input conventions (:data:`CONVENTIONS`): ``raw`` is the paper's (§2) 0–255 pixels minus the mean image with
cuda-convnet's initial weights; ``standardised`` divides the centred pixels by 64 (about their standard deviation)
and draws the weights from N(0, 1/fan_in). Every (nonlinearity, convention) group is one
:class:`alexnet.batched.BatchedTrainer`: its learning rates × seeds train together.

How much of this runs is the profile's (:data:`FIG1_SCALES`, read by :func:`setup_for`); chapter 3.1 and
``python -m alexnet reproduce`` both run it through :func:`alexnet.experiments.relu.figure1`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from .. import stats
from ..batched import BatchedTrainer
from ..data import ImageSet
from ..paper import FIG1_RATIO, FIG1_THRESHOLD
from ..train import mix_seed
from .fig1_net import FourLayerNet

CONVENTIONS = {"raw": "cuda-convnet", "standardised": "lecun"}  # convention → FourLayerNet init
THRESHOLDS = (0.20, 0.225, 0.25, 0.275, 0.30, 0.325, 0.35)
GRID_FACTOR = 2.0
# Starting grids (factor 2 apart) per (nonlinearity, convention): wide enough that the best rate is usually inside;
# the protocol extends them when it is not.
DEFAULT_GRIDS = {
    ("relu", "raw"): (0.00025, 0.0005, 0.001, 0.002, 0.004),
    ("tanh", "raw"): (0.004, 0.008, 0.016, 0.032, 0.064),
    ("relu", "standardised"): (0.0025, 0.005, 0.01, 0.02, 0.04),
    ("tanh", "standardised"): (0.005, 0.01, 0.02, 0.04, 0.08),
}


# Figure 1's scale per profile (the one table that ``python -m alexnet reproduce`` and chapter 3.1 read): Fig1Setup
# fields, plus grid_size, how many rates of DEFAULT_GRIDS (centred) each nonlinearity starts from. quick fits about
# ten minutes of a 2-core CPU on the 3,728-image sample: one seed, the paper's input convention only, batches of 64
# (58 steps an epoch; an epoch at 32 cost about twice as much here), and higher thresholds too, since 8 epochs stay
# far above 25%.
FIG1_SCALES: dict[str, dict] = {
    "smoke": {"epochs": 1, "batch_size": 32, "seeds": 1, "max_extensions": 0, "grid_size": 2,
              "conventions": ("raw",)},
    "quick": {"epochs": 8, "batch_size": 64, "seeds": 1, "max_extensions": 1, "grid_size": 3,
              "conventions": ("raw",), "thresholds": THRESHOLDS + (0.4, 0.5, 0.6, 0.7)},
    "full": {"epochs": 60, "batch_size": 128, "seeds": 3, "max_extensions": 3, "grid_size": 5,
             "conventions": ("raw", "standardised")},
}


@dataclass
class Fig1Setup:
    """The protocol's sizes: epochs is the most any group trains (a group stops once its winner is known)."""

    epochs: int = 60
    batch_size: int = 128
    seeds: int = 3
    activations: tuple = ("relu", "tanh")
    conventions: tuple = ("raw", "standardised")
    grids: dict = field(default_factory=lambda: dict(DEFAULT_GRIDS))
    max_extensions: int = 3
    threshold: float = FIG1_THRESHOLD
    thresholds: tuple = THRESHOLDS
    deadline: float | None = None  # time.perf_counter() after which no new epoch or extension starts


def setup_for(profile_name: str, **changes) -> Fig1Setup:
    """The :class:`Fig1Setup` of a profile (:data:`FIG1_SCALES`): each default grid centred and cut to
    ``grid_size`` rates (still a factor 2 apart); ``changes`` override fields (e.g. ``deadline``)."""
    s = {**FIG1_SCALES[profile_name if profile_name in FIG1_SCALES else "quick"], **changes}
    size = s.pop("grid_size")
    grids = {key: tuple(g[max(0, (len(g) - size) // 2):][:size]) for key, g in DEFAULT_GRIDS.items()}
    return Fig1Setup(grids=grids, **s)


class Fig1Data:
    """The training images for the batched trainer: uint8 on the device, centre crops, the mean image."""

    def __init__(self, train_set: ImageSet, device):
        self.device = torch.device(device)
        self.images = torch.as_tensor(train_set.images).to(self.device)
        self.labels = torch.as_tensor(train_set.labels).to(self.device)
        crop = train_set.crop_size
        self.offset = (train_set.image_size - crop) // 2
        self.crop = crop
        mean = self.images.float().mean(0) if len(self.images) <= 60000 else None
        if mean is None:  # pragma: no cover - larger sets: chunked
            mean = sum(self.images[i:i + 4096].double().sum(0) for i in range(0, len(self.images), 4096)) / len(self.images)
        o = self.offset
        self.mean_crop = mean[:, o:o + crop, o:o + crop].float()
        self.name, self.n = train_set.name, len(train_set)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``idx`` K×B → (K×B×3×c×c float, pixels minus the mean image; K×B labels)."""
        o, c = self.offset, self.crop
        x = self.images[idx][..., o:o + c, o:o + c].float() - self.mean_crop
        return x, self.labels[idx]


def _orders(data: Fig1Data, seeds, epoch: int, batch_size: int) -> torch.Tensor:
    """S×steps×B index batches: each seed's shuffle of epoch ``epoch`` (whole batches only)."""
    steps = data.n // batch_size
    perms = [torch.randperm(data.n, generator=torch.Generator().manual_seed(mix_seed(s, epoch)))[:steps * batch_size]
             for s in seeds]
    return torch.stack(perms).view(len(seeds), steps, batch_size).to(data.device)


def _first_cross(curve, threshold):
    return stats.epochs_to_error(curve, threshold) if curve else None


def _mean_bound(curves: list[list[float]], threshold: float) -> tuple[float, bool]:
    """(mean epochs to ``threshold`` over seeds, did every seed cross?): a seed that has not crossed counts the
    epochs it has trained (a lower bound); a dead seed (NaN error) counts as never."""
    values, done = [], True
    for c in curves:
        e = math.inf if any(map(math.isnan, c)) else _first_cross(c, threshold)
        if e is None or math.isinf(e):
            done = False
            e = float(len(c)) if e is None else e
        values.append(e)
    return sum(values) / len(values), done


def train_group(activation: str, convention: str, lrs, seeds, data: Fig1Data, setup: Fig1Setup, *,
                on_epoch=None, compile: bool = False) -> dict:
    """Train every (lr, seed) of one nonlinearity and convention together; returns ``{"curves": {lr: [per seed
    curve]}, "epochs", "seconds", "images"}`` (curves: running training error after each epoch).

    ``on_epoch(images)`` is called after each epoch with the images it trained on (all models together). The
    group stops before ``setup.epochs`` once its winner is known: some rate has crossed the lowest threshold
    on every seed, and no other rate can still have a lower mean epoch count to ``setup.threshold``.
    """
    pairs = [(lr, s) for lr in lrs for s in seeds]
    models = []
    for _lr, s in pairs:
        torch.manual_seed(s)
        models.append(FourLayerNet(activation, init=CONVENTIONS[convention]))
    trainer = BatchedTrainer(models, [lr for lr, _ in pairs], device=data.device, compile=compile)
    seed_row = torch.tensor([list(seeds).index(s) for _, s in pairs], device=data.device)
    curves = {lr: [[] for _ in seeds] for lr in lrs}
    t0, images, epoch, truncated = time.perf_counter(), 0, 0, False
    low = min(setup.thresholds)
    for epoch in range(setup.epochs):
        orders = _orders(data, seeds, epoch, setup.batch_size)
        for step in range(orders.shape[1]):
            if setup.deadline is not None and time.perf_counter() > setup.deadline:
                truncated = True  # a host clock read only: the device is not waited for
                break
            x, y = data.batch(orders[seed_row, step])
            trainer.step(x, y)
        if truncated:  # the unfinished epoch is left out of the curves
            break
        images += orders.shape[1] * setup.batch_size * len(pairs)
        err = trainer.epoch_stats()["train_top1_error"]
        for (lr, s), e in zip(pairs, err):
            curves[lr][list(seeds).index(s)].append(e)
        if on_epoch is not None:
            on_epoch(orders.shape[1] * setup.batch_size * len(pairs))  # the images this epoch trained on
        if setup.deadline is not None and time.perf_counter() > setup.deadline:
            truncated = True
            break
        bounds = {lr: _mean_bound(c, setup.threshold) for lr, c in curves.items()}
        done = [lr for lr in lrs if bounds[lr][1]]
        if done:
            best = min(done, key=lambda lr: bounds[lr][0])
            if _mean_bound(curves[best], low)[1] and all(bounds[lr][0] >= bounds[best][0]
                                                         for lr in lrs if lr not in done):
                break
    return {"curves": curves, "epochs": epoch + 1, "seconds": time.perf_counter() - t0, "images": images,
            "truncated": truncated}


def best_rate(curves: dict, threshold: float) -> float:
    """The rate with the fewest mean epochs to ``threshold`` (ties: the smaller rate); if none crossed on every
    seed, the lowest mean final error."""
    bounds = {lr: _mean_bound(c, threshold) for lr, c in curves.items()}
    done = [lr for lr, (_m, ok) in bounds.items() if ok]
    if done:
        return min(sorted(done), key=lambda lr: bounds[lr][0])

    def final(lr):
        ends = [c[-1] for c in curves[lr] if c]
        return math.inf if not ends or any(map(math.isnan, ends)) else sum(ends) / len(ends)
    return min(sorted(curves), key=final)


def tune(activation: str, convention: str, data: Fig1Data, setup: Fig1Setup, seeds, *, on_epoch=None,
         compile: bool = False) -> dict:
    """Train the starting grid, then extend it by a factor 2 beyond whichever edge the best rate sits on (at most
    ``setup.max_extensions`` times). Returns ``{"curves", "grid", "best_lr", "at_edge", "extensions", "seconds",
    "images", "truncated"}`` (truncated: ``setup.deadline`` cut an epoch budget or an extension short)."""
    grid = sorted(setup.grids[(activation, convention)])
    run = train_group(activation, convention, grid, seeds, data, setup, on_epoch=on_epoch, compile=compile)
    curves, seconds, images, ext = dict(run["curves"]), run["seconds"], run["images"], 0
    truncated = run["truncated"]
    while True:
        grid = sorted(curves)
        best = best_rate(curves, setup.threshold)
        edge = best in (grid[0], grid[-1]) and len(grid) > 1 or len(grid) == 1
        late = setup.deadline is not None and time.perf_counter() > setup.deadline
        if not edge or ext >= setup.max_extensions or late:
            truncated = truncated or (edge and late)
            break
        new = grid[0] / GRID_FACTOR if best == grid[0] else grid[-1] * GRID_FACTOR
        more = train_group(activation, convention, [new], seeds, data, setup, on_epoch=on_epoch, compile=compile)
        curves.update(more["curves"])
        truncated = truncated or more["truncated"]
        seconds, images, ext = seconds + more["seconds"], images + more["images"], ext + 1
    return {"curves": {str(k): v for k, v in sorted(curves.items())}, "grid": sorted(curves), "best_lr": best,
            "at_edge": edge, "extensions": ext, "seconds": seconds, "images": images, "truncated": truncated}


def ratios(relu: dict, tanh: dict, thresholds=THRESHOLDS) -> dict:
    """Per threshold: the epochs of each seed at each net's best rate, and tanh / ReLU with its interval and verdict
    (None where a seed did not get there)."""
    out = {}
    for t in thresholds:
        r = [_first_cross(c, t) for c in relu["curves"][str(relu["best_lr"])]]
        h = [_first_cross(c, t) for c in tanh["curves"][str(tanh["best_lr"])]]
        row = {"relu_epochs": r, "tanh_epochs": h}
        if None in r or None in h:
            row.update(ratio=None, low=None, high=None, verdict=stats.INCONCLUSIVE)
        else:
            ratio, low, high = stats.ratio_interval(h, r)
            row.update(ratio=ratio, low=low, high=high, verdict=stats.ratio_verdict(low, high, ratio))
        out[f"{t:.3f}"] = row
    return out


def run_fig1_protocol(train_set: ImageSet, setup: Fig1Setup, *, device=None, on_epoch=None,
                      compile: bool = False) -> dict:
    """The whole protocol on ``train_set``: returns data (nothing is printed or saved).

    ``{"conventions": {conv: {"relu": tune(...), "tanh": tune(...), "ratios": ratios(...)}}, "setup", "seconds",
    "images", "ratio", "ratio_low", "ratio_high", "ratio_is_lower_bound", "epochs_to_25", "lr", "curves"}``; the
    top-level ratio, epochs, rates and mean curves are the paper's convention (``raw``, or the first one run) at
    ``setup.threshold``, in the shape the scorecard reads.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    data = Fig1Data(train_set, device)
    seeds = list(range(setup.seeds))
    out, seconds, images = {}, 0.0, 0
    for conv in setup.conventions:
        nets = {a: tune(a, conv, data, setup, seeds, on_epoch=on_epoch, compile=compile) for a in setup.activations}
        seconds += sum(n["seconds"] for n in nets.values())
        images += sum(n["images"] for n in nets.values())
        if "relu" in nets and "tanh" in nets:
            nets["ratios"] = ratios(nets["relu"], nets["tanh"], setup.thresholds)
        out[conv] = nets
    main_convention = "raw" if "raw" in out else setup.conventions[0]
    main = out[main_convention]
    cut = any(net.get("truncated") for nets in out.values() for net in nets.values() if "truncated" in net)
    result = {"conventions": out, "seconds": seconds, "images": images, "train_images": data.n, "truncated": cut,
              "paper_ratio": FIG1_RATIO, "threshold": setup.threshold, "main_convention": main_convention,
              "setup": {"epochs": setup.epochs, "batch_size": setup.batch_size, "seeds": setup.seeds,
                        "grid_factor": GRID_FACTOR, "max_extensions": setup.max_extensions,
                        "thresholds": list(setup.thresholds), "conventions": list(setup.conventions),
                        "grids": {f"{a}/{c}": list(g) for (a, c), g in setup.grids.items() if c in out},
                        "device": str(data.device)}}
    if "ratios" in main:
        row = main["ratios"][f"{setup.threshold:.3f}"]
        best = {a: main[a]["best_lr"] for a in ("relu", "tanh")}
        mean_curve = lambda a: [sum(v) / len(v) for v in zip(*main[a]["curves"][str(best[a])])]  # noqa: E731
        ep = {a: _mean_bound(main[a]["curves"][str(best[a])], setup.threshold) for a in ("relu", "tanh")}
        lower = row["ratio"] is None and ep["relu"][1] and not ep["tanh"][1]
        result.update(ratio=row["ratio"] if row["ratio"] is not None else (ep["tanh"][0] / ep["relu"][0] if lower else None),
                      ratio_low=row["low"], ratio_high=row["high"], ratio_is_lower_bound=lower, verdict=row["verdict"],
                      epochs_to_25={a: ep[a][0] if ep[a][1] else None for a in ep}, lr=best,
                      relu_epochs=ep["relu"][0] if ep["relu"][1] else None,
                      curves={a: mean_curve(a) for a in ("relu", "tanh")},
                      lr_at_edge={a: main[a]["at_edge"] for a in ("relu", "tanh")})
    return result
