"""§5 (update rule, init, bias experiment), §6 (checkpoint export, nearest neighbours), §7 (depth) and the scorecard."""
import json
import math

import pytest
import torch

from alexnet import AlexNetError, alexnet, alexnet_cifar, load_trained, make_synthetic
from alexnet.checkpoint import find_shipped_checkpoint, load_checkpoint, save_checkpoint
from alexnet import paper, stats
from alexnet.experiments import bias, depth, learning, results_figs, scorecard
from alexnet.experiments.ablation import pack_mask, unpack_mask
from alexnet.model import ONE_GPU
from alexnet.figures.learning import plot_schedule
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


def test_bias_experiment_is_an_ablation_with_step_curves_saved_with_provenance_and_reused(tmp_path, monkeypatch,
                                                                                            capsys):
    from alexnet import results
    from alexnet.profiles import get_profile

    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    monkeypatch.delenv("ALEXNET_RERUN", raising=False)
    data = make_synthetic(64, 32, 10, seed=0)
    val = make_synthetic(32, 32, 10, seed=1)
    quick = get_profile("quick", batch_size=32, seeds=1)
    arms = {k: bias.BIAS_ARMS[k] for k in ("paper init, bias 1", "kaiming init, bias 0")}
    out = bias.bias_init_experiment(quick, epochs=2, arms=arms, train_set=data, val_set=val)
    assert out["chance_loss"] == pytest.approx(math.log(10)) and set(out["arms"]) == set(arms)
    for arm, r in out["arms"].items():
        assert (r["init"], r["bias_init"]) == (arms[arm]["init"], arms[arm]["bias_init"])
        assert r["steps_per_epoch"] == 2 and len(r["step_losses"]) == 4
        # the trainer's running mean per epoch is the mean of that epoch's step losses
        assert r["epoch_losses"] == pytest.approx([sum(r["step_losses"][:2]) / 2, sum(r["step_losses"][2:]) / 2])
        assert "val_top1_error" in r and r["runs"][0]["val_correct"]
    record = results.load_result("bias_init", quick)
    assert record["provenance"]["source_hash"] and record["data"]["chance_loss"] == out["chance_loss"]
    assert "reusing" not in capsys.readouterr().out
    again = bias.bias_init_experiment(quick, epochs=2, arms=arms, train_set=data, val_set=val)
    assert "bias_init: reusing the result" in capsys.readouterr().out
    assert again["arms"]["paper init, bias 1"]["step_losses"] == out["arms"]["paper init, bias 1"]["step_losses"]
    assert "flat" in bias.bias_outcome(again["arms"]["paper init, bias 1"], again["chance_loss"]) or \
        "trains" in bias.bias_outcome(again["arms"]["paper init, bias 1"], again["chance_loss"])


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
             "config": {"dataset": "synthetic"}, "classes": data.classes, "train_images": len(data)}
    return save_checkpoint(state, folder), model, data


def test_checkpoint_export_round_trip(tmp_path):
    src, model, data = _tiny_checkpoint(tmp_path / "run")
    dst = results_figs.export_checkpoint(src, tmp_path / "ship" / "alexnet-cifar10-50k.pt")
    slim = load_checkpoint(dst)
    assert "optimizer" not in slim and "sums" not in slim and slim["epoch"] == 3 and slim["train_images"] == 64
    info = results_figs.results_model(checkpoint=dst)[2]
    assert results_figs.model_description(info) == \
        "checkpoint alexnet-cifar10-50k.pt: 3 epochs on 64 synthetic training images"
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


def test_depth_ablation_runs_through_run_ablation_with_a_model_builder():
    from alexnet.profiles import get_profile

    r = depth.depth_ablation(get_profile("smoke"), base={"device": "cpu", "epochs": 1}, save=False)
    full, shallow = r.arms["five_conv"], r.arms["no_conv4"]
    assert shallow["overrides"] == {"remove": ["conv4"]} and full["overrides"] == {}
    conv4 = alexnet_cifar(10).features.conv4
    assert full["parameters"] - shallow["parameters"] == sum(p.numel() for p in conv4.parameters())
    assert "val_correct" in shallow["runs"][0]


# ---------------------------------------------------------------- the scorecard


