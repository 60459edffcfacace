r"""The statistics behind every verdict in the book, in one place.

An ablation here trains two models (arms) and tests both on the **same** images, so the comparison is *paired*:
what matters is the images one arm gets right and the other wrong. With :math:`b` images right only with the
component and :math:`c` right only without it, out of :math:`n`,

.. math::

    \hat\Delta = \frac{b - c}{n}, \qquad
    \operatorname{se}(\hat\Delta) = \frac{1}{n}\sqrt{b + c - \frac{(b - c)^2}{n}},

and McNemar's exact test asks whether :math:`b` is an unusual draw from :math:`\mathrm{Binomial}(b + c, 1/2)`.
Seeds add the training noise: :func:`combine_seeds` adds their spread to the paired error.

One verdict function, :func:`verdict`, with one vocabulary (:data:`VERDICTS`), and one threshold (:data:`Z`,
two standard errors). "Reproduced" means *the paper's direction, distinguishable from zero at this scale*; the
paper's magnitudes come from ImageNet and are not compared (the scorecard prints both).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

REPRODUCED = "reproduced"
WITHIN_NOISE = "same direction, within noise"
INCONCLUSIVE = "inconclusive at this scale"
OPPOSITE = "opposite"
NOT_TESTABLE = "not testable here"
VERDICTS = (REPRODUCED, WITHIN_NOISE, INCONCLUSIVE, OPPOSITE, NOT_TESTABLE)
Z = 2.0  # a difference counts when it exceeds two standard errors (about 95%)


def binomial_se(error: float, n: int) -> float:
    """Standard error of an error rate measured on ``n`` independent images: √(e(1−e)/n)."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    return math.sqrt(max(error * (1 - error), 0.0) / n)


def unpaired_difference_se(e1: float, e2: float, n1: int, n2: int | None = None) -> float:
    """Standard error of e1 − e2 when the two rates come from *different* images (not our ablations)."""
    return math.hypot(binomial_se(e1, n1), binomial_se(e2, n2 or n1))


def mcnemar_exact_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: P(|X − m/2| ≥ |b − m/2|) for X ~ Binomial(m = b + c, 1/2)."""
    m = b + c
    if m == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(m, i) for i in range(k + 1)) / 2 ** m
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class Paired:
    """A paired comparison of arm A (with the component) against arm B (without it) on the same ``n`` images.

    ``effect`` is error(B) − error(A): positive when the component lowers the error (the paper's direction for a
    benefit). ``b``: images A gets right and B wrong; ``c``: the reverse.
    """

    n: int
    b: int
    c: int

    @property
    def effect(self) -> float:
        return (self.b - self.c) / self.n

    @property
    def se(self) -> float:
        return math.sqrt(max(self.b + self.c - (self.b - self.c) ** 2 / self.n, 0.0)) / self.n

    @property
    def p_value(self) -> float:
        return mcnemar_exact_p(self.b, self.c)


def paired(correct_a: torch.Tensor | Sequence[bool], correct_b: torch.Tensor | Sequence[bool]) -> Paired:
    """Compare two arms from per-image correctness (length-``n`` booleans, same images in the same order)."""
    a, b = torch.as_tensor(correct_a, dtype=torch.bool), torch.as_tensor(correct_b, dtype=torch.bool)
    if a.shape != b.shape or a.dim() != 1 or len(a) == 0:
        raise ValueError(f"need two non-empty 1-d masks of equal length, got {tuple(a.shape)} and {tuple(b.shape)}")
    return Paired(len(a), int((a & ~b).sum()), int((~a & b).sum()))


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation and standard error of the mean over seeds."""

    mean: float
    std: float
    se: float
    n: int


def seed_spread(values: Sequence[float]) -> Spread:
    """The spread of one measurement over seeds (std with ddof = 1; 0 for a single seed)."""
    v = [float(x) for x in values]
    if not v:
        raise ValueError("no values")
    mean = sum(v) / len(v)
    std = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return Spread(mean, std, std / math.sqrt(len(v)), len(v))


