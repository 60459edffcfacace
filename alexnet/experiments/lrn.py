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

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from ..lrn import LocalResponseNorm, local_response_norm, lrn_equivalents
from ..profiles import Profile, get_profile
from ..results import reusable_result, reuse_note
from .ablation import AblationResult, run_ablation

PAPER_LRN_BENEFIT = {"top1": 0.014, "top5": 0.012}  # §3.3, ImageNet: LRN lowers the errors by this much
PAPER_LRN_CIFAR = {"without": 0.13, "with": 0.11}  # §3.3, a four-layer CNN on CIFAR-10, test error
PAPER_LRN_CONSTANTS = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}


def convention_outputs(a: torch.Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                       k: float = 2.0) -> dict[str, torch.Tensor]:
    """Every convention of :func:`alexnet.lrn.lrn_equivalents` applied to the same ``N, C, H, W`` tensor.

    Adds ``"paper, α/n"``: the paper's formula fed ``α/n``, which must equal torch's module exactly.
    """
    modules = lrn_equivalents(size, alpha, beta, k)
    modules["paper, α/n"] = LocalResponseNorm(size, alpha / size, beta, k)
    with torch.no_grad():
        return {name: m(a) for name, m in modules.items()}


def convention_table(a: torch.Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                     k: float = 2.0, atol: float = 1e-6) -> dict:
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
    """A freshly initialised conv1 of the paper's net: 96 kernels 11×11×3, stride 4, weights N(0, 0.01), bias 0.

    Nothing is trained: the maps it gives are random projections of the photo, at the scale the paper's net
    starts from (0–255 pixels minus the mean, weights of std 0.01).
    """
    gen = torch.Generator().manual_seed(seed)
    conv = nn.Conv2d(3, 96, 11, stride=4)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * 0.01)
        conv.bias.zero_()
    return conv


def centred_photo(photos_u8: torch.Tensor, index: int, crop: int = 227) -> torch.Tensor:
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


def lrn_effect(a: torch.Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0) -> dict:
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


def suppression_vs_gain(a: torch.Tensor, gains, size: int = 5, alpha: float = 1e-4, beta: float = 0.75) -> dict:
    """The mean data-dependent factor ``(1 + αS/k)^-β`` when ``a`` is multiplied by each gain, per convention.

    Trained nets have larger conv1 responses than a fresh one; this shows at what activation scale each
    reading of the constants starts to normalise anything. Conventions: the paper as printed (α, k=2),
    cuda-convnet / torch (α/n, k=2) and Caffe (α/n, k=1).
    """
    readings = {"paper as printed (α, k=2)": (alpha, 2.0), "cuda-convnet = torch (α/n, k=2)": (alpha / size, 2.0),
                "Caffe (α/n, k=1)": (alpha / size, 1.0)}
    out = {"gains": list(gains)}
    for name, (al, k) in readings.items():
        out[name] = [lrn_effect(a * g, size, al, beta, k)["data_factor_mean"] for g in gains]
    return out


