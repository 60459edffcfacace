"""Depth (§7): "our network's performance degrades if a single convolutional layer is removed. For example,
removing any of the middle layers results in a loss of about 2% for the top-1 performance of the network."

:func:`remove_layers` takes a built net and turns a middle convolution and its ReLU into identities. Only conv4
can go without changing any other layer: conv3 and conv4 both output 384·width maps, so conv5 still gets the
input it expects. (Dropping conv3 or conv5 would change the next layer's input width, so the ablated net would
differ in more than depth.) :func:`depth_ablation` trains the paper's net and the one without conv4 through
:func:`~alexnet.experiments.ablation.run_ablation`, with a model builder (:class:`WithoutLayers`) for the
shallower arm, and saves ``depth_ablation``.
"""
from __future__ import annotations

from torch import nn

from ..data import ImageSet
from ..errors import AlexNetError
from ..model import AlexNet, build_model
from ..profiles import Profile
from .ablation import AblationResult, reuse_or_run

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


class WithoutLayers:
    """A model builder for :func:`~alexnet.experiments.ablation.run_ablation`: :func:`alexnet.model.build_model`,
    then :func:`remove_layers`. The saved result records it as ``{"remove": layers}``."""

    def __init__(self, layers: list[str]):
        self.layers = list(layers)
        self.overrides = {"remove": self.layers}

    def __call__(self, arch: str, num_classes: int, **switches) -> AlexNet:
        return remove_layers(build_model(arch, num_classes, **switches), self.layers)


def depth_ablation(profile: Profile | None = None, *, arms: dict[str, list[str]] | None = None,
                   base: dict | None = None, save: bool = True, train_set: ImageSet | None = None,
                   val_set: ImageSet | None = None) -> AblationResult:
    """Train the scaled net with all five conv layers and with ``no_conv4``, compare them, and save
    ``depth_ablation`` (``deltas["no_conv4"]["top1"]`` = error without conv4 − error with it; the paper's
    :data:`alexnet.paper.MIDDLE_LAYER_BENEFIT` on ImageNet)."""
    spec = {arm: ({"build": WithoutLayers(removed)} if removed else {})
            for arm, removed in (arms or DEPTH_ARMS).items()}
    return reuse_or_run("depth_ablation", spec, profile, base=base, save=save, train_set=train_set,
                        val_set=val_set, progress=False)
