"""The data contract (data/README.md): one root, a few named datasets, decoded once into a uint8 tensor cache.

Every dataset becomes an :class:`ImageSet`: all of its images as one ``N×3×S×S`` uint8 tensor (S=32 for CIFAR,
256 for ImageNet-like photos, exactly the paper's §2 preprocessing: shorter side to 256, then the centre
256×256) plus labels. Folders in the ``ImageFolder`` layout are decoded once (:mod:`alexnet.folders`: which
entries are classes and images, and every image mode to 8-bit RGB) and cached as a copy-on-write
memory-mapped ``.npy`` under ``<root>/.cache`` (or ``~/.cache/alexnet`` if the root is read-only), keyed by
a hash of the source files, so a changed folder is decoded again. Augmentation then works on whole batches of
that tensor (:mod:`alexnet.transforms`), on the CPU or the GPU, with no per-image Python per step.

The table of named datasets and :class:`ImageSet` live in :mod:`alexnet.imageset`, the decoding and the cache in
:mod:`alexnet.image_cache` (their public names are importable from here too); this module finds a dataset under
the data root, or downloads it, and loads it by name (:func:`load_imageset`).

Lookup order per dataset (first match wins) is in :data:`DATASETS`. If nothing matches, torchvision downloads
the data where a download exists and the machine is online; otherwise :class:`DatasetNotFoundError` says what
was searched and how to get the data. ``ALEXNET_OFFLINE=1`` skips download attempts.
"""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import torch

from .errors import AlexNetError, DatasetNotFoundError
from .folders import training_classes
# the table, the container and the cache have modules of their own; their public names stay importable from here
from .image_cache import cache_dir, load_folder  # noqa: F401
from .imageset import DATASETS, DatasetSpec, ImageSet, make_synthetic  # noqa: F401


def repo_root() -> Path | None:
    """The repository's top if the package runs from a checkout, else None (e.g. pip-installed on Colab)."""
    top = Path(__file__).resolve().parents[1]
    return top if (top / "pyproject.toml").exists() and (top / "book").is_dir() else None


def data_root() -> Path:
    """``$ALEXNET_DATA``, else ``data/`` at the repository's top, else ``./data``."""
    if os.environ.get("ALEXNET_DATA"):
        return Path(os.environ["ALEXNET_DATA"]).expanduser().resolve()
    top = repo_root()
    return (top / "data") if top else (Path.cwd() / "data")


def _missing(spec: DatasetSpec, root: Path, why: str = "") -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"dataset {spec.name!r} not found under {root} (accepted layouts: {'; '.join(spec.layouts)}); "
        f"{spec.how_to_get}{'. ' + why if why else ''}")


def _offline() -> bool:
    return os.environ.get("ALEXNET_OFFLINE", "") not in ("", "0")


def _read_cifar_batches(folder: Path, split: str) -> ImageSet:
    """torchvision's ``cifar-10-batches-py/`` pickles (``data_batch_1..5`` or ``test_batch``, plus
    ``batches.meta``), read directly: torchvision's own reader also checks each file's md5."""
    import pickle

    def unpickle(name: str) -> dict:
        with open(folder / name, "rb") as f:
            return pickle.load(f, encoding="latin1")

    batches = [unpickle(f"data_batch_{i}") for i in range(1, 6)] if split == "train" else [unpickle("test_batch")]
    images = np.concatenate([np.asarray(b["data"], dtype=np.uint8).reshape(-1, 3, 32, 32) for b in batches])
    labels = torch.tensor([y for b in batches for y in b["labels"]])
    return ImageSet("cifar10", split, torch.from_numpy(images), labels, list(unpickle("batches.meta")["label_names"]),
                    source=str(folder.parent))


