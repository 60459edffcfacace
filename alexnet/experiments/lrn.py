r"""§3.3 Local response normalisation: the four conventions side by side, its effect on conv1 maps, the ablation.

.. math::

    b^i_{x,y} = a^i_{x,y} \Big/ \Big(k + \alpha \sum_{j=\max(0,\,i-n/2)}^{\min(N-1,\,i+n/2)} (a^j_{x,y})^2\Big)^{\beta},
    \qquad k=2,\ n=5,\ \alpha=10^{-4},\ \beta=0.75

The layer itself is :class:`alexnet.lrn.LocalResponseNorm`; this module measures it. The paper's claim: "Response
normalization reduces our top-1 and top-5 error rates by 1.4% and 1.2%, respectively. We also verified the
effectiveness of this scheme on the CIFAR-10 dataset: a four-layer CNN achieved a 13% test error rate without
normalization and 11% with normalization."
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import paper
from ..hooks import layer_outputs
from ..lrn import LocalResponseNorm, local_response_norm, lrn_equivalents
from ..profiles import Profile
from .ablation import AblationResult
from .ablation import reuse_or_run

N, ALPHA, BETA, K = paper.LRN.size, paper.LRN.alpha, paper.LRN.beta, paper.LRN.k  # §3.3's constants


def convention_outputs(a: torch.Tensor, size: int = N, alpha: float = ALPHA, beta: float = BETA,
                       k: float = K) -> dict[str, torch.Tensor]:
    """Every convention of :func:`alexnet.lrn.lrn_equivalents` applied to the same ``N, C, H, W`` tensor.

    Adds ``"paper, α/n"``: the paper's formula fed ``α/n``, which must equal torch's module exactly.
    """
    modules = lrn_equivalents(size, alpha, beta, k)
    modules["paper, α/n"] = LocalResponseNorm(size, alpha / size, beta, k)
    with torch.no_grad():
        return {name: m(a) for name, m in modules.items()}


def convention_table(a: torch.Tensor, size: int = N, alpha: float = ALPHA, beta: float = BETA,
                     k: float = K, atol: float = 1e-6) -> dict:
    """Compare the conventions on one tensor: the mean output/input ratio of each, and which pairs agree.

    Returns ``{"ratios": {name: mean b/a over a≠0}, "max_diff": {(x, y): max |b_x − b_y|},
    "equal": [(x, y), ...]}`` (equal: max difference below ``atol`` relative to the largest output).
    """
    outs = convention_outputs(a, size, alpha, beta, k)
    nonzero = a != 0
    ratios = {name: (b[nonzero] / a[nonzero]).mean().item() for name, b in outs.items()}
    names = list(outs)
    scale_ = max(b.abs().max().item() for b in outs.values()) or 1.0
    diffs, equal = {}, []
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            d = (outs[x] - outs[y]).abs().max().item()
            diffs[(x, y)] = d
            if d <= atol * scale_:
                equal.append((x, y))
    return {"ratios": ratios, "max_diff": diffs, "equal": equal}


def format_convention_table(table: dict) -> str:
    """Text for :func:`convention_table`: each convention's mean b/a, then every pair's largest difference."""
    lines = [f"{'convention':<16}{'mean b/a':>10}"]
    lines += [f"{name:<16}{r:>10.5f}" for name, r in table["ratios"].items()]
    lines.append("")
    lines.append(f"{'pair':<34}{'max |difference|':>18}  equal?")
    for (x, y), d in table["max_diff"].items():
        lines.append(f"{x + '  vs  ' + y:<34}{d:>18.2e}  {'yes' if (x, y) in table['equal'] else 'no'}")
    return "\n".join(lines)


def paper_conv1(seed: int = 0) -> nn.Conv2d:
    """A freshly initialised conv1 of the paper's net (§3.5, §5): 96 kernels 11×11×3, stride 4, weights N(0, 0.01),
    bias 0.

    Nothing is trained: the maps it gives are random projections of the photo, at the scale the paper's net
    starts from (0–255 pixels minus the mean, weights of std 0.01).
    """
    gen = torch.Generator().manual_seed(seed)
    conv = nn.Conv2d(3, paper.CONV_WIDTHS[0], paper.CONV_KERNELS[0], stride=paper.CONV1_STRIDE)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * paper.INIT_STD)
        conv.bias.zero_()
    return conv


def centred_photo(photos_u8: torch.Tensor, index: int, crop: int = paper.INPUT_SIDE) -> torch.Tensor:
    """Photo ``index`` minus the set's mean image (§2), centre-cropped to ``crop`` (or the whole image if smaller)."""
    mean = photos_u8.float().mean(0)
    x = photos_u8[index].float() - mean
    side = x.shape[-1]
    c = min(crop, side)
    top = (side - c) // 2
    return x[:, top:top + c, top:top + c]


def conv1_response(photo: torch.Tensor, conv: nn.Conv2d | None = None) -> torch.Tensor:
    """ReLU(conv1(photo)): the maps LRN normalises in the paper's net (``1, 96, H, W``)."""
    conv = conv or paper_conv1()
    with torch.no_grad():
        return F.relu(conv(photo.unsqueeze(0)))


