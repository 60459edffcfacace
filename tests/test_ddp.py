"""Data parallelism through torchrun: 2 gloo processes reach the weights of 1 process with the same global batch.

The CLI runs as a subprocess, exactly as a reader would launch it:
``python -m torch.distributed.run --standalone --nproc_per_node=2 -m alexnet train ...``.
"""
import os
import subprocess
import sys
from pathlib import Path

import torch

TOP = Path(__file__).resolve().parents[1]
ARGS = ["train", "--dataset", "synthetic", "--batch-size", "32", "--train-limit", "128", "--val-limit", "32",
        "--dropout", "0", "--quiet", "--device", "cpu"]


def run(args, *, processes: int, timeout: int = 240) -> str:
    # one thread per process, as torchrun gives each rank by default: the CPU kernels then add in the same order
    # in both runs. (With 2 threads against 1 the sums round differently, and after 8 steps the weights differ
    # by ~3e-5, as much as one process with 1 thread differs from one with 2.)
    env = dict(os.environ, ALEXNET_PROFILE="smoke", ALEXNET_OFFLINE="1", ALEXNET_STATIC="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(TOP) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
                if processes > 1 else [sys.executable])
    done = subprocess.run(launcher + ["-m", "alexnet"] + ARGS + args, cwd=TOP, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def test_two_gloo_processes_equal_one_process_and_resume(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    # two processes: one epoch, then resumed for a second
    run(["--epochs", "1", "--checkpoint-dir", str(two)], processes=2)
    # only rank 0 writes: a second writer would have pushed the first last.pt aside as prev.pt
    assert sorted(p.name for p in two.iterdir()) == ["history.json", "last.pt"]
    assert load(two / "last.pt")["epoch"] == 1
    log = run(["--epochs", "2", "--resume", "--checkpoint-dir", str(two)], processes=2)
    assert log.count("resuming from") == 1  # printed by rank 0 only
    assert load(two / "prev.pt")["epoch"] == 1 and load(two / "last.pt")["epoch"] == 2
    # one process, the same global batch of 32, two epochs straight through
    run(["--epochs", "2", "--checkpoint-dir", str(one)], processes=1)
    for name in ("prev.pt", "last.pt"):  # after epoch 1 and after epoch 2
        a, b = load(one / name), load(two / name)
        assert a["epoch"] == b["epoch"] and a["model"].keys() == b["model"].keys()
        for key in a["model"]:
            assert torch.allclose(a["model"][key], b["model"][key], rtol=0, atol=1e-6), (name, key)
    assert [h["epoch"] for h in b["history"]] == [1, 2]
    for ha, hb in zip(a["history"], b["history"]):
        assert abs(ha["train_loss"] - hb["train_loss"]) < 1e-4
        assert ha["val_top1_error"] == hb["val_top1_error"]