def _from_torchvision(spec: DatasetSpec, split: str, root: Path, download: bool, progress: bool) -> ImageSet | None:
    """torchvision's own layouts, downloading if asked; None if absent and not downloadable."""
    from torchvision import datasets

    if spec.name == "cifar10":
        folder = root / "cifar10" / "cifar-10-batches-py"
        if not folder.is_dir():
            if not download:
                return None
            datasets.CIFAR10(str(folder.parent), train=(split == "train"), download=True)
        return _read_cifar_batches(folder, split)
    if spec.name == "imagenette":
        base = root / "imagenette"
        folder = base / "imagenette2-320" / split
        if not folder.is_dir():
            if not download:
                return None
            datasets.Imagenette(str(base), split=split, size="320px", download=True)
        return load_folder(folder, spec.image_size, spec.name, split, root, progress)
    return None


def on_disk(name: str, split: str = "val", root: str | Path | None = None) -> Path | None:
    """The folder holding split ``split`` of dataset ``name`` under the data root in one of its accepted layouts
    (:data:`DATASETS`), or None if it is not there; nothing is downloaded. ``synthetic`` is never on disk."""
    if name not in DATASETS or name == "synthetic":
        return None
    spec = DATASETS[name]
    split = spec.splits[1] if split in ("val", "test") else split
    root = Path(root).expanduser().resolve() if root else data_root()
    candidates = [root / name / split, {"cifar10": root / "cifar10" / "cifar-10-batches-py",
                                        "imagenette": root / "imagenette" / "imagenette2-320" / split}.get(name)]
    return next((c for c in candidates if c is not None and c.is_dir()), None)


def _imagenette_names(classes: list[str]) -> list[str]:
    """Imagenette's folders are ImageNet wnids; torchvision knows their words (``n01440764`` → ``tench``)."""
    from torchvision import datasets

    words = getattr(datasets.Imagenette, "_WNID_TO_CLASS", {})
    return [words[c][0] if c in words else c for c in classes]


def load_imageset(name: str, split: str = "train", *, root: str | Path | None = None, limit: int | None = None,
                  download: bool | None = None, progress: bool = True) -> ImageSet:
    """Load split ``train`` or ``val``/``test`` of a named dataset under the data root."""
    if name not in DATASETS:
        raise AlexNetError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    spec = DATASETS[name]
    if split in ("val", "test"):
        split = spec.splits[1]
    elif split != "train" or not spec.splits[0]:
        raise AlexNetError(f"dataset {name!r} has no split {split!r}: it has {', '.join(s for s in spec.splits if s)}")
    if name == "synthetic":
        n = 1024 if split == "train" else 256
        data = make_synthetic(n, spec.image_size, spec.num_classes, seed=0 if split == "train" else 1)
        data.split = split
        return data.subset(limit)
    root = Path(root).expanduser().resolve() if root else data_root()
    folder = root / name / split
    if folder.is_dir():
        train_folder = root / name / spec.splits[0]
        classes = training_classes(train_folder, folder) if split != "train" and spec.splits[0] \
            and train_folder.is_dir() else None
        data = load_folder(folder, spec.image_size, name, split, root, progress, classes)
    else:
        data = _from_torchvision(spec, split, root, download=False, progress=progress)
        if data is None:
            if download is False or _offline() or name in ("imagenet", "imagenet-sample"):
                raise _missing(spec, root)
            old = socket.getdefaulttimeout()
            socket.setdefaulttimeout(20)
            created = next((p for p in reversed([root / name, *(root / name).parents]) if not p.exists()), None)
            try:
                (root / name).mkdir(parents=True, exist_ok=True)
                data = _from_torchvision(spec, split, root, download=True, progress=progress)
            except Exception as e:  # offline, a proxy, a half-finished file...
                if created is not None:  # leave no empty (or half-downloaded) folder behind
                    shutil.rmtree(created, ignore_errors=True)
                raise _missing(spec, root, f"The download failed ({type(e).__name__}: {str(e)[:120]})") from None
            finally:
                socket.setdefaulttimeout(old)
    tsv = root / name / "classes.tsv"
    if tsv.exists():
        names = dict(line.split("\t", 1) for line in tsv.read_text().splitlines() if "\t" in line)
        data.class_names = [names.get(c, c).strip() for c in data.classes]
    else:
        data.class_names = _imagenette_names(data.classes) if name == "imagenette" else list(data.classes)
    return data.subset(limit)


def num_classes(name: str) -> int:
    return DATASETS[name].num_classes if name in DATASETS else 0
