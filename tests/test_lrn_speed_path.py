"""The fast LRN path (banded-GEMM window sum, closed-form backward) is still exactly the paper's formula (§3.3)."""
import pytest
import torch

from alexnet.bench import time_lrn
from alexnet.lrn import LocalResponseNorm, _window_sum, local_response_norm, local_response_norm_reference


def _relu_like(*shape, scale=30.0, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=dtype) * scale).relu() + torch.randn(*shape, generator=g, dtype=dtype)


@pytest.mark.parametrize("channels", [1, 2, 5, 13, 96])
@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_window_sum_is_the_clipped_channel_window(channels, size):
    t = torch.randn(2, channels, 3, 4, dtype=torch.float64)
    half = size // 2
    expected = torch.stack([t[:, max(0, i - half):min(channels - 1, i + half) + 1].sum(1) for i in range(channels)], 1)
    torch.testing.assert_close(_window_sum(t, half), expected)
    torch.testing.assert_close(_window_sum(t, half, scale=-0.5, bias=2.0), 2.0 - 0.5 * expected)
    cl = t.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(_window_sum(cl, half, 3.0, 1.0), 1.0 + 3.0 * expected)


@pytest.mark.parametrize("size,alpha,beta,k", [(5, 1e-4, 0.75, 2.0), (3, 1e-2, 0.5, 1.0), (7, 1e-3, 0.75, 2.0)])
def test_forward_equals_the_naive_formula_and_torch(size, alpha, beta, k):
    x = _relu_like(3, 17, 6, 5)
    ours = LocalResponseNorm(size, alpha, beta, k)(x)
    torch.testing.assert_close(ours, local_response_norm_reference(x, size, alpha, beta, k))
    # torch divides α by n: torch's module with α·n is the paper's layer with α
    torch.testing.assert_close(ours, torch.nn.LocalResponseNorm(size, alpha * size, beta, k)(x))


def test_gradients_equal_torch_module_with_alpha_times_n():
    x = _relu_like(2, 96, 7, 7, scale=50.0)
    g = torch.randn(x.shape, dtype=torch.float64)
    a1, a2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    (LocalResponseNorm(5, 1e-4, 0.75, 2.0)(a1) * g).sum().backward()
    (torch.nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0)(a2) * g).sum().backward()
    torch.testing.assert_close(a1.grad, a2.grad)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided"])
def test_gradcheck_float64(layout):
    x = _relu_like(2, 9, 3, 4, scale=10.0)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "strided":
        x = _relu_like(2, 18, 3, 4, scale=10.0)[:, ::2]
    x.requires_grad_()
    assert torch.autograd.gradcheck(lambda t: local_response_norm(t, 5, 1e-2, 0.75, 2.0), (x,))


def test_channels_last_in_channels_last_out_and_same_values():
    x = _relu_like(2, 96, 11, 11, dtype=torch.float32)
    cl = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    y = LocalResponseNorm()(cl)
    assert y.is_contiguous(memory_format=torch.channels_last)
    y.sum().backward()
    assert cl.grad.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, LocalResponseNorm()(x))


def test_float32_matches_float64_reference():
    x = _relu_like(4, 96, 13, 13, scale=80.0)
    ref = local_response_norm_reference(x)
    torch.testing.assert_close(LocalResponseNorm()(x.float()), ref.float(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_keeps_its_dtype_and_fp16_does_not_overflow(dtype):
    x = _relu_like(2, 96, 5, 5, scale=400.0, dtype=torch.float32)  # a² > 65504: fp16 squares would overflow
    a = x.to(dtype).requires_grad_()
    y = LocalResponseNorm()(a)
    y.float().sum().backward()
    assert y.dtype == dtype and a.grad.dtype == dtype
    assert torch.isfinite(y).all() and torch.isfinite(a.grad).all()
    tol = 2e-3 if dtype == torch.float16 else 2e-2
    torch.testing.assert_close(y.float(), LocalResponseNorm()(x.to(dtype).float()), rtol=tol, atol=tol)


def test_under_cpu_autocast_the_layer_runs_in_its_input_dtype():
    x = _relu_like(2, 12, 4, 4, dtype=torch.float32).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = LocalResponseNorm()(x)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, local_response_norm_reference(x.detach()))


def test_double_backward_is_refused_not_silently_wrong():
    x = _relu_like(1, 6, 2, 2).requires_grad_()
    (grad,) = torch.autograd.grad(LocalResponseNorm()(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        grad.sum().backward()


def test_the_micro_benchmark_runs_and_reports_a_speedup():
    r = time_lrn("cpu", batch=2, repeats=1, side=13)
    assert r["shape"] == [2, 96, 13, 13]
    assert r["ours_ms"] > 0 and r["torch_ms"] > 0 and r["speedup"] == pytest.approx(r["torch_ms"] / r["ours_ms"])
