r"""How each claim of :data:`alexnet.paper.CLAIMS` is measured from the result that tests it: one function per
kind of claim, returning ours, the verdict and the statistic behind it (:class:`Measured`). The scorecard
(:mod:`alexnet.experiments.scorecard`) maps claims to these measures (:data:`MEASURES`).

- **Benefits** (a component lowers the error): the two arms are compared image by image where the result stores
  which validation images each arm got right (:func:`~alexnet.experiments.ablation.compare_arms`: McNemar's
  paired test, seeds combined); an older result without per-image data falls back to the unpaired standard error
  of two rates, and the row says so. Ours is in the paper's sign: the change in top-1 error when the component is
  *added* (negative = it helps).
- **Overfitting**: the val − train gap with and without the component, the training error measured as
  validation is (centre crops, eval mode); a result with only the running training error on augmented crops is
  "inconclusive at this scale".
- **Ratios** (Figure 1, dropout's iterations): the ratio at every error threshold both runs reach, for every
  seed, summarised by :func:`alexnet.stats.ratio_interval`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from .. import paper
from ..model import ONE_GPU, upgrade_switches
from ..stats import (INCONCLUSIVE, NOT_TESTABLE, Paired, binomial_se, describe, ratio_interval,
                     ratio_verdict, seed_spread, unpaired_difference_se, verdict)
from ..text import plural
from .ablation import compare_arms

NOT_MEASURED = "not measured yet"


@dataclass
class Measured:
    ours: str
    verdict: str
    statistic: str = ""


def _model(arm: dict) -> dict:
    """An arm's model switches, in today's names (results stored before ``groups`` say ``towers``)."""
    return upgrade_switches((arm.get("overrides") or {}).get("model", {}) or {})


def _over(arm: dict) -> dict:
    return arm.get("overrides") or {}


def find_arms(data: dict, removed: Callable[[dict], bool]) -> tuple[str | None, str | None]:
    """(the paper's arm, the arm without the component): the latter is the first arm whose overrides satisfy
    ``removed``; the former is the baseline (whatever switches it sets, e.g. the faithful LRN arm's α), or else the
    first arm with no overrides."""
    arms = data.get("arms", {})
    without = next((a for a, r in arms.items() if removed(r)), None)
    if without is None:
        return None, None
    base = data.get("baseline")
    if base in arms and base != without and not removed(arms[base]):
        return base, without
    plain = [a for a, r in arms.items() if a != without and not removed(r) and not _model(r)
             and _over(r).get("augment", "paper") == "paper" and not _over(r).get("remove")]
    return (plain[0] if plain else None), without


def arm_pair(data: dict, removed: Callable[[dict], bool]) -> tuple[dict, dict] | None:
    """The arms themselves (with the component, without it) of :func:`find_arms`, or None if either is missing."""
    with_, without = find_arms(data, removed)
    return None if with_ is None or without is None else (data["arms"][with_], data["arms"][without])


def pct(x: float) -> str:
    """Signed points with a true minus sign, as the paper prints them (and no "−0.0")."""
    text = f"{100 * x:+.1f}"
    return "0.0" if float(text) == 0 else text.replace("-", "−")


def _test(effect: float, se: float, pair: Paired | None, n: int | None) -> str:
    """The statistic behind a benefit's verdict. ``effect`` is the benefit (error without − error with; positive:
    the component helps), the sign :func:`alexnet.stats.verdict` takes; it is printed as the error change
    (−``effect``), the sign of the "ours" column and of the paper (negative: the component helps)."""
    if pair is not None:
        return (f"paired on {n} images: {pair.b} right only with it, {pair.c} only without; Δ error "
                + describe(-effect, se, pair.p_value))
    return (f"unpaired s.e. of two rates on {n} images (this result has no per-image data): Δ error "
            + describe(-effect, se))


# ------------------------------------------------------------------------------------------- measures
def benefit_measure(removed: Callable[[dict], bool]):
    """A measure for "component X reduces the error": ours = Δ error from adding it, top-1 (tested) / top-5."""

    def measure(record: dict) -> Measured:
        pair = arm_pair(record["data"], removed)
        if pair is None:
            return Measured(NOT_MEASURED, NOT_MEASURED)
        a, b = pair
        n = record.get("scale", {}).get("val_images")
        effect, se, paired_ = compare_arms(a, b, n)
        ours = f"{pct(-effect)} ± {100 * se:.1f} / {pct(a['val_top5_error'] - b['val_top5_error'])}"
        return Measured(ours, verdict(effect, se), _test(effect, se, paired_, n))

    return measure


def lrn_measure(record: dict) -> Measured:
    """§3.3's LRN benefit, testable only where LRN normalises: in the default scaled net (inputs ÷64, α = 1e-4) its
    data-dependent factor is ≈ 1 and the layer is a constant ×k^−β, so an ablation of it tests a rescaling (chapter
    3.3). Arms with α rescaled with the inputs (``lrn_alpha``, :mod:`alexnet.experiments.lrn_scale`) test it."""
    m = benefit_measure(_lrn_off)(record)
    pair = arm_pair(record["data"], _lrn_off)
    if pair is not None and "lrn_alpha" not in _model(pair[0]):
        return Measured(m.ours, NOT_TESTABLE, "the arms test a rescaling, not a normalisation (LRN's factor ≈ 1 in "
                                              "this net); would test it: the faithful arms of lrn_scale "
                                              f"(α rescaled with the inputs). Measured: {m.statistic}")
    return m


def overfitting_measure(removed: Callable[[dict], bool]):
    """A measure for "without X the net overfits substantially": how much wider the val − train gap is without it,
    both errors on centre crops in eval mode."""

    def measure(record: dict) -> Measured:
        pair = arm_pair(record["data"], removed)
        if pair is None:
            return Measured(NOT_MEASURED, NOT_MEASURED)
        a, b = pair
        if "train_eval_top1_error" not in a or "train_eval_top1_error" not in b:
            gap_a, gap_b = (r["val_top1_error"] - r["train_top1_error"] for r in (a, b))
            return Measured(f"val−train gap {100 * gap_b:.1f} without vs {100 * gap_a:.1f} with", INCONCLUSIVE,
                            "none: training error measured on augmented crops (dropout on), validation on centre "
                            "crops, so the gap is not overfitting alone")
        n = record.get("scale", {}).get("val_images")
        effect_val, se_val, _ = compare_arms(a, b, n)  # val error(without) − val error(with)
        m = [r.get("runs", [{}])[0].get("train_eval_images") or n for r in (a, b)]
        grows = effect_val - (b["train_eval_top1_error"] - a["train_eval_top1_error"])
        se = math.sqrt(se_val ** 2 + binomial_se(a["train_eval_top1_error"], m[0]) ** 2
                       + binomial_se(b["train_eval_top1_error"], m[1]) ** 2)
        gap_a, gap_b = (r["val_top1_error"] - r["train_eval_top1_error"] for r in (a, b))
        return Measured(f"val−train gap {100 * gap_b:.1f} without vs {100 * gap_a:.1f} with",
                        verdict(grows, se), f"gap widens by {describe(grows, se)} (centre crops, eval mode)")

    return measure


def ten_crop_measure(record: dict) -> Measured:
    data = record["data"]
    c, t = data.get("centre"), data.get("ten_crop")
    if not (isinstance(c, dict) and isinstance(t, dict) and "top1" in c and "top1" in t):
        return Measured(NOT_MEASURED, NOT_MEASURED)
    n = record.get("scale", {}).get("val_images") or data.get("n")
    if "fixed_by_ten_crop" in data:
        p = Paired(n, data["fixed_by_ten_crop"], data["broken_by_ten_crop"])
        effect, se = p.effect, p.se
    else:
        p, (effect, se) = None, (c["top1"] - t["top1"], unpaired_difference_se(c["top1"], t["top1"], n))
    ours = f"{pct(t['top1'] - c['top1'])} ± {100 * se:.1f} / {pct(t['top5'] - c['top5'])}"
    return Measured(ours, verdict(effect, se), _test(effect, se, p, n))


def headline_measure(record: dict) -> Measured:
    c, t = record["data"].get("centre"), record["data"].get("ten_crop")
    if not (isinstance(c, dict) and isinstance(t, dict)):
        return Measured(NOT_MEASURED, NOT_MEASURED)
    ours = (f"{100 * t['top1']:.1f} / {100 * t['top5']:.1f} (10 crops), "
            f"{100 * c['top1']:.1f} / {100 * c['top5']:.1f} (1 crop)")
    return Measured(ours, NOT_TESTABLE, paper.CLAIMS["headline"].reproduce)


def _ratio_row(ratios: list[float], head: str) -> Measured:
    if not ratios:
        return Measured(head + "; no threshold reached by both runs", INCONCLUSIVE)
    ratio, low, high = ratio_interval(ratios, [1.0] * len(ratios))
    noise = "no spread to judge by" if low == high else f"{low:.2f}–{high:.2f}× (± 2 s.e.)"
    return Measured(head, ratio_verdict(low, high, ratio),
                    f"mean of {len(ratios)} ratio(s) across thresholds and seeds: {ratio:.2f}×, {noise}")


def fig1_measure(record: dict) -> Measured:
    """Figure 1 from :func:`alexnet.experiments.relu.figure1`'s result: the ratio at 25% with its interval over
    seeds and its verdict, the ratios at the other thresholds, and whether a best rate sat on its grid's edge."""
    data, thr = record["data"], paper.FIG1_THRESHOLD
    conv = data.get("main_convention", "raw")
    rows = data.get("conventions", {}).get(conv, {}).get("ratios")
    if not rows:
        return Measured(NOT_MEASURED, NOT_MEASURED)
    at = rows.get(f"{thr:.3f}", {})
    edge = [a for a, e in (data.get("lr_at_edge") or {}).items() if e]
    others = [f"{float(t):.1%}: {r['ratio']:.2f}×" for t, r in rows.items() if r["ratio"] is not None]
    stat = (f"{data['setup']['seeds']} seed(s), {conv} inputs; across thresholds "
            + ("; ".join(others) if others else "none reached by both nets")
            + (f"; best rate on the grid's edge for {', '.join(edge)}" if edge else ""))
    if at.get("ratio") is not None:
        band = "" if at["low"] == at["high"] else f" ({at['low']:.2f}–{at['high']:.2f})"
        return Measured(f"{at['ratio']:.2f}×{band} at {thr:.0%}", at["verdict"], stat)
    if data.get("ratio_is_lower_bound"):
        ours = f"≥ {data['ratio']:.1f}×: tanh never reached {thr:.0%}"
    else:
        ours = f"ReLU never reached {thr:.0%} in {plural(data['setup']['epochs'], 'epoch')}"
    return Measured(ours, INCONCLUSIVE, stat)


def dropout_convergence_measure(record: dict) -> Measured:
    from .dropout import convergence

    pair = arm_pair(record["data"], _no_dropout)
    if pair is None:
        return Measured(NOT_MEASURED, NOT_MEASURED)
    conv = convergence(pair[0]["histories"], pair[1]["histories"])
    head = "—" if conv["ratio"] is None else f"{conv['ratio']:.2f}× (at the initial learning rate)"
    return _ratio_row([r["ratio"] for r in conv["ratios"]], head)


def bias_measure(record: dict) -> Measured:
    """§5's bias 1 "accelerates the early stages of learning": paper-init arms, bias 1 against bias 0."""
    data, claim = record["data"], paper.CLAIMS["bias_one"]
    arms = data.get("arms", {})
    one = [r for r in arms.values() if r.get("init") == "paper" and r.get("bias_init") == 1.0]
    zero = [r for r in arms.values() if r.get("init") == "paper" and r.get("bias_init") == 0.0]
    if not one or not zero or not all(r.get("epoch_losses") for r in one + zero):
        return Measured(NOT_MEASURED, NOT_MEASURED)
    chance = data.get("chance_loss", math.inf)
    last = [min(r["epoch_losses"][-1], r["epoch_losses"][0]) for r in one + zero]
    l1, l0 = (seed_spread([r["epoch_losses"][0] for r in rs]).mean for rs in (one, zero))
    ours = f"epoch-1 train loss {l1:.2f} (bias 1) vs {l0:.2f} (bias 0)"
    if any(r.get("diverged_at_step") for r in one):
        return Measured(ours + ", bias 1 diverged", verdict(-math.inf, 0.0), "divergence")
    if all(x > chance - 0.02 for x in last):
        return Measured(ours + f"; both still at chance (ln {round(math.exp(chance))}) after "
                        f"{len(one[0]['epoch_losses'])} ep: nothing trained", NOT_TESTABLE,
                        "would test it: " + claim.reproduce)
    diffs = [z["epoch_losses"][0] - o["epoch_losses"][0] for o, z in zip(one, zero)]
    spread = seed_spread(diffs)
    return Measured(ours, verdict(spread.mean, spread.se if spread.n > 1 else None),
                    f"{spread.n} seed(s); loss difference {spread.mean:+.3f}")


def schedule_measure(record: dict) -> Measured:
    data = record["data"]
    n = data.get("lr_drops", 0)
    return Measured(f"{n} drop{'' if n == 1 else 's'} in {data.get('epochs', '?')} ep; "
                    f"val top-1 {100 * data.get('val_top1_error', float('nan')):.1f}", NOT_TESTABLE,
                    paper.CLAIMS["schedule"].reproduce)


def _lrn_off(r):
    return _model(r).get("lrn") is False


def _plain_pool(r):
    return _model(r).get("pooling") == "plain"


def _one_tower(r):
    return _model(r).get("conv_widths") == ONE_GPU["conv_widths"]


def _no_pca(r):
    return _over(r).get("augment") == "crop_flip"


def _no_aug(r):
    return _over(r).get("augment") == "none"


def _no_dropout(r):
    return _model(r).get("dropout") == 0.0


def _shallower(r):
    return bool(_over(r).get("remove"))


# the arm that removes each ablated component, by claim id
REMOVED = {"towers": _one_tower, "lrn": _lrn_off, "pooling": _plain_pool, "pca": _no_pca, "depth": _shallower}

# claim id (alexnet.paper.CLAIMS) → (result file, fallback result file, measure)
MEASURES: dict[str, tuple[str, str | None, Callable[[dict], Measured]]] = {
    "fig1": ("fig1_relu_tanh", None, fig1_measure),
    "towers": ("towers_ablation", None, benefit_measure(REMOVED["towers"])),
    "lrn": ("lrn_ablation", None, lrn_measure),
    "pooling": ("pooling_ablation", None, benefit_measure(REMOVED["pooling"])),
    "no_augmentation": ("augmentation_ablation", None, overfitting_measure(_no_aug)),
    "pca": ("augmentation_ablation", None, benefit_measure(REMOVED["pca"])),
    "ten_crop": ("ten_crop", "results_table", ten_crop_measure),
    "no_dropout": ("dropout_ablation", None, overfitting_measure(_no_dropout)),
    "dropout_iterations": ("dropout_ablation", None, dropout_convergence_measure),
    "bias_one": ("bias_init", None, bias_measure),
    "schedule": ("learning_schedule", None, schedule_measure),
    "depth": ("depth_ablation", None, benefit_measure(REMOVED["depth"])),
    "headline": ("results_table", None, headline_measure),
}
