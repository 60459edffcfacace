"""An ablation against the paper: our Δ next to the paper's, and the verdict.

The chapters on LRN (§3.3) and overlapping pooling (§3.4) train two arms with :func:`~.ablation.reuse_or_run`. Their
paper-vs-ours text is built here; the verdict comes from :func:`alexnet.stats.verdict` (two standard errors) and
the paper's numbers from :mod:`alexnet.paper`, so the chapter and the scorecard say the same thing.
"""
from __future__ import annotations

from .. import stats
from .ablation import AblationResult


def top1_effect(result: AblationResult, without: str) -> tuple[float, float, int]:
    """(effect, se, n): how much removing the component raises top-1 error (the paper's direction is > 0),
    with the standard error of that difference on the ``n`` validation images.

    The stored arms keep error rates, not which images each got right, so the two rates are treated as
    independent (:func:`alexnet.stats.unpaired_difference_se`): larger than the paired standard error, so a
    "reproduced" here would hold under the paired test too.
    """
    n = result.scale.get("val_images") or 0
    with_it = result.arms[result.baseline]["val_top1_error"]
    without_it = result.arms[without]["val_top1_error"]
    se = stats.unpaired_difference_se(with_it, without_it, n) if n else None
    return result.deltas[without]["top1"], se, n


def ablation_vs_paper(result: AblationResult, without: str, paper_benefit: dict, extra_rows=()) -> str:
    """What removing the component costs here (``deltas[without]``) next to the paper's number.

    ``paper_benefit`` is a benefit of :mod:`alexnet.paper` (e.g. ``paper.LRN_BENEFIT``); ``extra_rows``: further
    ``(label, Δ top-1, Δ top-5 or None)`` rows from the paper.
    """
    d = result.deltas[without]
    sc = result.scale
    fmt = lambda v: f"{v:>+9.1%}" if v is not None else f"{'—':>9}"  # noqa: E731
    ours = f"ours ({sc['dataset']}, {sc['train_images']:,} images, {sc['epochs']} epochs, {sc['device']})"
    rows = [("paper (ImageNet, 1.2M images, ~90 epochs)", paper_benefit["top1"], paper_benefit.get("top5")),
            *extra_rows, (ours, d["top1"], d["top5"])]
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{'':<{width}}{'Δ top-1':>9}{'Δ top-5':>9}"] + [f"{r[0]:<{width}}{fmt(r[1])}{fmt(r[2])}" for r in rows]
    _, se, n = top1_effect(result, without)
    noise = f" Standard error of our Δ top-1 on {n:,} validation images: ±{se:.1%}." if se is not None else ""
    lines.append("Δ = error without the component − error with it (positive: the component helps)." + noise)
    return "\n".join(lines)


def ablation_verdict(result: AblationResult, without: str, paper_benefit: dict) -> str:
    """One sentence: our Δ top-1 with its standard error, the verdict of :func:`alexnet.stats.verdict`, and how
    many of those standard errors the paper's Δ would be (whether this validation set could see it at all)."""
    effect, se, n = top1_effect(result, without)
    verdict = stats.verdict(effect, se)
    if se is None or se == 0:
        return f"Our Δ top-1 is {effect:+.1%}; with no validation-set size recorded, the verdict is: {verdict}."
    return (f"Our Δ top-1 is {stats.describe(effect, se)} on {n:,} validation images: {verdict} "
            f"(the threshold is {stats.Z:g} standard errors). The paper's {paper_benefit['top1']:+.1%} would be "
            f"{paper_benefit['top1'] / se:.1f} standard errors here.")
