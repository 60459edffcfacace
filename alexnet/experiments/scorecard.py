"""The reproduction scorecard: every quantitative claim of the paper, its number, ours, the scale, and a verdict.

Nothing here is typed in from a run: :func:`build_scorecard` reads the results the chapters saved
(:func:`alexnet.results.load_results`) and returns one :class:`ScoreRow` per claim. A claim whose result file is
absent reads "not run"; a result without the arm a claim needs reads "not measured yet".

Ablations are read from their arms, not from their ``deltas``: the arm that removes the component is found by
its overrides (``{"model": {"lrn": False}}``, ``{"augment": "crop_flip"}``, ...), so the comparison does not
depend on which arm a chapter chose as its baseline. Ours is shown in the paper's sign: the change in error when
the component is *added* (negative = it helps), with ± a rough standard error of the difference of two error
rates on the test set's ``n`` images, :math:`\\sqrt{e_1(1-e_1)/n + e_2(1-e_2)/n}` (larger of that and the
spread over seeds).

Each row names the code that made its result (:func:`alexnet.provenance.code_label`) and is flagged when that
differs from the code of the other rows; results saved before provenance read "code unknown (before
provenance)". A reader's own run of a claim (``yours/<name>`` in :func:`alexnet.results.load_results`) gets
its own row beside the book's, labelled "your run" and with its scale.

Verdicts (for a benefit ``b`` the paper reports as ``p`` > 0):

- |b| within one standard error: "same direction, within noise" or "not reproduced at this scale (within noise)";
- otherwise "reproduced" for ``p/2 ≤ b ≤ 3p``, "same direction, smaller" / "same direction, larger" outside that,
  and "opposite direction at this scale" for ``b < 0``.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from ..provenance import code_label, code_of
from ..results import YOURS

NOT_RUN = "not run"
NOT_MEASURED = "not measured yet"


@dataclass
class ScoreRow:
    claim: str
    section: str
    paper: str
    ours: str
    scale: str
    verdict: str
    result: str  # the results file it came from
    code: str = "—"  # which code made it (code_label), flagged if it differs from the other rows'
    source: str = "book"  # "book" (shipped with the package) or "yours" (a reader's own run)
    code_hash: str | None = None  # the source hash behind ``code``; None without provenance


@dataclass
class Claim:
    claim: str
    section: str
    paper: str
    result: str  # name of the results file
    measure: Callable[[dict], tuple[str, str]]  # record → (ours, verdict)
    fallback: str | None = None  # another result that measures the same thing


# ------------------------------------------------------------------------------------------- helpers


def verdict_for_benefit(benefit: float, paper: float, se: float = 0.0) -> str:
    """Compare a measured benefit (error without − error with, > 0 = the component helps) with the paper's."""
    if abs(benefit) <= se:
        return "same direction, within noise" if benefit > 0 else "not reproduced at this scale (within noise)"
    if benefit < 0:
        return "opposite direction at this scale"
    if benefit < paper / 2:
        return "same direction, smaller"
    if benefit > 3 * paper:
        return "same direction, larger"
    return "reproduced"


def verdict_for_ratio(ratio: float, paper: float) -> str:
    """For "×" claims (ReLU 6× faster, dropout 2× the iterations): > 1 is the paper's direction."""
    if ratio <= 1:
        return "not reproduced at this scale"
    if ratio < 1 + (paper - 1) / 2:
        return "same direction, smaller"
    if ratio > 2 * paper:
        return "same direction, larger"
    return "reproduced"


def difference_se(e1: float, e2: float, n: int | None) -> float:
    """Rough standard error of the difference of two error rates measured on ``n`` test images each."""
    if not n:
        return 0.0
    return math.sqrt(max(e1 * (1 - e1), 0) / n + max(e2 * (1 - e2), 0) / n)


