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

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..data import DATASETS, data_root, repo_root
from ..model import PAPER_WIDTHS, AlexNet, alexnet, count_parameters

CIFAR_CHECKPOINT = Path("checkpoints") / "alexnet-cifar.pt"
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

    return {"ours: the paper's net (2 towers, grouped conv2/4/5)": parameter_split(alexnet()),
            "ours without groups (every kernel sees every map)": parameter_split(AlexNet(grouped=False)),
            "torchvision.models.alexnet (64-192-384-256-256, no LRN)":
                parameter_split(torchvision.models.alexnet(weights=None))}


def _box(ax, x, y, w, h, text, color):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=color, ec="k", lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=7)


def _arrow(ax, a, b, color="k", lw=0.9):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=8, color=color, lw=lw,
                                 shrinkA=0, shrinkB=0))


def draw_towers(ax=None, input_size: int = 227):
    """The network of §3.5 / Fig. 2 as two towers (one per GPU), with the connections that cross drawn in red.

    Within a tower: conv1→conv2, conv3→conv4, conv4→conv5 (the grouped layers see only their own GPU's maps).
    Across towers: conv2→conv3 and every fully connected layer. Returns the Axes.
    """
    ax = ax or plt.subplots(figsize=(11, 3.8))[1]
    side1 = int(conv_output_side(input_size, 11, 4))
    side2 = (side1 - 3) // 2 + 1
    side3 = (side2 - 3) // 2 + 1
    side5 = (side3 - 3) // 2 + 1
    widths = PAPER_WIDTHS
    layers = [("conv1", f"{widths[0] // 2}×{side1}²\n11×11/4", True),
              ("conv2", f"{widths[1] // 2}×{side2}²\n5×5", True),
              ("conv3", f"{widths[2] // 2}×{side3}²\n3×3", True),
              ("conv4", f"{widths[3] // 2}×{side3}²\n3×3", True),
              ("conv5", f"{widths[4] // 2}×{side3}²\n→{side5}² pool", True),
              ("fc6", "2048", True), ("fc7", "2048", True), ("fc8", "1000\nsoftmax", False)]
    xs = {name: 1.3 + 1.25 * i for i, (name, _, _) in enumerate(layers)}
    top, bottom, w, h = 1.0, -1.0, 0.95, 0.8
    _box(ax, 0, 0, 0.9, 1.1, f"input\n{input_size}×{input_size}×3", "#eeeeee")
    for name, text, split in layers:
        if split:
            for y, tower, color in ((top, "GPU 1", "#cfe2f3"), (bottom, "GPU 2", "#fce5cd")):
                _box(ax, xs[name], y, w, h, f"{name}\n{text}", color)
        else:
            _box(ax, xs[name], 0, w, h, f"{name}\n{text}", "#d9ead3")
    for y in (top, bottom):
        _arrow(ax, (0.45, 0.3 * np.sign(y)), (xs["conv1"] - w / 2, y))
    names = [n for n, _, _ in layers]
    crossing = {"conv3", "fc6", "fc7", "fc8"}  # layers whose inputs come from both towers
    for prev, name in zip(names, names[1:]):
        x0, x1 = xs[prev] + w / 2, xs[name] - w / 2
        targets = (top, bottom) if name != "fc8" else (0.0,)
        for y0 in (top, bottom):
            for y1 in targets:
                if y0 == y1 or name == "fc8" or name in crossing:
                    red = name in crossing and (y0 != y1 or name == "fc8")
                    _arrow(ax, (x0, y0 + (0.12 if y1 > y0 else -0.12 if y1 < y0 else 0)), (x1, y1),
                           color="#cc0000" if red else "k", lw=1.3 if red else 0.9)
    ax.text(xs["conv1"] - 0.7, top + 0.62, "tower 1 (GPU 1)", fontsize=8, color="#1f4e79")
    ax.text(xs["conv1"] - 0.7, bottom - 0.7, "tower 2 (GPU 2)", fontsize=8, color="#9c5700")
    ax.text(xs["conv4"], 0, "conv2→conv3 and every FC layer\ncross between the towers (red)", ha="center",
            va="center", fontsize=7, color="#cc0000")
    ax.set_xlim(-0.6, xs["fc8"] + 0.7)
    ax.set_ylim(-1.85, 1.85)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def find_cifar_checkpoint() -> Path | None:
    """The trained scaled net, if some chapter or the CLI has made one: ``<data root>/checkpoints/alexnet-cifar.pt``
    or ``data/checkpoints/alexnet-cifar.pt`` in the checkout."""
    candidates = [data_root() / CIFAR_CHECKPOINT]
    if repo_root() is not None:
        candidates.append(repo_root() / "data" / CIFAR_CHECKPOINT)
    return next((p for p in candidates if p.is_file()), None)


