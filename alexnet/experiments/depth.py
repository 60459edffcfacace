"""Depth (§7): "our network's performance degrades if a single convolutional layer is removed. For example,
removing any of the middle layers results in a loss of about 2% for the top-1 performance of the network."

:func:`remove_layers` takes a built net and turns a middle convolution and its ReLU into identities. Only conv4
can go without changing any other layer: conv3 and conv4 both output 384·width maps, so conv5 still gets the
input it expects. (Dropping conv3 or conv5 would change the next layer's input width, so the ablated net would
differ in more than depth.) :func:`depth_ablation` trains the paper's net and the one without conv4 with the same
recipe, data and seeds, and saves ``depth_ablation`` in the schema of :mod:`alexnet.experiments.ablation`, so the
scorecard reads it like every other ablation.
"""
from __future__ import annotations

import copy
import time
from dataclasses import replace

import torch
from torch import nn

from ..data import ImageSet, load_imageset
from ..errors import AlexNetError
from ..model import AlexNet, build_model
from ..profiles import Profile, get_profile
from ..results import save_result, scale
from ..train import train
from .ablation import AblationResult, base_config
from .progress import OverallProgress

DEPTH_ARMS = {"five_conv": [], "no_conv4": ["conv4"]}


def remove_layers(model: AlexNet, layers: list[str]) -> AlexNet:
    """Replace each named conv layer (and its activation) by an identity, after checking the shapes still fit."""
    for name in layers:
        conv = getattr(model.features, name, None)
        if not isinstance(conv, nn.Conv2d):
            raise AlexNetError(f"{name!r} is not a convolution of this net")
        if conv.in_channels != conv.out_channels:
            raise AlexNetError(f"removing {name} ({conv.in_channels} → {conv.out_channels} maps) would change the "
                               "next layer's input; only a layer with as many output as input maps (conv4) can go")
        setattr(model.features, name, nn.Identity())
        setattr(model.features, "act" + name[-1], nn.Identity())
    return model


def depth_ablation(profile: Profile | None = None, *, arms: dict[str, list[str]] | None = None,
                   base: dict | None = None, save: bool = True, train_set: ImageSet | None = None,
                   val_set: ImageSet | None = None) -> AblationResult:
    """Train the scaled net with all five conv layers and with ``no_conv4``, compare them, and save
    ``depth_ablation`` (``deltas["no_conv4"]["top1"]`` = error without conv4 − error with it; the paper: about
    +2% top-1 on ImageNet)."""
    profile = profile or get_profile()
    arms = arms or DEPTH_ARMS
    cfg0 = base_config(profile, **(base or {}))
    train_set = train_set or load_imageset(cfg0.dataset, "train", limit=cfg0.train_limit, progress=False)
    val_set = val_set or load_imageset(cfg0.dataset, "val", limit=cfg0.val_limit, progress=False)
    arch = cfg0.resolved_arch()
    results = {}
    bar = OverallProgress("depth_ablation", len(arms) * profile.seeds, cfg0.epochs, profile)
    for arm, removed in arms.items():
        runs, t0 = [], time.perf_counter()
        for seed in range(profile.seeds):
            cfg = replace(cfg0, seed=seed, model=copy.deepcopy(cfg0.model))
            torch.manual_seed(seed)  # the same initial weights as train() would draw for the full net
            model = remove_layers(build_model(arch, train_set.num_classes, **cfg.model), removed)
            runs.append(train(cfg, model=model, train_set=train_set, val_set=val_set, progress=False,
                              on_epoch=bar.epoch_done).history)
        finals = [h[-1] for h in runs]
        v1 = [f["val_top1_error"] for f in finals]
        mean = lambda key: sum(f[key] for f in finals) / len(finals)  # noqa: E731
        results[arm] = {"histories": runs, "val_top1_error": mean("val_top1_error"),
                        "val_top5_error": mean("val_top5_error"), "train_top1_error": mean("train_top1_error"),
                        "val_top1_std": (sum((x - sum(v1) / len(v1)) ** 2 for x in v1) / len(v1)) ** 0.5,
                        "seconds": time.perf_counter() - t0, "overrides": {"remove": list(removed)},
                        "parameters": sum(p.numel() for p in model.parameters())}
    bar.close()
    baseline = next(iter(arms))
    deltas = {arm: {"top1": r["val_top1_error"] - results[baseline]["val_top1_error"],
                    "top5": r["val_top5_error"] - results[baseline]["val_top5_error"]}
              for arm, r in results.items() if arm != baseline}
    sc = scale(profile, dataset=cfg0.dataset, train_images=len(train_set), epochs=cfg0.epochs,
               seeds=profile.seeds, val_images=len(val_set))
    result = AblationResult("depth_ablation", results, baseline, deltas, sc)
    if save:
        save_result("depth_ablation", {"arms": results, "baseline": baseline, "deltas": deltas}, sc, profile)
    return result
