"""§3.1 and Figure 1: the nonlinearities, the four-layer net, epochs to 25%, and Figure 1 run, stored, reused and
read (chapter 3.1, the scorecard)."""
import json

import pytest
import torch

from alexnet import get_profile, make_synthetic, paper, stats
from alexnet.experiments import relu
from alexnet.experiments.claim_measures import NOT_MEASURED, fig1_measure
from alexnet.experiments.fig1_protocol import FIG1_SCALES, ratios, setup_for
from alexnet.experiments.fig1_net import pooled_side
from alexnet.experiments.relu import (FIG1_WIDTHS, NONLINEARITIES, FourLayerNet, figure1, four_layer_param_count)


def _history(errors):
    return [{"epoch": i + 1, "train_top1_error": e} for i, e in enumerate(errors)]


def test_figure_1_counts_epochs_with_the_one_interpolated_rule():
    h = _history([0.8, 0.5, 0.3, 0.25, 0.2, 0.27, 0.1])
    assert relu.epochs_to_error is stats.epochs_to_error  # no second copy with another rule
    assert relu.epochs_to_error(h, 0.25) == 4  # equal counts as reached
    assert relu.epochs_to_error(h, 0.4) == pytest.approx(2.5)  # halfway from 0.5 (epoch 2) to 0.3 (epoch 3)
    assert relu.epochs_to_error(h, 0.05) is None


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "abs_tanh"])
def test_four_layer_net_output_shape(activation):
    net = FourLayerNet(activation)
    assert net(torch.randn(5, 3, 28, 28) * 60).shape == (5, 10)


@pytest.mark.parametrize("widths,classes,size", [(FIG1_WIDTHS, 10, 28), ((8, 16, 24), 7, 32), ((4, 4, 4), 3, 24)])
def test_four_layer_param_count_matches_formula_and_model(widths, classes, size):
    w1, w2, w3 = widths
    side = pooled_side(size)
    by_hand = (75 * w1 + w1) + (25 * w1 * w2 + w2) + (25 * w2 * w3 + w3) + (w3 * side * side * classes + classes)
    model = FourLayerNet("relu", classes, widths, input_size=size)
    assert four_layer_param_count(widths, classes, size) == by_hand
    assert sum(p.numel() for p in model.parameters()) == by_hand
    assert model(torch.zeros(2, 3, size, size)).shape == (2, classes)


def test_fig1_net_is_the_documented_size():
    assert pooled_side(28) == 2  # 28 → 13 → 6 → 2
    assert four_layer_param_count() == 2432 + 25632 + 51264 + 2570


@pytest.mark.parametrize("init", ["cuda-convnet", "lecun"])
def test_nets_differ_only_in_the_nonlinearity(init):
    torch.manual_seed(0)
    a = FourLayerNet("relu", init=init).state_dict()
    torch.manual_seed(0)
    b = FourLayerNet("tanh", init=init).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_initialisations_follow_their_recipes():
    torch.manual_seed(0)
    net = FourLayerNet("relu", init="cuda-convnet")
    layers = [net.features.conv1, net.features.conv2, net.features.conv3, net.fc4]
    for layer, std in zip(layers, (1e-4, 1e-2, 1e-2, 1e-2)):  # layers-18pct.cfg's initW
        assert layer.weight.std().item() == pytest.approx(std, rel=0.15) and layer.bias.abs().max() == 0
    assert net.input_scale == 1.0  # raw 0–255 pixels minus the mean
    lecun = FourLayerNet("tanh", init="lecun")
    assert lecun.features.conv2.weight.std().item() == pytest.approx(800 ** -0.5, rel=0.1)
    assert lecun.input_scale == pytest.approx(1 / 64)
    assert isinstance(net.features.pool1, torch.nn.MaxPool2d) and isinstance(net.features.pool3, torch.nn.AvgPool2d)


def test_nonlinearity_derivatives_match_autograd():
    x = torch.linspace(-3, 3, 61, dtype=torch.float64).reshape(-1)
    x = x[x != 0].clone().requires_grad_(True)
    for name, (f, df) in NONLINEARITIES.items():
        (g,) = torch.autograd.grad(f(x).sum(), x)
        assert torch.allclose(g, df(x.detach())), name
    relu_grad = NONLINEARITIES["relu"][1](torch.tensor([10.0, 100.0]))
    tanh_grad = NONLINEARITIES["tanh"][1](torch.tensor([10.0, 100.0]))
    assert relu_grad.tolist() == [1.0, 1.0] and tanh_grad.max() < 1e-6  # ReLU does not saturate; tanh does


