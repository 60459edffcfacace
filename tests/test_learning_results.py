"""§5 (update rule, init, bias experiment), §6 (checkpoint export, nearest neighbours), §7 (depth) and the scorecard."""
import math

import pytest
import torch

from alexnet import AlexNetError, alexnet, alexnet_cifar, load_trained, make_synthetic
from alexnet.checkpoint import find_shipped_checkpoint, load_checkpoint, save_checkpoint
from alexnet.experiments import depth, learning, results_figs, scorecard
from alexnet.transforms import compute_stats


# ---------------------------------------------------------------- §5


def test_paper_sgd_matches_the_printed_update_rule():
    assert learning.update_rule_max_difference(steps=12, lr_drop_at=6) < 1e-6


def test_by_hand_rule_is_really_the_formula():
    w, g, v = torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([0.5])
    learning.paper_update_by_hand([w], [g], [v], lr=0.1)
    expected_v = 0.9 * 0.5 - 0.0005 * 0.1 * 1.0 - 0.1 * 2.0
    assert v.item() == pytest.approx(expected_v)
    assert w.item() == pytest.approx(1.0 + expected_v)


def test_paper_rule_equals_torch_sgd_until_the_lr_drops_then_takes_bigger_steps():
    r = learning.update_norms_after_lr_drop(steps=16, lr_drop_at=8)
    assert r["max_weight_difference_before_drop"] < 1e-6
    drop = r["lr_drop_at"]
    # torch rescales the whole step at once; the paper's velocity still carries the old ε
    assert r["paper"][drop] > 5 * r["torch"][drop]


def test_initialisation_follows_section_5():
    rows = {r["layer"]: r for r in learning.initialisation_table(alexnet())}
    for name, r in rows.items():
        assert r["weight_std"] == pytest.approx(0.01, rel=0.05)
        expected = 1.0 if name in {"conv2", "conv4", "conv5", "fc6", "fc7"} else 0.0
        assert r["bias_min"] == r["bias_max"] == expected


def test_train_steps_loss_falls_and_divergence_is_reported():
    data = make_synthetic(256, 32, 10, seed=0)
    data.name = "synthetic"
    torch.manual_seed(0)
    run = learning.train_steps(alexnet_cifar(10, dropout=0.0), data, epochs=3, batch_size=32, lr=0.01)
    assert run["diverged_at_step"] is None and len(run["step_losses"]) == 3 * 8
    assert run["epoch_losses"][-1] < run["epoch_losses"][0]
    torch.manual_seed(0)
    bad = learning.train_steps(alexnet_cifar(10), data, epochs=2, batch_size=32, lr=1e6)
    assert bad["diverged_at_step"] is not None and bad["epoch_losses"] == []


def test_lr_drops_found_in_history():
    hist = [{"epoch": 1, "lr": 0.01}, {"epoch": 2, "lr": 0.01}, {"epoch": 3, "lr": 0.001}, {"epoch": 4, "lr": 0.001}]
    assert learning.lr_drops(hist) == [{"after_epoch": 2, "from": 0.01, "to": 0.001}]


# ---------------------------------------------------------------- §6


def test_nearest_neighbours_on_a_toy_embedding():
    bank = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    queries = torch.tensor([[0.9, 0.9], [9.0, 0.0]])
    idx, dist = results_figs.nearest_neighbours(queries, bank, k=2)
    assert idx.tolist() == [[3, 0], [1, 3]]
    assert dist[0, 0].item() == pytest.approx(math.hypot(0.1, 0.1), rel=1e-5)
    labels = torch.tensor([0, 1, 0, 0])
    assert results_figs.neighbour_label_agreement(idx, torch.tensor([0, 1]), labels) == pytest.approx(0.75)


def test_colour_share_is_the_energy_outside_grey():
    from alexnet.experiments.colour import colour_score

    grey = torch.randn(4, 1, 5, 5).repeat(1, 3, 1, 1)
    single = torch.zeros(2, 3, 5, 5)
    single[:, 0] = torch.randn(2, 5, 5)  # one channel only: 2/3 of the energy is not grey
    w = torch.randn(3, 3, 5, 5)
    colour = w - w.mean(1, keepdim=True)
    expected = colour.square().flatten(1).sum(1) / w.square().flatten(1).sum(1)
    assert colour_score(grey).abs().max() < 1e-6
    assert torch.allclose(colour_score(single), torch.full((2,), 2 / 3))
    assert torch.allclose(colour_score(w), expected, atol=1e-6)


