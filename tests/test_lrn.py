import pytest
import torch

from alexnet import LocalResponseNorm, local_response_norm_reference, lrn_equivalents


def test_matches_the_naive_formula():
    torch.manual_seed(0)
    x = torch.randn(2, 13, 5, 5, dtype=torch.float64) * 20
    for size, alpha, beta, k in [(5, 1e-4, 0.75, 2.0), (3, 1e-2, 0.5, 1.0), (1, 1e-3, 0.75, 2.0)]:
        torch.testing.assert_close(LocalResponseNorm(size, alpha, beta, k)(x),
                                   local_response_norm_reference(x, size, alpha, beta, k))


def test_paper_alpha_has_no_division_by_n():
    x = torch.randn(2, 16, 4, 4, dtype=torch.float64) * 30
    ours = LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
    torchs = torch.nn.LocalResponseNorm(5, alpha=5e-4 * 5, beta=0.75, k=2.0)  # torch divides α by n
    torch.testing.assert_close(ours(x), torchs(x))
    eq = lrn_equivalents()
    torch.testing.assert_close(eq["cuda-convnet2"](x), eq["torch"](x))
    torch.testing.assert_close(eq["cuda-convnet"](x), eq["caffe"](x))  # 2012 cmrnorm: k hard-coded to 1
    assert not torch.allclose(eq["paper"](x), eq["torch"](x))
    assert not torch.allclose(eq["cuda-convnet"](x), eq["torch"](x))


def test_every_convention_equals_the_papers_formula_with_converted_constants():
    from alexnet.lrn import CONVENTIONS
    x = torch.relu(torch.randn(2, 16, 4, 4, dtype=torch.float64)) * 40
    size, alpha, beta, k = 5, 1e-3, 0.75, 2.0
    modules = lrn_equivalents(size, alpha, beta, k)
    assert set(modules) == set(CONVENTIONS)
    for name, conv in CONVENTIONS.items():
        a_ref, k_ref = conv.to_paper(size, alpha, k)
        reference = local_response_norm_reference(x, size, a_ref, beta, k_ref)
        torch.testing.assert_close(modules[name].double()(x), reference, msg=name)
    assert CONVENTIONS["cuda-convnet"].to_paper(5, 1e-4, 2.0) == (pytest.approx(2e-5), 1.0)


def test_gradcheck_float64():
    x = (torch.randn(2, 7, 3, 3, dtype=torch.float64) * 10).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: LocalResponseNorm(5, 1e-2, 0.75, 2.0)(t), (x,))


def test_gradient_equals_autograd_through_the_reference():
    x = (torch.randn(2, 10, 4, 4, dtype=torch.float64) * 25).requires_grad_()
    g = torch.randn(2, 10, 4, 4, dtype=torch.float64)
    (LocalResponseNorm()(x) * g).sum().backward()
    fast = x.grad.clone()
    x.grad = None
    (local_response_norm_reference(x) * g).sum().backward()
    torch.testing.assert_close(fast, x.grad)
