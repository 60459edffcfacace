import os
import subprocess
import sys


def run_cli(*args, env=None, timeout=300):
    """Run ``python -m alexnet ARGS`` in the smoke, offline environment; return the CompletedProcess."""
    full_env = {**os.environ, "ALEXNET_PROFILE": "smoke", "ALEXNET_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "alexnet", *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


SMALL = ["--dataset", "synthetic", "--batch-size", "32", "--train-limit", "128", "--val-limit", "32", "--quiet",
         "--seed", "0"]