def _tiny_checkpoint(folder):
    data = make_synthetic(64, 32, 10)
    torch.manual_seed(0)
    model = alexnet_cifar(10)
    stats = compute_stats(data.images)
    state = {"model": model.state_dict(), "optimizer": {"state": {}, "param_groups": []}, "scheduler": {},
             "epoch": 3, "step": 0, "history": [{"epoch": 3, "val_top1_error": 0.5}], "sums": [0, 0, 0],
             "stats": stats.state_dict(), "identity": {"arch": "alexnet-cifar", "model": {}, "num_classes": 10},
             "config": {"dataset": "synthetic"}, "classes": data.classes}
    return save_checkpoint(state, folder), model, data


def test_checkpoint_export_round_trip(tmp_path):
    src, model, data = _tiny_checkpoint(tmp_path / "run")
    dst = results_figs.export_checkpoint(src, tmp_path / "ship" / "alexnet-cifar.pt")
    slim = load_checkpoint(dst)
    assert "optimizer" not in slim and "sums" not in slim and slim["epoch"] == 3
    loaded, stats, state = load_trained(dst, device="cpu")
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    table = results_figs.error_table(loaded, stats, make_synthetic(32, 32, 10, seed=1))
    assert 0 <= table["ten_crop"]["top1"] <= 1 and table["n"] == 32


def test_remove_conv4_keeps_shapes_and_refuses_conv3():
    torch.manual_seed(0)
    model = depth.remove_layers(alexnet_cifar(10), ["conv4"])
    assert isinstance(model.features.conv4, torch.nn.Identity)
    assert model.eval()(torch.zeros(2, 3, 28, 28)).shape == (2, 10)
    with pytest.raises(AlexNetError, match="conv3"):
        depth.remove_layers(alexnet_cifar(10), ["conv3"])


# ---------------------------------------------------------------- the scorecard


def _ablation(name, without_overrides, err_with, err_without, baseline="with", n=10_000, **extra):
    arms = {"with": {"val_top1_error": err_with, "val_top5_error": err_with / 2, "train_top1_error": 0.1,
                     "overrides": {}},
            "without": {"val_top1_error": err_without, "val_top5_error": err_without / 2,
                        "train_top1_error": 0.05, "overrides": without_overrides}}
    return {"name": name, "profile": "quick", "data": {"arms": arms, "baseline": baseline, **extra},
            "scale": {"profile": "quick", "device": "cpu", "dataset": "cifar10", "train_images": 3728,
                      "epochs": 15, "val_images": n}}


def test_scorecard_verdicts_and_missing_results():
    results = {
        "lrn_ablation": _ablation("lrn_ablation", {"model": {"lrn": False}}, 0.300, 0.314),  # −1.4: as the paper
        "pooling_ablation": _ablation("pooling_ablation", {"model": {"pooling": "plain"}}, 0.30, 0.29),  # opposite
        # baseline chosen as the ablated arm: the scorecard must still read the sign right
        "towers_ablation": _ablation("towers_ablation", {"model": {"towers": 1}}, 0.300, 0.308, baseline="without"),
        "dropout_ablation": _ablation("dropout_ablation", {"model": {"dropout": 0.0}}, 0.30, 0.32,
                                      convergence_ratio=2.1),
        "fig1_relu_tanh": {"data": {"ratio": 1.8}, "scale": {"profile": "quick"}},
        "depth_ablation": _ablation("depth_ablation", {"remove": ["conv4"]}, 0.30, 0.3005, n=846),
    }
    by_result = {}
    for r in scorecard.build_scorecard(results):
        by_result.setdefault(r.result, []).append(r)
    assert by_result["lrn_ablation"][0].verdict == "reproduced"
    assert by_result["lrn_ablation"][0].ours.startswith("−1.4")
    assert by_result["pooling_ablation"][0].verdict == "opposite direction at this scale"
    assert by_result["towers_ablation"][0].verdict == "same direction, smaller"
    assert by_result["fig1_relu_tanh"][0].verdict == "same direction, smaller"
    assert by_result["depth_ablation"][0].verdict == "same direction, within noise"
    dropout = {r.claim: r.verdict for r in by_result["dropout_ablation"]}
    assert set(dropout.values()) == {"reproduced"}
    assert by_result["augmentation_ablation"][0].verdict == scorecard.NOT_RUN
    assert by_result["ten_crop"][0].verdict == scorecard.NOT_RUN
    assert "| claim |" in scorecard.scorecard_markdown(scorecard.build_scorecard(results))


