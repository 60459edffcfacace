"""Run two or more variants of the same training recipe and compare their errors: the shape of every ablation
in the paper (LRN, overlapping pooling, two towers, augmentation, dropout, depth).

Every arm shares the data, the seed(s) and the recipe; only its overrides differ. With ``profile.seeds > 1``
each arm is repeated and the errors averaged, with their spread reported. The result is saved under ``name`` in
the results store (:mod:`alexnet.results`) in a schema the scorecard reads:

``{"arms": {arm: {"histories": [...], "val_top1_error", "val_top5_error", "train_top1_error",
"val_top1_std", "seconds"}}, "baseline": arm, "deltas": {arm: {"top1", "top5"}}}`` where a delta is
``error(arm) − error(baseline)``, in fractions. The paper reports the benefit of a component, so the
paper-vs-ours comparison reads ``deltas[without]`` as "removing it costs this much".
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

from ..data import ImageSet, load_imageset
from ..profiles import Profile, get_profile
from ..results import save_result, scale
from ..train import TrainConfig, train
from .progress import OverallProgress


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
            lines.append(f"{arm:<22}{r['train_top1_error']:>10.1%}{r['val_top1_error']:>10.1%}"
                         f"{r['val_top5_error']:>10.1%}{d['top1']:>+9.1%}{d['top5']:>+9.1%}")
        return "\n".join(lines)

    def histories(self, seed: int = 0) -> dict[str, list[dict]]:
        return {arm: r["histories"][seed] for arm, r in self.arms.items()}


def base_config(profile: Profile, **overrides) -> TrainConfig:
    """The recipe every ablation arm starts from, sized by the profile."""
    cfg = TrainConfig(dataset=profile.dataset, epochs=profile.ablation_epochs, batch_size=profile.batch_size,
                      train_limit=profile.train_limit, val_limit=profile.val_limit,
                      plateau_patience=max(2, profile.ablation_epochs // 5))
    return replace(cfg, **overrides)


def run_ablation(name: str, arms: dict[str, dict], *, baseline: str | None = None, profile: Profile | None = None,
                 base: dict | None = None, save: bool = True, train_set: ImageSet | None = None,
                 val_set: ImageSet | None = None, progress: bool | None = None) -> AblationResult:
    """Train each arm (``{arm: {"model": {...switches}, other TrainConfig fields...}}``) and compare.

    ``base`` overrides the shared recipe (e.g. ``{"epochs": 20}``); ``baseline`` (default: the first arm) is
    what the deltas are measured against. An arm with a ``checkpoint_dir`` keeps its weights there (for a later
    measurement); the folder is left out of the saved result.
    """
    profile = profile or get_profile()
    baseline = baseline or next(iter(arms))
    cfg0 = base_config(profile, **(base or {}))
    train_set = train_set or load_imageset(cfg0.dataset, "train", limit=cfg0.train_limit, progress=False)
    val_set = val_set or load_imageset(cfg0.dataset, "val", limit=cfg0.val_limit, progress=False)
    results = {}
    bar = OverallProgress(name, len(arms) * profile.seeds, cfg0.epochs, profile, show=progress)
    for arm, overrides in arms.items():
        runs, t0 = [], time.perf_counter()
        for seed in range(profile.seeds):
            over = copy.deepcopy(overrides)
            model_switches = {**cfg0.model, **over.pop("model", {})}
            cfg = replace(cfg0, model=model_switches, seed=seed, **over)
            runs.append(train(cfg, train_set=train_set, val_set=val_set, progress=progress,
                              on_epoch=bar.epoch_done).history)
        finals = [h[-1] for h in runs]
        mean = lambda key: sum(f[key] for f in finals) / len(finals)  # noqa: E731
        v1 = [f["val_top1_error"] for f in finals]
        results[arm] = {"histories": runs, "val_top1_error": mean("val_top1_error"),
                        "val_top5_error": mean("val_top5_error"), "train_top1_error": mean("train_top1_error"),
                        "val_top1_std": (sum((x - sum(v1) / len(v1)) ** 2 for x in v1) / len(v1)) ** 0.5,
                        "seconds": time.perf_counter() - t0,
                        # where an arm kept its weights is a detail of this run, not part of the result
                        "overrides": {k: v for k, v in overrides.items() if k != "checkpoint_dir"}}
    bar.close()
    deltas = {arm: {"top1": r["val_top1_error"] - results[baseline]["val_top1_error"],
                    "top5": r["val_top5_error"] - results[baseline]["val_top5_error"]}
              for arm, r in results.items() if arm != baseline}
    sc = scale(profile, dataset=cfg0.dataset, train_images=len(train_set), epochs=cfg0.epochs,
               seeds=profile.seeds, val_images=len(val_set))
    result = AblationResult(name, results, baseline, deltas, sc)
    if save:
        save_result(name, {"arms": results, "baseline": baseline, "deltas": deltas}, sc, profile)
    return result