def _arm(err, overrides, train_eval=None, correct=None, n=10_000):
    arm = {"val_top1_error": err, "val_top5_error": err / 2, "train_top1_error": 0.05, "overrides": overrides,
           "histories": [[{"epoch": 1, "val_top1_error": err}]]}
    if train_eval is not None:
        arm["train_eval_top1_error"] = train_eval
    if correct is not None:
        arm["runs"] = [{"seed": 0, "val_correct": pack_mask(correct), "train_eval_images": n}]
    return arm


def _ablation(name, without_overrides, err_with, err_without, baseline="with", n=10_000, **extra):
    arms = {"with": _arm(err_with, {}), "without": _arm(err_without, without_overrides)}
    return {"name": name, "profile": "quick", "data": {"arms": arms, "baseline": baseline, **extra},
            "scale": {"profile": "quick", "device": "cpu", "dataset": "cifar10", "train_images": 3728,
                      "epochs": 15, "val_images": n}}


def test_masks_round_trip():
    m = torch.rand(1001) < 0.3
    assert torch.equal(unpack_mask(pack_mask(m), 1001), m) and len(pack_mask(m)) == 2 * 126


def test_scorecard_rows_come_from_the_registry_and_verdicts_from_stats():
    results = {
        # unpaired: s.e. of two rates on 10,000 images ≈ 0.65 points, so 3 points is > 2 s.e.
        "lrn_ablation": _ablation("lrn_ablation", {"model": {"lrn": False}}, 0.300, 0.330),
        "pooling_ablation": _ablation("pooling_ablation", {"model": {"pooling": "plain"}}, 0.33, 0.30),  # opposite
        # baseline chosen as the ablated arm: the scorecard must still read the sign right
        "towers_ablation": _ablation("towers_ablation", {"model": ONE_GPU}, 0.300, 0.305, baseline="without"),
        "depth_ablation": _ablation("depth_ablation", {"remove": ["conv4"]}, 0.30, 0.299),
    }
    rows = scorecard.build_scorecard(results)
    assert [r.id for r in rows] == list(paper.CLAIMS)
    assert all(r.claim == paper.CLAIMS[r.id].claim and r.paper == paper.CLAIMS[r.id].paper_text for r in rows)
    by = {r.id: r for r in rows}
    # the default scaled net's LRN is a constant rescaling: its ablation cannot test §3.3's claim (chapter 3.3)
    assert by["lrn"].verdict == stats.NOT_TESTABLE and by["lrn"].ours.startswith("−3.0")
    assert "rescaling" in by["lrn"].statistic and "unpaired" in by["lrn"].statistic
    faithful = json.loads(json.dumps(results["lrn_ablation"]))
    for arm in faithful["data"]["arms"].values():
        arm["overrides"] = {"model": {**arm["overrides"].get("model", {}), "lrn_alpha": 0.4096}}
    row = next(r for r in scorecard.build_scorecard({"lrn_ablation": faithful}) if r.id == "lrn")
    assert row.verdict == stats.REPRODUCED and "no per-image data" in row.statistic
    assert by["pooling"].verdict == stats.OPPOSITE
    assert by["towers"].verdict == stats.WITHIN_NOISE and by["depth"].verdict == stats.INCONCLUSIVE
    assert by["pca"].verdict == by["ten_crop"].verdict == scorecard.NOT_RUN
    assert {r.verdict for r in rows} <= set(stats.VERDICTS) | {scorecard.NOT_RUN, scorecard.NOT_MEASURED}
    assert "| claim |" in scorecard.scorecard_markdown(rows)
    assert not hasattr(scorecard, "verdict_for_benefit") and not hasattr(scorecard, "verdict_for_ratio")


def test_an_ablation_with_per_image_data_is_compared_image_by_image():
    n = 1000
    right = torch.zeros(n, dtype=torch.bool)
    with_ = right.clone()
    with_[:300] = True  # the component's arm gets 300 right
    without = right.clone()
    without[:280] = True
    without[900:930] = True  # 30 right that the other misses, 20 the other gets that it misses
    rec = _ablation("pooling_ablation", {"model": {"pooling": "plain"}}, 0.7, 0.69, n=n)
    rec["data"]["arms"]["with"] = _arm(0.7, {}, correct=with_, n=n)
    rec["data"]["arms"]["without"] = _arm(0.69, {"model": {"pooling": "plain"}}, correct=without, n=n)
    row = scorecard.build_scorecard({"pooling_ablation": rec}, ["pooling"])[0]
    p = stats.paired(with_, without)
    assert (p.b, p.c) == (20, 30) and "paired on 1000 images" in row.statistic
    assert f"McNemar p = {p.p_value:.2g}" in row.statistic and row.verdict == stats.verdict(p.effect, p.se)
    # the statistic and "ours" share the paper's sign: here pooling hurts (10 more right without it), so both are +
    assert p.effect < 0 and row.ours.startswith("+1.0 ± ") and "Δ error +1.0 ± " in row.statistic


