r"""Local response normalisation, exactly as written in §3.3 of the paper.

.. math::

    b^i_{x,y} = a^i_{x,y} \Big/ \Big(k + \alpha \sum_{j=\max(0,\,i-n/2)}^{\min(N-1,\,i+n/2)} (a^j_{x,y})^2\Big)^{\beta}

with :math:`k=2, n=5, \alpha=10^{-4}, \beta=0.75`. The conventions for the same idea differ only in how
:math:`\alpha` and :math:`k` are read (:data:`CONVENTIONS`, :func:`lrn_equivalents`):

==================================  ===============================  ==========================================
implementation                      denominator                      equals the paper's formula with
==================================  ===============================  ==========================================
the paper (this module)             ``k + α Σ a²``                   ``alpha=α, k=k``
``torch.nn.LocalResponseNorm``      ``k + (α/n) Σ a²``               ``alpha=α/n, k=k``
Caffe ``LRN`` (``k`` default 1)     ``k + (α/n) Σ a²``               ``alpha=α/n, k=k`` (``k=1`` by default)
cuda-convnet ``cmrnorm`` (2012)     ``1 + (scale/n) Σ a²``           ``alpha=scale/n, k=1`` (k hard-coded)
cuda-convnet2 ``cmrnorm`` (2014)    ``minDiv + (scale/n) Σ a²``      ``alpha=scale/n, k=minDiv``
==================================  ===============================  ==========================================

The public 2012 cuda-convnet, Krizhevsky's own code, divides the layer's ``scale`` by the size and hard-codes
k = 1: it computes ``a / (1 + (α/n) Σ a²)^β``, Caffe's convention, not the paper's formula and not torch's with
k = 2. A settable k (``minDiv``) appears only in cuda-convnet2 (2014), whose ImageNet configuration sets it to 2.
Which k (and which α) the winning 2012 net ran is not public. We implement the formula as printed and name the
convention; :func:`lrn_equivalents` builds each reading of the printed constants.

The forward and backward passes are written in closed form (:class:`_LRNFunction`), which saves the graph that
autograd would otherwise build through ``pow`` and ``avg_pool3d``. Writing :math:`d_i = k + \alpha S_i` and
:math:`b_i = a_i d_i^{-\beta}`:

.. math::

    \frac{\partial L}{\partial a_i} = g_i d_i^{-\beta} - 2\alpha\beta\, a_i \sum_{j:\,|i-j|\le n/2} \frac{g_j b_j}{d_j}

The window sum over channels is one matrix product with a banded 0/1 matrix :math:`B_{ij} = [|i-j| \le n/2]`
(the clipping at the edges is just the band running off the matrix), so both passes are a few elementwise
sweeps plus one GEMM each, where ``torch.nn.LocalResponseNorm`` pads, pools and differentiates a chain of
elementwise ops. ``python -m alexnet bench`` measures the speedup at conv1's shape (the target is ≥ 2×, forward
plus backward). Channels-last inputs stay channels-last.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from . import paper


def _make_band(channels: int, half: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """C×C matrix with ones where ``|i - j| <= half``: row i sums the paper's window max(0,i−n/2)…min(N−1,i+n/2)."""
    i = torch.arange(channels, device=device)
    return ((i[:, None] - i[None, :]).abs() <= half).to(dtype)


_cached_band = functools.lru_cache(maxsize=64)(_make_band)


def _band(channels: int, half: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)()
    return _make_band(channels, half, dtype, device) if compiling else _cached_band(channels, half, dtype, device)


def _is_channels_last(t: torch.Tensor) -> bool:
    """Whether ``t`` is stored NHWC (and not also NCHW). Inside ``torch.vmap`` the layout cannot be queried (a
    RuntimeError): there the batched GEMM of the NCHW path is used, which is right for any layout."""
    try:
        return not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)
    except RuntimeError:
        return False


def _window_sum(t: torch.Tensor, half: int, scale: float = 1.0, bias: float = 0.0) -> torch.Tensor:
    """``bias + scale · Σ_{|j-i|<=half} t_j`` over the channels of an N,C,H,W tensor, as one GEMM.

    The band matrix holds exact ones (also in bf16/fp16), and ``scale`` and ``bias`` are applied by the GEMM
    itself (``alpha``/``beta``), so no extra pass over the tensor is needed for them.
    """
    n, c, h, w = t.shape
    band = _band(c, half, t.dtype, t.device)  # symmetric, so B = Bᵀ
    offset = torch.full((1,), bias, dtype=t.dtype, device=t.device)
    if t.dim() == 4 and _is_channels_last(t):
        rows = t.permute(0, 2, 3, 1).reshape(n * h * w, c)  # a view: NHWC memory is (N·H·W)×C row-major
        out = torch.addmm(offset, rows, band, beta=1 if bias else 0, alpha=scale)
        return out.view(n, h, w, c).permute(0, 3, 1, 2)  # channels_last again
    cols = t.reshape(n, c, h * w)
    out = torch.baddbmm(offset.view(1, 1, 1), band.expand(n, c, c), cols, beta=1 if bias else 0, alpha=scale)
    return out.view(n, c, h, w)


