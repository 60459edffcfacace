"""Which code made a stored result, and whether the code running now made it.

Every result that :func:`alexnet.results.save_result` writes carries a ``provenance`` block (:func:`provenance`):
the package version; the git commit where the package runs from a checkout (``None`` elsewhere, e.g.
pip-installed on Colab), and whether the package's files differed from that commit; a hash of the package's
Python source (:func:`source_hash`), which is the code's identity: the same in a checkout and in a pip install
of that checkout, and different after any change to the package; the profile; the dataset and its size; the
seeds; the device; the wall time.

:func:`made_by_current_code` says whether a stored record was made by the code running now at a given scale:
the rule for reusing a stored result instead of training again. Results saved before provenance existed have
no such block; they are labelled :data:`UNKNOWN_CODE` and are never taken for the current code.
"""
from __future__ import annotations

import functools
import hashlib
import subprocess
from pathlib import Path

from .data import repo_root

PACKAGE = Path(__file__).resolve().parent
UNKNOWN_CODE = "code unknown (before provenance)"


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """The first 12 hex digits of a SHA-256 over the package's ``.py`` files (their paths and bytes, sorted)."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        h.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """(commit, whether the package's files differ from it) in a git checkout; (None, None) without git.

    ``alexnet/stored_results/`` is left out of the comparison: a run writes its results there, and those are
    data, not the code that made them.
    """
    top = repo_root()
    if top is None:
        return None, None
    try:
        head = subprocess.run(["git", "-C", str(top), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=20)
        status = subprocess.run(["git", "-C", str(top), "status", "--porcelain", "--", "alexnet",
                                 ":(exclude)alexnet/stored_results"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None, None
    if head.returncode != 0:
        return None, None
    return head.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 else None


def provenance(profile_name: str, scale: dict, *, seeds: list[int] | None = None,
               seconds: float | None = None) -> dict:
    """The provenance block of a result measured at ``scale`` (see :func:`alexnet.results.scale`).

    ``seeds`` defaults to ``[scale["seed"]]`` or ``range(scale["seeds"])`` where the scale names them, else None
    (not recorded); ``seconds`` is the wall time of the measurement, None where it was not timed.
    """
    import torch

    from . import __version__

    if seeds is None and "seed" in scale:
        seeds = [scale["seed"]]
    elif seeds is None and "seeds" in scale:
        seeds = list(range(int(scale["seeds"])))
    commit, dirty = git_state()
    return {"package_version": __version__, "source_hash": source_hash(), "git_commit": commit, "git_dirty": dirty,
            "profile": profile_name, "dataset": scale.get("dataset"),
            "dataset_size": {k: scale[k] for k in ("train_images", "val_images") if k in scale},
            "seeds": seeds, "device": scale.get("device"), "wall_seconds": seconds, "torch": torch.__version__}


def code_of(record: dict) -> str | None:
    """The source hash of the code that made ``record``, or None if it has no provenance."""
    return (record.get("provenance") or {}).get("source_hash")


def code_label(record: dict) -> str:
    """``0.1.0, source 1a2b3c4d5e6f (git 5a21608)`` for a record with provenance, else :data:`UNKNOWN_CODE`."""
    prov = record.get("provenance")
    if not prov:
        return UNKNOWN_CODE
    commit = prov.get("git_commit")
    git = f", git {commit[:7]}{' + changes' if prov.get('git_dirty') else ''}" if commit else ""
    return f"{prov.get('package_version', '?')}, source {prov['source_hash']}{git}"


# what says where and when a number was measured, not at what scale
_NOT_SCALE = frozenset({"device", "device_name", "saved_at"})


def made_by_current_code(record: dict | None, profile_name: str, /, **scale) -> bool:
    """True if ``record`` was made by the code running now (:func:`source_hash`), in profile ``profile_name``,
    and its scale has every item of ``scale`` (a device is where a number was measured, not its scale, so
    ``device`` is not compared)."""
    if not record or code_of(record) != source_hash() or record.get("profile") != profile_name:
        return False
    stored = record.get("scale", {})
    return all(stored.get(k) == v for k, v in scale.items() if k not in _NOT_SCALE)