def _tiny_quick(monkeypatch, tmp_path, **row):
    """The quick profile with Figure 1's scale cut to seconds (the protocol and the storing are the real ones)."""
    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    monkeypatch.delenv("ALEXNET_RERUN", raising=False)
    monkeypatch.setitem(FIG1_SCALES, "quick", {"epochs": 2, "batch_size": 32, "seeds": 2, "max_extensions": 0,
                                               "grid_size": 2, "conventions": ("raw",), **row})
    return get_profile("quick")


def test_figure1_stores_the_protocol_result_with_its_scale(tmp_path, monkeypatch):
    quick = _tiny_quick(monkeypatch, tmp_path)
    result = figure1(quick, train_set=make_synthetic(64, seed=0), device="cpu", progress=False)
    record = json.loads((tmp_path / "fig1_relu_tanh.json").read_text())
    assert record["data"]["conventions"].keys() == {"raw"} and not result["reused"]
    sc = record["scale"]
    assert (sc["epochs"], sc["batch_size"], sc["seeds"], sc["grid_size"], sc["conventions"]) == (2, 32, 2, 2, ["raw"])
    assert sc["train_images"] == 64 and sc["protocol"] == "fig1_protocol" and sc["complete"] is True
    assert record["provenance"]["seeds"] == [0, 1]
    raw = result["conventions"]["raw"]
    assert raw["relu"]["grid"] == list(setup_for("quick").grids[("relu", "raw")])  # 2 centred rates, 2× apart
    assert all(len(seeds) == 2 and all(len(c) == 2 for c in seeds) for seeds in raw["tanh"]["curves"].values())
    assert result["curves"]["relu"] == pytest.approx(
        [sum(v) / 2 for v in zip(*raw["relu"]["curves"][str(result["lr"]["relu"])])])


def test_figure1_reuses_only_a_complete_result_at_the_same_scale(tmp_path, monkeypatch, capsys):
    quick = _tiny_quick(monkeypatch, tmp_path)
    data = make_synthetic(64, seed=0)
    first = figure1(quick, train_set=data, device="cpu", progress=False)
    saved = (tmp_path / "fig1_relu_tanh.json").read_bytes()
    again = figure1(quick, train_set=data, device="cpu", progress=False)
    assert "fig1_relu_tanh: reusing the result measured on" in capsys.readouterr().out and again["reused"]
    assert again["conventions"] == json.loads(json.dumps(first["conventions"]))
    assert (tmp_path / "fig1_relu_tanh.json").read_bytes() == saved
    monkeypatch.setitem(FIG1_SCALES["quick"], "epochs", 1)  # another scale: trains
    assert not figure1(quick, train_set=data, device="cpu", progress=False)["reused"]
    monkeypatch.setenv("ALEXNET_RERUN", "1")
    assert not figure1(quick, train_set=data, device="cpu", progress=False)["reused"]
    cut = figure1(quick, train_set=data, device="cpu", progress=False, deadline=0.0)  # a time limit hit at once
    assert cut["truncated"] and cut["scale"]["complete"] is False
    monkeypatch.delenv("ALEXNET_RERUN")
    assert not figure1(quick, train_set=data, device="cpu", progress=False)["reused"]  # never reused
    assert "reusing" not in capsys.readouterr().out


def test_smoke_never_reuses_figure1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    for _ in range(2):
        assert not figure1(get_profile("smoke"), train_set=make_synthetic(64), device="cpu", progress=False)["reused"]
    assert "reusing" not in capsys.readouterr().out


def _result(relu_curves, tanh_curves, relu_edge=False):
    relu = {"best_lr": 0.001, "curves": {"0.001": relu_curves, "0.002": relu_curves}, "grid": [0.001, 0.002],
            "at_edge": relu_edge, "extensions": 1}
    tanh = {"best_lr": 0.016, "curves": {"0.008": tanh_curves, "0.016": tanh_curves, "0.032": tanh_curves},
            "grid": [0.008, 0.016, 0.032], "at_edge": False, "extensions": 0}
    rows = ratios(relu, tanh, (0.25, 0.5))
    return {"conventions": {"raw": {"relu": relu, "tanh": tanh, "ratios": rows}}, "main_convention": "raw",
            "threshold": 0.25, "setup": {"seeds": len(relu_curves), "epochs": 4},
            "ratio": rows["0.250"]["ratio"], "ratio_low": rows["0.250"]["low"], "ratio_high": rows["0.250"]["high"],
            "ratio_is_lower_bound": False, "verdict": rows["0.250"]["verdict"], "lr_at_edge": {"relu": relu_edge},
            "epochs_to_25": {}, "scale": {"dataset": "cifar10", "train_images": 3728, "crop": 28, "batch_size": 32,
                                          "epochs": 4, "seeds": 2, "grid_size": 3, "max_extensions": 1,
                                          "conventions": ["raw"], "profile": "quick", "complete": True}}


