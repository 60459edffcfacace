"""§3.2 on real hardware: training steps timed on one GPU, on the two towers over two GPUs and under DDP, and the
CLI's DDP run compared with one process (chapter 3.2).
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import paper
from ..model import alexnet
from ..optim import PaperSGD
from ..parallel import ModelParallelAlexNet


# ------------------------------------------------------------------------------------------ timing (≥2 GPUs)

def time_training_steps(model: torch.nn.Module, *, batch_size: int = paper.BATCH_SIZE,
                        input_size: int = paper.INPUT_SIDE, steps: int = 20,
                        warmup: int = 5, device=None) -> float:
    """Images per second of plain training steps (forward, backward, PaperSGD update) on random data, float32."""
    device = torch.device(device or (model.devices[0] if isinstance(model, ModelParallelAlexNet)
                                     else next(model.parameters()).device))
    opt = PaperSGD(model.parameters(), lr=paper.LR_INITIAL)
    x = torch.randn(batch_size, 3, input_size, input_size, device=device)
    y = torch.randint(0, paper.ILSVRC_CLASSES, (batch_size,), device=device)
    model.train()

    def sync():
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                torch.cuda.synchronize(i)

    for i in range(warmup + steps):
        if i == warmup:
            sync()
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    sync()
    return batch_size * steps / (time.perf_counter() - t0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, batch_size: int, steps: int, warmup: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    cuda = torch.cuda.is_available()
    torch.distributed.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    device = torch.device("cuda", rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(0)
    net = torch.nn.parallel.DistributedDataParallel(alexnet().to(device), device_ids=[rank] if cuda else None)
    speed = time_training_steps(net, batch_size=batch_size // world, steps=steps, warmup=warmup, device=device)
    torch.distributed.barrier()
    if rank == 0:
        Path(out).write_text(json.dumps({"images_per_second": speed * world}))
    torch.distributed.destroy_process_group()


def ddp_images_per_second(world: int = 2, *, batch_size: int = paper.BATCH_SIZE, steps: int = 20,
                          warmup: int = 5) -> float:
    """Training images per second of the paper's net under DDP over ``world`` processes (one per GPU; gloo on
    CPU), global batch ``batch_size``. Launched with ``torch.multiprocessing.spawn``."""
    with tempfile.TemporaryDirectory(prefix="alexnet-ddp-") as folder:
        out = Path(folder) / "speed.json"
        torch.multiprocessing.spawn(_ddp_worker, args=(world, _free_port(), batch_size, steps, warmup, str(out)),
                                    nprocs=world, join=True)
        return json.loads(out.read_text())["images_per_second"]


def multi_gpu_timings(*, batch_size: int = paper.BATCH_SIZE, steps: int = 20) -> dict:
    """The paper's net (227×227, float32), training images per second: one GPU (grouped), the two towers on two
    GPUs (§3.2), and DDP on two GPUs. Needs at least two CUDA devices."""
    if torch.cuda.device_count() < 2:
        raise RuntimeError("multi_gpu_timings needs at least two CUDA devices")
    torch.manual_seed(0)
    single = time_training_steps(alexnet().to("cuda:0"), batch_size=batch_size, steps=steps)
    torch.manual_seed(0)
    split = ModelParallelAlexNet.from_grouped(alexnet(), devices=("cuda:0", "cuda:1"))
    towers = time_training_steps(split, batch_size=batch_size, steps=steps)
    ddp = ddp_images_per_second(2, batch_size=batch_size, steps=steps)
    return {"single_gpu": single, "model_parallel_2gpu": towers, "ddp_2gpu": ddp, "batch_size": batch_size,
            "gpu": torch.cuda.get_device_name(0)}


# ------------------------------------------------------------------------------------------ DDP, as a reader runs it

def ddp_command(processes: int, *args: str) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node=N -m alexnet ARGS`` (one machine)."""
    import sys

    launcher = (["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
                if processes > 1 else [])
    return [sys.executable, *launcher, "-m", "alexnet", *args]


def compare_ddp_with_one_process(workdir: str | Path, *, processes: int = 2, epochs: int = 1, batch_size: int = 32,
                                 train_limit: int = 128, val_limit: int = 32, timeout: int = 600) -> dict:
    """Train the same recipe (synthetic data, dropout 0, global batch ``batch_size``) with the CLI twice: under
    torchrun with ``processes`` gloo processes, and as one process. Returns the largest weight difference, both
    histories, the files each run wrote and the wall time of each launch (start-up included)."""
    import subprocess

    workdir = Path(workdir)
    package_parent = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, OMP_NUM_THREADS="1", ALEXNET_STATIC="1",
               PYTHONPATH=package_parent + os.pathsep + os.environ.get("PYTHONPATH", ""))
    common = ["train", "--dataset", "synthetic", "--epochs", str(epochs), "--batch-size", str(batch_size),
              "--train-limit", str(train_limit), "--val-limit", str(val_limit), "--dropout", "0", "--device", "cpu",
              "--quiet"]
    runs = {}
    for name, n in (("ddp", processes), ("one_process", 1)):
        folder = workdir / name
        t0 = time.perf_counter()
        done = subprocess.run(ddp_command(n, *common, "--checkpoint-dir", str(folder)), env=env, cwd=workdir,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{name} run failed:\n{done.stderr[-2000:]}")
        state = torch.load(folder / "last.pt", map_location="cpu", weights_only=False)
        runs[name] = {"state": state, "seconds": time.perf_counter() - t0,
                      "files": sorted(p.name for p in folder.iterdir())}
    a, b = runs["ddp"]["state"]["model"], runs["one_process"]["state"]["model"]
    return {"processes": processes, "max_weight_diff": max((a[k] - b[k]).abs().max().item() for k in a),
            "histories": {k: r["state"]["history"] for k, r in runs.items()},
            "files": {k: r["files"] for k, r in runs.items()}, "seconds": {k: r["seconds"] for k, r in runs.items()}}
