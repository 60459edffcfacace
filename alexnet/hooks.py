"""One forward-hook helper: the outputs of named submodules during one forward pass."""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


@torch.no_grad()
def layer_outputs(model: nn.Module, x: torch.Tensor, names: Iterable[str], *, run=None) -> dict[str, torch.Tensor]:
    """Run ``model`` (or ``run(x)``, e.g. ``model.features``) on ``x`` and return each named submodule's output.

    ``names`` are paths as :meth:`torch.nn.Module.named_modules` gives them (``"features.conv1"``) or, for
    :class:`alexnet.AlexNet`, bare layer names (``"conv1"``, ``"fc6"``) looked up in ``features`` and
    ``classifier``. Outputs are copied when produced (an in-place ReLU after a conv would overwrite them) and
    keep their batch dimension. Raises ``KeyError`` for a name the model does not have.
    """
    modules = dict(model.named_modules())
    store, hooks = {}, []
    names = list(names)
    try:
        for name in names:
            module = modules.get(name) or modules.get(f"features.{name}") or modules.get(f"classifier.{name}")
            if module is None:
                raise KeyError(f"{type(model).__name__} has no layer {name!r}")
            hooks.append(module.register_forward_hook(
                lambda _m, _i, out, name=name: store.__setitem__(name, out.detach().clone())))
        (run or model)(x)
    finally:
        for hook in hooks:
            hook.remove()
    return {name: store[name] for name in names if name in store}
