r"""The reproduction scorecard: every claim of :data:`alexnet.paper.CLAIMS`, the paper's value, ours, the scale, the
statistic behind the verdict, and the verdict.

Nothing here is typed in: the rows, their sections, claims and paper values come from the registry
(:attr:`alexnet.paper.Claim.paper_text`), our numbers from the results the chapters saved
(:func:`alexnet.results.load_results`) through the measures of :mod:`alexnet.experiments.claim_measures`, and
every verdict from :func:`alexnet.stats.verdict` or :func:`alexnet.stats.ratio_verdict` (one vocabulary, two
standard errors). A claim whose result file is absent reads "not run"; a result without the arm a claim needs
reads "not measured yet". The bar chart is :func:`alexnet.figures.scorecard.plot_deltas`.

Each row names the code that made its result (:func:`alexnet.provenance.code_label`) and is flagged when that
differs from the code of the other rows; results saved before provenance read "code unknown (before
provenance)". A reader's own run of a claim (``yours/<name>`` in :func:`alexnet.results.load_results`) gets
its own row beside the book's, labelled "your run" and with its scale.

The "full scale" column gives, for each claim, the verdict of the book's full-scale result
(:func:`alexnet.results.load_full_scale`: a GPU's ``reproduce --profile full`` or a CPU run at full CIFAR-10 scale)
with its scale and code, or "not run yet: needs a GPU".
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .. import paper
from ..results import NEEDS_GPU, ClaimsTable, claims_table, describe_record_scale, load_full_scale, load_results
from ..stats import Paired, unpaired_difference_se
from .ablation import compare_arms
from .claim_measures import MEASURES, NOT_MEASURED, REMOVED, Measured, arm_pair
from ..provenance import code_label, code_of
from ..results import YOURS

NOT_RUN = "not run"
__all__ = ["NOT_MEASURED", "NOT_RUN", "ScoreRow", "build_scorecard", "claims_rows", "delta_comparison",
           "describe_scale", "full_scale_cell", "full_scale_summary", "scorecard_markdown", "verdict_counts"]


@dataclass
class ScoreRow:
    claim: str
    section: str
    paper: str
    ours: str
    scale: str
    verdict: str
    result: str  # the results file it came from
    statistic: str = ""  # what the verdict rests on
    id: str = ""  # the claim's id in alexnet.paper.CLAIMS
    code: str = "—"  # which code made it (code_label), flagged if it differs from the other rows'
    source: str = "book"  # "book" (shipped with the package) or "yours" (a reader's own run)
    code_hash: str | None = None  # the source hash behind ``code``; None without provenance
    full_scale: str = ""  # the book's full-scale result of the claim (full_scale_cell); "" on a reader's row


# full-scale results that measure a claim better than its usual result, tried first (the faithful LRN arms, with
# α rescaled with the inputs, test the normalisation itself: chapter 3.3)
FULL_SCALE_RESULTS = {"lrn": ("lrn_faithful_ablation",)}


def full_scale_cell(cid: str, full: dict[str, dict]) -> str:
    """The verdict for claim ``cid`` from the full-scale results ``full`` (``{name: record}``), with what was
    measured, its scale and its code; :data:`alexnet.results.NEEDS_GPU` when none is stored."""
    result, fallback, measure = MEASURES[cid]
    name = next((n for n in (*FULL_SCALE_RESULTS.get(cid, ()), result, fallback) if n and n in full), None)
    if name is None:
        return NEEDS_GPU
    record = full[name]
    try:
        m = measure(record)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        return f"unreadable result `{name}` ({type(e).__name__})"
    return f"{m.verdict}: {m.ours} (`{name}`: {describe_record_scale(record)}; {code_label(record)})"


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


def full_scale_summary(name: str, *, show: bool = True) -> list[str]:
    """The book's full-scale result for the claims that result ``name`` measures, one line per claim
    (:func:`full_scale_cell`: verdict, scale, code; "not run yet: needs a GPU" when none is stored), for a chapter
    to print beside the reader's own run. ``show``: print the lines too."""
    full = load_full_scale()
    ids = [cid for cid, (result, fallback, _) in MEASURES.items() if name in (result, fallback)]
    if not ids:
        raise ValueError(f"no claim of the scorecard is measured by {name!r}")
    lines = [f"full scale, {paper.CLAIMS[cid].claim}: {full_scale_cell(cid, full)}" for cid in ids]
    if show:
        print("\n".join(lines))
    return lines


def _claim_row(cid: str, results: dict[str, dict], prefix: str = "") -> ScoreRow | None:
    """The row of claim ``cid`` from ``results[prefix + name]``, or None when there is no such result."""
    c = paper.CLAIMS[cid]
    result, fallback, measure = MEASURES[cid]
    name = next((n for n in (result, fallback) if n and prefix + n in results), None)
    if name is None:
        return None
    record = results[prefix + name]
    try:
        m = measure(record)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:  # a result saved in another shape
        m = Measured(f"unreadable result ({type(e).__name__}: {e})", NOT_MEASURED)
    where = describe_scale(record) + ("" if name == result else f" (from `{name}`)")
    source = record.get("source", "yours" if prefix else "book")
    if source == "yours":
        where = "your run: " + where
    return ScoreRow(c.claim, c.section, c.paper_text, m.ours, where, m.verdict, name, m.statistic, cid,
                    code_label(record), source, code_of(record))


