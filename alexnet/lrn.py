r"""Local response normalisation, exactly as written in §3.3 of the paper.

.. math::

    b^i_{x,y} = a^i_{x,y} \Big/ \Big(k + \alpha \sum_{j=\max(0,\,i-n/2)}^{\min(N-1,\,i+n/2)} (a^j_{x,y})^2\Big)^{\beta}

with :math:`k=2, n=5, \alpha=10^{-4}, \beta=0.75`. Three conventions for the same idea exist, and they differ
only in how :math:`\alpha` and :math:`k` are read:

================================  ======================================  =====================================
implementation                    denominator                             equals our ``LocalResponseNorm`` with
================================  ======================================  =====================================
the paper (this module)           ``k + α Σ a²``                          ``alpha=α, k=k``
``torch.nn.LocalResponseNorm``    ``k + (α/n) Σ a²``                      ``alpha=α/n, k=k``
Caffe ``LRN`` (``k`` default 1)   ``k + (α/n) Σ a²``                      ``alpha=α/n, k=1``
cuda-convnet ``rnorm``            ``2 + (scale/n) Σ a²`` (k fixed at 2)   ``alpha=scale/n, k=2``
================================  ======================================  =====================================

So the paper's stated α=1e-4 with no ``/n`` is *not* what cuda-convnet ran: Krizhevsky's layer config used
``scale=0.0001``, which cuda-convnet divides by the size, i.e. ``torch.nn.LocalResponseNorm(5, alpha=1e-4, k=2)``.
We implement the formula as printed and name the convention (:func:`lrn_equivalents`).

The forward and backward passes are written in closed form (:class:`_LRNFunction`), which saves the graph that
autograd would otherwise build through ``pow`` and ``avg_pool3d``. Writing :math:`d_i = k + \alpha S_i` and
:math:`b_i = a_i d_i^{-\beta}`:

.. math::

    \frac{\partial L}{\partial a_i} = g_i d_i^{-\beta} - 2\alpha\beta\, a_i \sum_{j:\,|i-j|\le n/2} \frac{g_j b_j}{d_j}
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _window_sum(t: torch.Tensor, half: int) -> torch.Tensor:
    """Sum over the channel window [i-half, i+half], zero beyond the edges (the paper's max/min bounds)."""
    if half == 0:
        return t
    padded = F.pad(t, (0, 0, 0, 0, half, half))  # pad dim 1 (channels) of an N,C,H,W tensor
    channels = t.shape[1]
    out = padded[:, 0:channels].clone()
    for offset in range(1, 2 * half + 1):
        out += padded[:, offset:offset + channels]
    return out


class _LRNFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, half, alpha, beta, k):
        d = _window_sum(a * a, half).mul_(alpha).add_(k)
        b = a * d.pow(-beta)
        ctx.save_for_backward(a, b, d)
        ctx.consts = (half, alpha, beta)
        return b

    @staticmethod
    def backward(ctx, g):
        a, b, d = ctx.saved_tensors
        half, alpha, beta = ctx.consts
        coupling = _window_sum(g * b / d, half)
        grad = g * d.pow(-beta) - (2 * alpha * beta) * a * coupling
        return grad, None, None, None, None


def local_response_norm(a: torch.Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 2.0) -> torch.Tensor:
    """Functional form of :class:`LocalResponseNorm` for an ``N, C, H, W`` tensor."""
    if a.dim() != 4:
        raise ValueError(f"local_response_norm expects N,C,H,W input, got shape {tuple(a.shape)}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the window size n must be odd and positive (the paper uses 5), got {size}")
    return _LRNFunction.apply(a, size // 2, float(alpha), float(beta), float(k))


class LocalResponseNorm(nn.Module):
    """The paper's LRN (§3.3): ``b = a / (k + α Σ_window a²)^β`` with **no /n** on α.

    ``torch.nn.LocalResponseNorm(size, alpha, beta, k)`` computes the same thing with ``alpha/size`` in place of
    ``alpha``; Caffe does too, with ``k=1`` by default; cuda-convnet (what Krizhevsky ran) divides its ``scale``
    by the size with ``k=2``. See :func:`lrn_equivalents`. The window is ``n`` channels centred on ``i``
    (``n`` odd), clipped at the first and last channel exactly as the paper's max/min bounds say.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0):
        super().__init__()
        if size < 1 or size % 2 == 0:
            raise ValueError(f"the window size n must be odd and positive (the paper uses 5), got {size}")
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return local_response_norm(a, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k} (paper convention: no /n)"


def local_response_norm_reference(a: torch.Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                                  k: float = 2.0) -> torch.Tensor:
    """The formula of §3.3 as a plain loop over channels: slow, obviously right, used to test the fast one."""
    n_channels = a.shape[1]
    out = torch.empty_like(a)
    for i in range(n_channels):
        lo, hi = max(0, i - size // 2), min(n_channels - 1, i + size // 2)
        s = (a[:, lo:hi + 1] ** 2).sum(dim=1)
        out[:, i] = a[:, i] / (k + alpha * s) ** beta
    return out


def lrn_equivalents(size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0) -> dict[str, nn.Module]:
    """The paper's layer, and the three other conventions *as the paper's formula reads them*.

    Returns modules keyed by convention, each fed the paper's printed constants the way that implementation
    interprets them:

    - ``paper``: α as printed, no /n, k=2;
    - ``torch``: ``torch.nn.LocalResponseNorm(size, alpha, beta, k)``: α/n;
    - ``caffe``: α/n and Caffe's default k=1;
    - ``cuda-convnet``: α/n, k=2 (Krizhevsky's actual layer).
    """
    return {
        "paper": LocalResponseNorm(size, alpha, beta, k),
        "torch": nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k),
        "caffe": nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=1.0),
        "cuda-convnet": LocalResponseNorm(size, alpha / size, beta, 2.0),
    }