def combine_seeds(pairs: Sequence[Paired]) -> tuple[float, float]:
    """(effect, se) over seeds: the mean paired effect, with the seeds' spread added to the test-set noise.

    se² = var_seeds / k + mean(se_paired²): the first term is the training noise the seeds show, the second the
    sampling noise of the test images, which the seeds share (a conservative sum).
    """
    if not pairs:
        raise ValueError("no comparisons")
    spread = seed_spread([p.effect for p in pairs])
    test = sum(p.se ** 2 for p in pairs) / len(pairs)
    return spread.mean, math.sqrt(spread.se ** 2 + test)


def epochs_to_error(curve: Sequence[float] | Sequence[dict], threshold: float, metric: str = "train_top1_error",
                    ) -> float | None:
    """The fractional epoch at which an error curve first reaches ``threshold``, linearly interpolated.

    ``curve`` is either the error after epochs 1, 2, … or a training history (dicts with ``epoch`` and
    ``metric``). Nothing is interpolated before the first point (a first point already at or below the threshold
    gives its own epoch). Returns None if the curve never gets there.
    """
    points = [(float(r["epoch"]), float(r[metric])) for r in curve if metric in r] if curve and \
        isinstance(curve[0], dict) else [(float(i + 1), float(v)) for i, v in enumerate(curve)]
    prev = None
    for epoch, value in points:
        if value <= threshold:
            if prev is None or prev[1] == value:
                return epoch
            return prev[0] + (prev[1] - threshold) / (prev[1] - value) * (epoch - prev[0])
        prev = (epoch, value)
    return None


def ratio_interval(numerators: Sequence[float], denominators: Sequence[float]) -> tuple[float, float, float]:
    """A ratio of two means with a ±Z·se interval from the delta method on the log scale: (ratio, low, high).

    With one value each there is no spread: low = high = ratio (the verdict then says the noise is unknown).
    """
    a, b = seed_spread(numerators), seed_spread(denominators)
    ratio = a.mean / b.mean
    log_se = math.hypot(a.se / a.mean, b.se / b.mean)
    return ratio, ratio * math.exp(-Z * log_se), ratio * math.exp(Z * log_se)


def verdict(effect: float | None, se: float | None, *, testable: bool = True) -> str:
    """The verdict for an effect measured in the paper's direction (> 0 agrees with the paper).

    - ``testable=False`` (e.g. nothing trained, or the data cannot show it): "not testable here";
    - no effect, or no known noise (``se`` None, a single run without a paired test): "inconclusive at this scale";
    - ``|effect| > Z·se``: "reproduced" if positive, "opposite" if negative;
    - otherwise "same direction, within noise" if positive, "inconclusive at this scale" if not.
    """
    if not testable:
        return NOT_TESTABLE
    if effect is None or se is None or not math.isfinite(effect):
        return INCONCLUSIVE
    if abs(effect) > Z * se:
        return REPRODUCED if effect > 0 else OPPOSITE
    return WITHIN_NOISE if effect > 0 else INCONCLUSIVE


def ratio_verdict(low: float, high: float, ratio: float, *, testable: bool = True) -> str:
    """The verdict for "A takes more than B" from a ratio's interval (> 1 is the paper's direction)."""
    if not testable:
        return NOT_TESTABLE
    if low == high:  # one run each: no spread, no verdict beyond the direction's being unknown
        return INCONCLUSIVE
    return verdict(math.log(ratio), (math.log(high) - math.log(low)) / (2 * Z))


def describe(effect: float, se: float, p_value: float | None = None) -> str:
    """``+1.2 ± 0.8 pts[, McNemar p = 0.08]``: an effect in points with its standard error."""
    text = f"{100 * effect:+.1f} ± {100 * se:.1f} pts"
    return text + (f", McNemar p = {p_value:.2g}" if p_value is not None else "")
