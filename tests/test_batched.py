"""The batched trainer (many models in one vmapped step) equals training each model alone."""
import math

import pytest
import torch
import torch.nn.functional as F

from alexnet.batched import BatchedTrainer
from alexnet.errors import AlexNetError
from alexnet.experiments.relu import FourLayerNet
from alexnet.model import build_model
from alexnet.optim import PaperSGD, param_groups


def _models(k=3, activation="relu", init="lecun"):
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(FourLayerNet(activation, init=init))
    return out


def _batches(k, steps, b=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn(k, b, 3, 28, 28, generator=g) * 50 for _ in range(steps)]
    ys = [torch.randint(0, 10, (k, b), generator=g) for _ in range(steps)]
    return xs, ys


def _paper_nets(k):
    # the paper's scaled net: LRN (its closed-form autograd Function), groups=2; dropout 0 so the comparison is
    # exact, and float64: in float32 a last-bit difference between the batched and the single GEMMs can flip which
    # of two nearly equal inputs a max-pool picks, and so route a gradient elsewhere (both are right)
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(build_model("alexnet-cifar", 10, dropout=0.0).double())
    return out


NETS = {  # name → (k nets, input dtype, input scale, gradient rtol, atol)
    "four-layer": (lambda k: _models(k), torch.float32, 50.0, 1e-4, 1e-6),
    "paper net": (_paper_nets, torch.float64, 1.0, 1e-7, 1e-10),
}


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("mode", ["vmap", "loop"])
def test_losses_and_gradients_equal_each_model_alone(mode, net):
    make, dtype, scale, rtol, atol = NETS[net]
    models = make(3)
    trainer = BatchedTrainer(make(3), [0.01, 0.02, 0.04], device="cpu", mode=mode)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 8, 3, 28, 28, generator=g, dtype=dtype) * scale
    y = torch.randint(0, 10, (3, 8), generator=g)
    loss, _ = trainer.losses(x, y)
    loss.sum().backward()
    for k, m in enumerate(models):
        alone = F.cross_entropy(m(x[k]), y[k])
        alone.backward()
        assert loss[k].item() == pytest.approx(alone.item(), rel=1e-5)
        for name, p in m.named_parameters():
            torch.testing.assert_close(trainer.params[name].grad[k], p.grad, rtol=rtol, atol=atol, msg=name)


@pytest.mark.parametrize("wd,mode", [(0.0, "vmap"), (5e-4, "vmap"), (5e-4, "loop")])
def test_steps_equal_paper_sgd_per_model(wd, mode):
    lrs = [0.003, 0.01, 0.03]
    trainer = BatchedTrainer(_models(3), lrs, device="cpu", weight_decay=wd, mode=mode)
    xs, ys = _batches(3, 4)
    for x, y in zip(xs, ys):
        trainer.step(x, y)
    stats = trainer.epoch_stats()
    for k, m in enumerate(_models(3)):
        opt = PaperSGD(param_groups(m, wd), lr=lrs[k], momentum=0.9, weight_decay=wd)
        errors = 0
        for x, y in zip(xs, ys):
            out = m(x[k])
            loss = F.cross_entropy(out, y[k])
            opt.zero_grad()
            loss.backward()
            opt.step()
            errors += (out.argmax(1) != y[k]).sum().item()
        mine = trainer.model(k)
        for (name, p), q in zip(m.named_parameters(), mine.parameters()):
            torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5, msg=name)
        assert stats["train_top1_error"][k] == pytest.approx(errors / (4 * 8))
    assert trainer.epoch_stats()["train_top1_error"] == [0.0, 0.0, 0.0]  # reset after the read


def test_a_diverging_model_does_not_touch_the_others():
    trainer = BatchedTrainer(_models(2), [1e-3, 1e-3], device="cpu")
    reference = BatchedTrainer(_models(2), [1e-3, 1e-3], device="cpu")
    xs, ys = _batches(2, 3, seed=1)
    for x, y in zip(xs, ys):
        bad = x.clone()
        bad[0, 0, 0, 0, 0] = float("inf")  # model 0's batch holds an infinite pixel: its loss is NaN
        trainer.step(bad, y)
        reference.step(x, y)
    stats = trainer.epoch_stats()
    assert stats["alive"] == [False, True] and math.isnan(stats["train_top1_error"][0])
    for name in trainer.params:
        torch.testing.assert_close(trainer.params[name][1], reference.params[name][1])


def test_shared_batch_equals_the_batch_repeated():
    xs, ys = _batches(1, 1, seed=2)
    a = BatchedTrainer(_models(2), [1e-2, 2e-2], device="cpu")
    b = BatchedTrainer(_models(2), [1e-2, 2e-2], device="cpu")
    a.step(xs[0][0], ys[0][0])
    b.step(xs[0].expand(2, -1, -1, -1, -1), ys[0].expand(2, -1))
    for name in a.params:
        torch.testing.assert_close(a.params[name], b.params[name])


def test_bad_input():
    with pytest.raises(AlexNetError, match="learning rate"):
        BatchedTrainer(_models(2), [0.1])
    with pytest.raises(AlexNetError, match="unknown mode"):
        BatchedTrainer(_models(1), [0.1], mode="fast")
    with pytest.raises(AlexNetError, match="same architecture"):
        BatchedTrainer([FourLayerNet(widths=(8, 8, 8)), FourLayerNet()], [0.1, 0.1])
