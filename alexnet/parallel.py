"""The paper's two-GPU net (§3.2) as two real towers on two devices, and a meter for what crosses between them.

    "The parallelization scheme that we employ essentially puts half of the kernels (or neurons) on each GPU,
    with one additional trick: the GPUs communicate only in certain layers. This means that, for example, the
    kernels of layer 3 take input from all kernel maps in layer 2. However, kernels in layer 4 take input only
    from those kernel maps in layer 3 which reside on the same GPU." (§3.2)

:class:`ModelParallelAlexNet` splits every layer of a grouped :class:`~alexnet.model.AlexNet` by its *output*
units: GPU 1 (``gpu1``, device 0) holds the first half of conv1…fc8's kernels/neurons, GPU 2 (``gpu2``,
device 1) the second.
conv2, conv4 and conv5 are the grouped layers, so each tower's half sees only its own maps and needs nothing
from the other device. Activations cross exactly where the paper crosses:

==========  ==============================================================  ==============================
crossing    what moves (each way, per image, paper net)                      why
==========  ==============================================================  ==============================
``conv3``   each tower's pool2 maps (128×13×13) to the other device          conv3 sees all 256 maps
``fc6``     each tower's flattened pool5 (128×6×6 = 4608)                    fc6 sees all 9216 inputs
``fc7``     each tower's half of fc6 (2048)                                  fc7 sees all 4096
``fc8``     each tower's half of fc7 (2048)                                  fc8 sees all 4096
``logits``  GPU 2's half of the 1000 scores, to GPU 1 only                   the loss lives on device 0
==========  ==============================================================  ==============================

plus ``input`` (the batch, device 0 → device 1; the paper loaded it onto each GPU from host memory) and, by
default, two ``lrn halo`` crossings: our single-device grouped AlexNet normalises (LRN, §3.3) across all 96
(and 256) maps, so the two maps either side of the tower boundary feel the other tower. To reproduce it
*exactly*, each tower borrows those ``n//2 = 2`` neighbouring maps from the other device before its LRN.
``lrn_halo=False`` drops the halo and normalises within each tower, as cuda-convnet's two-GPU layers did (the
paper's net); the outputs then differ from the grouped model's in those boundary maps only.

Every crossing goes through :class:`Crossing`, an autograd function that copies the tensor (even from "cpu" to
"cpu", so that two simulated devices on one CPU behave like two real ones) and counts its bytes in the forward
pass and its gradient's bytes in the backward pass (:class:`TrafficLog`). :func:`allreduce_bytes_per_gpu` gives
the data-parallel alternative: a ring all-reduce of every gradient, each step.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from . import paper
from .errors import AlexNetError
from .model import AlexNet, build_model

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")  # split by output units
# every crossing label, in forward order; "input" and the halos are not the paper's inter-GPU traffic
CROSSINGS = ("input", "lrn1 halo", "lrn2 halo", "conv3", "fc6", "fc7", "fc8", "logits")
PAPER_CROSSINGS = ("conv3", "fc6", "fc7", "fc8", "logits")


@dataclass
class TrafficLog:
    """Bytes copied between the two devices, per crossing label and direction (``forward`` activations,
    ``backward`` their gradients), and the number of images that went forward."""
    bytes: dict = field(default_factory=dict)
    sent: dict = field(default_factory=dict)  # {label: [bytes sent by GPU 1's device, by GPU 2's]}
    images: int = 0

    def add(self, label: str, direction: str, nbytes: int, sender: int) -> None:
        entry = self.bytes.setdefault(label, {"forward": 0, "backward": 0})
        entry[direction] += nbytes
        self.sent.setdefault(label, [0, 0])[sender] += nbytes

    def reset(self) -> None:
        self.bytes.clear()
        self.sent.clear()
        self.images = 0

    def per_image(self) -> dict[str, dict[str, float]]:
        """``{label: {"forward", "backward"}}`` in bytes per image, in forward order."""
        n = max(self.images, 1)
        order = [k for k in CROSSINGS if k in self.bytes] + [k for k in self.bytes if k not in CROSSINGS]
        return {k: {d: v / n for d, v in self.bytes[k].items()} for k in order}

    def total_per_image(self, labels=PAPER_CROSSINGS) -> float:
        """Forward + backward bytes per image over ``labels`` (default: the paper's crossings only)."""
        return sum(v["forward"] + v["backward"] for k, v in self.per_image().items() if k in labels)

    def sent_per_image(self, labels=PAPER_CROSSINGS) -> tuple[float, float]:
        """Bytes per image that each device sends (forward and backward together) over ``labels``."""
        n = max(self.images, 1)
        return tuple(sum(self.sent[k][t] for k in self.sent if k in labels) / n for t in (0, 1))


class Crossing(torch.autograd.Function):
    """Copy a tensor to another device and count it: forward moves the activation, backward its gradient."""

    @staticmethod
    def forward(ctx, x, device, log, label, sender):
        ctx.source, ctx.log, ctx.label, ctx.sender = x.device, log, label, sender
        log.add(label, "forward", x.numel() * x.element_size(), sender)
        return x.to(device, copy=True)  # a real copy even when both "devices" are the CPU

    @staticmethod
    def backward(ctx, grad):
        ctx.log.add(ctx.label, "backward", grad.numel() * grad.element_size(), 1 - ctx.sender)  # sent back
        return grad.to(ctx.source, copy=True), None, None, None, None


def allreduce_bytes_per_gpu(num_params: int, world: int = 2, bytes_per_value: int = 4) -> float:
    """Bytes each GPU sends per step in a ring all-reduce of ``num_params`` gradients: 2(N−1)/N × size.

    A ring all-reduce is a reduce-scatter (N−1 chunks of size/N sent) then an all-gather (N−1 more), so every
    GPU sends (and receives) 2(N−1)/N of the gradient each step, whatever the batch size.
    """
    return 2 * (world - 1) / world * num_params * bytes_per_value


def _split_out(layer: nn.Module, part: int) -> nn.Module:
    """One tower's half of ``layer``'s output units (first half for part 0), with the same inputs."""
    out = layer.weight.shape[0]
    lo, hi = (0, (out + 1) // 2) if part == 0 else ((out + 1) // 2, out)
    with torch.no_grad():
        if isinstance(layer, nn.Conv2d):
            # a grouped conv's weight is already (out, in/groups, k, k): each group's kernels see only its
            # tower's maps, so tower t's half is an ordinary conv on its own maps
            half = nn.Conv2d(layer.weight.shape[1], hi - lo, layer.kernel_size, stride=layer.stride,
                             padding=layer.padding)
        else:
            half = nn.Linear(layer.in_features, hi - lo)
        half.weight.copy_(layer.weight[lo:hi])
        half.bias.copy_(layer.bias[lo:hi])
    return half.to(device=layer.weight.device, dtype=layer.weight.dtype)


class Tower(nn.Module):
    """One GPU's half of the net: half of every layer's kernels/neurons, and its own ReLU, LRN, pools, dropout."""

    def __init__(self, source: AlexNet, part: int):
        super().__init__()
        parts = OrderedDict(list(source.features.named_children()) + [("avgpool", source.avgpool)]
                            + list(source.classifier.named_children()))
        for name, module in parts.items():
            self.add_module(name, _split_out(module, part) if name in LAYERS else copy.deepcopy(module))


def _check_groupable(model: nn.Module) -> None:
    if not isinstance(model, AlexNet):
        raise AlexNetError(f"ModelParallelAlexNet splits an alexnet.AlexNet, got {type(model).__name__}")
    groups = {n: model.features.get_submodule(n).groups for n in ("conv2", "conv4", "conv5")}
    if set(groups.values()) != {2}:
        raise AlexNetError(f"ModelParallelAlexNet needs the paper's grouped net (groups=2, §3.2); this one has "
                           f"groups {groups}: without two groups there is nothing to split")


def _default_devices() -> tuple[str, str]:
    return ("cuda:0", "cuda:1") if torch.cuda.device_count() >= 2 else ("cpu", "cpu")


class ModelParallelAlexNet(nn.Module):
    """§3.2's net on two devices: GPU 1's half (``gpu1``) on ``devices[0]``, GPU 2's (``gpu2``) on
    ``devices[1]``.

    Build it fresh (``ModelParallelAlexNet(num_classes, devices=..., arch=..., **switches)``, the same switches
    as :class:`~alexnet.model.AlexNet`) or split an existing grouped model with :meth:`from_grouped`; join it
    back with :meth:`to_grouped`. On the same weights its outputs equal the grouped model's (``lrn_halo=True``,
    the default). Inputs may live anywhere; the logits come back on ``devices[0]``.

    Two details let it train through :func:`alexnet.train.train` unchanged:

    - ``state_dict()`` and ``load_state_dict()`` speak the *grouped* model's layout, so its checkpoints are
      ordinary AlexNet checkpoints (``load_trained``, ``--resume`` and the other chapters read them);
    - ``.to(device)`` keeps each tower on its own device (only a dtype is applied), so the trainer's
      ``model.to(device)`` cannot collapse the split. Give the trainer ``device=devices[0]``.
    """

    def __init__(self, num_classes: int = paper.ILSVRC_CLASSES, *, devices=None, arch: str = "alexnet",
                 lrn_halo: bool = True, source: AlexNet | None = None, **switches):
        super().__init__()
        source = source if source is not None else build_model(arch, num_classes, **switches)
        _check_groupable(source)
        self.devices = tuple(torch.device(d) for d in (devices or _default_devices()))
        if len(self.devices) != 2:
            raise AlexNetError(f"ModelParallelAlexNet needs exactly two devices, got {devices!r}")
        self.lrn_halo = lrn_halo
        self.stem, self.input_scale = source.stem, source.input_scale
        self.gpu1 = Tower(source, 0).to(self.devices[0])
        self.gpu2 = Tower(source, 1).to(self.devices[1])
        # an empty copy of the grouped net (on the meta device: no memory), kept outside the module tree so
        # that parameters() sees only the towers; to_grouped() fills a copy of it
        meta = {id(p): nn.Parameter(torch.empty_like(p, device="meta"), p.requires_grad) for p in source.parameters()}
        object.__setattr__(self, "_template", copy.deepcopy(source, meta))
        self.traffic = TrafficLog()
        self.trace: list | None = None  # set to [] to record (stage, shape on GPU 1, shape on GPU 2) per forward stage

    @classmethod
    def from_grouped(cls, model: AlexNet, devices=None, lrn_halo: bool = True) -> "ModelParallelAlexNet":
        """Split a grouped AlexNet (``groups=2``, any stem and other switches) over two devices."""
        return cls(devices=devices, lrn_halo=lrn_halo, source=model)

    def to_grouped(self, device=None) -> AlexNet:
        """The same weights as one grouped AlexNet on ``device`` (default: ``devices[0]``)."""
        model = copy.deepcopy(self._template).to_empty(device=device or self.devices[0])
        model.to(self.gpu1.conv1.weight.dtype)
        with torch.no_grad():
            for name in LAYERS:
                whole = model.get_submodule(("features." if name.startswith("conv") else "classifier.") + name)
                a, b = getattr(self.gpu1, name), getattr(self.gpu2, name)
                whole.weight.copy_(torch.cat([a.weight.to(whole.weight.device), b.weight.to(whole.weight.device)]))
                whole.bias.copy_(torch.cat([a.bias.to(whole.bias.device), b.bias.to(whole.bias.device)]))
        return model.train(self.training)

    # ---------------------------------------------------------------- checkpoints in the grouped layout

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        state = self.to_grouped(device="cpu").state_dict(prefix=prefix)
        if destination is not None:
            destination.update(state)
            return destination
        return state

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        grouped = copy.deepcopy(self._template).to_empty(device="cpu")
        result = grouped.load_state_dict(state_dict, strict=strict)
        with torch.no_grad():
            for tower, part in ((self.gpu1, 0), (self.gpu2, 1)):
                fresh = Tower(grouped, part)
                for name in LAYERS:
                    getattr(tower, name).weight.copy_(getattr(fresh, name).weight)
                    getattr(tower, name).bias.copy_(getattr(fresh, name).bias)
        return result

    def to(self, *args, **kwargs):
        """Keep the placement (it is the point of this model); apply only a dtype, if one is given."""
        _device, dtype, _non_blocking, _fmt = torch._C._nn._parse_to(*args, **kwargs)
        if dtype is not None:
            super().to(dtype=dtype)
        return self

    # ---------------------------------------------------------------- forward

    def check_input(self, x: torch.Tensor) -> None:
        AlexNet.check_input(self, x)

    def _cross(self, x: torch.Tensor, to: int, label: str) -> torch.Tensor:
        """Move ``x`` from the other tower's device to tower ``to``'s (0: GPU 1, 1: GPU 2), counting the
        bytes."""
        return Crossing.apply(x, self.devices[to], self.traffic, label, 1 - to)

    def _note(self, stage: str, a: torch.Tensor, b: torch.Tensor | None) -> None:
        if self.trace is not None:
            self.trace.append((stage, tuple(a.shape[1:]), None if b is None else tuple(b.shape[1:])))

    def _lrn(self, name: str, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each tower's LRN (§3.3); with the halo, the windows at the tower boundary see the other tower's maps."""
        norm_a, norm_b = getattr(self.gpu1, name), getattr(self.gpu2, name)
        half = getattr(norm_a, "size", 1) // 2
        if not self.lrn_halo or half == 0 or isinstance(norm_a, nn.Identity):
            return norm_a(a), norm_b(b)
        a_ext = torch.cat([a, self._cross(b[:, :half], 0, f"{name} halo")], 1)
        b_ext = torch.cat([self._cross(a[:, -half:], 1, f"{name} halo"), b], 1)
        return norm_a(a_ext)[:, :a.shape[1]], norm_b(b_ext)[:, half:]

    def _both(self, x_for_a: torch.Tensor, x_for_b: torch.Tensor, *names: str):
        """Run each tower's own layers ``names`` on its own device: no communication."""
        a, b = x_for_a, x_for_b
        for name in names:
            a, b = getattr(self.gpu1, name)(a), getattr(self.gpu2, name)(b)
        return a, b

    def _crossed(self, a: torch.Tensor, b: torch.Tensor, label: str):
        """Both towers' outputs, joined on each device: GPU 1's inputs [a | b→d0], GPU 2's inputs
        [a→d1 | b]."""
        return torch.cat([a, self._cross(b, 0, label)], 1), torch.cat([self._cross(a, 1, label), b], 1)

    def _hidden(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both towers' halves of fc7 (after its nonlinearity and dropout)."""
        self.check_input(x)
        x = x * self.input_scale if self.input_scale != 1.0 else x
        x = x.to(self.devices[0])
        self.traffic.images += x.shape[0]
        a, b = x, self._cross(x, 1, "input")
        self._note("input", a, b)
        # conv1, conv2: each tower sees only its own maps (conv2 is one of the grouped layers)
        a, b = self._both(a, b, "conv1", "act1")
        self._note("conv1", a, b)
        a, b = self._both(*self._lrn("lrn1", a, b), "pool1")
        self._note("pool1", a, b)
        a, b = self._both(a, b, "conv2", "act2")
        self._note("conv2", a, b)
        a, b = self._both(*self._lrn("lrn2", a, b), "pool2")
        self._note("pool2", a, b)
        # conv3 crosses: its kernels on each GPU take input from all maps of layer 2
        a, b = self._both(*self._crossed(a, b, "conv3"), "conv3", "act3")
        self._note("conv3", a, b)
        # conv4, conv5: own tower only
        a, b = self._both(a, b, "conv4", "act4")
        self._note("conv4", a, b)
        a, b = self._both(a, b, "conv5", "act5", "pool5", "avgpool")
        self._note("pool5", a, b)
        # fc6, fc7: every neuron sees every neuron of the previous layer, so each crosses; each tower computes
        # half of the units
        a, b = self._both(*self._crossed(torch.flatten(a, 1), torch.flatten(b, 1), "fc6"), "fc6", "act6", "drop6")
        self._note("fc6", a, b)
        a, b = self._both(*self._crossed(a, b, "fc7"), "fc7", "act7", "drop7")
        self._note("fc7", a, b)
        return a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self._hidden(x)
        a, b = self._both(*self._crossed(a, b, "fc8"), "fc8")
        self._note("fc8", a, b)
        logits = torch.cat([a, self._cross(b, 0, "logits")], 1)  # the softmax sees all classes
        self._note("softmax", logits, None)
        return logits

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        """fc7 after its nonlinearity, both halves joined on ``devices[0]`` (as :meth:`AlexNet.penultimate`)."""
        a, b = self._hidden(x)
        return torch.cat([a, self._cross(b, 0, "fc8")], 1)


def measure_crossings(model: ModelParallelAlexNet, *, batch_size: int = 2, input_size: int | None = None,
                      backward: bool = True) -> TrafficLog:
    """One forward (and backward) pass of a random batch; the model's :class:`TrafficLog`, reset first.

    ``input_size`` defaults to the paper's 227 (:data:`alexnet.paper.INPUT_SIDE`) for its stem and 28 for the CIFAR
    stem.
    """
    size = input_size or (paper.INPUT_SIDE if model.stem == "imagenet" else 28)
    model.traffic.reset()
    x = torch.randn(batch_size, 3, size, size, device=model.devices[0], dtype=next(model.parameters()).dtype)
    out = model(x)
    if backward:
        out.float().square().mean().backward()
        model.zero_grad(set_to_none=True)
    return model.traffic