def describe_scale(record: dict) -> str:
    """``dataset (N train images), profile, device, E epochs[, S seeds]`` from a result's scale."""
    s = record.get("scale", {})
    parts = [f"{s.get('dataset', '?')}" + (f" ({s['train_images']:,} train)" if s.get("train_images") else ""),
             s.get("profile", record.get("profile", "?")), s.get("device", "?")]
    if s.get("epochs"):
        parts.append(f"{s['epochs']} ep")
    if s.get("seeds", 1) and s.get("seeds", 1) > 1:
        parts.append(f"{s['seeds']} seeds")
    return ", ".join(parts)


def _model(arm: dict) -> dict:
    return (arm.get("overrides") or {}).get("model", {}) or {}


def _over(arm: dict) -> dict:
    return arm.get("overrides") or {}


def find_arms(data: dict, removed: Callable[[dict], bool]) -> tuple[str | None, str | None]:
    """(the paper's arm, the arm without the component): the latter is the first arm whose overrides satisfy
    ``removed``; the former is the baseline, or else the first arm with no overrides."""
    arms = data.get("arms", {})
    without = next((a for a, r in arms.items() if removed(r)), None)
    if without is None:
        return None, None
    base = data.get("baseline")
    if base in arms and base != without and not _model(arms[base]) and not removed(arms[base]):
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


def ablation_measure(removed: Callable[[dict], bool], paper_top1: float, paper_top5: float | None = None):
    """A measure for "component X reduces the error by p": ours = error(with) − error(without), in points."""

    def measure(record: dict) -> tuple[str, str]:
        pair = arm_pair(record["data"], removed)
        if pair is None:
            return NOT_MEASURED, NOT_MEASURED
        a, b = pair
        n = record.get("scale", {}).get("val_images")
        out = []
        for key in ("val_top1_error", "val_top5_error"):
            se = max(difference_se(a[key], b[key], n),
                     math.hypot(a.get("val_top1_std", 0.0), b.get("val_top1_std", 0.0)) if key == "val_top1_error" else 0)
            out.append((b[key] - a[key], se))
        (b1, se1), (b5, se5) = out
        ours = f"{pct(-b1)} ± {100 * se1:.1f} / {pct(-b5)} ± {100 * se5:.1f}"
        return ours, verdict_for_benefit(b1, paper_top1, se1)

    return measure


def overfitting_measure(removed: Callable[[dict], bool]):
    """A measure for "without X the net overfits substantially": the val − train error gap, without and with."""

    def measure(record: dict) -> tuple[str, str]:
        pair = arm_pair(record["data"], removed)
        if pair is None:
            return NOT_MEASURED, NOT_MEASURED
        a, b = pair
        gap_with = a["val_top1_error"] - a["train_top1_error"]
        gap_without = b["val_top1_error"] - b["train_top1_error"]
        n = record.get("scale", {}).get("val_images")
        se = difference_se(a["val_top1_error"], b["val_top1_error"], n)
        ours = f"val−train gap {100 * gap_without:.1f} without vs {100 * gap_with:.1f} with"
        grows = gap_without - gap_with
        if grows > se:
            verdict = "reproduced"
        elif grows > 0:
            verdict = "same direction, within noise"
        else:
            verdict = "not reproduced at this scale"
        return ours, verdict

    return measure


def crop_pair(data: dict) -> tuple[dict, dict] | None:
    """(centre, ten-crop) errors from a ``ten_crop`` or ``results_table`` result."""
    c, t = data.get("centre"), data.get("ten_crop")
    if isinstance(c, dict) and isinstance(t, dict) and "top1" in c and "top1" in t:
        return c, t
    return None


def ten_crop_measure(record: dict) -> tuple[str, str]:
    pair = crop_pair(record["data"])
    if pair is None:
        return NOT_MEASURED, NOT_MEASURED
    c, t = pair
    n = record.get("scale", {}).get("val_images") or record["data"].get("n")
    se = difference_se(c["top1"], t["top1"], n)
    ours = f"{pct(t['top1'] - c['top1'])} / {pct(t['top5'] - c['top5'])}"
    return ours, verdict_for_benefit(c["top1"] - t["top1"], 0.015, se)


