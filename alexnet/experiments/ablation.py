"""Run two or more variants of the same training recipe and compare them on the same images: the shape of every
ablation in the paper (LRN, overlapping pooling, two towers, augmentation, dropout, depth).

Every arm shares the data, the seed(s) and the recipe; only its overrides differ (TrainConfig fields, ``model``
switches, or ``build``: a model builder, see :func:`run_ablation`). With ``profile.seeds > 1`` each arm is
repeated. The result is saved under ``name`` in the results store (:mod:`alexnet.results`) in a schema the
scorecard reads:

``{"arms": {arm: {"histories": [...], "runs": [{"seed", "val_correct", "train_eval_top1_error"}, ...],
"val_top1_error", "val_top5_error", "train_top1_error", "train_eval_top1_error", "val_top1_std", "seconds",
"overrides"}}, "baseline": arm, "deltas": {arm: {"top1", "top5"}}}``.

``val_correct`` says which validation images the arm's final model gets right (top-1, centre crop), as the hex of
a packed bit mask (:func:`pack_mask`), so that two arms are compared image by image (:func:`alexnet.stats.paired`,
McNemar's test). ``train_eval_top1_error`` is the final model's error on a fixed subset of the training images
measured exactly as validation is (centre crops, eval mode), so the train/validation gap means overfitting and
not augmentation. A delta is ``error(arm) − error(baseline)``, in fractions.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import results as results_store
from ..data import ImageSet, load_imageset
from ..evaluate import predict
from ..profiles import Profile, get_profile, resolve_device
from ..results import save_result, scale
from ..stats import Paired, combine_seeds, paired, seed_spread, unpaired_difference_se
from ..train import TrainConfig, train
from ..train_together import can_train_together, train_together
from ..transforms import BatchAugment
from .progress import OverallProgress

TRAIN_EVAL_IMAGES = 5000  # the training images the final train/val gap is measured on (centre crops, eval mode)


@dataclass
class AblationResult:
    name: str
    arms: dict[str, dict]
    baseline: str
    deltas: dict[str, dict]
    scale: dict

    def table(self) -> str:
        lines = [f"{'arm':<22}{'train err':>10}{'val top-1':>10}{'val top-5':>10}{'Δ top-1':>9}{'Δ top-5':>9}"]
        for arm, r in self.arms.items():
            d = self.deltas.get(arm, {"top1": 0.0, "top5": 0.0})
            lines.append(f"{arm:<22}{train_error(r):>10.1%}{r['val_top1_error']:>10.1%}"
                         f"{r['val_top5_error']:>10.1%}{d['top1']:>+9.1%}{d['top5']:>+9.1%}")
        return "\n".join(lines)

    def histories(self, seed: int = 0) -> dict[str, list[dict]]:
        return {arm: r["histories"][seed] for arm, r in self.arms.items()}

    def compare(self, with_: str, without: str) -> tuple[float, float, Paired | None]:
        """(effect, se, paired) of :func:`compare_arms` for two of this result's arms."""
        return compare_arms(self.arms[with_], self.arms[without], self.scale.get("val_images"))


# ------------------------------------------------------------------------------------------- per-image masks
def pack_mask(correct: torch.Tensor) -> str:
    """A length-N boolean mask as the hex string of its packed bits (N/4 characters; N is kept elsewhere)."""
    return np.packbits(np.asarray(torch.as_tensor(correct, dtype=torch.bool).cpu())).tobytes().hex()


def unpack_mask(text: str, n: int) -> torch.Tensor:
    """The inverse of :func:`pack_mask`: a length-``n`` boolean tensor."""
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))[:n]
    return torch.from_numpy(bits.astype(bool))


def train_error(arm: dict) -> float:
    """An arm's final training error: measured as validation is where the result has it, else the running
    error over the last epoch's augmented batches (older results)."""
    return arm.get("train_eval_top1_error", arm["train_top1_error"])


def compare_arms(with_: dict, without: dict, n: int | None) -> tuple[float, float, Paired | None]:
    """How much lower the ``with_`` arm's validation top-1 error is than the ``without`` arm's: ``(effect, se,
    paired)`` with effect > 0 when ``with_`` is better.

    Paired (McNemar, :func:`alexnet.stats.paired`, seeds combined by :func:`alexnet.stats.combine_seeds`) when
    both arms stored per-image correctness for the same seeds; otherwise the unpaired standard error of two
    rates on ``n`` images, with the seeds' spread added, and ``paired`` None.
    """
    runs_a = {r["seed"]: r for r in with_.get("runs", []) if r.get("val_correct")}
    runs_b = {r["seed"]: r for r in without.get("runs", []) if r.get("val_correct")}
    seeds = sorted(set(runs_a) & set(runs_b))
    if seeds and n:
        pairs = [paired(unpack_mask(runs_a[s]["val_correct"], n), unpack_mask(runs_b[s]["val_correct"], n))
                 for s in seeds]
        effect, se = combine_seeds(pairs)
        return effect, se, Paired(sum(p.n for p in pairs), sum(p.b for p in pairs), sum(p.c for p in pairs))
    a, b = with_["val_top1_error"], without["val_top1_error"]
    se = unpaired_difference_se(a, b, n) if n else float("nan")
    spread = [seed_spread([h[-1]["val_top1_error"] for h in arm["histories"]]).se for arm in (with_, without)]
    return b - a, float(np.hypot(se, np.hypot(*spread))), None