def test_overfitting_rows_need_training_error_measured_like_validation():
    old = _ablation("augmentation_ablation", {"augment": "none"}, 0.30, 0.40)
    row = scorecard.build_scorecard({"augmentation_ablation": old}, ["no_augmentation"])[0]
    assert row.verdict == stats.INCONCLUSIVE and "training error measured on augmented crops" in row.statistic
    new = _ablation("augmentation_ablation", {"augment": "none"}, 0.30, 0.40)
    new["data"]["arms"]["with"]["train_eval_top1_error"] = 0.25  # gap 5 points
    new["data"]["arms"]["without"]["train_eval_top1_error"] = 0.05  # gap 35 points
    row = scorecard.build_scorecard({"augmentation_ablation": new}, ["no_augmentation"])[0]
    assert row.verdict == stats.REPRODUCED and "35.0 without vs 5.0 with" in row.ours


def test_scorecard_ten_crop_is_paired_when_counts_are_stored_and_falls_back_to_the_results_table():
    table = {"data": {"centre": {"top1": 0.30, "top5": 0.05}, "ten_crop": {"top1": 0.28, "top5": 0.045},
                      "n": 10_000}, "scale": {"profile": "quick", "dataset": "cifar10", "val_images": 10_000}}
    ten = scorecard.build_scorecard({"results_table": table}, ["ten_crop"])[0]
    assert ten.result == "results_table" and ten.verdict == stats.REPRODUCED and "unpaired" in ten.statistic
    paired = {"data": {**table["data"], "fixed_by_ten_crop": 30, "broken_by_ten_crop": 10},
              "scale": table["scale"]}
    ten = scorecard.build_scorecard({"ten_crop": paired}, ["ten_crop"])[0]
    p = stats.Paired(10_000, 30, 10)
    assert ten.verdict == stats.verdict(p.effect, p.se) and "30 right only with it, 10 only without" in ten.statistic
    assert ten.ours == f"−2.0 ± {100 * p.se:.1f} / −0.5"  # the paired s.e., beside the paper-signed Δ
    assert f"Δ error {stats.describe(-p.effect, p.se)}" in ten.statistic


def test_ratio_rows_use_every_threshold_and_the_bias_row_says_what_would_test_it():
    from alexnet.experiments.claim_measures import _ratio_row

    row = _ratio_row([2.0] * 6, "2.0× at 25%")  # 2× at every threshold, so no spread to judge by
    assert row.ours == "2.0× at 25%" and "mean of 6 ratio(s) across thresholds" in row.statistic
    assert row.verdict == stats.INCONCLUSIVE and "no spread to judge by" in row.statistic
    flat = [2.30, 2.303, 2.302]
    bias_rec = {"data": {"chance_loss": math.log(10), "arms": {
        "a": {"init": "paper", "bias_init": 1.0, "epoch_losses": flat, "diverged_at_step": None},
        "b": {"init": "paper", "bias_init": 0.0, "epoch_losses": flat, "diverged_at_step": None}}},
        "scale": {"profile": "quick"}}
    row = scorecard.build_scorecard({"bias_init": bias_rec}, ["bias_one"])[0]
    assert row.verdict == stats.NOT_TESTABLE and paper.CLAIMS["bias_one"].reproduce in row.statistic


def test_lr_drop_transient_forks_share_their_start():
    data = make_synthetic(128, 32, 10, seed=0)
    data.name = "synthetic"
    torch.manual_seed(0)
    r = learning.lr_drop_transient(alexnet_cifar(10), data, batch_size=32)
    assert len(r["paper"]) == len(r["torch"]) == len(r["stay"]) == r["steps_per_epoch"] == 4
    # the first loss of the epoch is computed before any step: the three forks start from the same weights
    assert r["paper"][0] == pytest.approx(r["torch"][0]) == pytest.approx(r["stay"][0])
    assert r["paper"][1] != pytest.approx(r["torch"][1])


