r"""§3.5 Overall architecture: sizes, parameter counts, the two towers, and what each layer computes on a photo.

"The first convolutional layer filters the 224×224×3 input image with 96 kernels of size 11×11×3 with a stride of
4 pixels. [...] The kernels of the second, fourth, and fifth convolutional layers are connected only to those
kernel maps in the previous layer which reside on the same GPU. The kernels of the third convolutional layer are
connected to all kernel maps in the second layer. The neurons in the fully-connected layers are connected to all
neurons in the previous layer."

A convolution with kernel ``f``, stride ``s`` and padding ``p`` over ``W`` pixels gives

.. math::  W_\text{out} = \frac{W + 2p - f}{s} + 1,

which must be a whole number: (227 − 11)/4 + 1 = 55, while the paper's (224 − 11)/4 + 1 = 54.25.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import paper
from ..checkpoint import find_shipped_checkpoint
from ..data import DATASETS
from ..hooks import layer_outputs
from ..model import AlexNet, alexnet, count_parameters

ACTIVATION_LAYERS = ("conv1", "lrn1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5")


def conv_output_side(width: float, kernel: int, stride: int = 1, padding: int = 0) -> float:
    """(W + 2p − f)/s + 1, *not* floored: a fraction means the kernel does not tile the input exactly."""
    return (width + 2 * padding - kernel) / stride + 1


def parameter_split(model: torch.nn.Module) -> dict[str, int]:
    """Parameters of ``model`` in total, in its convolutions and in its fully connected layers."""
    conv = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Conv2d) for p in m.parameters())
    fc = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters())
    return {"total": count_parameters(model), "conv": conv, "fc": fc}


def parameter_counts() -> dict[str, dict[str, int]]:
    """:func:`parameter_split` of our paper net, the same without groups, and torchvision's AlexNet, counted from
    the modules themselves."""
    import torchvision

    return {"ours: the paper's net (groups=2: conv2/4/5 split over GPU 1 and GPU 2)": parameter_split(alexnet()),
            "ours without groups (every kernel sees every map)": parameter_split(AlexNet(groups=1)),
            "torchvision.models.alexnet (64-192-384-256-256, no LRN)":
                parameter_split(torchvision.models.alexnet(weights=None))}


def _resize(u8: torch.Tensor, side: int) -> torch.Tensor:
    return F.interpolate(u8.float()[None], size=(side, side), mode="bilinear", antialias=True,
                         align_corners=False)[0]


def activation_model(prefer_trained: bool = True, seed: int = 0):
    """The net whose activations the chapter shows, how to turn a photo into its input, and a note saying which.

    With a trained CIFAR checkpoint (:func:`alexnet.checkpoint.find_shipped_checkpoint`): that net, fed the photo
    shrunk to 32×32 minus the CIFAR mean image, centre 28×28. Otherwise the paper's net *at initialisation* (§5's N(0, 0.01²) weights,
    nothing learned), fed the 227 centre crop minus the photo set's mean image. Returns ``(model, prepare, note)`` where
    ``prepare(photo_u8, photos_u8)`` gives the ``1×3×S×S`` input.
    """
    path = find_shipped_checkpoint() if prefer_trained else None
    if path is not None:
        from ..train import load_trained

        model, stats, _ = load_trained(path, device="cpu")
        mean = stats.mean_image.cpu()
        side, crop = mean.shape[-1], DATASETS["cifar10"].crop_size
        top = (side - crop) // 2

        def prepare(photo, photos):
            x = _resize(photo, side) - mean
            return x[None, :, top:top + crop, top:top + crop].contiguous()

        return model.eval(), prepare, f"trained scaled net from {path.name} (photo shrunk to 32×32, centre 28×28)"
    torch.manual_seed(seed)
    model = alexnet().eval()

    def prepare(photo, photos):
        mean = photos.float().mean(0)
        x = photo.float() - mean
        side = paper.INPUT_SIDE
        if x.shape[-1] < side:  # small (smoke) images: enlarge so the paper's net accepts them
            x = _resize(x, paper.STORED_SIDE)
        top = (x.shape[-1] - side) // 2
        return x[None, :, top:top + side, top:top + side].contiguous()

    note = ("the paper's net at initialisation (weights N(0, 0.01), biases as §5; nothing learned): no trained "
            "checkpoint at data/checkpoints/alexnet-cifar10-50k.pt")
    return model, prepare, note


def layer_activations(model: torch.nn.Module, x: torch.Tensor, layers=ACTIVATION_LAYERS) -> dict[str, torch.Tensor]:
    """The output (``C×H×W``, first image) of each named layer of ``model.features`` for input ``x``
    (:func:`alexnet.hooks.layer_outputs`: copied when produced, before the in-place ReLU that follows a conv)."""
    scaled = x * model.input_scale if model.input_scale != 1.0 else x
    outs = layer_outputs(model, scaled, [f"features.{name}" for name in layers], run=model.features)
    return {name: outs[f"features.{name}"][0] for name in layers}


def activation_grid(maps: torch.Tensor, n: int = 16, ncols: int = 4) -> np.ndarray:
    """The first ``n`` channels of ``C×H×W`` maps as one mosaic (``ncols`` wide, 1-pixel gaps, each map min-max
    scaled on its own; NaN in the gaps). Shape: ``(rows·(H+1) − 1, ncols·(W+1) − 1)``."""
    c, h, w = maps.shape
    n = min(n, c)
    rows = (n + ncols - 1) // ncols
    mosaic = np.full((rows * (h + 1) - 1, ncols * (w + 1) - 1), np.nan)
    for i in range(n):
        m = maps[i].float()
        m = (m - m.min()) / (m.max() - m.min() + 1e-8)
        r, col = divmod(i, ncols)
        mosaic[r * (h + 1):r * (h + 1) + h, col * (w + 1):col * (w + 1) + w] = m.numpy()
    return mosaic
