"""The CUDA code paths (marked ``cuda``: they skip without a GPU), each next to a CPU test of the same code.

Device-resident and pinned placement of the uint8 cache, bf16 autocast, channels_last, the out-of-memory message,
model parallelism on one device, the batched Figure 1 trainer, and the paper net's seeds trained at once (vmap).
"""
import copy

import pytest
import torch
import torch.nn.functional as F

from alexnet.batched import BatchedTrainer
from alexnet.device_data import autocast_dtype, place_images
from alexnet.errors import AlexNetError
from alexnet.experiments.relu import FourLayerNet
from alexnet.train import TrainConfig, train

HAS_CUDA = torch.cuda.is_available()
cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, cuda])]


def _images(n=64, side=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, side, side), generator=g, dtype=torch.uint8), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("where", ["device", "pinned", "host"])
def test_every_placement_returns_exactly_the_indexed_batch(device, where):
    images, labels = _images()
    placed = place_images(images, labels, device, where=where)
    order = torch.randperm(64, generator=torch.Generator().manual_seed(1)).view(4, 16)
    for i, idx in enumerate(order):
        u8, y = placed.batch(idx, prefetch=order[i + 1] if i + 1 < len(order) else None)
        assert u8.device.type == device and torch.equal(u8.cpu(), images[idx]) and torch.equal(y.cpu(), labels[idx])
    if where == "pinned" and device == "cuda":
        assert all(slot.images.is_pinned() for slot in placed._slots)
    placed.close()


@pytest.mark.cuda
@cuda
def test_autocast_is_bf16_on_ampere_and_later_and_none_on_the_cpu():
    major, _ = torch.cuda.get_device_capability()
    assert autocast_dtype("cuda") == (torch.bfloat16 if major >= 8 else torch.float16)
    assert autocast_dtype("cpu") is None


@pytest.mark.parametrize("device", DEVICES)
def test_a_channels_last_run_trains_and_keeps_the_layout(device):
    cfg = TrainConfig(dataset="synthetic", epochs=1, batch_size=32, train_limit=128, val_limit=32, device=device,
                      channels_last=True)
    run = train(cfg, progress=False, log=False)
    conv = run.model.features.conv1.weight
    assert conv.device.type == device and conv.is_contiguous(memory_format=torch.channels_last)
    assert torch.isfinite(torch.tensor(run.history[-1]["train_loss"]))


def test_the_cpu_trainer_is_channels_last_and_deterministic_without_filling_new_memory():
    torch.utils.deterministic.fill_uninitialized_memory = True  # torch's default under deterministic mode
    seen = {}

    def during(history):  # the switches while training runs (train() puts them back when it returns)
        seen.update(deterministic=torch.are_deterministic_algorithms_enabled(),
                    fill=torch.utils.deterministic.fill_uninitialized_memory)

    cfg = TrainConfig(dataset="synthetic", epochs=1, batch_size=32, train_limit=32, val_limit=32, device="cpu")
    run = train(cfg, progress=False, log=False, on_epoch=during)
    assert run.model.features.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert seen == {"deterministic": True, "fill": False}  # the NaN fill cost ~14% of a CPU step
    assert torch.utils.deterministic.fill_uninitialized_memory is True  # restored afterwards


class _Hungry(torch.nn.Module):
    """A model whose forward pass asks for far more memory than any device has (a real allocation on CUDA)."""

    def __init__(self, device):
        super().__init__()
        self.fc = torch.nn.Linear(3 * 28 * 28, 10)
        self.device = device

    def forward(self, x):
        if self.device == "cuda":
            torch.empty(2 ** 44, dtype=torch.uint8, device="cuda")  # 16 TiB: cudaMalloc refuses at once
        else:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated on the CPU)")
        return self.fc(x.flatten(1))


