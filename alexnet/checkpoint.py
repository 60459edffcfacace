"""Checkpoints that survive a crash at any moment.

:func:`save_checkpoint` writes ``DIR/last.pt`` atomically: the bytes go to a temporary file in the same folder,
are flushed and ``fsync``-ed, the previous ``last.pt`` becomes ``prev.pt``, and the new file is renamed into
place (``os.replace``, atomic on POSIX). A kill at any instant leaves either the old or the new checkpoint whole,
plus ``prev.pt``. :func:`load_checkpoint` refuses a truncated or corrupt file with a :class:`CheckpointError`
naming it; :func:`latest_checkpoint` falls back to ``prev.pt`` with a warning when ``last.pt`` is damaged.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from .errors import AlexNetWarning, CheckpointError

FORMAT = "alexnet-checkpoint/1"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, fsync it, then rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def save_checkpoint(state: dict, folder: str | Path, name: str = "last.pt") -> Path:
    """Write ``state`` (plus a format tag) as ``folder/name``, keeping the previous one as ``prev.pt``."""
    folder = Path(folder)
    path = folder / name
    payload = {"format": FORMAT, **state}
    tmp = folder / f".{name}.tmp{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        if name == "last.pt" and path.exists():
            os.replace(path, folder / "prev.pt")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(folder)
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`; raise :class:`CheckpointError` if it is damaged."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt and was not loaded "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:100]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model" not in state:
        raise CheckpointError(f"{path} is not an alexnet checkpoint (expected format {FORMAT!r})")
    return state


def latest_checkpoint(folder: str | Path, map_location="cpu") -> dict | None:
    """The newest loadable checkpoint in ``folder`` (``last.pt``, else ``prev.pt``), or None if there is none."""
    folder = Path(folder)
    last, prev = folder / "last.pt", folder / "prev.pt"
    if not last.exists() and not prev.exists():
        return None
    try:
        return load_checkpoint(last, map_location)
    except CheckpointError as e:
        if not prev.exists():
            raise
        warnings.warn(f"{e}; resuming from the previous checkpoint {prev} instead", AlexNetWarning, stacklevel=2)
        return load_checkpoint(prev, map_location)


def find_shipped_checkpoint(name: str = "alexnet-cifar.pt") -> Path | None:
    """The one lookup for a trained checkpoint the book ships or a reader made, first match wins:
    ``<data root>/checkpoints/NAME``, then ``data/checkpoints/NAME`` in a checkout, then the copy installed
    with the package (``alexnet/checkpoints/NAME``, when packaged). None if there is none."""
    from .data import data_root, repo_root

    candidates = [data_root() / "checkpoints" / name]
    if repo_root() is not None:
        candidates.append(repo_root() / "data" / "checkpoints" / name)
    candidates.append(Path(__file__).resolve().parent / "checkpoints" / name)
    return next((p for p in candidates if p.is_file()), None)
