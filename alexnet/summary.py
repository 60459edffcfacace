"""``layer_table``: each layer's output shape, parameters and multiply-adds, from one forward pass."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import paper
from .hooks import layer_outputs


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    macs: int


class LayerTable(list):
    """A list of :class:`LayerRow` that prints as a table (text in a terminal, HTML in a notebook)."""

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self)

    def __str__(self) -> str:
        lines = [f"{'layer':<18}{'kind':<20}{'output':>16}{'params':>14}{'MACs':>16}"]
        for r in self:
            shape = "×".join(map(str, r.output_shape))
            lines.append(f"{r.name:<18}{r.kind:<20}{shape:>16}{r.params:>14,}{r.macs:>16,}")
        lines.append(f"{'total':<54}{self.total_params:>14,}{self.total_macs:>16,}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{r.name}</td><td>{r.kind}</td><td>{'×'.join(map(str, r.output_shape))}</td>"
            f"<td style='text-align:right'>{r.params:,}</td><td style='text-align:right'>{r.macs:,}</td></tr>"
            for r in self)
        return ("<table><thead><tr><th>layer</th><th>kind</th><th>output (C×H×W)</th><th>parameters</th>"
                f"<th>multiply-adds</th></tr></thead><tbody>{rows}<tr><td><b>total</b></td><td></td><td></td>"
                f"<td style='text-align:right'><b>{self.total_params:,}</b></td>"
                f"<td style='text-align:right'><b>{self.total_macs:,}</b></td></tr></tbody></table>")


def _macs(module: nn.Module, out: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return out[0].numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


def layer_table(model: nn.Module, input_size: int | tuple[int, int] = paper.INPUT_SIDE) -> LayerTable:
    """Run one image of ``input_size`` through ``model`` and tabulate every leaf layer, per image, in the order the
    layers are defined (the outputs come from :func:`alexnet.hooks.layer_outputs`)."""
    h, w = (input_size, input_size) if isinstance(input_size, int) else input_size
    leaves = {name: m for name, m in model.named_modules()
              if name and len(list(m.children())) == 0 and not isinstance(m, nn.Identity)}
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        outs = layer_outputs(model, torch.zeros(1, 3, h, w, device=param.device, dtype=param.dtype), leaves)
    finally:
        model.train(was_training)
    return LayerTable(LayerRow(name.split(".")[-1], type(m).__name__, tuple(outs[name].shape[1:]),
                               sum(p.numel() for p in m.parameters(recurse=False)), _macs(m, outs[name]))
                      for name, m in leaves.items() if name in outs)