def plot_suppression_vs_gain(curves: dict, base_activation: float, ax=None):
    """Plot :func:`suppression_vs_gain`: the mean data-dependent factor against the mean active unit."""
    ax = ax or plt.subplots(figsize=(6, 3.4))[1]
    xs = [g * base_activation for g in curves["gains"]]
    for name, ys in curves.items():
        if name != "gains":
            ax.semilogx(xs, ys, marker="o", ms=3, label=name)
    ax.axvline(base_activation, color="grey", ls=":", lw=0.8)
    ax.set_xlabel("mean active conv1 unit (the fresh net's scale at the dotted line)")
    ax.set_ylabel("mean (1 + αS/k)^-β")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def render_lrn(a: torch.Tensor, channel: int = 0, *, k: float = 2.0, n: int = 5, alpha: float = 1e-4,
               beta: float = 0.75):
    """One frame of the LRN explorer: channel ``channel`` of ``a`` before and after LRN, and the ratio b/a."""
    b = local_response_norm(a, n, alpha, beta, k)
    ratio = torch.where(a > 0, b / a.clamp_min(1e-12), (k + 0 * a) ** -beta)[0, channel]
    fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
    for ax, img, title in ((axes[0], a[0, channel], "a (conv1, ReLU)"), (axes[1], b[0, channel], "b = LRN(a)")):
        im = ax.imshow(img.numpy(), cmap="magma", interpolation="nearest")
        ax.set_title(f"{title}\nmax {img.max().item():.3g}", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    im = axes[2].imshow(ratio.numpy(), cmap="viridis", interpolation="nearest")
    axes[2].set_title(f"b/a  (k^-β = {k ** -beta:.3f})\nrange {ratio.min().item():.4f}–{ratio.max().item():.4f}",
                      fontsize=9)
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(f"k={k:g}, n={n}, α={alpha:g}, β={beta:g}", fontsize=10)
    fig.tight_layout()
    return fig


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
    store, hooks = {}, []
    for name in ("lrn1", "lrn2"):
        module = getattr(model.features, name)
        hooks.append(module.register_forward_pre_hook(
            lambda _m, inp, name=name: store.__setitem__(name, inp[0].detach().clone())))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hk in hooks:
            hk.remove()
    return {name: lrn_effect(a) for name, a in store.items()}


def stored_ablation(name: str, profile: Profile | None = None) -> AblationResult | None:
    """The saved result of ablation ``name`` if the code running now made it at ``profile``'s scale (its
    epochs and seeds), else None (:func:`alexnet.results.reusable_result`: yours first, then the book's).

    Only for meaningful profiles (quick, full): smoke always trains. ``ALEXNET_RERUN=1`` ignores stored results.
    """
    profile = profile or get_profile()
    record = reusable_result(name, profile, epochs=profile.ablation_epochs, seeds=profile.seeds)
    if record is None:
        return None
    data = record["data"]
    return AblationResult(name, data["arms"], data["baseline"], data["deltas"],
                          {**record["scale"], "saved_at": record["saved_at"]})


def reuse_or_run_ablation(name: str, arms: dict[str, dict], profile: Profile | None = None,
                          **kwargs) -> AblationResult:
    """:func:`run_ablation`, unless the results store already holds ``name`` made by this code at this
    profile's scale (a heavy cell, gated): then that result is returned and the cell says so."""
    profile = profile or get_profile()
    stored = stored_ablation(name, profile)
    if stored is not None:
        seconds = sum(arm["seconds"] for arm in stored.arms.values())
        print(reuse_note(name, {"scale": stored.scale, "saved_at": stored.scale["saved_at"]}, seconds))
        return stored
    return run_ablation(name, arms, profile=profile, **kwargs)


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
    return reuse_or_run_ablation("lrn_ablation", {"lrn": {}, "no_lrn": {"model": {"lrn": False}}}, profile, **kwargs)


def sampling_noise(error: float, n: int) -> float:
    """Binomial standard error of an error rate measured on ``n`` images: differences much below ~2× this
    between two arms cannot be told apart on that validation set."""
    return (error * (1 - error) / max(n, 1)) ** 0.5


def ablation_vs_paper(result: AblationResult, without: str, paper_benefit: dict, extra_rows=()) -> str:
    """What removing the component costs here (``deltas[without]``) next to the paper's number.

    ``extra_rows``: further ``(label, Δ top-1, Δ top-5 or None)`` rows from the paper.
    """
    d = result.deltas[without]
    sc = result.scale
    fmt = lambda v: f"{v:>+9.1%}" if v is not None else f"{'—':>9}"  # noqa: E731
    ours = f"ours ({sc['dataset']}, {sc['train_images']:,} images, {sc['epochs']} epochs, {sc['device']})"
    rows = [("paper (ImageNet, 1.2M images, ~90 epochs)", paper_benefit["top1"], paper_benefit["top5"]),
            *extra_rows, (ours, d["top1"], d["top5"])]
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{'':<{width}}{'Δ top-1':>9}{'Δ top-5':>9}"] + [f"{r[0]:<{width}}{fmt(r[1])}{fmt(r[2])}" for r in rows]
    base_err = result.arms[result.baseline]["val_top1_error"]
    n_val = sc.get("val_images", 0)
    lines.append(f"Δ = error without the component − error with it (positive: the component helps). "
                 f"Sampling noise of one top-1 error on our {n_val:,} validation images: ±{sampling_noise(base_err, n_val):.1%} (1σ).")
    return "\n".join(lines)


def ablation_verdict(result: AblationResult, without: str, paper_benefit: dict) -> str:
    """One sentence on whether our validation set can resolve our Δ top-1 and the paper's, in standard errors.

    The standard error of a difference between two arms is taken as √2 times that of one error rate (an upper
    bound: both arms see the same images, which correlates their errors).
    """
    n_val = result.scale.get("val_images", 0)
    base_err = result.arms[result.baseline]["val_top1_error"]
    se_diff = 2 ** 0.5 * sampling_noise(base_err, n_val)
    ours = result.deltas[without]["top1"]
    z_ours, z_paper = abs(ours) / se_diff, paper_benefit["top1"] / se_diff
    ours_text = ("larger than two standard errors, so probably real at this scale" if z_ours >= 2 else
                 "within two standard errors, so not distinguishable from noise at this scale")
    paper_text = "too small to detect here" if z_paper < 2 else "large enough to detect here"
    return (f"Our Δ top-1 is {ours:+.1%}, {z_ours:.1f} standard errors of a difference on {n_val:,} validation images "
            f"(±{se_diff:.1%}): {ours_text}. The paper's {paper_benefit['top1']:+.1%} would be {z_paper:.1f} standard "
            f"errors: {paper_text}.")
