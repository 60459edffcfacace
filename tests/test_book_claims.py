"""Quantitative statements the chapters' prose makes about the package itself, each checked here.

Each test names the chapter whose sentence it checks. Statements about the paper are in ``alexnet.paper``; numbers
a chapter prints from a run are outputs, not claims of the prose.
"""
import math

import pytest
import torch

from alexnet import alexnet, alexnet_cifar, count_parameters, paper
from alexnet.lrn import local_response_norm


def test_architecture_torchvision_alexnet_has_61_100_840_parameters():  # 3.5, "Parameter counts compared"
    torchvision = pytest.importorskip("torchvision")
    assert count_parameters(torchvision.models.alexnet(weights=None)) == 61_100_840


def test_architecture_224_without_padding_gives_54_then_5x5_at_pool5_and_6400_fc6_inputs():  # 3.5, "224 or 227?"
    net = alexnet()
    with torch.no_grad():
        conv1 = net.features.conv1(torch.zeros(1, 3, 224, 224))
        pool5 = net.features(torch.zeros(1, 3, 224, 224))
        pool5_227 = net.features(torch.zeros(1, 3, 227, 227))
    assert conv1.shape[-1] == 54
    assert pool5.shape[1:] == (256, 5, 5) and pool5[0].numel() == 6_400
    assert pool5_227[0].numel() == 9_216 == net.classifier.fc6.in_features


def test_architecture_scaled_net_shape():  # 3.5 and 6: 5×5 stride-1 stem, half the widths, 1024-unit FC, 2×2 pool
    net = alexnet_cifar()
    assert tuple(net.features.conv1.weight.shape) == (48, 3, 5, 5) and net.features.conv1.stride == (1, 1)
    widths = [getattr(net.features, f"conv{i}").out_channels for i in range(1, 6)]
    assert widths == [c // 2 for c in paper.CONV_WIDTHS]
    assert net.classifier.fc6.out_features == net.classifier.fc7.out_features == 1024
    assert net.avgpool.output_size == 2


def test_pooling_both_geometries_feed_fc6_the_same_2x2x128_features():  # 3.4
    overlap, plain = alexnet_cifar(pooling="overlap"), alexnet_cifar(pooling="plain")
    x = torch.zeros(2, 3, 28, 28)
    with torch.no_grad():
        for net in (overlap, plain):
            assert tuple(net.avgpool(net.features(x)).shape[1:]) == (128, 2, 2)
    assert count_parameters(overlap) == count_parameters(plain)


def test_dataset_centre_crop_throws_away_up_to_44_percent_of_a_16_9_photo():  # 2, "What we found"
    from alexnet.transforms import paper_resize
    columns = torch.arange(640, dtype=torch.float32)  # each pixel holds its column index
    photo = columns.expand(3, 360, 640).clone()
    out = paper_resize(photo)
    assert tuple(out.shape[-2:]) == (256, 256)
    first_kept, last_kept = out[0, 128, 0].item(), out[0, 128, -1].item()
    thrown_away = (first_kept + (639 - last_kept)) / 640
    assert thrown_away == pytest.approx(0.44, abs=0.01)


def test_fig1_scales_as_chapter_3_1_states_them():  # 3.1, "Scale": quick and full
    from alexnet.experiments.fig1_protocol import FIG1_SCALES
    quick, full = FIG1_SCALES["quick"], FIG1_SCALES["full"]
    assert (quick["seeds"], quick["batch_size"], quick["grid_size"], quick["epochs"]) == (1, 64, 3, 8)
    assert quick["conventions"] == ("raw",) and max(quick["thresholds"]) == 0.7
    assert (full["batch_size"], full["seeds"], full["grid_size"], full["epochs"]) == (128, 3, 5, 60)
    assert full["conventions"] == ("raw", "standardised")
    assert round(100 * 3_728 / 50_000) == 7 and 3_728 // 64 == 58  # "7% of the paper's 50,000", "58 steps"


def test_lrn_dividing_alpha_by_5_moves_the_curve_by_sqrt5():  # 3.3: "moves a curve right by a factor √5 ≈ 2.2"
    torch.manual_seed(0)
    a = torch.relu(torch.randn(1, 16, 6, 6)) * 30
    k, beta = 2.0, 0.75
    printed = local_response_norm(a, 5, 1e-4, beta, k) / a.clamp_min(1e-12)
    divided = local_response_norm(a * math.sqrt(5), 5, 1e-4 / 5, beta, k) / (a * math.sqrt(5)).clamp_min(1e-12)
    torch.testing.assert_close(printed[a > 0], divided[a > 0])
    assert math.sqrt(5) == pytest.approx(2.2, abs=0.05)


def test_learning_scaled_net_start():  # 5: He weights, fc8 N(0, 0.01), biases 0.1 where the paper puts 1, inputs ÷64
    torch.manual_seed(0)
    net = alexnet_cifar()
    assert net.input_scale == 1 / 64
    for name in paper.BIAS_ONE_LAYERS:
        layer = getattr(net.features, name, None) or getattr(net.classifier, name)
        assert torch.all(layer.bias == 0.1)
    assert net.classifier.fc8.weight.std().item() == pytest.approx(paper.INIT_STD, rel=0.05)
    fan_in = net.features.conv3.weight[0].numel()
    assert net.features.conv3.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)


def test_biases_get_no_weight_decay_by_default():  # 5, "Weight decay on the biases"
    from alexnet.optim import param_groups
    net = alexnet_cifar()
    groups = param_groups(net, 5e-4)
    assert [g["weight_decay"] for g in groups] == [5e-4, 0.0]
    assert all(p.dim() == 1 for p in groups[1]["params"])
    assert [g["weight_decay"] for g in param_groups(net, 5e-4, bias_decay=True)] == [5e-4, 5e-4]


def test_lrn_squares_of_conv1_activations_above_256_overflow_fp16_so_it_computes_in_fp32():  # appendix, LRN
    assert torch.isinf(torch.tensor(256.0, dtype=torch.float16) ** 2)
    assert not torch.isinf(torch.tensor(255.0, dtype=torch.float16) ** 2)
    a = torch.full((1, 5, 2, 2), 300.0)
    out = local_response_norm(a.half(), 5, 1e-4, 0.75, 2.0)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), local_response_norm(a, 5, 1e-4, 0.75, 2.0), rtol=1e-3, atol=1e-3)
