"""§3.3 A faithful small-scale LRN test: arms in which LRN normalises, and a measurement that it does.

In the scaled net (:func:`alexnet.alexnet_cifar`, inputs divided by 64) LRN at the paper's α = 1e-4 is almost a
constant multiplication by k^-β: αΣa² is tiny next to k, and the data-dependent factor (1 + αS/k)^-β stays
within a fraction of a percent of 1 (chapter 3.3). An ablation with and without that layer tests a rescaling,
not a normalisation. The arms here test the normalisation:

- ``lrn``: α rescaled with the inputs, α·64² (:func:`alexnet.model.alpha_rescaled_with_inputs`), which puts
  αΣa² at lrn1 where 0–255 inputs would put it;
- ``constant``: the constant part alone, ×k^-β (``lrn="constant"``): the control that isolates normalisation
  from rescaling;
- ``no_lrn``: no layer, as in the paper's ablation.

The switches are explicit model keywords; ``alexnet_cifar``'s defaults are unchanged. :func:`factor_at_init_and_after`
measures the data-dependent factor (:func:`alexnet.lrn.data_dependent_factors`) in the default net and in the
``lrn`` arm, at initialisation and after a short training.
"""
from __future__ import annotations

import time

import torch

from ..data import load_imageset
from ..lrn import data_dependent_factors
from ..model import alexnet_cifar, alpha_rescaled_with_inputs
from ..profiles import Profile, get_profile
from ..results import reusable_result, reuse_note, save_result, scale
from ..train import TrainConfig, train
from ..transforms import BatchAugment, compute_stats

CIFAR_INPUT_SCALE = 1 / 64  # alexnet_cifar's default input_scale
SHORT_EPOCHS = {"smoke": 1, "quick": 2, "full": 5}


def faithful_lrn_switches(input_scale: float = CIFAR_INPUT_SCALE) -> dict:
    """Model keywords of the arm in which LRN normalises in the scaled net: α rescaled with the inputs."""
    return {"lrn_alpha": alpha_rescaled_with_inputs(input_scale)}


def faithful_lrn_arms(input_scale: float = CIFAR_INPUT_SCALE) -> dict[str, dict]:
    """The arms of a faithful LRN ablation, as ``run_ablation`` takes them: ``lrn`` (α rescaled),
    ``constant`` (×k^-β only) and ``no_lrn``."""
    return {"lrn": {"model": faithful_lrn_switches(input_scale)},
            "constant": {"model": {"lrn": "constant"}},
            "no_lrn": {"model": {"lrn": False}}}


def factor_at_init_and_after(profile: Profile | None = None, *, epochs: int | None = None, seed: int = 0,
                             images: int = 256, train_set=None, val_set=None) -> dict:
    """The data-dependent factor of lrn1 and lrn2 on ``images`` validation images, in two nets: the default
    scaled net (α = 1e-4) and the faithful arm (α·64²), each at initialisation and after ``epochs`` of the §5
    recipe on the profile's training set (from the same seed).

    Returns ``{"default"|"faithful": {"switches", "init": {layer: stats}, "trained": {layer: stats},
    "val_top1_error"}, "scale": {...}}`` with the stats of :func:`alexnet.lrn.data_dependent_factors`. Saved as
    ``lrn_factors``; a result of this code at this scale is reused instead (:func:`alexnet.results.reusable_result`).
    """
    profile = profile or get_profile()
    epochs = epochs or SHORT_EPOCHS.get(profile.name, SHORT_EPOCHS["quick"])
    train_set = train_set or load_imageset(profile.dataset, "train", limit=profile.train_limit, progress=False)
    val_set = val_set or load_imageset(profile.dataset, "val", limit=profile.val_limit, progress=False)
    measured = scale(profile, dataset=train_set.name, train_images=len(train_set), epochs=epochs,
                     measured_on=min(images, len(val_set)), seed=seed)
    record = reusable_result("lrn_factors", profile, **measured)
    if record is not None:
        print(reuse_note("lrn_factors", record))
        return record["data"]
    t0 = time.perf_counter()
    stats = compute_stats(train_set.images)
    x = BatchAugment(stats, val_set.crop_size, "none").centre_crop(val_set.images[:images])
    out = {}
    for arm, switches in (("default", {}), ("faithful", faithful_lrn_switches())):
        torch.manual_seed(seed)
        init = data_dependent_factors(alexnet_cifar(train_set.num_classes, **switches).eval(), x)
        cfg = TrainConfig(dataset=train_set.name, epochs=epochs, batch_size=profile.batch_size, model=switches,
                          seed=seed, device="cpu")
        run = train(cfg, train_set=train_set, val_set=val_set, progress=False, log=False)
        trained = data_dependent_factors(run.model.cpu().eval(), x)
        out[arm] = {"switches": switches, "init": init, "trained": trained,
                    "val_top1_error": run.history[-1].get("val_top1_error")}
    out["scale"] = {"profile": profile.name, "dataset": train_set.name, "train_images": len(train_set),
                    "measured_on": len(x), "epochs": epochs, "seed": seed}
    save_result("lrn_factors", out, measured, profile, seconds=time.perf_counter() - t0, seeds=[seed])
    return out


def format_factors(result: dict) -> str:
    """A table: per net and layer, mean αS and the data-dependent factor (mean, min) at init and after training."""
    lines = [f"{'net':<34}{'layer':<6}{'when':<9}{'mean αS':>10}{'factor mean':>13}{'factor min':>12}"]
    for arm in ("default", "faithful"):
        r = result[arm]
        alpha = next(iter(r["init"].values()))["alpha"]
        label = f"{arm} (α = {alpha:.4g})"
        for when in ("init", "trained"):
            for layer, s in r[when].items():
                lines.append(f"{label:<34}{layer:<6}{when:<9}{s['alpha_S_mean']:>10.3g}"
                             f"{s['data_factor_mean']:>13.4f}{s['data_factor_min']:>12.4f}")
    sc = result["scale"]
    lines.append(f"(trained: {sc['epochs']} epoch(s) on {sc['train_images']:,} {sc['dataset']} images, seed "
                 f"{sc['seed']}; measured on {sc['measured_on']} validation images; profile {sc['profile']})")
    return "\n".join(lines)
