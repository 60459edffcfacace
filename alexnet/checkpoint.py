"""Checkpoints that survive a crash at any moment.

:func:`save_checkpoint` writes ``DIR/last.pt`` atomically: the bytes go to a temporary file in the same folder,
are flushed and ``fsync``-ed, the previous ``last.pt`` becomes ``prev.pt``, and the new file is renamed into
place (``os.replace``, atomic on POSIX). A kill at any instant leaves either the old or the new checkpoint whole,
plus ``prev.pt``. A write that fails (a full disk, a read-only folder, a file in the folder's place) raises a
one-line :class:`CheckpointError` naming the checkpoint still kept, and :func:`check_writable` finds such a folder
before any data is loaded. :func:`load_checkpoint` refuses a truncated or corrupt file with a
:class:`CheckpointError` naming it; :func:`latest_checkpoint` falls back to ``prev.pt`` with a warning when ``last.pt`` is damaged.
"""
from __future__ import annotations

import contextlib
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


def _reason(e: BaseException) -> str:
    """The OS's words for a failed write, also when torch wraps them (``RuntimeError: [enforce fail ...]``)."""
    seen = e
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return str(e).strip().splitlines()[-1][:120] if str(e).strip() else type(e).__name__


def kept_checkpoint(folder: str | Path | None) -> Path | None:
    """The checkpoint a failed or stopped run leaves behind (``last.pt``, else ``prev.pt``), or None."""
    if folder is None:
        return None
    return next((p for p in (Path(folder) / "last.pt", Path(folder) / "prev.pt") if p.is_file()), None)


def kept_message(folder: str | Path | None) -> str:
    """Words for what survives in ``folder``, naming only a file that exists."""
    kept = kept_checkpoint(folder)
    return f"the last good checkpoint, {kept}, is kept" if kept else "no checkpoint was written"


@contextlib.contextmanager
def _write_errors(path: Path):
    try:
        yield
    except (OSError, RuntimeError) as e:
        raise CheckpointError(f"could not write {path} ({_reason(e)}); {kept_message(path.parent)}") from None


def check_writable(folder: str | Path) -> None:
    """Raise :class:`CheckpointError` now if files cannot be written in ``folder``; leave nothing behind.

    Missing folders are made for the check and removed again (the first checkpoint makes them for good).
    """
    folder, made = Path(folder), []
    try:
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        for p in reversed(missing):
            p.mkdir()
            made.append(p)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"probe")
        probe.unlink()
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoints in {folder} ({_reason(e)}); "
                              "choose another --checkpoint-dir") from None
    finally:
        for p in reversed(made):
            with contextlib.suppress(OSError):
                p.rmdir()


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, fsync it, then rename it onto ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with _write_errors(path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def save_checkpoint(state: dict, folder: str | Path, name: str = "last.pt") -> Path:
    """Write ``state`` (plus a format tag) as ``folder/name``, keeping the previous one as ``prev.pt``."""
    folder = Path(folder)
    path = folder / name
    payload = {"format": FORMAT, **state}
    tmp = folder / f".{name}.tmp{os.getpid()}"
    with _write_errors(path):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                torch.save(payload, f)
                f.flush()
                os.fsync(f.fileno())
            if name == "last.pt" and path.exists():
                os.replace(path, folder / "prev.pt")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    _fsync_dir(folder)
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`; raise :class:`CheckpointError` if it is damaged.
    ``path`` may be the trainer's checkpoint folder: its ``last.pt`` is loaded."""
    path = Path(path)
    if path.is_dir():
        if not (path / "last.pt").is_file():
            raise CheckpointError(f"{path} is a folder with no last.pt in it: pass a checkpoint file"
                                  + (f" (it has {path / 'prev.pt'})" if (path / "prev.pt").is_file() else ""))
        path = path / "last.pt"
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt and was not loaded "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:100]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model" not in state:
        raise CheckpointError(f"{path} is not an alexnet checkpoint (expected format {FORMAT!r})")
    return _in_current_names(state)


def _in_current_names(state: dict) -> dict:
    """The checkpoint's model switches (its ``identity`` and ``config``) in today's names: checkpoints written
    before ``groups``/``conv_widths`` say ``towers``/``grouped`` (:func:`alexnet.model.upgrade_switches`)."""
    from .model import upgrade_switches

    for part in (state.get("identity"), state.get("config")):
        if isinstance(part, dict) and isinstance(part.get("model"), dict):
            part["model"] = upgrade_switches(part["model"])
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


SHIPPED_CHECKPOINT = "alexnet-cifar10-50k.pt"  # the scaled net trained on all 50,000 CIFAR-10 images (data/README.md)


def find_shipped_checkpoint(name: str = SHIPPED_CHECKPOINT) -> Path | None:
    """The one lookup for a trained checkpoint the book ships or a reader made, first match wins:
    ``<data root>/checkpoints/NAME``, then ``data/checkpoints/NAME`` in a checkout, then the copy installed
    with the package (``alexnet/checkpoints/NAME``, when packaged). None if there is none."""
    from .data import data_root, repo_root

    candidates = [data_root() / "checkpoints" / name]
    if repo_root() is not None:
        candidates.append(repo_root() / "data" / "checkpoints" / name)
    candidates.append(Path(__file__).resolve().parent / "checkpoints" / name)
    return next((p for p in candidates if p.is_file()), None)
