import json

import pytest
import torch

from alexnet import AlexNetError, CheckpointError, PaperSGD, TrainConfig, load_trained, train
from alexnet.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from alexnet.train import epoch_batches


def small(**kw):
    base = dict(dataset="synthetic", epochs=3, batch_size=32, train_limit=256, val_limit=64, seed=0, device="cpu")
    return TrainConfig(**{**base, **kw})


def test_loss_falls_on_synthetic_data(tmp_path):
    result = train(small(epochs=4, checkpoint_dir=str(tmp_path)), progress=False)
    h = result.history
    assert len(h) == 4
    assert h[-1]["train_loss"] < h[0]["train_loss"] - 0.2
    assert h[-1]["val_top1_error"] < 0.6  # chance is 0.9
    saved = json.loads((tmp_path / "history.json").read_text())
    assert [r["epoch"] for r in saved] == [1, 2, 3, 4]
    for key in ("train_loss", "train_top1_error", "val_loss", "val_top1_error", "val_top5_error"):
        assert key in saved[-1]
    state = torch.load(tmp_path / "last.pt", weights_only=False)
    assert {"model", "optimizer", "epoch"} <= set(state) and state["epoch"] == 4
    # how many training images the run saw (after train_limit), for the scale of any number measured with it
    assert state["train_images"] == result.train_images == 256


def test_resume_equals_an_uninterrupted_run(tmp_path):
    full = train(small(checkpoint_dir=str(tmp_path / "a"), save_every=3), progress=False)
    # stop after one epoch, then resume to the end (mid-epoch kills: test_kill_resume.py)
    part = train(small(epochs=1, checkpoint_dir=str(tmp_path / "b")), progress=False)
    assert part.history[0]["train_loss"] == full.history[0]["train_loss"]
    resumed = train(small(checkpoint_dir=str(tmp_path / "b"), resume=True), progress=False)
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    assert [r["val_top1_error"] for r in resumed.history] == [r["val_top1_error"] for r in full.history]


def test_resume_refuses_another_architecture(tmp_path):
    train(small(epochs=1, checkpoint_dir=str(tmp_path)), progress=False)
    with pytest.raises(CheckpointError, match="different"):
        train(small(epochs=2, checkpoint_dir=str(tmp_path), resume=True, model={"groups": 1}), progress=False)


def test_truncated_checkpoint_is_named_and_previous_is_used(tmp_path):
    train(small(epochs=2, checkpoint_dir=str(tmp_path)), progress=False)
    last = tmp_path / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(last)
    with pytest.warns(UserWarning, match="previous checkpoint"):
        state = latest_checkpoint(tmp_path)
    assert state["epoch"] == 1
    result = train(small(epochs=3, checkpoint_dir=str(tmp_path), resume=True), progress=False)
    assert [r["epoch"] for r in result.history] == [1, 2, 3]


def test_bad_configs_raise_one_exception_type():
    for kw in ({"epochs": 0}, {"epochs": -3}, {"batch_size": 0}, {"dataset": "nope"}, {"lr": -1.0}):
        with pytest.raises(AlexNetError):
            train(small(**kw), progress=False)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    train(small(epochs=1, checkpoint_dir=str(tmp_path)), progress=False)
    good = torch.load(tmp_path / "last.pt", weights_only=False)
    with pytest.raises(AlexNetError, match="lower learning rate"):
        train(small(epochs=2, checkpoint_dir=str(tmp_path), lr=1e9), progress=False)
    kept = torch.load(tmp_path / "last.pt", weights_only=False)
    assert all(torch.isfinite(v).all() for v in kept["model"].values() if v.is_floating_point())
    assert kept["epoch"] >= good["epoch"]


