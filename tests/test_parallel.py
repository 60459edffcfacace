"""§3.2: the two towers on two devices equal the grouped net; the crossings are where the paper puts them."""
import pytest
import torch

from alexnet import AlexNetError, TrainConfig, alexnet, alexnet_cifar, load_trained, train
from alexnet.experiments.colour import colour_score, tower_colour_stats
from alexnet.experiments.towers import equality_report, forward_trace, traffic_comparison, train_model_parallel
from alexnet.figures.towers import draw_devices
from alexnet.parallel import PAPER_CROSSINGS, ModelParallelAlexNet, allreduce_bytes_per_gpu, measure_crossings

CPU2 = ("cpu", "cpu")


def pair(dtype=torch.float64, **switches):
    torch.manual_seed(0)
    grouped = alexnet_cifar(**switches).to(dtype).eval()
    return grouped, ModelParallelAlexNet.from_grouped(grouped, devices=CPU2).eval()


@pytest.mark.parametrize("switches", [{}, {"lrn": False}, {"pooling": "plain"}, {"activation": "tanh"},
                                      {"dropout": 0.0, "activation": "abs_tanh", "lrn": False, "pooling": "plain"}])
def test_outputs_and_gradients_equal_the_grouped_net_float64(switches):
    grouped, split = pair(**switches)
    x = torch.randn(3, 3, 28, 28, dtype=torch.float64) * 60
    out_g, out_s = grouped(x), split(x)
    assert out_s.shape == (3, 10)
    assert torch.allclose(out_g, out_s, rtol=0, atol=1e-12)
    out_g.sum().backward()
    out_s.sum().backward()
    assert torch.allclose(grouped.features.conv3.weight.grad,
                          torch.cat([split.gpu1.conv3.weight.grad, split.gpu2.conv3.weight.grad]), atol=1e-12)
    assert torch.allclose(grouped.features.conv1.weight.grad,
                          torch.cat([split.gpu1.conv1.weight.grad, split.gpu2.conv1.weight.grad]), atol=1e-12)


def test_penultimate_equals_the_grouped_net():
    grouped, split = pair()
    x = torch.randn(2, 3, 28, 28, dtype=torch.float64) * 60
    assert torch.allclose(grouped.penultimate(x), split.penultimate(x), atol=1e-12)


def test_paper_net_float32_equal_and_same_parameter_count():
    report = equality_report(alexnet(), batch_size=1)
    assert report["params_grouped"] == report["params_split"] == 60_965_224
    assert report["output_max_abs_diff"] <= 1e-5 * max(1.0, report["output_max_abs"])
    assert report["grad_max_abs_diff"] < 1e-5


def test_without_halo_only_the_boundary_maps_differ():
    grouped, _ = pair()
    per_tower = ModelParallelAlexNet.from_grouped(grouped, devices=CPU2, lrn_halo=False).eval()
    x = torch.randn(2, 3, 28, 28, dtype=torch.float64) * 60
    assert not torch.allclose(grouped(x), per_tower(x), atol=1e-12)  # LRN windows at the boundary differ
    assert "lrn1 halo" not in measure_crossings(per_tower).per_image()
    grouped, split = pair(lrn=False)
    assert torch.allclose(grouped(x), ModelParallelAlexNet.from_grouped(grouped, devices=CPU2, lrn_halo=False)(x),
                          atol=1e-12)