def _autocast_off(device: torch.device):
    """A context with autocast disabled on ``device`` (a no-op where autocast does not exist)."""
    if device.type in ("cuda", "cpu", "mps", "xpu"):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


class _LRNFunction(torch.autograd.Function):
    """Closed-form forward and backward (see the module docstring).

    An a² that overflows the dtype (|a| > ~1.8e19 in fp32, or a = ±inf) makes the sum of its own window inf,
    as the formula (and :func:`local_response_norm_reference`) says, and leaves every other window alone: the
    GEMM is fed the dtype's largest value instead of inf (0 × inf would be NaN in every channel), and a window
    sum that reaches that value is set back to inf. A NaN input still spreads over its pixel's channels.

    Autocast is off inside: the layer runs in its input's dtype (bf16 under bf16 autocast, as
    ``torch.nn.LocalResponseNorm`` would), except fp16, which is computed in fp32 because ``a²`` of a conv1
    activation above 256 overflows fp16 (the T4's autocast dtype).
    """

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward per model (the batched trainer)

    @staticmethod
    def forward(a, half, alpha, beta, k):
        with _autocast_off(a.device):
            x = a.float() if a.dtype == torch.float16 else a
            top = torch.finfo(x.dtype).max
            # an overflowed a² (inf) kept finite, the band's zeros must not meet it; in place (nan_to_num_ has a
            # batching rule under vmap, clamp_ has not), and a NaN stays NaN
            sq = torch.mul(x, x).nan_to_num_(nan=float("nan"), posinf=top)
            d = _window_sum(sq, half, alpha, k)  # d_i = k + α Σ_window a_j²
            del sq  # (on a CPU every fresh activation-sized buffer costs page faults: in place, and freed early)
            if alpha > 0:  # ... and such a window's sum is inf again (torch.where, not masked_fill_: compilable)
                d = torch.where(d >= alpha * top * (1 - 4 * torch.finfo(x.dtype).eps), float("inf"), d)
            r = torch.pow(d, -beta)  # d_i^{-β}
            b = x * r  # b_i = a_i d_i^{-β}
        return b.to(a.dtype), d, r

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, half, alpha, beta, _k = inputs
        _b, d, r = output
        ctx.mark_non_differentiable(d, r)
        ctx.save_for_backward(a, d, r)  # b = a·r is recomputed in backward: one tensor less kept
        ctx.consts = (half, alpha, beta, a.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, g, *_intermediates):
        a, d, r = ctx.saved_tensors
        half, alpha, beta, dtype = ctx.consts
        with _autocast_off(g.device):
            x = a.float() if a.dtype == torch.float16 else a
            g = g.to(x.dtype)
            coupling = torch.mul(x, r).mul_(g)  # g_j b_j, with b = a·r recomputed into the same buffer
            coupling.div_(d).nan_to_num_(0.0)  # g_j b_j / d_j; the NaN of an inf input's b stays in its window
            grad = _window_sum(coupling, half, -2 * alpha * beta)  # −2αβ Σ_window g_j b_j / d_j
            del coupling
            grad.mul_(x)
            grad = torch.addcmul(grad, g, r)  # + g_i d_i^{-β} (out of place: vmap has a batching rule for it)
        return grad.to(dtype), None, None, None, None


