"""Figure 1's protocol: the grid check, the stopping rule's bookkeeping, the ratios, and a tiny real run."""
import math

import pytest
import torch

from alexnet import stats
from alexnet.data import make_synthetic
from alexnet.experiments.fig1_protocol import (GRID_FACTOR, Fig1Setup, _mean_bound, best_rate, ratios,
                                               run_fig1_protocol)


def test_mean_bound_counts_uncrossed_seeds_as_a_lower_bound_and_dead_as_never():
    assert _mean_bound([[0.5, 0.2], [0.5, 0.3]], 0.25) == (pytest.approx((1 + 0.25 / 0.3 + 2) / 2), False)
    assert _mean_bound([[0.5, 0.2], [0.3, 0.2]], 0.25) == (pytest.approx((1 + 0.25 / 0.3 + 1.5) / 2), True)
    assert _mean_bound([[0.5, float("nan")]], 0.25) == (math.inf, False)


def test_best_rate_fewest_mean_epochs_else_lowest_final_error():
    curves = {0.01: [[0.5, 0.3, 0.2]], 0.02: [[0.4, 0.2, 0.1]], 0.04: [[0.9, float("nan"), float("nan")]]}
    assert best_rate(curves, 0.25) == 0.02
    curves = {0.01: [[0.5, 0.4]], 0.02: [[0.6, 0.45]]}
    assert best_rate(curves, 0.25) == 0.01


def test_ratios_use_each_nets_best_rate_and_stats_ratio_interval():
    relu = {"best_lr": 0.01, "curves": {"0.01": [[0.3, 0.2], [0.3, 0.18]]}}
    tanh = {"best_lr": 0.02, "curves": {"0.02": [[0.6, 0.4, 0.3, 0.2], [0.6, 0.5, 0.3, 0.24]]}}
    out = ratios(relu, tanh, thresholds=(0.25, 0.2))
    r = [stats.epochs_to_error(c, 0.25) for c in relu["curves"]["0.01"]]
    h = [stats.epochs_to_error(c, 0.25) for c in tanh["curves"]["0.02"]]
    assert out["0.250"]["ratio"] == pytest.approx(stats.ratio_interval(h, r)[0])
    assert out["0.200"]["ratio"] is None  # tanh's second seed never got to 20%


def test_tiny_run_extends_an_edge_grid_by_factor_two_and_reports_both_conventions():
    torch.manual_seed(0)
    grids = {(a, c): (1e-7, 2e-7) for a in ("relu", "tanh") for c in ("raw", "standardised")}
    setup = Fig1Setup(epochs=1, batch_size=64, seeds=2, grids=grids, max_extensions=1)
    result = run_fig1_protocol(make_synthetic(128), setup, device="cpu")
    assert set(result["conventions"]) == {"raw", "standardised"}
    for conv in result["conventions"].values():
        for act in ("relu", "tanh"):
            net = conv[act]
            assert net["extensions"] == 1 and len(net["grid"]) == 3
            assert all(b / a == pytest.approx(GRID_FACTOR) for a, b in zip(net["grid"], net["grid"][1:]))
            assert all(len(c) == 1 for curves in net["curves"].values() for c in curves)  # 1 epoch, 2 seeds
            assert len(next(iter(net["curves"].values()))) == 2
        assert set(conv["ratios"]) == {f"{t:.3f}" for t in setup.thresholds}
    # 3 rates × 2 seeds × 1 epoch × 128 images, per net and convention (the extension counted too)
    assert result["images"] == 4 * 3 * 2 * 128


def test_a_deadline_inside_the_first_epoch_leaves_no_partial_epoch():
    import time

    grids = {(a, "raw"): (1e-3,) for a in ("relu", "tanh")}
    setup = Fig1Setup(epochs=3, batch_size=2, seeds=1, grids=grids, conventions=("raw",), max_extensions=0,
                      deadline=time.perf_counter() - 1)
    result = run_fig1_protocol(make_synthetic(128), setup, device="cpu")
    for act in ("relu", "tanh"):
        net = result["conventions"]["raw"][act]
        assert net["truncated"] and net["extensions"] == 0
        assert net["curves"]["0.001"] == [[]] and net["images"] == 0
    assert result["ratio"] is None