def headline_measure(record: dict) -> tuple[str, str]:
    pair = crop_pair(record["data"])
    if pair is None:
        return NOT_MEASURED, NOT_MEASURED
    c, t = pair
    ours = f"{100 * t['top1']:.1f} / {100 * t['top5']:.1f} (10 crops), {100 * c['top1']:.1f} / {100 * c['top5']:.1f} (1 crop)"
    return ours, "not comparable (different data: 10 classes)"


def fig1_measure(record: dict) -> tuple[str, str]:
    data = record["data"]
    ratio = data.get("ratio")
    if ratio is None or (isinstance(ratio, float) and not math.isfinite(ratio)):
        relu = data.get("relu_epochs") or data.get("epochs_relu")
        if relu is not None:
            return f"tanh never reached 25% (ReLU: {relu:.1f} epochs)", "same direction (tanh did not get there)"
        return "no ratio (a run did not reach 25%)", NOT_MEASURED
    if data.get("ratio_is_lower_bound"):  # tanh never got there: the run only bounds the ratio from below
        epochs = record.get("scale", {}).get("epochs")
        ours = f"≥ {ratio:.1f}× (tanh did not reach 25% in {epochs} ep)"
        if ratio >= 1 + (6.0 - 1) / 2:
            return ours, "reproduced"
        return ours, "same direction (lower bound only)" if ratio > 1 else NOT_MEASURED
    return f"{ratio:.1f}×", verdict_for_ratio(ratio, 6.0)


def dropout_convergence_measure(record: dict) -> tuple[str, str]:
    ratio = record["data"].get("convergence_ratio")
    if ratio is None:
        return "a run did not converge to the threshold", NOT_MEASURED
    return f"{ratio:.2f}×", verdict_for_ratio(ratio, 2.0)


def bias_measure(record: dict) -> tuple[str, str]:
    """§5's bias 1 "accelerates the early stages of learning": paper-init arms, bias 1 against bias 0."""
    arms = record["data"].get("arms", {})
    one = next((r for r in arms.values() if r.get("init") == "paper" and r.get("bias_init") == 1.0), None)
    zero = next((r for r in arms.values() if r.get("init") == "paper" and r.get("bias_init") == 0.0), None)
    if one is None or zero is None or not one.get("epoch_losses") or not zero.get("epoch_losses"):
        return NOT_MEASURED, NOT_MEASURED
    n = min(len(one["epoch_losses"]), len(zero["epoch_losses"]))
    l1, l0 = one["epoch_losses"][n - 1], zero["epoch_losses"][n - 1]
    ours = f"train loss after {n} ep: {l1:.2f} (bias 1) vs {l0:.2f} (bias 0)"
    if one.get("diverged_at_step"):
        return ours + ", bias 1 diverged", "not reproduced at this scale"
    chance = record["data"].get("chance_loss")
    if chance is not None and min(l1, l0) > chance - 0.02:
        ours += ", both still at chance"
    if l1 < l0 - 0.02:
        return ours, "reproduced"
    return ours, "not reproduced at this scale"


def schedule_measure(record: dict) -> tuple[str, str]:
    data = record["data"]
    n = data.get("lr_drops", 0)
    return (f"{n} drop{'' if n == 1 else 's'} in {data.get('epochs', '?')} ep; "
            f"val top-1 {100 * data.get('val_top1_error', float('nan')):.1f}"), "recipe followed (no claim to test)"


def _lrn_off(r):
    return _model(r).get("lrn") is False


def _plain_pool(r):
    return _model(r).get("pooling") == "plain"


def _one_tower(r):
    return _model(r).get("towers") == 1