def local_response_norm(a: torch.Tensor, size: int = paper.LRN.size, alpha: float = paper.LRN.alpha, beta: float = paper.LRN.beta,
                        k: float = 2.0) -> torch.Tensor:
    """Functional form of :class:`LocalResponseNorm` for an ``N, C, H, W`` tensor."""
    if a.dim() != 4:
        raise ValueError(f"local_response_norm expects N,C,H,W input, got shape {tuple(a.shape)}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the window size n must be odd and positive (the paper uses 5), got {size}")
    return _LRNFunction.apply(a, size // 2, float(alpha), float(beta), float(k))[0]


class LocalResponseNorm(nn.Module):
    """The paper's LRN (§3.3): ``b = a / (k + α Σ_window a²)^β`` with **no /n** on α.

    ``torch.nn.LocalResponseNorm(size, alpha, beta, k)`` computes the same thing with ``alpha/size`` in place of
    ``alpha``; Caffe does too, with ``k=1`` by default; the 2012 cuda-convnet divides its ``scale`` by the size
    and fixes ``k=1``; cuda-convnet2 makes k settable. See :data:`CONVENTIONS` and :func:`lrn_equivalents`.
    The window is ``n`` channels centred on ``i`` (``n`` odd), clipped at the first and last channel exactly as
    the paper's max/min bounds say.
    """

    def __init__(self, size: int = paper.LRN.size, alpha: float = paper.LRN.alpha, beta: float = paper.LRN.beta,
                 k: float = paper.LRN.k):
        super().__init__()
        if size < 1 or size % 2 == 0:
            raise ValueError(f"the window size n must be odd and positive (the paper uses 5), got {size}")
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return local_response_norm(a, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k} (paper convention: no /n)"


def local_response_norm_reference(a: torch.Tensor, size: int = paper.LRN.size, alpha: float = paper.LRN.alpha, beta: float = paper.LRN.beta,
                                  k: float = 2.0) -> torch.Tensor:
    """The formula of §3.3 as a plain loop over channels: slow, obviously right, used to test the fast one."""
    n_channels = a.shape[1]
    out = torch.empty_like(a)
    for i in range(n_channels):
        lo, hi = max(0, i - size // 2), min(n_channels - 1, i + size // 2)
        s = (a[:, lo:hi + 1] ** 2).sum(dim=1)
        out[:, i] = a[:, i] / (k + alpha * s) ** beta
    return out


@dataclass(frozen=True)
class Convention:
    """One implementation's reading of LRN's constants: its denominator and how it maps onto the paper's formula.

    ``to_paper(size, alpha, k)`` returns the ``(alpha, k)`` that :func:`local_response_norm_reference` (the
    paper's formula) needs to compute what this implementation computes when given ``alpha`` and ``k``.
    """

    name: str
    source: str
    denominator: str
    to_paper: Callable[[int, float, float], tuple[float, float]]


CONVENTIONS: dict[str, Convention] = {c.name: c for c in [
    Convention("paper", "§3.3 as printed (this module)", "k + α Σ a²", lambda n, a, k: (a, k)),
    Convention("torch", "torch.nn.LocalResponseNorm", "k + (α/n) Σ a²", lambda n, a, k: (a / n, k)),
    Convention("caffe", "Caffe LRN layer, default k = 1", "1 + (α/n) Σ a²", lambda n, a, k: (a / n, 1.0)),
    Convention("cuda-convnet", "cuda-convnet cmrnorm (2012): scale/size, k hard-coded to 1", "1 + (α/n) Σ a²",
               lambda n, a, k: (a / n, 1.0)),
    Convention("cuda-convnet2", "cuda-convnet2 cmrnorm (2014): scale/size, k = minDiv (2 in its ImageNet config)",
               "k + (α/n) Σ a²", lambda n, a, k: (a / n, k)),
]}


def lrn_equivalents(size: int = paper.LRN.size, alpha: float = paper.LRN.alpha, beta: float = paper.LRN.beta,
                    k: float = paper.LRN.k) -> dict[str, nn.Module]:
    """The paper's layer and every other convention of :data:`CONVENTIONS`, each fed the paper's printed
    constants the way that implementation interprets them:

    - ``paper``: α as printed, no /n, k;
    - ``torch``: ``torch.nn.LocalResponseNorm(size, alpha, beta, k)``: α/n, k;
    - ``caffe``: α/n and Caffe's default k = 1;
    - ``cuda-convnet``: the public 2012 ``cmrnorm``: α/n, k hard-coded to 1 (what Caffe computes);
    - ``cuda-convnet2``: α/n and k = ``minDiv``, here the paper's k (its ImageNet configuration sets 2).

    Which of these the winning 2012 net ran is not public.
    """
    return {
        "paper": LocalResponseNorm(size, alpha, beta, k),
        "torch": nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k),
        "caffe": nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=1.0),
        "cuda-convnet": LocalResponseNorm(size, alpha / size, beta, 1.0),
        "cuda-convnet2": LocalResponseNorm(size, alpha / size, beta, k),
    }


@torch.no_grad()
def data_dependent_factors(model: nn.Module, x: torch.Tensor) -> dict[str, dict[str, float]]:
    """How much each :class:`LocalResponseNorm` of ``model`` normalises on input ``x`` (§3.3).

    With ``S`` the windowed sum of squares, ``b/a = k^-β · (1 + αS/k)^-β``: the first factor is a constant the
    next layer's weights absorb; the second, the *data-dependent factor*, is what makes the layer a
    normalisation. Measured over the active units (``a > 0``) of every LRN layer, with that layer's own
    constants. Returns ``{layer name: {"alpha_S_mean", "data_factor_mean", "data_factor_min", "alpha", "k"}}``;
    a model without LRN layers gives ``{}``.
    """
    layers = {name: m for name, m in model.named_modules() if isinstance(m, LocalResponseNorm)}
    inputs, hooks = {}, []
    for name, module in layers.items():
        hooks.append(module.register_forward_pre_hook(
            lambda _m, inp, name=name: inputs.__setitem__(name, inp[0].detach().clone())))
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    out = {}
    for name, a in inputs.items():
        m = layers[name]
        a = a.float()
        alpha_s = _window_sum(a * a, m.size // 2, m.alpha)  # α S_i
        factor = (1 + alpha_s / m.k) ** -m.beta
        active = a > 0
        out[name.split(".")[-1]] = {"alpha_S_mean": alpha_s[active].mean().item(),
                                    "data_factor_mean": factor[active].mean().item(),
                                    "data_factor_min": factor[active].min().item(), "alpha": m.alpha, "k": m.k}
    return out