@pytest.mark.parametrize("device", DEVICES)
def test_out_of_memory_is_one_line_with_a_smaller_batch_to_try(device):
    cfg = TrainConfig(dataset="synthetic", epochs=1, batch_size=32, train_limit=64, val_limit=32, device=device)
    with pytest.raises(AlexNetError, match=r"ran out of memory at batch size 32; try --batch-size 16"):
        train(cfg, model=_Hungry(device), progress=False, log=False)


@pytest.mark.parametrize("device", DEVICES)
def test_model_parallel_towers_on_one_device_equal_the_grouped_net(device):
    from alexnet.experiments.towers import equality_report
    from alexnet.model import build_model

    torch.manual_seed(0)
    grouped = build_model("alexnet-cifar", 10)
    report = equality_report(grouped, devices=(device, device), batch_size=4)
    assert report["output_max_abs_diff"] <= 1e-3 * max(1.0, report["output_max_abs"])
    assert report["params_grouped"] == report["params_split"]


@pytest.mark.cuda
@cuda
def test_batched_trainer_on_cuda_matches_each_model_alone():
    torch.manual_seed(0)
    models = [FourLayerNet("relu", init="lecun") for _ in range(4)]
    x = torch.randn(4, 32, 3, 28, 28, device="cuda") * 50
    y = torch.randint(0, 10, (4, 32), device="cuda")
    exact = BatchedTrainer([copy.deepcopy(m) for m in models], [0.01] * 4, device="cuda", amp=False, mode="vmap")
    loss, _ = exact.losses(x, y)
    alone = torch.stack([F.cross_entropy(m.to("cuda")(x[k]), y[k]) for k, m in enumerate(models)])
    torch.testing.assert_close(loss, alone, rtol=1e-3, atol=1e-4)  # fp32 (TF32 at most)
    fast = BatchedTrainer(models, [0.01] * 4, device="cuda")  # bf16 autocast, vmap
    assert fast.amp_dtype is not None and fast.mode == "vmap"
    bf16, _ = fast.losses(x, y)
    torch.testing.assert_close(bf16, alone, rtol=3e-2, atol=3e-2)
    for _ in range(3):
        fast.step(x, y)
    stats = fast.epoch_stats()
    assert all(stats["alive"]) and all(0 <= e <= 1 for e in stats["train_top1_error"])


@pytest.mark.cuda
@cuda
def test_the_paper_net_batched_on_cuda_matches_each_model_alone_and_trains():
    # LRN's closed-form Function and groups=2 under vmap, in fp32 and under bf16 autocast (dropout off: exact)
    from alexnet.model import build_model

    nets = []
    for seed in range(3):
        torch.manual_seed(seed)
        nets.append(build_model("alexnet-cifar", 10, dropout=0.0).cuda())
    x = torch.randn(3, 16, 3, 28, 28, device="cuda")
    y = torch.randint(0, 10, (3, 16), device="cuda")
    alone = torch.stack([F.cross_entropy(m(x[k]), y[k]) for k, m in enumerate(nets)])
    exact = BatchedTrainer([copy.deepcopy(m) for m in nets], [0.01] * 3, device="cuda", amp=False, mode="vmap")
    torch.testing.assert_close(exact.losses(x, y)[0], alone, rtol=1e-3, atol=1e-4)
    fast = BatchedTrainer(nets, [0.01] * 3, device="cuda")
    torch.testing.assert_close(fast.losses(x, y)[0], alone, rtol=3e-2, atol=3e-2)


@pytest.mark.cuda
@cuda
def test_seeds_together_on_cuda_learn():
    from alexnet.train_together import train_together

    cfg = TrainConfig(dataset="synthetic", epochs=3, batch_size=32, train_limit=256, val_limit=64, lr=0.02,
                      device="cuda")
    outs = train_together(cfg, [0, 1, 2])
    for o in outs:
        h = o.history
        assert h[-1]["train_loss"] < h[0]["train_loss"] and h[-1]["val_top1_error"] < 0.8
        assert next(o.model.parameters()).device.type == "cuda"
