"""The paper's numbers live in alexnet.paper; the statistics and the one verdict live in alexnet.stats."""
import math

import pytest
import torch

from alexnet import paper, stats
from alexnet.lrn import LocalResponseNorm
from alexnet.model import alexnet, count_parameters


def test_model_matches_the_papers_architecture():
    model = alexnet()
    assert count_parameters(model) == paper.PARAMETERS
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert tuple(c.out_channels for c in convs) == paper.CONV_WIDTHS
    assert tuple(c.kernel_size[0] for c in convs) == paper.CONV_KERNELS
    lrns = [m for m in model.features if isinstance(m, LocalResponseNorm)]
    assert len(lrns) == len(paper.LRN_LAYERS)
    for m in lrns:
        assert (m.size, m.alpha, m.beta, m.k) == (paper.LRN.size, paper.LRN.alpha, paper.LRN.beta, paper.LRN.k)


def test_headline_numbers_and_derived_ten_crop_benefit():
    assert paper.RESULTS["ILSVRC-2010 test, 10 crops"] == {"top1": 0.375, "top5": 0.170}
    assert paper.TEN_CROP_BENEFIT["top1"] == pytest.approx(0.015)
    assert paper.TEN_CROP_BENEFIT["top5"] == pytest.approx(0.013)
    assert paper.AUGMENTATION_FACTOR == (paper.STORED_SIDE - paper.TRAIN_CROP) ** 2 * 2


def test_every_claim_prints_the_papers_value():
    texts = {cid: c.paper_text for cid, c in paper.CLAIMS.items()}
    assert texts["lrn"] == "−1.4 / −1.2"
    assert texts["towers"] == "−1.7 / −1.2"
    assert texts["pooling"] == "−0.4 / −0.3"
    assert texts["fig1"] == "6×"
    assert texts["headline"].startswith("37.5 / 17.0")
    assert all(c.reproduce for c in paper.CLAIMS.values())


def test_mcnemar_exact_matches_a_hand_computed_binomial_tail():
    # 44 images fixed, 28 broken: P(X <= 28) for X ~ Bin(72, 1/2), doubled
    tail = sum(math.comb(72, i) for i in range(29)) / 2 ** 72
    assert stats.mcnemar_exact_p(44, 28) == pytest.approx(2 * tail)
    assert stats.mcnemar_exact_p(44, 28) == pytest.approx(0.0764, abs=5e-4)
    assert stats.mcnemar_exact_p(5, 5) == 1.0
    assert stats.mcnemar_exact_p(0, 0) == 1.0
    assert stats.mcnemar_exact_p(10, 0) == pytest.approx(2 / 2 ** 10)


def test_mcnemar_agrees_with_scipy_when_available():
    scipy_stats = pytest.importorskip("scipy.stats")
    for b, c in [(44, 28), (3, 11), (100, 80), (0, 7)]:
        assert stats.mcnemar_exact_p(b, c) == pytest.approx(scipy_stats.binomtest(b, b + c, 0.5).pvalue)


def test_paired_comparison_counts_and_standard_error():
    a = torch.tensor([1, 1, 0, 0, 1, 1], dtype=torch.bool)
    b = torch.tensor([1, 0, 1, 0, 0, 1], dtype=torch.bool)
    p = stats.paired(a, b)
    assert (p.n, p.b, p.c) == (6, 2, 1)
    assert p.effect == pytest.approx((2 - 1) / 6)
    # the paired se equals the standard error of the mean of the per-image differences d = a − b
    d = a.float() - b.float()
    assert p.se == pytest.approx(d.std(unbiased=False).item() / math.sqrt(6))
    with pytest.raises(ValueError):
        stats.paired(a, b[:3])


def test_paired_se_of_the_ten_crop_example_is_about_one_point():
    p = stats.Paired(846, 44, 28)
    assert p.se == pytest.approx(0.0100, abs=2e-4)
    assert stats.unpaired_difference_se(0.37, 0.35, 846) > 2 * p.se


def test_epochs_to_error_interpolates_and_accepts_histories():
    assert stats.epochs_to_error([0.5, 0.3, 0.2], 0.25) == pytest.approx(2.5)
    assert stats.epochs_to_error([0.2, 0.1], 0.25) == 1.0
    assert stats.epochs_to_error([0.5, 0.4], 0.25) is None
    hist = [{"epoch": 1, "train_top1_error": 0.5}, {"epoch": 2, "val_top1_error": 0.1},
            {"epoch": 3, "train_top1_error": 0.1}]
    assert stats.epochs_to_error(hist, 0.3) == pytest.approx(1 + 0.2 / 0.4 * 2)


def test_seed_spread_and_combination():
    s = stats.seed_spread([1.0, 2.0, 3.0])
    assert (s.mean, s.std, s.n) == (2.0, 1.0, 3)
    assert s.se == pytest.approx(1 / math.sqrt(3))
    assert stats.seed_spread([4.0]).std == 0.0
    pairs = [stats.Paired(100, 10, 2), stats.Paired(100, 12, 4)]
    effect, se = stats.combine_seeds(pairs)
    assert effect == pytest.approx(0.08)
    assert se > max(p.se for p in pairs) / math.sqrt(2)


def test_one_verdict_vocabulary():
    assert stats.verdict(0.03, 0.01) == stats.REPRODUCED
    assert stats.verdict(0.01, 0.01) == stats.WITHIN_NOISE
    assert stats.verdict(-0.01, 0.01) == stats.INCONCLUSIVE
    assert stats.verdict(-0.03, 0.01) == stats.OPPOSITE
    assert stats.verdict(0.03, None) == stats.INCONCLUSIVE
    assert stats.verdict(0.03, 0.01, testable=False) == stats.NOT_TESTABLE
    assert set(stats.VERDICTS) == {stats.REPRODUCED, stats.WITHIN_NOISE, stats.INCONCLUSIVE, stats.OPPOSITE,
                                   stats.NOT_TESTABLE}


def test_ratio_interval_and_verdict():
    r, lo, hi = stats.ratio_interval([6.0, 6.5, 5.5], [1.0, 1.1, 0.9])
    assert r == pytest.approx(6.0)
    assert lo < r < hi
    assert stats.ratio_verdict(lo, hi, r) == stats.REPRODUCED
    assert stats.ratio_verdict(*stats.ratio_interval([1.5], [1.0])[1:], 1.5) == stats.INCONCLUSIVE
    r, lo, hi = stats.ratio_interval([1.2, 0.7, 1.4], [1.0, 1.1, 0.9])
    assert stats.ratio_verdict(lo, hi, r) in (stats.WITHIN_NOISE, stats.INCONCLUSIVE)