def _resize(u8: torch.Tensor, side: int) -> torch.Tensor:
    return F.interpolate(u8.float()[None], size=(side, side), mode="bilinear", antialias=True,
                         align_corners=False)[0]


def activation_model(prefer_trained: bool = True, seed: int = 0):
    """The net whose activations the chapter shows, how to turn a photo into its input, and a note saying which.

    With a trained CIFAR checkpoint (:func:`find_cifar_checkpoint`): that net, fed the photo shrunk to 32×32 minus
    the CIFAR mean image, centre 28×28. Otherwise the paper's net *at initialisation* (N(0, 0.01) weights, nothing
    learned), fed the 227 centre crop minus the photo set's mean image. Returns ``(model, prepare, note)`` where
    ``prepare(photo_u8, photos_u8)`` gives the ``1×3×S×S`` input.
    """
    path = find_cifar_checkpoint() if prefer_trained else None
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
        if x.shape[-1] < 227:  # small (smoke) images: enlarge so the paper's net accepts them
            x = _resize(x, 256)
        top = (x.shape[-1] - 227) // 2
        return x[None, :, top:top + 227, top:top + 227].contiguous()

    note = ("the paper's net at initialisation (weights N(0, 0.01), biases as §5; nothing learned): no trained "
            "checkpoint at data/checkpoints/alexnet-cifar.pt")
    return model, prepare, note


def layer_activations(model: torch.nn.Module, x: torch.Tensor, layers=ACTIVATION_LAYERS) -> dict[str, torch.Tensor]:
    """The output (``C×H×W``, first image) of each named layer of ``model.features`` for input ``x``.

    Outputs are copied when produced: the in-place ReLU that follows a conv would otherwise overwrite them.
    """
    store, hooks = {}, []
    for name in layers:
        module = getattr(model.features, name)
        hooks.append(module.register_forward_hook(
            lambda _m, _i, out, name=name: store.__setitem__(name, out[0].detach().clone())))
    try:
        with torch.no_grad():
            model.features(x * model.input_scale if model.input_scale != 1.0 else x)
    finally:
        for hk in hooks:
            hk.remove()
    return {name: store[name] for name in layers}


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


def render_activations(acts: dict[str, torch.Tensor], layer: str, title: str = ""):
    """One frame of the activation explorer: the first 16 channels of ``layer`` as a 4×4 mosaic."""
    maps = acts[layer]
    fig, ax = plt.subplots(figsize=(3.6, 3.8))
    cmap = plt.get_cmap("magma").with_extremes(bad="white")
    ax.imshow(activation_grid(maps), cmap=cmap, interpolation="nearest")
    ax.set_title((f"{title}\n" if title else "") + f"{layer}: {maps.shape[0]}×{maps.shape[1]}×{maps.shape[2]}, "
                 f"first 16 maps\nmean {maps.mean().item():.3g}, std {maps.std().item():.3g} (each map scaled alone)",
                 fontsize=8)
    ax.axis("off")
    fig.tight_layout()
    return fig