def test_plateau_replay_divides_where_torchs_reduce_lr_on_plateau_does():
    gen = torch.Generator().manual_seed(0)
    fired = 0
    for patience in (1, 3, 5):
        errors = (0.6 - 0.01 * torch.arange(40) + 0.05 * torch.rand(40, generator=gen)).tolist()
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.01)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=patience,
                                                           min_lr=1e-9)
        history = []
        for epoch, err in enumerate(errors, 1):
            history.append({"epoch": epoch, "lr": opt.param_groups[0]["lr"], "val_top1_error": err})
            sched.step(err)
        torch_drops = [d["after_epoch"] for d in learning.lr_drops(history)]
        assert learning.plateau_replay(history, patience)["drops"] == torch_drops
        fired += len(torch_drops)
    assert fired  # the noisy sequences do plateau
    flat = [{"epoch": e, "lr": 0.01, "val_top1_error": v} for e, v in enumerate([0.5, 0.4, 0.45, 0.41, 0.3], 1)]
    assert learning.plateau_replay(flat, 5) == {"drops": [], "longest": 2, "longest_epochs": (3, 4)}
    assert learning.plateau_summary(flat, 5) == [
        "ε stayed at 0.01 for all 5 epochs: the longest run of epochs without a better validation error was 2 "
        "(epochs 3–4), and the rule divides only after more than 5"]


def test_the_shipped_checkpoint_is_the_50k_run_and_its_lr_follows_the_plateau_rule():
    path = find_shipped_checkpoint()
    assert path is not None and path.name == "alexnet-cifar10-50k.pt"
    state = load_checkpoint(path)
    # written before the trainer recorded it: the number of training images comes from data/README.md's record
    assert "train_images" not in state and results_figs.results_model(checkpoint=path)[2]["train_images"] == 50_000
    cfg, history = state["config"], learning.shipped_run_history()
    assert history == state["history"]
    assert cfg["train_limit"] is None and cfg["dataset"] == "cifar10" and cfg["bias_decay"] is False
    assert [h["epoch"] for h in history] == list(range(1, cfg["epochs"] + 1)) == list(range(1, 31))
    # the recorded ε agrees with the plateau rule replayed on the recorded validation errors: it never fired
    replay = learning.plateau_replay(history, cfg["plateau_patience"])
    assert [d["after_epoch"] for d in learning.lr_drops(history)] == replay["drops"] == []
    assert all(h["lr"] == cfg["lr"] for h in history)
    assert replay["longest"] <= cfg["plateau_patience"]
    assert learning.plateau_summary(history, cfg["plateau_patience"])[0].startswith("ε stayed at 0.01 for all 30")
    fig = plot_schedule(history, title="t")
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2


def test_reusable_result_is_the_one_rule_for_stored_results(tmp_path, monkeypatch):
    from alexnet import results
    from alexnet.profiles import get_profile

    def reusable_result(name, scale, profile):
        return results.reusable_result(name, profile, **scale)

    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    monkeypatch.delenv("ALEXNET_RERUN", raising=False)
    quick, smoke = get_profile("quick"), get_profile("smoke")
    results.save_result("x", {"v": 1}, {"epochs": 15, "seeds": 1}, quick)
    assert reusable_result("x", {"epochs": 15}, quick)["data"] == {"v": 1}
    assert reusable_result("x", {"epochs": 20}, quick) is None  # another scale
    assert reusable_result("x", {"epochs": 15}, smoke) is None  # smoke always trains
    assert reusable_result("missing", {}, quick) is None
    monkeypatch.setenv("ALEXNET_RERUN", "1")
    assert reusable_result("x", {"epochs": 15}, quick) is None
    monkeypatch.delenv("ALEXNET_RERUN")
    # only records made by the code running now are reused: the same record from other code is not
    record = results.load_result("x", quick)
    assert record["provenance"]["source_hash"]
    record["provenance"]["source_hash"] = "0" * 12
    (tmp_path / "x.json").write_text(json.dumps(record))
    assert reusable_result("x", {"epochs": 15}, quick) is None
    del record["provenance"]  # a record from before provenance: its code is unknown, so it is never reused
    (tmp_path / "x.json").write_text(json.dumps(record))
    assert reusable_result("x", {"epochs": 15}, quick) is None
