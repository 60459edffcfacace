"""The four-layer CNN of our Figure 1 (§3.1): the paper does not give it; this is our documented choice, modelled
on cuda-convnet's ``layers-18pct.cfg`` (Krizhevsky's own CIFAR-10 example of the time)."""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..model import ACTIVATIONS

FIG1_WIDTHS = (32, 32, 64)  # cuda-convnet layers-18pct.cfg: conv 32, conv 32, conv 64 (all 5×5), then fc10

# Weight initialisations (standard deviations of zero-mean Gaussians; biases start at 0):
# "cuda-convnet": layers-18pct.cfg's initW = 0.0001, 0.01, 0.01, 0.01 on 0–255 pixels minus the mean image;
# "lecun": N(0, 1/fan_in) on pixels minus the mean, divided by 64 (≈ their standard deviation).
INITS = ("cuda-convnet", "lecun")
CUDA_CONVNET_STDS = (1e-4, 1e-2, 1e-2, 1e-2)


class FourLayerNet(nn.Module):
    """The four-layer CNN of our Figure 1: cuda-convnet's ``layers-18pct.cfg`` without its response norms.

    ``conv1 5×5 (w1) → f → max-pool 3/2 → conv2 5×5 (w2) → f → avg-pool 3/2 → conv3 5×5 (w3) → f → avg-pool 3/2
    → fc4``: four layers with weights, one nonlinearity f throughout. On a 28×28 crop the maps are
    28 → 13 → 13 → 6 → 6 → 2, so fc4 sees ``w3 · 2 · 2`` features. The 18pct net pools with max, then average,
    then average, as here; it also normalises responses after the first two pools, which we leave out so that
    f is the only thing that differs between the nets compared.

    ``init="cuda-convnet"`` (the default) starts as that config does: Gaussian weights with standard deviations
    0.0001, 0.01, 0.01, 0.01, zero biases, and inputs that are the raw 0–255 pixels minus the mean image (as in
    §2). ``init="lecun"`` is the normalised alternative: inputs divided by 64, weights from N(0, 1/fan_in)
    (LeCun et al., 1998). Either way, two nets built from the same seed get identical weights whatever f is.
    """

    def __init__(self, activation: str = "relu", num_classes: int = 10, widths=FIG1_WIDTHS,
                 input_size: int = 28, init: str = "cuda-convnet"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}: choose one of {', '.join(ACTIVATIONS)}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}: choose one of {', '.join(INITS)}")
        w1, w2, w3 = widths
        act = ACTIVATIONS[activation]
        self.activation, self.init = activation, init
        self.input_scale = 1.0 if init == "cuda-convnet" else 1 / 64
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, w1, 5, padding=2)), ("act1", act()), ("pool1", nn.MaxPool2d(3, 2)),
            ("conv2", nn.Conv2d(w1, w2, 5, padding=2)), ("act2", act()), ("pool2", nn.AvgPool2d(3, 2)),
            ("conv3", nn.Conv2d(w2, w3, 5, padding=2)), ("act3", act()), ("pool3", nn.AvgPool2d(3, 2)),
        ]))
        self.side = pooled_side(input_size)
        self.fc4 = nn.Linear(w3 * self.side ** 2, num_classes)
        layers = [self.features.conv1, self.features.conv2, self.features.conv3, self.fc4]
        for layer, std in zip(layers, CUDA_CONVNET_STDS):
            nn.init.normal_(layer.weight, 0.0, std if init == "cuda-convnet" else layer.weight[0].numel() ** -0.5)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_scale != 1.0:
            x = x * self.input_scale
        return self.fc4(torch.flatten(self.features(x), 1))


def pooled_side(input_size: int, pools: int = 3) -> int:
    """The side after ``pools`` 3×3 stride-2 max-pools (the 5×5 convolutions are padded and keep the side)."""
    side = input_size
    for _ in range(pools):
        side = (side - 3) // 2 + 1
    return side


def four_layer_param_count(widths=FIG1_WIDTHS, num_classes: int = 10, input_size: int = 28) -> int:
    """Parameters of :class:`FourLayerNet`: ``Σ (5·5·c_in·c_out + c_out)`` over the convs, plus fc4."""
    w1, w2, w3 = widths
    convs = sum(25 * c_in * c_out + c_out for c_in, c_out in ((3, w1), (w1, w2), (w2, w3)))
    features = w3 * pooled_side(input_size) ** 2
    return convs + features * num_classes + num_classes
