"""Profiles (GUIDE §2): one source, three scales.

A profile is a small table of sizes. Every chapter reads it once through :func:`get_profile` and prints
:func:`banner`. ``ALEXNET_PROFILE`` picks it; unset, it is ``full`` with CUDA and ``quick`` without.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

import torch

from .errors import AlexNetError


@dataclass(frozen=True)
class Profile:
    name: str
    dataset: str  # the small-image dataset the training chapters use
    photos: str  # the dataset of large photos for the preprocessing / augmentation / inference demos
    epochs: int  # the main training run (details of learning, results)
    ablation_epochs: int  # each arm of an ablation
    fig1_epochs: int  # Figure 1: ReLU vs tanh
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
    "smoke": Profile("smoke", "synthetic", "synthetic", epochs=2, ablation_epochs=1, fig1_epochs=2,
                     batch_size=32, train_limit=256, val_limit=128, seeds=1,
                     note="smoke: synthetic data and a few steps; the numbers mean nothing"),
    "quick": Profile("quick", "cifar10", "imagenet-sample", epochs=30, ablation_epochs=15, fig1_epochs=25,
                     batch_size=128, train_limit=None, val_limit=None, seeds=1,
                     note="quick: real data at laptop scale, minutes on a CPU"),
    "full": Profile("full", "cifar10", "imagenet-sample", epochs=60, ablation_epochs=40, fig1_epochs=40,
                    batch_size=128, train_limit=None, val_limit=None, seeds=3,
                    note="full: the whole dataset on a GPU"),
}


def get_profile(name: str | None = None, **overrides) -> Profile:
    """The profile named, else ``$ALEXNET_PROFILE``, else ``full`` on CUDA and ``quick`` elsewhere."""
    name = name or os.environ.get("ALEXNET_PROFILE") or ("full" if torch.cuda.is_available() else "quick")
    if name not in PROFILES:
        raise AlexNetError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)} (ALEXNET_PROFILE)")
    return replace(PROFILES[name], **overrides)


def default_device() -> torch.device:
    """cuda, then mps, then cpu."""
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
    """Print the one-line banner every chapter shows near its top: profile, device, dataset."""
    p = profile or get_profile()
    text = f"profile={p.name} · device={default_device()} · dataset={dataset or p.dataset}"
    text += "  [smoke: synthetic data, a few steps; the numbers below mean nothing]" if not p.meaningful else ""
    print(text)
