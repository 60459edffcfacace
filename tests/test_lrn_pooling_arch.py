"""§3.3–§3.5 experiment helpers: LRN conventions, pooling geometry, the tower diagram, activation grids."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from alexnet.experiments import architecture, lrn, pooling  # noqa: E402
from alexnet.figures import architecture as architecture_figures  # noqa: E402
from alexnet.figures import lrn as lrn_figures  # noqa: E402
from alexnet.lrn import LocalResponseNorm  # noqa: E402


@pytest.mark.parametrize("width", [5, 6, 13, 27, 28, 55])
@pytest.mark.parametrize("z,s", [(3, 2), (2, 2), (3, 3), (5, 2), (2, 1)])
def test_pool_output_size_matches_maxpool(width, z, s):
    out = nn.MaxPool2d(z, s)(torch.zeros(1, 1, width, width))
    assert pooling.pool_output_size(width, z, s) == out.shape[-1]
    assert len(pooling.window_starts(width, z, s)) == out.shape[-1]


def test_pool_output_size_paper_chain():
    assert [pooling.pool_output_size(w, 3, 2) for w in (55, 27, 13)] == [27, 13, 6]
    with pytest.raises(ValueError):
        pooling.pool_output_size(2, 3, 2)


def test_max_pool_map_shape():
    assert pooling.max_pool_map(torch.rand(28, 28), 3, 2).shape == (13, 13)
    assert pooling.max_pool_map(torch.rand(28, 28), 2, 2).shape == (14, 14)


def _activations(scale=20.0):
    return torch.relu(torch.randn(2, 16, 7, 7, generator=torch.Generator().manual_seed(0))) * scale


def test_paper_formula_with_alpha_over_n_equals_torch_module():
    a = _activations()
    for alpha, k in ((1e-4, 2.0), (1e-2, 2.0), (1e-2, 1.0)):
        ours = LocalResponseNorm(5, alpha / 5, 0.75, k)(a)
        theirs = nn.LocalResponseNorm(5, alpha=alpha, beta=0.75, k=k)(a)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_convention_table_equalities():
    a = _activations()
    table = lrn.convention_table(a, alpha=1e-2)  # large α so that every convention differs visibly
    assert ("torch", "cuda-convnet2") in table["equal"]
    assert ("caffe", "cuda-convnet") in table["equal"]  # the 2012 cmrnorm hard-codes k = 1
    assert ("torch", "paper, α/n") in table["equal"]
    assert ("paper", "torch") not in table["equal"]
    assert ("torch", "caffe") not in table["equal"]
    outs = lrn.convention_outputs(a, alpha=1e-2)
    torch.testing.assert_close(outs["caffe"], nn.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=1.0)(a))
    # no /n means more normalisation: the paper's reading divides by more than torch's
    assert table["ratios"]["paper"] < table["ratios"]["torch"]
    assert "equal?" in lrn.format_convention_table(table)


def test_lrn_effect_factor_at_paper_constants():
    a = _activations(scale=1.0)
    eff = lrn.lrn_effect(a)
    assert eff["constant_factor"] == pytest.approx(2 ** -0.75)
    assert 0.99 < eff["data_factor_mean"] <= 1.0  # activations of order 1: LRN is a constant rescaling
    big = lrn.lrn_effect(a * 100)
    assert big["data_factor_mean"] < 0.7


def test_suppression_vs_gain_falls():
    curves = lrn.suppression_vs_gain(_activations(1.0), [1, 10, 100])
    for name, ys in curves.items():
        if name != "gains":
            assert ys[0] > ys[1] > ys[2]


def test_conv1_response_shape():
    photos = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    x = lrn.centred_photo(photos, 0)
    assert x.shape == (3, 64, 64)
    a = lrn.conv1_response(x)
    assert a.shape == (1, 96, 14, 14) and (a >= 0).all()
    plt.close(lrn_figures.render_lrn(a, 0))


def test_conv_output_side_224_is_fractional():
    assert architecture.conv_output_side(224, 11, 4) == pytest.approx(54.25)
    assert architecture.conv_output_side(227, 11, 4) == 55


def test_draw_towers_returns_axes():
    fig, ax = plt.subplots()
    out = architecture_figures.draw_towers(ax)
    assert out is ax and len(ax.patches) > 20
    plt.close(fig)


def test_activation_grid_shape():
    maps = torch.rand(96, 13, 13)
    grid = architecture.activation_grid(maps, n=16, ncols=4)
    assert grid.shape == (4 * 14 - 1, 4 * 14 - 1)
    grid = architecture.activation_grid(torch.rand(6, 5, 7), n=16, ncols=4)  # fewer maps than asked
    assert grid.shape == (2 * 6 - 1, 4 * 8 - 1)
    assert 0.0 <= grid[~torch.isnan(torch.from_numpy(grid)).numpy()].min()


def test_layer_activations_of_scaled_net():
    from alexnet import alexnet_cifar

    model = alexnet_cifar().eval()
    acts = architecture.layer_activations(model, torch.randn(1, 3, 28, 28) * 50)
    assert acts["conv1"].shape == (48, 28, 28) and acts["pool1"].shape == (48, 13, 13)
    assert acts["pool5"].shape == (128, 2, 2)
    assert (acts["conv1"] < 0).any()  # copied before the in-place ReLU


def test_activation_model_prefers_a_trained_checkpoint(tmp_path, monkeypatch):
    from alexnet import alexnet_cifar, compute_stats
    from alexnet.checkpoint import find_shipped_checkpoint, save_checkpoint

    monkeypatch.setenv("ALEXNET_DATA", str(tmp_path))
    monkeypatch.setattr("alexnet.data.repo_root", lambda: None)  # ignore a real checkpoint in the checkout
    photos = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    _, _, note = architecture.activation_model()
    assert "initialisation" in note
    model = alexnet_cifar(10)
    stats = compute_stats(torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8))
    save_checkpoint({"model": model.state_dict(), "stats": stats.state_dict(),
                     "identity": {"arch": "alexnet-cifar", "model": {}, "num_classes": 10}},
                    tmp_path / "checkpoints", "alexnet-cifar10-50k.pt")
    assert find_shipped_checkpoint() == tmp_path / "checkpoints" / "alexnet-cifar10-50k.pt"
    trained, prepare, note = architecture.activation_model()
    assert "trained" in note
    x = prepare(photos[0], photos)
    assert x.shape == (1, 3, 28, 28)
    acts = architecture.layer_activations(trained, x)
    assert acts["conv1"].shape == (48, 28, 28)
    plt.close(architecture_figures.render_activations(acts, "conv1", title="t"))


def test_lrn_and_pooling_reuse_through_the_one_rule_at_the_same_scale(tmp_path, monkeypatch, capsys):
    from alexnet.data import make_synthetic
    from alexnet.experiments import ablation
    from alexnet.profiles import get_profile
    from alexnet.results import save_result

    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    monkeypatch.delenv("ALEXNET_RERUN", raising=False)
    quick = get_profile("quick")
    arms = {"lrn": {"histories": [[{"epoch": 1}]], "val_top1_error": 0.4, "val_top5_error": 0.1,
                    "train_top1_error": 0.5, "seconds": 60.0}}
    data = {"arms": arms, "baseline": "lrn", "deltas": {}}
    save_result("lrn_ablation", data, {"profile": "quick", "epochs": quick.ablation_epochs, "seeds": quick.seeds,
                                       "device": "cpu", "dataset": "cifar10", "train_images": 10}, quick)
    small = make_synthetic(10, 32, 10, seed=0)
    stored = lrn.run_lrn_ablation(quick, train_set=small, val_set=small)
    assert stored.arms["lrn"]["val_top1_error"] == 0.4 and stored.baseline == "lrn"
    assert "lrn_ablation: reusing the result" in capsys.readouterr().out
    # at another scale (or in smoke, or with ALEXNET_RERUN=1) it trains: an unknown setting shows it tried
    bogus = {"lrn": {"not_a_setting": 1}}
    for profile, base in ((quick, {"epochs": 3}), (get_profile("smoke"), None), (quick, None)):
        if base is None and profile is quick:
            monkeypatch.setenv("ALEXNET_RERUN", "1")
        with pytest.raises(ValueError, match="not a training setting"):
            ablation.reuse_or_run("lrn_ablation", bogus, profile, base=base, train_set=small, val_set=small,
                                  save=False)
    monkeypatch.delenv("ALEXNET_RERUN")
    # a result whose later cells need a file (a kept checkpoint) is reused only while that file is there
    kept = tmp_path / "last.pt"
    with pytest.raises(ValueError, match="not a training setting"):
        ablation.reuse_or_run("lrn_ablation", bogus, quick, needs=kept, train_set=small, val_set=small, save=False)
    kept.write_bytes(b"")
    assert ablation.reuse_or_run("lrn_ablation", bogus, quick, needs=kept, train_set=small, val_set=small).baseline \
        == "lrn"
    with pytest.raises(ValueError, match="not a training setting"):  # another number of training images
        ablation.reuse_or_run("lrn_ablation", bogus, quick, train_set=make_synthetic(12, 32, 10, seed=0),
                              val_set=small, save=False)


def test_no_lrn_arm_starts_larger():
    x = torch.randn(16, 3, 28, 28) * 60
    out = lrn.scale_at_init_with_and_without_lrn(x, torch.randint(0, 10, (16,)), 10)
    assert 2.0 < out["no_lrn"]["pool5_std"] / out["lrn"]["pool5_std"] < 3.5


@pytest.mark.parametrize("module", ["lrn", "pooling", "towers", "multi_gpu", "colour", "architecture",
                                    "dataset", "results_figs"])
def test_experiments_return_data_and_do_not_draw(module):
    import ast
    import importlib

    source = importlib.import_module(f"alexnet.experiments.{module}").__file__
    tree = ast.parse(open(source, encoding="utf-8").read())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.split(".")[0] == "matplotlib" for name in imported)