def test_paper_update_rule_step_for_step():
    torch.manual_seed(0)
    w0 = torch.randn(5)
    w = w0.clone().requires_grad_()
    opt = PaperSGD([w], lr=0.1, momentum=0.9, weight_decay=5e-4)
    ref_w, ref_v = w0.clone(), torch.zeros(5)
    for step in range(6):
        if step == 3:
            opt.param_groups[0]["lr"] = 0.01
        eps = opt.param_groups[0]["lr"]
        loss = ((w - 1) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        grad = 2 * (ref_w - 1)
        ref_v = 0.9 * ref_v - 0.0005 * eps * ref_w - eps * grad
        ref_w = ref_w + ref_v
        opt.step()
        torch.testing.assert_close(w.detach(), ref_w)


def test_epoch_batches_shard_the_global_batch():
    one = epoch_batches(100, 8, seed=1, epoch=2)
    two = [epoch_batches(100, 8, seed=1, epoch=2, rank=r, world=2) for r in range(2)]
    for k, batch in enumerate(one):
        assert sorted(batch.tolist()) == sorted(two[0][k].tolist() + two[1][k].tolist())
    assert len(one) == 12  # whole batches only


def test_load_trained_round_trip(tmp_path):
    result = train(small(epochs=1, checkpoint_dir=str(tmp_path)), progress=False)
    model, stats, state = load_trained(tmp_path / "last.pt", device="cpu")
    for a, b in zip(result.model.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    assert stats.mean_image.shape == (3, 32, 32)
    save_checkpoint({"model": {}}, tmp_path / "x")
    with pytest.raises(Exception):
        load_trained(tmp_path / "x" / "last.pt")


def test_lr_is_divided_by_10_once_the_validation_error_stops_improving():
    # §5: "divide the learning rate by 10 when the validation error rate stopped improving". At lr 1e-6 the weights
    # hardly move, so the validation error stays where it is: with patience 1 the rule must divide after the third
    # epoch (epoch 1 sets the best, epochs 2 and 3 do not beat it), and then again after the fifth.
    h = train(small(epochs=6, lr=1e-6, plateau_patience=1, min_lr=0.0), progress=False).history
    assert [r["val_top1_error"] for r in h] == [h[0]["val_top1_error"]] * 6
    assert [round(r["lr"] / 1e-6, 6) for r in h] == [1.0, 1.0, 1.0, 0.1, 0.1, 0.01]
    # and a run whose validation error keeps improving keeps its rate
    assert {r["lr"] for r in train(small(epochs=3), progress=False).history} == {0.01}


def test_an_ablation_arm_keeps_its_weights_where_asked_but_the_saved_result_does_not_name_the_folder(tmp_path,
                                                                                                     monkeypatch):
    from alexnet.experiments.ablation import run_ablation
    from alexnet.profiles import get_profile
    from alexnet.results import load_result

    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path / "results"))
    smoke = get_profile("smoke")
    arms = {"a": {"checkpoint_dir": str(tmp_path / "kept")}, "b": {"model": {"dropout": 0.0}}}
    result = run_ablation("kept", arms, profile=smoke, base={"device": "cpu"}, progress=False)
    assert (tmp_path / "kept" / "last.pt").exists()
    saved = load_result("kept", smoke)["data"]["arms"]
    assert saved["a"]["overrides"] == {} and saved["b"]["overrides"] == {"model": {"dropout": 0.0}}
    assert str(tmp_path / "kept") not in json.dumps(saved) and result.arms["a"]["overrides"] == {}
    # per seed: which validation images the final model gets right, and its training error measured as
    # validation is (centre crops, eval mode)
    from alexnet.experiments.ablation import unpack_mask

    n = result.scale["val_images"]
    for arm in saved.values():
        (run,) = arm["runs"]
        assert run["seed"] == 0 and unpack_mask(run["val_correct"], n).float().mean().item() == pytest.approx(
            1 - arm["val_top1_error"], abs=1e-6)
        assert 0.0 <= arm["train_eval_top1_error"] <= 1.0 and run["train_eval_images"] > 0


def test_on_step_gets_every_step_loss_and_error_as_device_tensors_whose_means_are_the_history():
    seen = []
    result = train(small(epochs=2, train_limit=128), progress=False,
                   on_step=lambda step, loss, err: seen.append((step, loss, err)))
    steps = len(epoch_batches(128, 32, 0, 0))
    assert [s for s, _, _ in seen] == list(range(2 * steps))
    assert all(isinstance(t, torch.Tensor) and t.dim() == 0 and not t.requires_grad
               for _, loss, err in seen for t in (loss, err))
    for epoch, record in enumerate(result.history):  # equal batches: the epoch's figures are the steps' means
        chunk = seen[epoch * steps:(epoch + 1) * steps]
        assert torch.stack([loss for _, loss, _ in chunk]).mean().item() == pytest.approx(record["train_loss"])
        assert torch.stack([e for _, _, e in chunk]).mean().item() == pytest.approx(record["train_top1_error"])


def test_on_step_sees_the_non_finite_loss_that_stops_a_run():
    seen = []
    with pytest.raises(AlexNetError, match="lower learning rate"):
        train(small(epochs=2, lr=1e9), progress=False, on_step=lambda step, loss, err: seen.append(loss))
    assert seen and not torch.isfinite(seen[-1]) and all(torch.isfinite(x) for x in seen[:-1])