def _no_pca(r):
    return _over(r).get("augment") == "crop_flip"


def _no_aug(r):
    return _over(r).get("augment") == "none"


def _no_dropout(r):
    return _model(r).get("dropout") == 0.0


def _shallower(r):
    return bool(_over(r).get("remove"))


CLAIMS: list[Claim] = [
    Claim("ReLU reaches 25% training error faster than tanh (Fig. 1)", "§3.1", "6×", "fig1_relu_tanh",
          fig1_measure),
    Claim("Two towers vs one GPU with half the kernels (Δ top-1 / top-5)", "§3.2", "−1.7 / −1.2",
          "towers_ablation", ablation_measure(_one_tower, 0.017, 0.012)),
    Claim("Local response normalisation (Δ top-1 / top-5)", "§3.3", "−1.4 / −1.2", "lrn_ablation",
          ablation_measure(_lrn_off, 0.014, 0.012)),
    Claim("Overlapping pooling z=3, s=2 vs z=2, s=2 (Δ top-1 / top-5)", "§3.4", "−0.4 / −0.3",
          "pooling_ablation", ablation_measure(_plain_pool, 0.004, 0.003)),
    Claim("Without crops and flips: substantial overfitting", "§4.1", "substantial overfitting",
          "augmentation_ablation", overfitting_measure(_no_aug)),
    Claim("PCA colour augmentation vs crops + flips (Δ top-1 / top-5)", "§4.1", "< −1 top-1",
          "augmentation_ablation", ablation_measure(_no_pca, 0.010)),
    Claim("Ten-crop test averaging vs centre crop (Δ top-1 / top-5)", "§4.1, §6", "−1.5 / −1.3", "ten_crop",
          ten_crop_measure, fallback="results_table"),
    Claim("Without dropout: substantial overfitting", "§4.2", "substantial overfitting", "dropout_ablation",
          overfitting_measure(_no_dropout)),
    Claim("Dropout roughly doubles the iterations to converge", "§4.2", "≈2×", "dropout_ablation",
          dropout_convergence_measure),
    Claim("Bias 1 in conv2/4/5, fc6/7 accelerates early learning (vs 0)", "§5", "faster early loss",
          "bias_init", bias_measure),
    Claim("lr ÷10 when the validation error plateaus", "§5", "3 drops in ~90 ep", "learning_schedule",
          schedule_measure),
    Claim("Removing a middle conv layer costs top-1 (Δ top-1 / top-5 of keeping it)", "§7", "≈ −2 top-1",
          "depth_ablation", ablation_measure(_shallower, 0.02)),
    Claim("Headline error, top-1 / top-5 (ILSVRC-2010 test, 10 crops)", "§6", "37.5 / 17.0 (39.0 / 18.3 with 1)",
          "results_table", headline_measure),
]


def _claim_row(c: Claim, results: dict[str, dict], prefix: str = "") -> ScoreRow | None:
    name = next((n for n in (c.result, c.fallback) if n and prefix + n in results), None)
    if name is None:
        return None
    record = results[prefix + name]
    try:
        ours, verdict = c.measure(record)
    except (KeyError, TypeError, ValueError) as e:  # a result saved in another shape: say so, don't guess
        ours, verdict = f"unreadable result ({type(e).__name__}: {e})", NOT_MEASURED
    where = describe_scale(record) + ("" if name == c.result else f" (from `{name}`)")
    source = record.get("source", "yours" if prefix else "book")
    if source == "yours":
        where = "your run: " + where
    return ScoreRow(c.claim, c.section, c.paper, ours, where, verdict, name, code_label(record), source,
                    code_of(record))


def flag_different_code(rows: list[ScoreRow]) -> list[ScoreRow]:
    """Mark the rows whose code differs from the code most rows with provenance were made by."""
    counts = Counter(r.code_hash for r in rows if r.code_hash)
    if len(counts) > 1:
        common = counts.most_common(1)[0][0]
        for r in rows:
            if r.code_hash and r.code_hash != common:
                r.code += f" ⚠ not the code of the other rows ({common})"
    return rows