def test_scorecard_ten_crop_falls_back_to_the_results_table_and_flags_missing_arms():
    table = {"data": {"centre": {"top1": 0.30, "top5": 0.05}, "ten_crop": {"top1": 0.28, "top5": 0.045},
                      "n": 10_000}, "scale": {"profile": "quick", "dataset": "cifar10", "val_images": 10_000}}
    aug_without_none = _ablation("augmentation_ablation", {"augment": "crop_flip"}, 0.30, 0.32)
    rows = scorecard.build_scorecard({"results_table": table, "augmentation_ablation": aug_without_none})
    ten = next(r for r in rows if r.claim.startswith("Ten-crop"))
    assert ten.result == "results_table" and ten.verdict == "reproduced"
    overfit = next(r for r in rows if r.claim.startswith("Without crops"))
    pca = next(r for r in rows if r.claim.startswith("PCA"))
    assert overfit.verdict == scorecard.NOT_MEASURED and pca.verdict == "reproduced"


def test_fig1_lower_bound_is_reported_as_such():
    rec = {"data": {"ratio": 1.35, "ratio_is_lower_bound": True}, "scale": {"profile": "quick", "epochs": 30}}
    row = next(r for r in scorecard.build_scorecard({"fig1_relu_tanh": rec}) if r.result == "fig1_relu_tanh")
    assert row.ours.startswith("≥ 1.4×") and row.verdict == "same direction (lower bound only)"


def test_verdict_rules():
    assert scorecard.verdict_for_benefit(0.014, 0.014) == "reproduced"
    assert scorecard.verdict_for_benefit(0.002, 0.014) == "same direction, smaller"
    assert scorecard.verdict_for_benefit(0.1, 0.014) == "same direction, larger"
    assert scorecard.verdict_for_benefit(-0.01, 0.014, se=0.02).startswith("not reproduced")
    assert scorecard.verdict_for_ratio(6.5, 6) == "reproduced"
    assert scorecard.verdict_for_ratio(0.9, 6) == "not reproduced at this scale"


def test_lr_drop_transient_forks_share_their_start():
    data = make_synthetic(128, 32, 10, seed=0)
    data.name = "synthetic"
    torch.manual_seed(0)
    r = learning.lr_drop_transient(alexnet_cifar(10), data, batch_size=32)
    assert len(r["paper"]) == len(r["torch"]) == len(r["stay"]) == r["steps_per_epoch"] == 4
    # the first loss of the epoch is computed before any step: the three forks start from the same weights
    assert r["paper"][0] == pytest.approx(r["torch"][0]) == pytest.approx(r["stay"][0])
    assert r["paper"][1] != pytest.approx(r["torch"][1])


def test_the_shipped_checkpoints_history_shows_the_plateau_rule_at_work():
    history = learning.shipped_run_history()
    assert history is not None and [h["epoch"] for h in history] == list(range(1, 41))
    drops = learning.lr_drops(history)
    assert drops and all(d["to"] == pytest.approx(d["from"] / 10) for d in drops)
    # ReduceLROnPlateau divides once more than `patience` epochs in a row have not beaten the best so far
    patience = load_checkpoint(find_shipped_checkpoint())["config"]["plateau_patience"]
    first = drops[0]["after_epoch"]
    best_before = min(h["val_top1_error"] for h in history[:first - patience - 1])
    assert all(h["val_top1_error"] >= best_before for h in history[first - patience - 1:first])
    assert learning.plateau_reasons(history)[0].endswith(f"after epoch {first}")
    fig = learning.plot_schedule(history, title="t")
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2 + len(drops)
