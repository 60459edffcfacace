"""Kill a training run with SIGKILL at random moments, resume it each time, and demand bit-identical weights."""
import os
import random
import signal
import subprocess
import sys
import time

import torch

from cli_helpers import SMALL, run_cli

ARGS = [*SMALL, "--epochs", "3", "--save-every", "1"]


def _start(ck, resume):
    env = {**os.environ, "ALEXNET_PROFILE": "smoke", "ALEXNET_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "alexnet", "train", *ARGS, "--checkpoint-dir", str(ck)] + (["--resume"] if resume else [])
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _stamp(ck):
    p = ck / "last.pt"
    return p.stat().st_mtime_ns if p.exists() else None


def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path):
    reference = tmp_path / "reference"
    assert run_cli("train", *ARGS, "--checkpoint-dir", reference).returncode == 0

    ck, rng, kills = tmp_path / "killed", random.Random(1234), 0
    for attempt in range(12):
        proc = _start(ck, resume=attempt > 0)
        stamp, deadline = _stamp(ck), time.time() + 120
        while proc.poll() is None and _stamp(ck) == stamp and time.time() < deadline:
            time.sleep(0.02)  # wait for fresh progress, so the kill lands mid-training
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is None and kills < 4:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
        break
    assert kills >= 3, "the run finished before it could be killed often enough"
    a = torch.load(reference / "last.pt", weights_only=False)
    b = torch.load(ck / "last.pt", weights_only=False)
    assert a["epoch"] == b["epoch"] == 3
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert [h["val_top1_error"] for h in a["history"]] == [h["val_top1_error"] for h in b["history"]]
