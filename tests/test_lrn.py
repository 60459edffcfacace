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
    torch.testing.assert_close(eq["cuda-convnet"](x), eq["torch"](x))
    assert not torch.allclose(eq["paper"](x), eq["torch"](x))


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
