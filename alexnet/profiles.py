"""Profiles: one source, three scales.

A profile is a small table of sizes. Every chapter reads it once through :func:`get_profile` and prints
:func:`banner`. ``ALEXNET_PROFILE`` picks it; unset, it is ``full`` with CUDA and ``quick`` without.

Which photos a profile shows is resolved when it is read (:func:`photo_dataset`): the ImageNet sample where it
is on disk, else Imagenette's validation split (on disk, or downloaded by torchvision on first use), so that a
chapter runs with nothing but the internet. The banner names what was used.

``smoke`` is synthetic and tiny. With ``ALEXNET_SMOKE_DATA=disk`` it resolves its datasets the way ``quick``
and ``full`` do, from what is on disk only (never downloading), and falls back to synthetic for what is
missing; its sizes stay smoke's. The Colab-like test (``tests/test_colab.py``) runs every chapter so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

import torch

from .data import DATASETS, on_disk
from .errors import AlexNetError


@dataclass(frozen=True)
class Profile:
    name: str
    dataset: str  # the small-image dataset the training chapters use
    photos: str  # the photos for the preprocessing / augmentation / inference demos (resolved: photo_dataset)
    epochs: int  # the main training run (details of learning, results)
    ablation_epochs: int  # each arm of an ablation
    batch_size: int
    train_limit: int | None  # cap on training images (None: all)
    val_limit: int | None
    seeds: int  # repeats per ablation arm
    note: str

    @property
    def meaningful(self) -> bool:
        """False in smoke: the numbers only prove that the code runs."""
        return self.name != "smoke"


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", "synthetic", "synthetic", epochs=2, ablation_epochs=1,
                     batch_size=32, train_limit=256, val_limit=128, seeds=1,
                     note="smoke: synthetic data and a few steps; the numbers mean nothing"),
    # photos: the first choice; get_profile resolves it to what is there (photo_dataset)
    "quick": Profile("quick", "cifar10", "imagenet-sample", epochs=30, ablation_epochs=15,
                     # at most 5,000 training images: the CIFAR-10 sample (3,728) whole, a download cut to a fixed subset
                     batch_size=128, train_limit=5000, val_limit=None, seeds=1,
                     note="quick: real data at laptop scale, minutes on a CPU"),
    "full": Profile("full", "cifar10", "imagenet-sample", epochs=60, ablation_epochs=40,
                    batch_size=128, train_limit=None, val_limit=None, seeds=3,
                    note="full: the whole dataset on a GPU"),
}


# Experiments whose chapter trains another number of epochs per arm than the profile's ``ablation_epochs``; the
# chapter and ``python -m alexnet reproduce`` both read them here (:func:`experiment_epochs`), so that a result one
# of them stores is the one the other looks up.
EXPERIMENT_EPOCHS = {
    # chapter 3.2: 8 epochs per arm in quick keep the chapter within ~10 minutes on 2 CPU cores
    "towers_ablation": lambda p: 8 if p.name == "quick" else p.ablation_epochs,
    # chapter 4.2: §4.2 says dropout roughly doubles the iterations needed to converge, so each arm trains twice as long
    "dropout_ablation": lambda p: 2 * p.ablation_epochs if p.meaningful else p.ablation_epochs,
}


def experiment_epochs(profile: Profile, experiment: str) -> int:
    """Epochs per arm of ``experiment`` (a stored result's name) at ``profile``: :data:`EXPERIMENT_EPOCHS`, else
    the profile's ``ablation_epochs``."""
    rule = EXPERIMENT_EPOCHS.get(experiment)
    return rule(profile) if rule else profile.ablation_epochs


# The scale of each profile for ``python -m alexnet reproduce`` (read by alexnet.reproduce and alexnet.plan):
# "profile": overrides of the profile's fields (quick has none: reproduce runs the chapters' own scale, one seed;
# several seeds per arm are the full profile's job); "train_images" / "val_images": the images the plan counts;
# Figure 1's protocol has its own table (alexnet.experiments.fig1_protocol.FIG1_SCALES).
REPRODUCE_SCALES: dict[str, dict] = {
    "smoke": {"profile": {"train_limit": 64, "val_limit": 32}, "train_images": 64, "val_images": 32},
    "quick": {"profile": {}, "train_images": 3728, "val_images": 846},
    "full": {"profile": {"train_limit": None, "val_limit": None, "seeds": 3}, "train_images": 50_000,
             "val_images": 10_000},
}


def reproduce_profile(name: str | None = None) -> Profile:
    """The profile ``name`` (None: :func:`profile_name`'s rule) at ``reproduce``'s scale
    (:data:`REPRODUCE_SCALES`); an unknown name is an AlexNetError."""
    name = profile_name(name)
    if name not in REPRODUCE_SCALES:
        raise AlexNetError(f"unknown profile {name!r}: choose one of {', '.join(REPRODUCE_SCALES)}")
    return get_profile(name, **REPRODUCE_SCALES[name]["profile"])


PHOTO_SOURCES = ("imagenet-sample", "imagenette")  # the photos, first choice first; only Imagenette downloads


def photo_dataset(root=None, *, download: bool = True) -> str:
    """The photo dataset a chapter uses: the first of :data:`PHOTO_SOURCES` on disk under the data root; else
    ``imagenette`` (torchvision downloads its validation split on first use) when ``download``, else
    ``synthetic``."""
    found = next((name for name in PHOTO_SOURCES if on_disk(name, "val", root)), None)
    return found or ("imagenette" if download else "synthetic")


def _smoke_on_disk() -> bool:
    return os.environ.get("ALEXNET_SMOKE_DATA", "") == "disk"


def profile_name(name: str | None = None) -> str:
    """The profile named, else ``$ALEXNET_PROFILE``, else ``full`` on CUDA and ``quick`` elsewhere: the one rule
    every chapter and command follows. An unknown name is an :class:`AlexNetError` in one line."""
    chosen = name or os.environ.get("ALEXNET_PROFILE") or ("full" if torch.cuda.is_available() else "quick")
    if chosen not in PROFILES:
        where = "" if name else " (from ALEXNET_PROFILE)"
        raise AlexNetError(f"unknown profile {chosen!r}{where}: choose one of {', '.join(PROFILES)}")
    return chosen


def get_profile(name: str | None = None, **overrides) -> Profile:
    """The profile named, else ``$ALEXNET_PROFILE``, else ``full`` on CUDA and ``quick`` elsewhere
    (:func:`profile_name`), with its photo dataset resolved (:func:`photo_dataset`; see the module's docstring for
    smoke). An unknown name is an :class:`AlexNetError`."""
    name = profile_name(name)
    profile = PROFILES[name]
    if profile.meaningful:
        profile = replace(profile, photos=photo_dataset())
    elif _smoke_on_disk():
        real = PROFILES["quick"].dataset
        profile = replace(profile, photos=photo_dataset(download=False),
                          dataset=real if on_disk(real, "train") and on_disk(real, "val") else "synthetic")
    return replace(profile, **overrides)


def describe_on_disk(name: str, split: str = "val") -> str:
    """``name`` and how many images its split holds on disk (``imagenette val, 3,925 images``); for a dataset
    still to be downloaded, says so."""
    if name == "synthetic":
        return "synthetic (generated)"
    folder = on_disk(name, split)
    if folder is None:
        return f"{name} {split} (downloaded on first use)"
    if name == "cifar10" and folder.name == "cifar-10-batches-py":
        return f"{name} (torchvision batches)"
    n = sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    return f"{name} {DATASETS[name].splits[1] if split in ('val', 'test') else split}, {n:,} images"


def default_device() -> torch.device:
    """``$ALEXNET_DEVICE`` where it is set (checked by :func:`resolve_device`; ``reproduce --device`` sets it),
    else cuda, then mps, then cpu."""
    if os.environ.get("ALEXNET_DEVICE"):
        return resolve_device(os.environ["ALEXNET_DEVICE"])
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` (``cpu``, ``cuda``, ``cuda:N``, ``mps``) checked against this machine, or :func:`default_device`.

    Raises :class:`AlexNetError` in one line for a misspelt device (``gpu``), one that is absent here (``cuda``
    without CUDA, ``cuda:7`` with one GPU, ``mps`` off a Mac) or one that cannot train (``meta``): before any
    data is loaded, so the mistake costs nothing.
    """
    if device is None or device == "":
        return default_device()
    usage = "use cpu, cuda, cuda:N or mps, or leave --device out for the best available"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise AlexNetError(f"unknown device {device!r}: {usage}") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise AlexNetError(f"device {str(device)!r} was asked for, but CUDA is not available here; {usage}")
        if dev.index is not None and dev.index >= count:
            raise AlexNetError(f"device {str(device)!r} does not exist: this machine has {count} CUDA device(s), "
                               f"cuda:0 to cuda:{count - 1}")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise AlexNetError(f"device {str(device)!r} was asked for, but MPS (Apple GPUs) is not available here; "
                               f"{usage}")
    elif dev.type != "cpu":
        raise AlexNetError(f"device {str(device)!r} cannot run the model here: {usage}")
    return dev


def banner(profile: Profile | None = None, dataset: str | None = None) -> None:
    """Print the one-line banner every chapter shows near its top: profile, device, dataset, and the photos
    (which dataset, how many images)."""
    p = profile or get_profile()
    text = f"profile={p.name} · device={default_device()} · dataset={dataset or p.dataset} · " \
           f"photos={describe_on_disk(p.photos)}"
    if not p.meaningful:
        data = "synthetic data" if "synthetic" in (p.dataset, p.photos) else "a few images"
        text += f"  [smoke: {data}, a few steps; the numbers below mean nothing]"
    print(text)
