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


def test_layer_outputs_copies_each_named_layer_before_inplace_relu():
    from alexnet.hooks import layer_outputs
    from alexnet.model import alexnet_cifar

    torch.manual_seed(0)
    model = alexnet_cifar().eval()
    x = torch.randn(2, 3, 28, 28) * 64
    out = layer_outputs(model, x, ["conv1", "fc6", "classifier.fc8"])
    assert out["conv1"].shape == (2, 48, 28, 28)
    assert (out["conv1"] < 0).any()  # copied before the in-place ReLU ran
    assert out["fc6"].shape == (2, 1024)
    assert torch.allclose(out["classifier.fc8"], model(x))
    with pytest.raises(KeyError):
        layer_outputs(model, x, ["conv9"])


def test_paper_dropout_zeroes_without_rescaling_and_halves_at_test():
    from alexnet.model import PaperDropout

    drop = PaperDropout(0.5)
    h = torch.rand(4000) + 0.5
    torch.manual_seed(0)
    out = drop.train()(h)
    kept = out != 0
    assert torch.equal(out[kept], h[kept])  # survivors are not rescaled
    assert 0.45 < kept.float().mean().item() < 0.55
    assert torch.equal(drop.eval()(h), h * 0.5)
    # the same mask as torch's inverted dropout gives exactly half its training output
    torch.manual_seed(1)
    inverted = torch.nn.Dropout(0.5).train()(h)
    torch.manual_seed(1)
    assert torch.allclose(drop.train()(h), inverted * 0.5)


def test_the_paper_net_uses_the_papers_dropout_and_inverted_is_a_switch():
    from alexnet.model import PaperDropout

    assert isinstance(alexnet().classifier.drop6, PaperDropout)
    assert isinstance(alexnet(dropout_form="inverted").classifier.drop7, torch.nn.Dropout)
    # the switch changes no parameter
    assert alexnet().state_dict().keys() == alexnet(dropout_form="inverted").state_dict().keys()


def test_biases_get_no_weight_decay_unless_asked():
    from alexnet.optim import PaperSGD, param_groups

    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2)
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
    opt = PaperSGD(param_groups(layer, 0.1), lr=1.0, momentum=0.0)
    layer.weight.grad, layer.bias.grad = torch.zeros_like(w0), torch.zeros_like(b0)
    opt.step()
    assert torch.allclose(layer.weight, w0 * (1 - 0.1))  # v = −λεw
    assert torch.equal(layer.bias, b0)  # no decay on the bias
    groups = param_groups(layer, 0.1, bias_decay=True)
    assert [g["weight_decay"] for g in groups] == [0.1, 0.1]
