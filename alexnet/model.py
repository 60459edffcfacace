"""The network of §3.5, and the same family scaled down for 32×32 images.

``AlexNet()`` is the paper's net: 227×227×3 in, five convolutional layers, three fully connected ones,
60,965,224 parameters. conv2, conv4 and conv5 are grouped (``groups=2``): each half of their kernels sees only
the maps of its own GPU ("tower"); conv3 and the FC layers see everything. Each keyword switches one of the
paper's experiments:

=============  ==========================================  ======================================
keyword        paper                                       alternatives
=============  ==========================================  ======================================
activation     ``"relu"`` (§3.1)                           ``"tanh"``, ``"sigmoid"``, ``"abs_tanh"``
lrn            ``True`` after conv1 and conv2 (§3.3)       ``False``
pooling        ``"overlap"``: z=3, s=2 (§3.4)              ``"plain"``: z=2, s=2
towers         ``2``: grouped conv2/4/5 (§3.2)             ``1``: one GPU with half the kernels
grouped        ``True``                                    ``False``: two towers' widths, no groups
dropout        ``0.5`` on fc6 and fc7 (§4.2)               any rate, 0 for none
dropout_form   ``"paper"``: no rescaling, ×0.5 at test     ``"inverted"``: ``torch.nn.Dropout``
bias_init      ``1.0`` on conv2/4/5, fc6, fc7 (§5)         e.g. ``0.1`` (Caffe), ``0.0``
=============  ==========================================  ======================================

The scaled variant (:func:`alexnet_cifar`) keeps every one of those ideas and changes only the sizes: a
stride-1 5×5 stem instead of the 11×11 stride-4 one (a 28×28 crop has no pixels to spare), conv widths times
``width``, FC layers of ``hidden`` units, and an adaptive average pool before fc6 so that plain and
overlapping pooling feed fc6 the same number of features.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .errors import AlexNetError
from .lrn import LocalResponseNorm


class PaperDropout(nn.Module):
    r"""Dropout as §4.2 writes it: in training each unit is zeroed with probability ``p`` and the survivors are
    *not* rescaled; at test time every output is multiplied by ``1 − p`` (0.5 in the paper).

    ``torch.nn.Dropout`` is the *inverted* form (survivors ×1/(1−p) in training, nothing at test): the same
    function at test time, but not the same training at the paper's learning rate and N(0, 0.01) initialisation:
    the layer after it sees inputs twice as large (chapter 4.2 trains both from one seed). Input and output:
    any shape; the mask is drawn from torch's global generator, like ``nn.Dropout``'s.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise AlexNetError(f"dropout must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0:
            return x
        if not self.training:
            return x * (1.0 - self.p)
        return x * torch.empty_like(x).bernoulli_(1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}, form='paper' (no rescaling in training, ×{1 - self.p:g} at test)"


DROPOUT_FORMS = {"paper": PaperDropout, "inverted": nn.Dropout}


class AbsTanh(nn.Module):
    """|tanh(x)|, the nonlinearity of Jarrett et al. (2009) that §3.1 mentions."""

    def forward(self, x):
        return torch.tanh(x).abs()


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "abs_tanh": AbsTanh,
               "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU}

PAPER_WIDTHS = (96, 256, 384, 384, 256)
ONE_TOWER_WIDTHS = (48, 128, 192, 192, 256)  # §3.2: half the kernels, except conv5, which feeds fc6


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise AlexNetError(f"unknown activation {name!r}: choose one of {', '.join(ACTIVATIONS)}")
    module = ACTIVATIONS[name]
    return module(inplace=True) if name in ("relu", "leaky_relu") else module()


class AlexNet(nn.Module):
    """The paper's network (default) and its ablations; see the module docstring for the switches."""

    def __init__(self, num_classes: int = 1000, *, activation: str = "relu", lrn: bool = True,
                 pooling: str = "overlap", towers: int = 2, grouped: bool = True, dropout: float = 0.5,
                 dropout_form: str = "paper", bias_init: float = 1.0, init: str = "paper", stem: str = "imagenet", width: float = 1.0,
                 hidden: int = 4096, pool_output: int | None = None, input_scale: float = 1.0):
        super().__init__()
        self.input_scale = input_scale  # inputs are mean-subtracted 0–255 pixels; the scaled net divides by ~64
        if pooling not in ("overlap", "plain"):
            raise AlexNetError(f"pooling must be 'overlap' (z=3, s=2) or 'plain' (z=2, s=2), got {pooling!r}")
        if towers not in (1, 2):
            raise AlexNetError(f"towers must be 2 (the paper) or 1 (one GPU, half the kernels), got {towers!r}")
        if stem not in ("imagenet", "cifar"):
            raise AlexNetError(f"stem must be 'imagenet' (227×227 input) or 'cifar' (28–32 px), got {stem!r}")
        if not 0.0 <= dropout < 1.0:
            raise AlexNetError(f"dropout must be in [0, 1), got {dropout}")
        if dropout_form not in DROPOUT_FORMS:
            raise AlexNetError(f"dropout_form must be 'paper' (§4.2) or 'inverted' (torch.nn.Dropout), got {dropout_form!r}")
        drop = DROPOUT_FORMS[dropout_form]
        self.stem = stem
        base = PAPER_WIDTHS if towers == 2 else ONE_TOWER_WIDTHS
        c1, c2, c3, c4, c5 = (max(2, 2 * round(c * width / 2)) for c in base)  # even, so two groups split
        g = 2 if (towers == 2 and grouped) else 1
        pool = (lambda: nn.MaxPool2d(3, 2)) if pooling == "overlap" else (lambda: nn.MaxPool2d(2, 2))
        norm = (lambda: LocalResponseNorm(5, 1e-4, 0.75, 2.0)) if lrn else nn.Identity
        conv1 = nn.Conv2d(3, c1, 11, stride=4) if stem == "imagenet" else nn.Conv2d(3, c1, 5, padding=2)
        self.features = nn.Sequential(OrderedDict([
            ("conv1", conv1), ("act1", _activation(activation)), ("lrn1", norm()), ("pool1", pool()),
            ("conv2", nn.Conv2d(c1, c2, 5, padding=2, groups=g)), ("act2", _activation(activation)),
            ("lrn2", norm()), ("pool2", pool()),
            ("conv3", nn.Conv2d(c2, c3, 3, padding=1)), ("act3", _activation(activation)),
            ("conv4", nn.Conv2d(c3, c4, 3, padding=1, groups=g)), ("act4", _activation(activation)),
            ("conv5", nn.Conv2d(c4, c5, 3, padding=1, groups=g)), ("act5", _activation(activation)),
            ("pool5", pool()),
        ]))
        side = pool_output or (6 if stem == "imagenet" else 2)
        # The paper's net needs no pooling here: a 227 input gives exactly 6×6. The scaled net pools to a fixed
        # size so that both pooling geometries feed fc6 the same number of features (as torchvision does).
        self.avgpool = nn.Identity() if stem == "imagenet" else nn.AdaptiveAvgPool2d(side)
        self.classifier = nn.Sequential(OrderedDict([
            ("fc6", nn.Linear(c5 * side * side, hidden)), ("act6", _activation(activation)),
            ("drop6", drop(dropout)),
            ("fc7", nn.Linear(hidden, hidden)), ("act7", _activation(activation)), ("drop7", drop(dropout)),
            ("fc8", nn.Linear(hidden, num_classes)),
        ]))
        self.feature_side = side
        self.reset_parameters(init, bias_init)

    def reset_parameters(self, init: str = "paper", bias_init: float = 1.0) -> None:
        """§5: weights from N(0, 0.01); biases ``bias_init`` in conv2, conv4, conv5, fc6, fc7, and 0 elsewhere.

        ``init="kaiming"`` swaps the hidden layers' weights for He-normal (fan-in) initialisation, a modern
        choice for nets whose widths differ from the paper's; fc8 keeps N(0, 0.01) and the biases follow the
        same rule.
        """
        if init not in ("paper", "kaiming"):
            raise AlexNetError(f"init must be 'paper' or 'kaiming', got {init!r}")
        ones = {"conv2", "conv4", "conv5", "fc6", "fc7"}
        for name, module in list(self.features.named_children()) + list(self.classifier.named_children()):
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                if init == "paper" or name == "fc8":  # the classifier starts small either way
                    nn.init.normal_(module.weight, 0.0, 0.01)
                else:
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.constant_(module.bias, bias_init if name in ones else 0.0)

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 3:
            raise AlexNetError(f"AlexNet expects a batch of RGB images N×3×H×W, got shape {tuple(x.shape)}")
        if self.stem == "imagenet" and tuple(x.shape[-2:]) != (227, 227):
            h = x.shape[-2]
            raise AlexNetError(
                f"the paper's AlexNet needs 227×227 input, got {x.shape[-2]}×{x.shape[-1]}: conv1 gives "
                f"({h}−11)/4+1 = {(h - 11) / 4 + 1:g} positions per side and fc6 expects 6×6×256 "
                "(the paper's '224' is a known slip; crop 227)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.avgpool(self.features(x * self.input_scale if self.input_scale != 1.0 else x))
        return self.classifier(torch.flatten(x, 1))

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer (fc7 after its nonlinearity): the 4096-d code of Fig. 4 (right)."""
        self.check_input(x)
        x = torch.flatten(self.avgpool(self.features(x * self.input_scale if self.input_scale != 1.0 else x)), 1)
        for name, module in self.classifier.named_children():
            if name == "fc8":
                break
            x = module(x)
        return x


def alexnet(num_classes: int = 1000, **switches) -> AlexNet:
    """The paper's network: 227×227 input, 60,965,224 parameters with 1000 classes."""
    return AlexNet(num_classes, **switches)


def alexnet_cifar(num_classes: int = 10, *, width: float = 0.5, hidden: int = 1024, **switches) -> AlexNet:
    """The same family for 32×32 images (trained on 28×28 crops): conv widths ×0.5, FC layers of 1024.

    Everything the paper varies still varies (ReLU, LRN, overlapping pools, two towers, dropout). The
    differences are the 5×5 stride-1 stem, the widths, the adaptive pool to 2×2 before fc6, and the start:
    He-normal weights (fc8 keeps N(0, 0.01)), biases 0.1 where the paper puts 1 (Caffe's choice), and inputs
    divided by 64. Measured on the CIFAR sample (quick profile): the paper's N(0, 0.01) with bias 1 leaves the
    loss flat at ln 10 for epochs, and He init with bias 1 diverges in the first epoch.
    """
    switches.setdefault("init", "kaiming")
    switches.setdefault("bias_init", 0.1)  # with He init, bias 1 blows up the first steps; 0.1 is Caffe's value
    switches.setdefault("input_scale", 1 / 64)
    return AlexNet(num_classes, stem="cifar", width=width, hidden=hidden, **switches)


ARCHS = {"alexnet": alexnet, "alexnet-cifar": alexnet_cifar}


def build_model(arch: str, num_classes: int, **switches) -> AlexNet:
    """Build an architecture by its CLI name (``alexnet`` or ``alexnet-cifar``)."""
    if arch not in ARCHS:
        raise AlexNetError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHS)}")
    return ARCHS[arch](num_classes, **switches)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
