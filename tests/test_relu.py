"""§3.1 and Figure 1: the nonlinearities, the four-layer net, epochs to 25% and the grid experiment."""
import math

import pytest
import torch

from alexnet import get_profile, make_synthetic
from alexnet import stats
from alexnet.experiments import relu
from alexnet.experiments.fig1_net import pooled_side
from alexnet.experiments.relu import (FIG1_WIDTHS, NONLINEARITIES, FourLayerNet, fig1_table, four_layer_param_count,
                                      relu_vs_tanh)


def _history(errors):
    return [{"epoch": i + 1, "train_top1_error": e} for i, e in enumerate(errors)]


def test_figure_1_counts_epochs_with_the_one_interpolated_rule():
    h = _history([0.8, 0.5, 0.3, 0.25, 0.2, 0.27, 0.1])
    assert relu.epochs_to_error is stats.epochs_to_error  # no second copy with another rule
    assert relu.epochs_to_error(h, 0.25) == 4  # equal counts as reached
    assert relu.epochs_to_error(h, 0.4) == pytest.approx(2.5)  # halfway from 0.5 (epoch 2) to 0.3 (epoch 3)
    assert relu.epochs_to_error(h, 0.05) is None
    out = relu.speedup_by_threshold({"relu": [0.6, 0.3], "tanh": [0.8, 0.6, 0.4, 0.35]}, (0.5,))
    assert out["0.5"]["relu"] == pytest.approx(4 / 3) and out["0.5"]["tanh"] == pytest.approx(2.5)


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


def test_relu_vs_tanh_smoke_returns_the_expected_keys():
    profile = get_profile("smoke")
    train_set = make_synthetic(128, seed=0)
    val_set = make_synthetic(32, seed=1)
    result = relu_vs_tanh(profile, lrs=(0.003,), epochs=2, batch_size=32, save=False,
                          train_set=train_set, val_set=val_set, progress=False)
    for key in ("epochs_to_25", "ratio", "ratio_is_lower_bound", "lr", "curves", "grid", "threshold", "scale",
                "speedup", "lr_at_edge"):
        assert key in result
    assert set(result["epochs_to_25"]) == {"relu", "tanh"}
    assert result["lr"] == {"relu": 0.003, "tanh": 0.003}
    assert set(result["speedup"]["0.5"]) == {"relu", "tanh", "ratio"}
    for act in ("relu", "tanh"):
        curve = result["curves"][act]
        assert 1 <= len(curve) <= 2 and all(0.0 <= e <= 1.0 and math.isfinite(e) for e in curve)
    assert result["scale"]["train_images"] == 128 and result["scale"]["epochs"] == 2
    assert "ratio" in fig1_table(result)


def test_relu_vs_tanh_picks_the_fastest_rate_and_prunes():
    profile = get_profile("smoke")
    train_set = make_synthetic(256, seed=0)
    val_set = make_synthetic(32, seed=1)
    result = relu_vs_tanh(profile, activations=("relu",), lrs=(1e-6, 0.01), epochs=3, batch_size=32, init="lecun",
                          threshold=0.6, save=False, train_set=train_set, val_set=val_set, progress=False)
    runs = result["grid"]["relu"]
    assert runs["0.01"]["epochs_to"] is not None  # the synthetic classes are easy at a sane rate
    assert result["lr"]["relu"] == 0.01
    # a rate 10,000× too small cannot get there as fast: it is stopped once it has used up the winner's epochs
    assert runs["1e-06"]["status"] == "stopped"
    assert len(runs["1e-06"]["train_top1_error"]) == math.ceil(runs["0.01"]["epochs_to"])


def test_speedup_by_threshold():
    from alexnet.experiments.relu import speedup_by_threshold

    out = speedup_by_threshold({"relu": [0.6, 0.4, 0.2], "tanh": [0.8, 0.7, 0.6, 0.5, 0.4]}, (0.6, 0.4, 0.25))
    assert out["0.6"] == {"relu": 1, "tanh": 3, "ratio": 3.0}
    assert out["0.4"] == {"relu": 2, "tanh": 5, "ratio": 2.5}
    assert out["0.25"]["tanh"] is None and out["0.25"]["ratio"] is None


def test_worker_processes_give_the_same_curves():
    profile = get_profile("smoke")
    train_set, val_set = make_synthetic(64, seed=0), make_synthetic(32, seed=1)
    kwargs = dict(lrs=(0.003,), epochs=1, batch_size=32, save=False, train_set=train_set, val_set=val_set,
                  progress=False)
    one = relu_vs_tanh(profile, workers=1, **kwargs)
    two = relu_vs_tanh(profile, workers=2, **kwargs)
    assert one["lr"] == two["lr"]
    for act in ("relu", "tanh"):
        assert two["curves"][act] == pytest.approx(one["curves"][act], abs=0.02)


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


def test_a_run_far_behind_the_reference_is_stopped_at_epoch_5():
    from alexnet.experiments.relu import train_fig1_run

    train_set, val_set = make_synthetic(64, seed=0), make_synthetic(32, seed=1)
    run = train_fig1_run("tanh", 0.003, train_set, val_set, epochs=8, batch_size=32, reference=[0.0] * 8,
                         stall_epochs=None, progress=False)
    assert run["status"] == "behind" and len(run["history"]) == 5
    run = train_fig1_run("tanh", 0.003, train_set, val_set, epochs=2, batch_size=32, reference=[0.0] * 8,
                         stall_epochs=None, progress=False)
    assert run["status"] == "done" and len(run["history"]) == 2  # before epoch 5 nothing is judged
