"""Leave PyTorch's global settings as they were found: the trainer changes some for its run (§5's recipe on this
machine), and whoever calls it (a chapter, the benchmark, a test) should not inherit them."""
from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def preserved_torch_state():
    """Restore, on exit (also after an exception), the global switches training may change: deterministic
    algorithms (their warn-only flag and their filling of new memory), cuDNN's autotuning and determinism, and the number of CPU threads.

    Random number generators are *not* restored: seeding them is what a caller asks the trainer to do. Works as a
    decorator too: ``@preserved_torch_state()``.
    """
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    benchmark, cudnn_deterministic = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic
    threads = torch.get_num_threads()
    fill = getattr(getattr(torch.utils, "deterministic", None), "fill_uninitialized_memory", None)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = benchmark, cudnn_deterministic
        if fill is not None:
            torch.utils.deterministic.fill_uninitialized_memory = fill
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
