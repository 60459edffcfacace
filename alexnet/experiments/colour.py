r"""Fig. 3's specialisation, measured: how colour-specific the conv1 kernels of GPU 1 and of GPU 2 are.

§6.1: "The kernels on GPU 1 are largely color-agnostic, while the kernels on GPU 2 are largely color-specific."
conv2 is grouped (§3.5), so its first group sees only the first half of conv1's maps (GPU 1's) and its second
group only the second half (GPU 2's). Chapters 3.2 and 6 both report :func:`colour_score`, so they report the
same number for the same claim.
"""
from __future__ import annotations

import torch


def colour_score(weight: torch.Tensor) -> torch.Tensor:
    r"""The colour share of each conv1 kernel (``K×3×h×w`` → ``K`` values in [0, 1]): the fraction of its energy
    that is not grey.

    Split a kernel :math:`w \in \mathbb{R}^{3\times h\times w}` into its grey part :math:`\bar w` (at each
    position the mean of R, G and B, copied to the three channels) and the rest :math:`\tilde w = w - \bar w`.
    The two parts are orthogonal, so :math:`\|w\|^2 = \|\bar w\|^2 + \|\tilde w\|^2` and

    .. math::

        s(w) = \frac{\|\tilde w\|^2}{\|w\|^2}
             = \frac{\sum_{x,y} \sum_c (w_{c,x,y} - \bar w_{x,y})^2}{\sum_{c,x,y} w_{c,x,y}^2}.

    Why the energy share and not the norm ratio :math:`\|\tilde w\| / \|w\|` (the square root of it): energies
    of orthogonal parts add, so :math:`s` and :math:`1 - s` are the kernel's colour and grey shares, and a
    mean of shares over a GPU's kernels is a share too. A grey kernel (an edge or blob that weighs R, G and B
    alike, the upper rows of Fig. 3) scores 0; a pure colour-opponent one (R, G, B summing to zero at every
    position) scores 1; one that looks at a single channel scores 2/3. Independent random weights (the
    initialisation) score about 2/3 as well, so the initial level is the reference: training can move kernels
    down towards 0 (colour-agnostic) or up towards 1 (colour-opponent).
    """
    w = weight.detach().double().cpu()
    colour = w - w.mean(dim=1, keepdim=True)
    return (colour.square().flatten(1).sum(1) / w.square().flatten(1).sum(1).clamp_min(1e-24)).float()


def tower_colour_stats(weight: torch.Tensor, *, permutations: int = 20000, seed: int = 0) -> dict:
    """:func:`colour_score` of each conv1 kernel by GPU (GPU 1: the first half of the output channels, the maps
    conv2's first group sees; GPU 2: the second half), the difference of the two means, and how often a random
    split of the same kernels into two halves gives a difference at least as large (a permutation p-value;
    None with ``permutations=0``)."""
    scores = colour_score(weight)
    half = len(scores) // 2
    gpu1, gpu2 = scores[:half], scores[half:]
    observed = (gpu2.mean() - gpu1.mean()).item()
    p = None
    if permutations:
        g = torch.Generator().manual_seed(seed)
        shuffled = scores[torch.stack([torch.randperm(len(scores), generator=g) for _ in range(permutations)])]
        null = shuffled[:, half:].mean(1) - shuffled[:, :half].mean(1)
        p = ((null.abs() >= abs(observed) - 1e-12).sum().item() + 1) / (permutations + 1)
    return {"gpu1": gpu1.tolist(), "gpu2": gpu2.tolist(), "mean_gpu1": gpu1.mean().item(),
            "mean_gpu2": gpu2.mean().item(), "median_gpu1": gpu1.median().item(),
            "median_gpu2": gpu2.median().item(), "gpu2_minus_gpu1": observed, "p_value": p,
            "more_colour_specific": "GPU 2" if observed > 0 else "GPU 1"}


def colour_table(stats: dict[str, dict]) -> str:
    """One row per weight set (e.g. ``{"at initialisation": ..., "after training": ...}``)."""
    lines = [f"{'conv1 kernels':<22}{'GPU 1 mean':>12}{'GPU 2 mean':>12}{'GPU 2 − GPU 1':>15}{'p (perm.)':>11}"]
    for name, s in stats.items():
        p = f"{s['p_value']:>11.3f}" if s["p_value"] is not None else f"{'—':>11}"
        lines.append(f"{name:<22}{s['mean_gpu1']:>12.3f}{s['mean_gpu2']:>12.3f}{s['gpu2_minus_gpu1']:>+15.3f}{p}")
    return "\n".join(lines)