def lrn_effect(a: torch.Tensor, size: int = N, alpha: float = ALPHA, beta: float = BETA, k: float = K) -> dict:
    """How much LRN does to ``a`` beyond its constant rescaling by ``k^-β``.

    With ``S`` the windowed sum of squares, ``b/a = k^-β · (1 + αS/k)^-β``: the first factor is the same for every
    unit (the next layer's weights absorb it); only the second depends on the data. Returns the activation scale,
    ``αS`` and that data-dependent factor (mean, smallest), over the units where ``a > 0``.
    """
    b = local_response_norm(a, size, alpha, beta, k)
    active = a > 0
    factor = (b[active] / a[active]) * k ** beta
    sq = F.pad(a * a, (0, 0, 0, 0, size // 2, size // 2))
    window = sum(sq[:, j:j + a.shape[1]] for j in range(size))
    return {"activation_mean": a[active].mean().item(), "activation_max": a.max().item(),
            "alpha_S_mean": (alpha * window[active]).mean().item(), "alpha_S_max": (alpha * window).max().item(),
            "constant_factor": k ** -beta, "data_factor_mean": factor.mean().item(),
            "data_factor_min": factor.min().item()}


def suppression_vs_gain(a: torch.Tensor, gains, size: int = N, alpha: float = ALPHA, beta: float = BETA) -> dict:
    """The mean data-dependent factor ``(1 + αS/k)^-β`` when ``a`` is multiplied by each gain, per convention.

    Trained nets have larger conv1 responses than a fresh one; this shows at what activation scale each
    reading of the constants starts to normalise anything. Conventions: the paper as printed (α, k=2),
    cuda-convnet / torch (α/n, k=2) and Caffe (α/n, k=1).
    """
    readings = {f"paper as printed (α, k={K:g})": (alpha, K),
                f"cuda-convnet = torch (α/n, k={K:g})": (alpha / size, K),
                "Caffe (α/n, k=1)": (alpha / size, 1.0)}
    out = {"gains": list(gains)}
    for name, (al, k) in readings.items():
        out[name] = [lrn_effect(a * g, size, al, beta, k)["data_factor_mean"] for g in gains]
    return out


def normaliser_output_scale(a: torch.Tensor, gains) -> dict:
    """Standard deviation of the output of the paper's LRN and of BatchNorm (training mode, no affine) when the
    input ``a`` is multiplied by each gain: LRN passes the input's scale through almost unchanged until αS
    is comparable to k; BatchNorm removes it at any scale."""
    bn = nn.BatchNorm2d(a.shape[1], affine=False).train()
    out = {"gains": list(gains), "input": [], "LRN (paper constants)": [], "BatchNorm": []}
    with torch.no_grad():
        for g in gains:
            out["input"].append((a * g).std().item())
            out["LRN (paper constants)"].append(local_response_norm(a * g).std().item())
            out["BatchNorm"].append(bn(a * g).std().item())
    return out


def lrn_input_effect(model: nn.Module, x: torch.Tensor) -> dict[str, dict]:
    """:func:`lrn_effect` (paper constants) on what reaches ``lrn1`` and ``lrn2`` of an :class:`AlexNet` for input
    ``x``: how much normalisation the layers do in that net at its own activation scale."""
    # what reaches lrn1 / lrn2 is the output of the activation just before each (copied: the ReLU works in place)
    inputs = layer_outputs(model, x, ("act1", "act2"))
    return {f"lrn{i}": lrn_effect(inputs[f"act{i}"]) for i in (1, 2)}


def scale_at_init_with_and_without_lrn(x: torch.Tensor, labels: torch.Tensor, num_classes: int,
                                       seed: int = 0) -> dict[str, dict]:
    """The two arms of the ablation at initialisation (same seed): loss, and the spread of pool5 and the logits.

    If LRN is a constant rescaling by ``2^-0.75`` (as it is in the scaled net), the arm without it starts with
    pool5 activations about ``(2^0.75)^2 ≈ 2.8`` times larger.
    """
    from ..model import alexnet_cifar

    out = {}
    for arm, lrn in (("lrn", True), ("no_lrn", False)):
        torch.manual_seed(seed)
        model = alexnet_cifar(num_classes, lrn=lrn).eval()
        with torch.no_grad():
            pool5 = model.avgpool(model.features(x * model.input_scale))
            logits = model.classifier(torch.flatten(pool5, 1))
        out[arm] = {"loss": F.cross_entropy(logits, labels).item(), "pool5_std": pool5.std().item(),
                    "logit_std": logits.std().item()}
    return out


def run_lrn_ablation(profile: Profile | None = None, **kwargs) -> AblationResult:
    """§3.3's ablation at the profile's scale: the same recipe with and without LRN after conv1 and conv2."""
    return reuse_or_run("lrn_ablation", {"lrn": {}, "no_lrn": {"model": {"lrn": False}}}, profile, **kwargs)
