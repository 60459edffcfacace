import pytest
import torch

from alexnet import AlexNet, AlexNetError, alexnet, alexnet_cifar, count_parameters, layer_table


def test_paper_parameter_counts():
    assert count_parameters(alexnet()) == 60_965_224
    assert count_parameters(AlexNet(groups=1)) == 62_378_344


def test_paper_forward_cost_and_shapes_at_227():
    table = layer_table(alexnet(), 227)
    shapes = {r.name: r.output_shape for r in table}
    assert shapes["conv1"] == (96, 55, 55)
    assert shapes["pool1"] == (96, 27, 27)
    assert shapes["pool2"] == (256, 13, 13)
    assert shapes["pool5"] == (256, 6, 6)
    assert shapes["fc8"] == (1000,)
    assert table.total_params == 60_965_224
    assert abs(table.total_macs / 1e9 - 0.72) < 0.01
    with torch.no_grad():
        assert alexnet().eval()(torch.zeros(2, 3, 227, 227)).shape == (2, 1000)


def test_224_input_is_refused_with_the_arithmetic():
    with pytest.raises(AlexNetError, match="54.25"):
        alexnet()(torch.zeros(1, 3, 224, 224))


def test_groups_equal_two_explicit_towers():
    torch.manual_seed(0)
    model = alexnet().eval()
    conv = model.features.conv2  # 256 kernels of 5×5×48, two groups
    x = torch.randn(2, 96, 27, 27)
    half_in, half_out = 48, 128
    towers = []
    for t in range(2):
        w = conv.weight[t * half_out:(t + 1) * half_out]
        b = conv.bias[t * half_out:(t + 1) * half_out]
        towers.append(torch.nn.functional.conv2d(x[:, t * half_in:(t + 1) * half_in], w, b, padding=2))
    torch.testing.assert_close(conv(x), torch.cat(towers, 1), rtol=1e-5, atol=1e-5)


def test_paper_initialisation():
    model = alexnet()
    named = dict(model.features.named_children()) | dict(model.classifier.named_children())
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"):
        w = named[name].weight
        assert abs(w.std().item() - 0.01) < 0.002, name
        expected_bias = 1.0 if name in ("conv2", "conv4", "conv5", "fc6", "fc7") else 0.0
        assert torch.all(named[name].bias == expected_bias), name
    assert torch.all(AlexNet(bias_init=0.1).features.conv2.bias == 0.1)


def test_switches():
    one = AlexNet(groups=1, conv_widths="one_gpu")  # §3.2: one GPU, half the kernels but conv5's
    widths = [one.features.get_submodule(f"conv{i}").out_channels for i in range(1, 6)]
    assert widths == [48, 128, 192, 192, 256]
    assert {one.features.get_submodule(f"conv{i}").groups for i in (2, 4, 5)} == {1}
    assert {alexnet().features.get_submodule(f"conv{i}").groups for i in (2, 4, 5)} == {2}
    assert AlexNet(groups=2, conv_widths="one_gpu").features.conv4.groups == 2
    for bad in ({"groups": 3}, {"conv_widths": "half"}):
        with pytest.raises(AlexNetError, match=next(iter(bad))):
            AlexNet(**bad)
    assert isinstance(AlexNet(activation="tanh").features.act1, torch.nn.Tanh)
    assert isinstance(AlexNet(lrn=False).features.lrn1, torch.nn.Identity)
    assert AlexNet(pooling="plain").features.pool1.kernel_size == 2
    assert AlexNet(dropout=0.3).classifier.drop6.p == 0.3
    assert AlexNet(num_classes=10).classifier.fc8.out_features == 10
    with pytest.raises(AlexNetError):
        AlexNet(activation="swishy")
    # plain pooling keeps the paper's 6×6 at 227
    with torch.no_grad():
        assert AlexNet(pooling="plain").eval()(torch.zeros(1, 3, 227, 227)).shape == (1, 1000)


def test_scaled_variant_shapes():
    model = alexnet_cifar().eval()
    with torch.no_grad():
        for size in (28, 32):
            assert model(torch.zeros(3, 3, size, size)).shape == (3, 10)
        assert model.penultimate(torch.zeros(3, 3, 28, 28)).shape == (3, 1024)
        assert alexnet_cifar(pooling="plain").eval()(torch.zeros(1, 3, 28, 28)).shape == (1, 10)
    assert model.features.conv2.groups == 2


def test_cuda_convnet_output_rule_gives_55_for_224():
    from alexnet.model import cuda_convnet_output_side, cuda_convnet_overhang
    assert cuda_convnet_output_side(224, 11, 4) == 55 == cuda_convnet_output_side(227, 11, 4)
    assert cuda_convnet_overhang(224, 11, 4) == 3 and cuda_convnet_overhang(227, 11, 4) == 0


def test_224_net_runs_conv1_into_implicit_zeros_and_equals_the_227_net_on_the_padded_image():
    torch.manual_seed(0)
    net224 = alexnet(input_size=224).eval()
    net227 = alexnet().eval()
    net227.load_state_dict(net224.state_dict())
    x = torch.randn(2, 3, 224, 224) * 50
    conv1 = {}
    net224.features.conv1.register_forward_hook(lambda m, i, o: conv1.__setitem__("out", o))
    with torch.no_grad():
        y224 = net224(x)
        y227 = net227(torch.nn.functional.pad(x, (0, 3, 0, 3)))
    assert conv1["out"].shape[-2:] == (55, 55)
    torch.testing.assert_close(y224, y227, rtol=0, atol=0)
    with pytest.raises(AlexNetError, match="input_size=224"):
        net227(x)
    with pytest.raises(AlexNetError, match="224×224 input, got 227"):
        net224(torch.zeros(1, 3, 227, 227))
    with pytest.raises(AlexNetError, match="input_size"):
        alexnet(input_size=225)


def test_lrn_switches_leave_the_scaled_default_alone():
    from alexnet.lrn import LocalResponseNorm
    from alexnet.model import ConstantScale, alexnet_cifar, alpha_rescaled_with_inputs
    default = alexnet_cifar()
    assert isinstance(default.features.lrn1, LocalResponseNorm)
    assert (default.features.lrn1.alpha, default.features.lrn1.k) == (1e-4, 2.0)
    assert alpha_rescaled_with_inputs(1 / 64) == pytest.approx(1e-4 * 64 ** 2)
    faithful = alexnet_cifar(lrn_alpha=alpha_rescaled_with_inputs(1 / 64))
    assert faithful.features.lrn2.alpha == pytest.approx(0.4096)
    const = alexnet_cifar(lrn="constant")
    assert isinstance(const.features.lrn1, ConstantScale)
    assert const.features.lrn1.factor == pytest.approx(2.0 ** -0.75)
    with pytest.raises(AlexNetError, match="lrn must be"):
        alexnet_cifar(lrn="yes")


def test_paper_dropout_and_nn_dropout_draw_the_same_mask_from_the_same_generator_state():
    from alexnet.model import PaperDropout
    h = torch.rand(64, 256) + 0.1
    torch.manual_seed(3)
    inverted = torch.nn.Dropout(0.5).train()(h)
    torch.manual_seed(3)
    paper = PaperDropout(0.5).train()(h)
    torch.testing.assert_close(inverted * 0.5, paper, rtol=0, atol=0)
