"""The jobs of ``python -m alexnet reproduce``: each claim of :data:`alexnet.paper.CLAIMS` is measured by one job,
and each job makes the very calls its chapter makes, at the chapter's scale, so that the results it stores carry the
names and scales the chapters look up (and the chapters then reuse them, :func:`alexnet.results.reusable_result`).

A job can measure several claims (the augmentation ablation gives the overfitting, PCA and ten-crop rows). The
scale of each profile is :data:`alexnet.profiles.REPRODUCE_SCALES`; the epochs of the experiments whose chapter
trains longer or shorter than the profile's ``ablation_epochs`` are :func:`alexnet.profiles.experiment_epochs`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from . import paper, results
from .errors import AlexNetError
from .profiles import Profile


@dataclass(frozen=True)
class Job:
    name: str
    claims: tuple  # ids of alexnet.paper.CLAIMS this job measures
    results: tuple  # the results it stores, the one its reuse is judged by first
    run: Callable  # (profile, context) → {"images": images trained and evaluated} or None; context: {"deadline"}


def fig1_setup(profile_name: str):
    """Figure 1's protocol at a profile's scale (:func:`alexnet.experiments.fig1_protocol.setup_for`)."""
    from .experiments.fig1_protocol import setup_for

    return setup_for(profile_name)


def _fig1_macs() -> int:
    from .experiments.relu import FourLayerNet
    from .summary import layer_table
    return layer_table(FourLayerNet(), 28).total_macs


# ---------------------------------------------------------------- the calls into the chapters' experiments

def _run_fig1(profile: Profile, context: dict) -> dict:
    from .experiments.relu import figure1  # chapter 3.1's own call: the same result, name and scale

    advance = context.get("advance") or (lambda flops: None)
    macs = _fig1_macs()
    data = figure1(profile, deadline=context.get("deadline"), on_epoch=lambda n: advance(6 * macs * n),
                   progress=False)
    return {"images": 0 if data["reused"] else data["images"], "model_macs": macs,
            "truncated": data.get("truncated", False)}


# the experiments a chapter calls with the profile alone: job → (module under alexnet.experiments, function);
# chapter 3.3 (LRN), 3.4 (pooling), 3.2 (towers), 4.2 (dropout), 6 (depth), 5 (bias)
SIMPLE_CALLS = {"lrn": ("lrn", "run_lrn_ablation"), "pooling": ("pooling", "run_pooling_ablation"),
                "towers": ("towers", "towers_ablation"), "dropout": ("dropout", "dropout_ablation"),
                "depth": ("depth", "depth_ablation"), "bias": ("bias", "bias_init_experiment")}


def _call(job: str) -> Callable:
    module, function = SIMPLE_CALLS[job]

    def run(profile, context):
        getattr(importlib.import_module(f".experiments.{module}", __package__), function)(profile)
    run.__name__ = f"_run_{job}"
    return run


def _sets(profile: Profile):
    from .data import load_imageset
    return (load_imageset(profile.dataset, "train", limit=profile.train_limit, progress=False),
            load_imageset(profile.dataset, "val", limit=profile.val_limit, progress=False))


def _run_augmentation(profile, context):
    """Chapter 4.1: the three-arm ablation, then ten crops on its paper arm's weights."""
    from .experiments.augmentation import augmentation_ablation, ten_crop_from_checkpoint
    result, checkpoint = augmentation_ablation(profile)
    ten_crop_from_checkpoint(checkpoint, profile, train_images=result.scale["train_images"])


def _run_main(profile, context):
    """Chapter 5: the main run, whose schedule is the §5 row."""
    from .experiments.learning import main_run
    train_set, val_set = _sets(profile)
    main_run(profile, train_set=train_set, val_set=val_set)


def _run_results(profile, context):
    """Chapter 6: the headline errors (centre and ten crops) of the chapter's model."""
    from .experiments.results_figs import error_table, results_model, save_results_table
    model, stats, info = results_model(profile)
    train_set, test_set = _sets(profile)
    save_results_table(error_table(model, stats, test_set), info, test_set, info["train_images"], profile)


JOBS: list[Job] = [
    Job("fig1", ("fig1",), ("fig1_relu_tanh",), _run_fig1),
    Job("lrn", ("lrn",), ("lrn_ablation",), _call("lrn")),
    Job("pooling", ("pooling",), ("pooling_ablation",), _call("pooling")),
    Job("towers", ("towers",), ("towers_ablation",), _call("towers")),
    Job("augmentation", ("no_augmentation", "pca", "ten_crop"), ("augmentation_ablation", "ten_crop"),
        _run_augmentation),
    Job("dropout", ("no_dropout", "dropout_iterations"), ("dropout_ablation",), _call("dropout")),
    Job("depth", ("depth",), ("depth_ablation",), _call("depth")),
    Job("bias", ("bias_one",), ("bias_init",), _call("bias")),
    Job("main", ("schedule",), ("learning_schedule",), _run_main),
    Job("results", ("headline",), ("results_table",), _run_results),
]


def jobs_for(claims: list[str] | None) -> list[Job]:
    """The jobs that measure ``claims`` (all of them for None); an unknown claim id is an AlexNetError."""
    if not claims:
        return list(JOBS)
    unknown = [c for c in claims if c not in paper.CLAIMS]
    if unknown:
        raise AlexNetError(f"unknown claim {', '.join(map(repr, unknown))}: choose from {', '.join(paper.CLAIMS)}")
    return [j for j in JOBS if set(j.claims) & set(claims)]
