import os
import subprocess
import sys

from alexnet.profiles import get_profile
from alexnet.scratch import scratch_checkpoint_dir

# A chapter's ablation in the smoke profile (what CI and the test suite run), in a process of its own.
ABLATION = """
from alexnet.experiments import towers
from alexnet.experiments.dropout import dropout_ablation
_, path = towers.towers_ablation(base={"epochs": 1})
assert path.is_file(), path
_, _, path = dropout_ablation(base={"epochs": 1})
assert path.is_file(), path
print(path)
"""


def test_smoke_ablations_leave_nothing_in_the_temporary_directory(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "ALEXNET_PROFILE": "smoke", "ALEXNET_RESULTS": str(tmp_path / "res")}
    env.pop("ALEXNET_SCRATCH", None)
    proc = subprocess.run([sys.executable, "-c", ABLATION], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith(str(tmp)), proc.stdout  # it was there while it ran
    # (torch may keep its own caches there, such as torchinductor_<user>)
    left = [p for p in tmp.rglob("*") if p.name.startswith("alexnet") or p.suffix == ".pt"]
    assert left == []


def test_quick_runs_keep_checkpoints_in_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("ALEXNET_SCRATCH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    quick = get_profile("quick")
    assert scratch_checkpoint_dir("dropout", quick) == tmp_path / ".cache/alexnet/checkpoints/quick-dropout"
    monkeypatch.setenv("ALEXNET_SCRATCH", str(tmp_path / "s"))
    assert scratch_checkpoint_dir("dropout", quick) == tmp_path / "s" / "quick-dropout"
