"""Seeds trained at once: the paper's dropout under vmap, and the ablation runner's seeds-together path (that the
paper's net batched equals each net alone is in test_batched.py)."""
import warnings

import pytest
import torch

from alexnet import AlexNetError, TrainConfig, train
from alexnet.batched import BatchedTrainer
from alexnet.lrn import LocalResponseNorm
from alexnet.experiments.ablation import _seeds_together, run_ablation
from alexnet.model import build_model
from alexnet.profiles import get_profile
from alexnet.train_together import can_train_together, train_together


def small(**kw):
    base = dict(dataset="synthetic", epochs=3, batch_size=32, train_limit=256, val_limit=64, seed=0, device="cpu")
    return TrainConfig(**{**base, **kw})


def test_each_model_draws_its_own_dropout_masks_under_vmap():
    torch.manual_seed(0)
    net = build_model("alexnet-cifar", 10)
    trainer = BatchedTrainer([net, net], [0.01, 0.01], device="cpu", mode="vmap")
    x = torch.randn(4, 3, 28, 28)
    train_out = trainer.logits(x)  # one shared batch, two identical models
    assert not torch.allclose(train_out[0], train_out[1])
    eval_out = trainer.train(False).logits(x)  # no masks in evaluation: identical models agree
    torch.testing.assert_close(eval_out[0], eval_out[1])
    torch.testing.assert_close(eval_out[0], net.eval()(x), rtol=1e-4, atol=1e-5)


def test_seeds_together_learn_and_keep_train_s_history():
    cfg = small(epochs=4, lr=0.02)
    outs = train_together(cfg, [0, 1])
    assert [o.config.seed for o in outs] == [0, 1]
    alone = train(cfg, progress=False)
    for o in outs:
        h = o.history
        assert [r["epoch"] for r in h] == [1, 2, 3, 4]
        assert set(h[-1]) == set(alone.history[-1])
        assert h[-1]["train_loss"] < h[0]["train_loss"] - 0.2  # chance is ln 10 = 2.30
        assert h[-1]["val_top1_error"] < 0.6  # chance is 0.9
    # the same initial weights as train(seed=s), different ones per seed
    first = [p for p in outs[0].model.parameters()][0]
    second = [p for p in outs[1].model.parameters()][0]
    assert not torch.equal(first, second)


def test_each_seed_has_its_own_plateau_schedule():
    # a learning rate too small to change anything: the validation error stays put, and with patience 0 each
    # model's lr is divided by 10 after its second evaluation, exactly as train()'s ReduceLROnPlateau does
    cfg = small(epochs=4, lr=1e-7, plateau_patience=0, min_lr=1e-12)
    together = train_together(cfg, [0, 1])
    alone = train(cfg, progress=False)
    want = [r["lr"] for r in alone.history]
    assert want[0] > want[-1]
    for o in together:
        assert [r["lr"] for r in o.history] == pytest.approx(want)


def test_ablation_seeds_together_give_the_same_schema(tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    profile = get_profile("smoke")
    profile = type(profile)(**{**profile.__dict__, "seeds": 2})
    arms = {"with": {}, "without": {"model": {"lrn": False}}}
    base = {"dataset": "synthetic", "train_limit": 128, "val_limit": 64, "epochs": 2, "batch_size": 32,
            "device": "cpu"}
    seq = run_ablation("t_seq", arms, profile=profile, base=base, save=False, progress=False, together=False)
    tog = run_ablation("t_tog", arms, profile=profile, base=base, save=False, progress=False, together=True)
    for arm in arms:
        assert [r["seed"] for r in tog.arms[arm]["runs"]] == [0, 1]
        assert set(tog.arms[arm]) == set(seq.arms[arm])
        assert set(tog.arms[arm]["runs"][0]) == set(seq.arms[arm]["runs"][0])
        assert len(tog.arms[arm]["histories"]) == 2


def test_when_seeds_train_together():
    two = [small(seed=0), small(seed=1)]
    assert not _seeds_together(None, two, False)  # the CPU: one after another (auto is CUDA only)
    assert _seeds_together(True, two, False)
    assert not _seeds_together(True, two[:1], False)  # one seed
    assert not _seeds_together(True, two, True)  # every step's loss is train()'s hook
    kept = [small(seed=0, checkpoint_dir="x"), small(seed=1, checkpoint_dir="x")]
    assert not can_train_together(kept[0]) and not _seeds_together(True, kept, False)
    with pytest.raises(AlexNetError, match="checkpoints"):
        train_together(kept[0], [0, 1])


def test_the_lrn_runs_under_vmap_without_a_slow_fallback():
    """vmap runs an operation that has no batching rule model by model, with a "performance drop" warning:
    the LRN's forward and backward (through torch.func.grad, as the batched trainer calls it) must not."""
    lrn = LocalResponseNorm()
    a = (torch.randn(3, 2, 8, 5, 5, dtype=torch.float64) * 30).relu()  # 3 models × a batch of 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grads = torch.vmap(torch.func.grad(lambda x: lrn(x).pow(2).sum()))(a)
    assert not [str(w.message) for w in caught if "batching rule" in str(w.message)]
    for m in range(3):  # each model's gradient equals its own, without vmap
        one = a[m].clone().requires_grad_()
        lrn(one).pow(2).sum().backward()
        torch.testing.assert_close(grads[m], one.grad)