def test_round_trip_and_grouped_state_dict():
    grouped, split = pair(torch.float32)
    back = split.to_grouped(device="cpu")
    for (k, a), (k2, b) in zip(grouped.state_dict().items(), back.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    assert split.state_dict().keys() == grouped.state_dict().keys()
    fresh = ModelParallelAlexNet(10, devices=CPU2, arch="alexnet-cifar")
    fresh.load_state_dict(grouped.state_dict())
    x = torch.randn(2, 3, 28, 28) * 60
    assert torch.allclose(fresh.eval()(x), grouped(x), atol=1e-5)


def test_to_keeps_the_split_and_tower_sizes():
    _, split = pair(torch.float32)
    assert split.to("cpu") is split and split.gpu1.conv1.weight.device.type == "cpu"
    assert split.gpu1.conv2.weight.shape[0] == split.gpu2.conv2.weight.shape[0] == 64
    assert split.gpu1.conv3.weight.shape[1] == 128  # conv3 sees both towers' maps
    assert split.gpu1.conv4.weight.shape[1] == 96  # conv4 sees its own tower's only
    assert split.gpu1.fc6.in_features == 512 and split.gpu1.fc6.out_features == 512
    assert split.to(torch.float64).gpu2.fc8.weight.dtype == torch.float64


def test_one_gpu_and_ungrouped_nets_are_refused():
    for model in (alexnet_cifar(groups=1, conv_widths="one_gpu"), alexnet_cifar(groups=1)):
        with pytest.raises(AlexNetError):
            ModelParallelAlexNet.from_grouped(model, devices=CPU2)


def test_crossing_bytes_match_the_layer_shapes():
    grouped, split = pair(torch.float32)
    shapes = {}
    hooks = [grouped.features.get_submodule(n).register_forward_hook(
        lambda m, i, o, n=n: shapes.__setitem__(n, o.shape[1:])) for n in ("pool2", "act1", "act2")]
    hooks += [grouped.avgpool.register_forward_hook(lambda m, i, o: shapes.__setitem__("pool5", o.shape[1:]))]
    grouped(torch.zeros(1, 3, 28, 28))
    for h in hooks:
        h.remove()
    split.train()
    log = measure_crossings(split, batch_size=4)
    per = log.per_image()
    numel = lambda s: torch.Size(s).numel()  # noqa: E731
    assert per["conv3"]["forward"] == numel(shapes["pool2"]) * 4  # half the maps each way, 4 bytes a float
    assert per["fc6"]["forward"] == numel(shapes["pool5"]) * 4
    assert per["fc7"]["forward"] == per["fc8"]["forward"] == 1024 * 4
    assert per["logits"]["forward"] == 5 * 4
    halo = lambda s: 2 * 2 * s[1] * s[2] * 4  # noqa: E731  2 maps, both ways
    assert per["lrn1 halo"]["forward"] == halo(shapes["act1"]) and per["lrn2 halo"]["forward"] == halo(shapes["act2"])
    assert per["input"] == {"forward": 3 * 28 * 28 * 4, "backward": 0}
    for label in PAPER_CROSSINGS:  # every activation that crossed sends its gradient back
        assert per[label]["backward"] == per[label]["forward"]
    sent_a, sent_b = log.sent_per_image()
    assert sent_a == sent_b == log.total_per_image() / 2


def test_allreduce_bytes_and_the_comparison():
    assert allreduce_bytes_per_gpu(60_965_224, 2) == 60_965_224 * 4
    assert allreduce_bytes_per_gpu(100, 4) == pytest.approx(2 * 3 / 4 * 400)
    c = traffic_comparison("alexnet-cifar", batch_size=128)
    assert c.params == 2_163_914 and c.dp_sent_per_gpu_per_step == 2_163_914 * 4
    paper_bytes = sum(v["forward"] + v["backward"] for k, v in c.per_image.items() if k in PAPER_CROSSINGS)
    assert c.mp_sent_per_gpu_per_image == paper_bytes / 2
    assert c.ratio == pytest.approx(c.dp_sent_per_gpu_per_step / (128 * paper_bytes / 2))
    assert c.break_even_batch == pytest.approx(128 * c.ratio)
    assert "conv3" in c.crossing_table() and "break" not in c.crossing_table()


def test_trains_through_the_trainer_like_the_grouped_net(tmp_path):
    cfg = TrainConfig(dataset="synthetic", epochs=1, batch_size=32, train_limit=64, val_limit=32, seed=0,
                      device="cpu", model={"dropout": 0.0}, checkpoint_dir=str(tmp_path / "mp"))
    split = train_model_parallel(cfg, devices=CPU2, progress=False)
    one = train(TrainConfig(**{**cfg.__dict__, "checkpoint_dir": None}), progress=False)
    joined = split.model.to_grouped(device="cpu")
    for p, q in zip(one.model.parameters(), joined.parameters()):
        assert torch.allclose(p, q, atol=1e-5)
    assert split.history[0]["train_loss"] == pytest.approx(one.history[0]["train_loss"], abs=1e-4)
    model, _, _ = load_trained(tmp_path / "mp" / "last.pt", device="cpu")  # an ordinary AlexNet checkpoint
    assert type(model).__name__ == "AlexNet"
    assert torch.allclose(model.features.conv3.weight, joined.features.conv3.weight)


def test_colour_score_bounds_and_tower_split():
    grey = torch.randn(4, 1, 5, 5).repeat(1, 3, 1, 1)
    opponent = torch.randn(4, 1, 5, 5) * torch.tensor([1.0, -0.5, -0.5])[None, :, None, None]
    assert torch.allclose(colour_score(grey), torch.zeros(4), atol=1e-6)
    assert torch.allclose(colour_score(opponent), torch.ones(4), atol=1e-5)
    stats = tower_colour_stats(torch.cat([grey, opponent]), permutations=500)
    assert stats["mean_gpu1"] < 1e-5 and stats["mean_gpu2"] > 0.99 and stats["more_colour_specific"] == "GPU 2"
    assert stats["p_value"] < 0.05


def test_forward_trace_and_diagram():
    torch.manual_seed(0)
    split = ModelParallelAlexNet.from_grouped(alexnet(), devices=CPU2)
    trace = forward_trace(split)
    stages = [s.stage for s in trace]
    assert stages[:3] == ["input", "conv1", "pool1"] and stages[-1] == "softmax"
    crossing = {s.stage: s.crossing for s in trace}
    assert crossing["conv3"] == "conv3" and crossing["conv4"] is None and crossing["conv2"] is None
    by_stage = {s.stage: s for s in trace}
    assert by_stage["conv3"].bytes_each_way == 128 * 13 * 13 * 4
    assert by_stage["pool5"].shape_a == (128, 6, 6) and by_stage["softmax"].shape_b is None
    fig = draw_devices(trace, step=5)
    assert fig.axes
    import matplotlib.pyplot as plt
    plt.close(fig)
