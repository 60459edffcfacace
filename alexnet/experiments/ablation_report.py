"""An ablation against the paper: reuse a stored run, set our Δ next to the paper's, and give the verdict.

The chapters on LRN (§3.3) and overlapping pooling (§3.4) train two arms with :func:`run_ablation`. Their
paper-vs-ours text is built here; the verdict comes from :func:`alexnet.stats.verdict` (two standard errors) and
the paper's numbers from :mod:`alexnet.paper`, so the chapter and the scorecard say the same thing.
"""
from __future__ import annotations

from .. import stats
from ..profiles import Profile, get_profile
from ..results import reusable_result, reuse_note
from .ablation import AblationResult, run_ablation

def stored_ablation(name: str, profile: Profile | None = None) -> AblationResult | None:
    """The saved result of ablation ``name`` if the code running now made it at ``profile``'s scale (its
    epochs and seeds), else None (the one reuse rule, :func:`alexnet.results.reusable_result`: yours first,
    then the book's). Smoke always trains; ``ALEXNET_RERUN=1`` ignores stored results."""
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