def flag_different_code(rows: list[ScoreRow]) -> list[ScoreRow]:
    """Mark the rows whose code differs from the code most rows with provenance were made by."""
    counts = Counter(r.code_hash for r in rows if r.code_hash)
    if len(counts) > 1:
        common = counts.most_common(1)[0][0]
        for r in rows:
            if r.code_hash and r.code_hash != common:
                r.code += f" ⚠ not the code of the other rows ({common})"
    return rows


def build_scorecard(results: dict[str, dict], claims: list[str] | None = None,
                    full: dict[str, dict] | None = None) -> list[ScoreRow]:
    """One row per claim of :data:`alexnet.paper.CLAIMS` (or of the ids in ``claims``) from the saved results
    (``{name: record}`` as :func:`alexnet.results.load_results` returns them; missing results read "not run"),
    and beside it a row for a reader's own run of it (``yours/<name>``); rows made by other code than the rest
    are flagged (:func:`flag_different_code`). Each book row's ``full_scale`` is :func:`full_scale_cell` of
    ``full`` (default: the book's full-scale results, :func:`alexnet.results.load_full_scale`)."""
    full = load_full_scale() if full is None else full
    rows = []
    for cid in claims or list(paper.CLAIMS):
        c = paper.CLAIMS[cid]
        rows.append(_claim_row(cid, results) or ScoreRow(c.claim, c.section, c.paper_text, "—", "—", NOT_RUN,
                                                        MEASURES[cid][0], "", cid))
        rows[-1].full_scale = full_scale_cell(cid, full)
        yours = _claim_row(cid, results, YOURS)
        if yours is not None:
            rows.append(yours)
    return flag_different_code(rows)


def claims_rows(ids: list[str], results: dict[str, dict] | None = None, profile=None) -> ClaimsTable:
    """A chapter's paper-against-ours table: the scorecard's rows for the claims ``ids`` (claim, paper, ours,
    verdict), from ``results`` or the results store, so that a chapter and the scorecard cannot disagree."""
    rows = build_scorecard(load_results(profile) if results is None else results, ids)
    return claims_table([(r.claim, r.paper, r.ours, r.verdict) for r in rows], rows[0].scale if rows else None,
                        headers=("claim", "paper", "ours", "verdict"))


def scorecard_markdown(rows: list[ScoreRow]) -> str:
    """The scorecard as a Markdown table."""
    head = ("| claim | § | paper | ours | scale | code | verdict | statistic | full scale |\n"
            "|---|---|---|---|---|---|---|---|---|\n")
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    return head + "\n".join(f"| {esc(r.claim)} | {r.section} | {esc(r.paper)} | {esc(r.ours)} | {esc(r.scale)} | "
                            f"{esc(r.code)} | **{esc(r.verdict)}** | {esc(r.statistic)} | {esc(r.full_scale)} |"
                            for r in rows)


def verdict_counts(rows: list[ScoreRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return counts


# the rows the bar chart compares: (label, claim id)
DELTA_ROWS = [("two towers", "towers"), ("LRN", "lrn"), ("overlapping pools", "pooling"), ("PCA colour", "pca"),
              ("ten crops", "ten_crop"), ("a middle conv layer (conv4)", "depth")]


def delta_comparison(results: dict[str, dict]) -> list[dict]:
    """Paper's and our Δ top-1 (points; negative = the component helps) with our ± standard error, for the
    claims that report one number; rows without a result are left out. Drawn by
    :func:`alexnet.figures.scorecard.plot_deltas`."""
    out = []
    for label, cid in DELTA_ROWS:
        result, fallback, _ = MEASURES[cid]
        record = results.get(result) or (results.get(fallback) if fallback else None)
        if record is None:
            continue
        data, n = record["data"], record.get("scale", {}).get("val_images") or record["data"].get("n")
        if cid == "ten_crop":
            c, t = data.get("centre"), data.get("ten_crop")
            if not (isinstance(c, dict) and isinstance(t, dict)):
                continue
            if "fixed_by_ten_crop" in data:
                p = Paired(n, data["fixed_by_ten_crop"], data["broken_by_ten_crop"])
                effect, se = p.effect, p.se
            else:
                effect, se = c["top1"] - t["top1"], unpaired_difference_se(c["top1"], t["top1"], n)
        else:
            pair = arm_pair(data, REMOVED[cid])
            if pair is None:
                continue
            effect, se, _ = compare_arms(*pair, n)
        out.append({"label": label, "paper": -100 * paper.CLAIMS[cid].values["top1"], "ours": -100 * effect,
                    "se": 100 * se})
    return out