def build_scorecard(results: dict[str, dict], claims: list[Claim] | None = None) -> list[ScoreRow]:
    """One row per claim from the saved results (``{name: record}`` as :func:`alexnet.results.load_results`
    returns them; missing results read "not run"), and beside it a row for a reader's own run of it
    (``yours/<name>``); rows made by other code than the rest are flagged (:func:`flag_different_code`)."""
    rows = []
    for c in claims or CLAIMS:
        book = _claim_row(c, results)
        rows.append(book or ScoreRow(c.claim, c.section, c.paper, "—", "—", NOT_RUN, c.result))
        yours = _claim_row(c, results, YOURS)
        if yours is not None:
            rows.append(yours)
    return flag_different_code(rows)


def scorecard_markdown(rows: list[ScoreRow]) -> str:
    """The scorecard as a Markdown table."""
    head = "| claim | § | paper | ours | scale | code | verdict |\n|---|---|---|---|---|---|---|\n"
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    return head + "\n".join(f"| {esc(r.claim)} | {r.section} | {esc(r.paper)} | {esc(r.ours)} | {esc(r.scale)} | "
                            f"{esc(r.code)} | **{esc(r.verdict)}** |" for r in rows)


def verdict_counts(rows: list[ScoreRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return counts


# the rows the bar chart compares: (label, result, component-removed predicate or None for ten crops, paper Δ top-1)
DELTA_ROWS = [("two towers", "towers_ablation", _one_tower, -1.7), ("LRN", "lrn_ablation", _lrn_off, -1.4),
              ("overlapping pools", "pooling_ablation", _plain_pool, -0.4),
              ("PCA colour", "augmentation_ablation", _no_pca, -1.0), ("ten crops", "ten_crop", None, -1.5),
              ("a middle conv layer (conv4)", "depth_ablation", _shallower, -2.0)]


def delta_comparison(results: dict[str, dict]) -> list[dict]:
    """Paper's and our Δ top-1 (points; negative = the component helps) with our ± standard error, for the
    ablations that report one number; rows without a result are left out."""
    out = []
    for label, name, removed, paper in DELTA_ROWS:
        record = results.get(name) or (results.get("results_table") if name == "ten_crop" else None)
        if record is None:
            continue
        data = record["data"]
        n = record.get("scale", {}).get("val_images") or data.get("n")
        if removed is None:
            pair = crop_pair(data)
            if pair is None:
                continue
            c, t = pair
            ours, se = t["top1"] - c["top1"], difference_se(c["top1"], t["top1"], n)
        else:
            pair = arm_pair(data, removed)
            if pair is None:
                continue
            a, b = (arm["val_top1_error"] for arm in pair)
            ours, se = a - b, difference_se(a, b, n)
        out.append({"label": label, "paper": paper, "ours": 100 * ours, "se": 100 * se})
    return out


def plot_deltas(rows: list[dict], ax=None):
    """Paper vs ours, Δ top-1 error in points for adding each component (left of 0 = it helps)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6.5, 0.45 * max(2, len(rows)) + 1))[1]
    ys = range(len(rows))
    ax.barh([y + 0.2 for y in ys], [r["paper"] for r in rows], height=0.4, color="grey", label="paper (ImageNet)")
    ax.barh([y - 0.2 for y in ys], [r["ours"] for r in rows], height=0.4, xerr=[r["se"] for r in rows],
            color="tab:blue", label="ours (± 1 s.e.)", error_kw={"lw": 1})
    ax.set_yticks(list(ys))
    ax.set_yticklabels([r["label"] for r in rows], fontsize=8)
    ax.axvline(0, color="k", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("Δ top-1 error from adding the component (points; < 0 helps)")
    ax.legend(fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    return ax