# ------------------------------------------------------------------------------------------- the runner
def base_config(profile: Profile, **overrides) -> TrainConfig:
    """The recipe every ablation arm starts from, sized by the profile."""
    cfg = TrainConfig(dataset=profile.dataset, epochs=profile.ablation_epochs, batch_size=profile.batch_size,
                      train_limit=profile.train_limit, val_limit=profile.val_limit,
                      plateau_patience=max(2, profile.ablation_epochs // 5))
    return replace(cfg, **overrides)


def final_measurement(model: torch.nn.Module, stats, train_set: ImageSet, val_set: ImageSet) -> dict:
    """The final model on identically processed inputs (centre crops, eval mode): which validation images it
    gets right (:func:`pack_mask`) and its top-1 error on a fixed subset of up to :data:`TRAIN_EVAL_IMAGES`
    training images."""
    device = next(model.parameters()).device
    aug = BatchAugment(stats.to(device), val_set.crop_size, "none")
    val_right = predict(model, val_set, aug).argmax(1) == val_set.labels
    sub = train_set.subset(TRAIN_EVAL_IMAGES)
    train_right = predict(model, sub, aug).argmax(1) == sub.labels
    return {"val_correct": pack_mask(val_right), "train_eval_top1_error": 1.0 - train_right.float().mean().item(),
            "train_eval_images": len(sub)}


Builder = Callable[..., torch.nn.Module]  # build(arch, num_classes, **switches) → model, like build_model
_FIELDS = {f.name for f in fields(TrainConfig)}


def run_ablation(name: str, arms: dict[str, dict], *, baseline: str | None = None, profile: Profile | None = None,
                 base: dict | None = None, save: bool = True, train_set: ImageSet | None = None,
                 val_set: ImageSet | None = None, progress: bool | None = None,
                 step_losses: bool = False, extra: Callable[[AblationResult], dict] | None = None,
                 together: bool | None = None) -> AblationResult:
    """Train each arm (``{arm: {"model": {...switches}, other TrainConfig fields..., "build": builder}}``) and
    compare.

    ``build`` (optional) makes the arm's model: an architecture name (as ``arch``) or a callable with
    :func:`alexnet.model.build_model`'s signature, ``build(arch, num_classes, **switches)``; a callable's
    ``overrides`` attribute (a dict), if any, is what the saved result records for it. ``base`` overrides the
    shared recipe (e.g. ``{"epochs": 20}``); ``baseline`` (default: the first arm) is what the deltas are
    measured against. An arm with a ``checkpoint_dir`` keeps its weights there (for a later measurement); the
    folder is left out of the saved result. Every seed's model starts from ``torch.manual_seed(seed)``, so arms
    that build the same layers start from the same weights. With ``step_losses``, each run also keeps the
    training loss of every step (``runs[i]["step_losses"]``, through :func:`alexnet.train.train`'s ``on_step``).
    ``extra(result)`` returns further fields for the saved data (an ``"arms"`` field replaces the arms, e.g. with
    more fields in each; the returned result gets it too). ``together`` trains an arm's seeds at once
    (:func:`alexnet.train_together.train_together`: the same recipe, its own random draws); None (the default)
    does so on CUDA when there is more than one seed and the arm keeps no checkpoint or step losses.
    """
    profile = profile or get_profile()
    baseline = baseline or next(iter(arms))
    cfg0 = base_config(profile, **(base or {}))
    train_set = train_set or load_imageset(cfg0.dataset, "train", limit=cfg0.train_limit, progress=False)
    val_set = val_set or load_imageset(cfg0.dataset, "val", limit=cfg0.val_limit, progress=False)
    results = {}
    bar = OverallProgress(name, len(arms) * profile.seeds, cfg0.epochs, profile, show=progress)
    for arm, overrides in arms.items():
        over = dict(overrides)
        build = over.pop("build", None)
        if isinstance(build, str):
            over["arch"], build = build, None
        unknown = set(over) - _FIELDS
        if unknown:
            raise ValueError(f"arm {arm!r}: {', '.join(sorted(unknown))} is not a training setting")
        runs, histories, t0 = [], [], time.perf_counter()
        cfgs = []
        for seed in range(profile.seeds):
            o = copy.deepcopy(over)
            cfgs.append(replace(cfg0, model={**cfg0.model, **o.pop("model", {})}, seed=seed, **o))
        models = None
        if build is not None:
            models = []
            for cfg in cfgs:
                torch.manual_seed(cfg.seed)  # the same initial weights train() would draw for the layers kept
                models.append(build(cfg.resolved_arch(), train_set.num_classes, **cfg.model))
        if _seeds_together(together, cfgs, step_losses):
            outs = train_together(cfgs[0], [c.seed for c in cfgs], models=models, train_set=train_set,
                                  val_set=val_set, on_epoch=bar.epoch_done)
        else:
            outs = []
        for i, cfg in enumerate(cfgs):
            steps: list[torch.Tensor] = []
            if outs:
                out = outs[i]
            else:
                out = train(cfg, model=models[i] if models else None, train_set=train_set, val_set=val_set,
                            progress=progress, on_epoch=bar.epoch_done,
                            on_step=(lambda i, loss, err: steps.append(loss)) if step_losses else None)
            histories.append(out.history)
            runs.append({"seed": cfg.seed, **final_measurement(out.model, out.stats, train_set, val_set)})
            if step_losses:  # one transfer per run, not one per step
                runs[-1]["step_losses"] = torch.stack(steps).float().cpu().tolist()
        finals = [h[-1] for h in histories]
        mean = lambda key: sum(f[key] for f in finals) / len(finals)  # noqa: E731
        saved = {k: v for k, v in overrides.items() if k not in ("checkpoint_dir", "build")}
        if build is not None:
            saved.update(getattr(build, "overrides", {"build": getattr(build, "__name__", repr(build))}))
        elif isinstance(overrides.get("build"), str):
            saved["arch"] = overrides["build"]
        results[arm] = {"histories": histories, "runs": runs, "val_top1_error": mean("val_top1_error"),
                        "val_top5_error": mean("val_top5_error"), "train_top1_error": mean("train_top1_error"),
                        "train_eval_top1_error": sum(r["train_eval_top1_error"] for r in runs) / len(runs),
                        "val_top1_std": seed_spread([f["val_top1_error"] for f in finals]).std,
                        "seconds": time.perf_counter() - t0,
                        # where an arm kept its weights is a detail of this run, not part of the result
                        "overrides": saved,
                        "parameters": sum(p.numel() for p in out.model.parameters())}
    bar.close()
    deltas = {arm: {"top1": r["val_top1_error"] - results[baseline]["val_top1_error"],
                    "top5": r["val_top5_error"] - results[baseline]["val_top5_error"]}
              for arm, r in results.items() if arm != baseline}
    sc = scale(profile, dataset=cfg0.dataset, train_images=len(train_set), epochs=cfg0.epochs,
               seeds=profile.seeds, val_images=len(val_set))
    result = AblationResult(name, results, baseline, deltas, sc)
    more = extra(result) if extra is not None else {}
    result.arms = more.get("arms", results)
    if save:
        save_result(name, {"arms": results, "baseline": baseline, "deltas": deltas, **more}, sc, profile,
                    seconds=sum(r["seconds"] for r in results.values()))
    return result


def _seeds_together(together: bool | None, cfgs: list[TrainConfig], step_losses: bool) -> bool:
    """Whether an arm's seeds train at once (:func:`alexnet.train_together.train_together`): as asked, or (None)
    where it pays: more than one seed, on CUDA, for a recipe it runs as :func:`alexnet.train.train` would."""
    if len(cfgs) < 2 or step_losses or not can_train_together(cfgs[0]):
        return False
    if together is not None:
        return together
    return resolve_device(cfgs[0].device).type == "cuda"


# ------------------------------------------------------------------------------------------- reusing results
def reuse_or_run(name: str, arms: dict[str, dict], profile: Profile | None = None, *, base: dict | None = None,
                 needs: Path | None = None, **kwargs) -> AblationResult:
    """:func:`run_ablation`, unless the one reuse rule (:func:`alexnet.results.reusable_result`: made by the code
    running now, in this profile, at these epochs, seeds and dataset, and on as many training images as a given
    ``train_set``; ``ALEXNET_RERUN=1`` forces a new run) finds ``name`` and the file ``needs`` (if given: e.g. a
    checkpoint a later cell loads) exists: then that result is returned and a line says so
    (:func:`alexnet.results.reuse_note`). ``kwargs`` go to :func:`run_ablation`."""
    profile = profile or get_profile()
    cfg = base_config(profile, **(base or {}))
    want = {"epochs": cfg.epochs, "seeds": profile.seeds, "dataset": cfg.dataset}
    if kwargs.get("train_set") is not None:
        want["train_images"] = len(kwargs["train_set"])
    record = results_store.reusable_result(name, profile, **want)
    if record is None or (needs is not None and not Path(needs).exists()):
        return run_ablation(name, arms, profile=profile, base=base, **kwargs)
    print(results_store.reuse_note(name, record))
    data = record["data"]
    return AblationResult(name, data["arms"], data["baseline"], data["deltas"],
                          {**record["scale"], "saved_at": record.get("saved_at")})
