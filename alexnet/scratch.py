"""Where experiments keep an arm's weights for a later cell (``<folder>/last.pt``), overwritten by the next run.

- ``$ALEXNET_SCRATCH/<profile>-<name>`` when ``ALEXNET_SCRATCH`` is set (the test suite points it into its own
  temporary folder, removed when the tests end);
- in the ``smoke`` profile, ``<name>`` in a temporary folder of this process, removed when the process exits
  (a CI run or a notebook kernel leaves nothing behind);
- otherwise (``quick``, ``full``) ``~/.cache/alexnet/checkpoints/<profile>-<name>``, kept so that a reader can
  reload the weights later.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from .profiles import Profile, get_profile

_process_folder: Path | None = None


def process_folder() -> Path:
    """A temporary folder of this process (created on first use, again if something removed it), removed with
    everything in it when the process exits: smoke's checkpoints here and its results
    (:func:`alexnet.results.results_dir`)."""
    global _process_folder
    if _process_folder is None or not _process_folder.is_dir():
        _process_folder = Path(tempfile.mkdtemp(prefix="alexnet-scratch-"))
        atexit.register(shutil.rmtree, _process_folder, ignore_errors=True)
    return _process_folder


def scratch_checkpoint_dir(name: str, profile: Profile | None = None) -> Path:
    """The folder where an experiment's arm ``name`` keeps its checkpoint (see the module's docstring).

    Not created here: :func:`alexnet.train` creates it when it saves.
    """
    profile = profile or get_profile()
    if os.environ.get("ALEXNET_SCRATCH"):
        return Path(os.environ["ALEXNET_SCRATCH"]) / f"{profile.name}-{name}"
    if profile.name == "smoke":
        return process_folder() / name
    return Path.home() / ".cache" / "alexnet" / "checkpoints" / f"{profile.name}-{name}"