def test_text_tables_show_best_rates_edges_ratios_and_verdicts():
    r = _result([[0.6, 0.2], [0.6, 0.22]], [[0.8, 0.6, 0.4, 0.2], [0.8, 0.6, 0.3, 0.25]], relu_edge=True)
    grid = relu.grid_lines(r)
    assert "raw inputs, relu: 2 rates, 1 extension(s); best 0.001, ON THE EDGE" in grid
    assert "raw inputs, tanh: 3 rates, 0 extension(s); best 0.016, inside the grid" in grid
    assert grid.count("← best") == 2
    row = r["conventions"]["raw"]["ratios"]["0.250"]
    assert row["verdict"] == stats.ratio_verdict(row["low"], row["high"], row["ratio"])
    table = relu.threshold_lines(r)
    assert f"{row['ratio']:.2f}× ({row['low']:.2f}–{row['high']:.2f}): {row['verdict']}" in table
    assert f"{paper.FIG1_RATIO:g}×" in relu.fig1_summary(r) and row["verdict"] in relu.fig1_summary(r)


def test_scale_and_starting_grid_lines_list_every_profile_and_only_its_conventions():
    lines = relu.scale_lines().splitlines()
    assert [line.split()[0] for line in lines] == list(FIG1_SCALES)
    for line, row in zip(lines, FIG1_SCALES.values()):
        assert f"≤ {row['epochs']} epochs, batch {row['batch_size']}, {row['seeds']} seed(s)" in line
        assert f"grids of {row['grid_size']} rates (+ ≤ {row['max_extensions']} extensions)" in line
        assert line.endswith(f"{' and '.join(row['conventions'])} inputs")
    for name, row in FIG1_SCALES.items():
        grids = relu.starting_grid_lines(name).splitlines()
        setup = setup_for(name)
        assert len(grids) == 2 * len(row["conventions"])  # relu and tanh, per convention the profile runs
        for act in ("relu", "tanh"):
            for conv in row["conventions"]:
                rates = ", ".join(f"{lr:g}" for lr in setup.grids[(act, conv)])
                assert f"{name} starting grid, {act}, {conv} inputs: {rates}" in grids
                assert len(setup.grids[(act, conv)]) == row["grid_size"]


def test_the_scorecard_reads_the_protocols_ratio_interval_and_edges():
    r = _result([[0.6, 0.2], [0.6, 0.22]], [[0.8, 0.6, 0.4, 0.2], [0.8, 0.6, 0.3, 0.25]], relu_edge=True)
    row = r["conventions"]["raw"]["ratios"]["0.250"]
    m = fig1_measure({"data": r, "scale": r["scale"]})
    assert m.ours == f"{row['ratio']:.2f}× ({row['low']:.2f}–{row['high']:.2f}) at 25%" and m.verdict == row["verdict"]
    assert "best rate on the grid's edge for relu" in m.statistic and "50.0%" in m.statistic
    never = _result([[0.6, 0.4]], [[0.8, 0.6]])  # neither net reached 25%
    m = fig1_measure({"data": never, "scale": never["scale"]})
    assert m.verdict == stats.INCONCLUSIVE and m.ours == "ReLU never reached 25% in 4 epochs"
    old = fig1_measure({"data": {"curves": {"relu": [0.6, 0.2], "tanh": [0.8, 0.6, 0.4, 0.2]}}, "scale": {}})
    assert old.ours == old.verdict == NOT_MEASURED  # the schema from before the protocol is no longer read


def test_tanh_units_saturate_and_relu_units_do_not():
    """The mechanism of §3.1 in one layer: scale up the input and tanh's gradient vanishes; ReLU's does not."""
    torch.manual_seed(0)
    for scale_up in (1.0, 100.0):
        x = (torch.randn(1000, dtype=torch.float64) * scale_up).requires_grad_(True)
        (g_tanh,) = torch.autograd.grad(torch.tanh(x).sum(), x)
        (g_relu,) = torch.autograd.grad(torch.relu(x).sum(), x)
        if scale_up > 1:
            assert g_tanh.abs().mean() < 0.02 and g_relu.abs().mean() > 0.4
        else:
            assert g_tanh.abs().mean() > 0.5
