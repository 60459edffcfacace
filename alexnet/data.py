"""The data contract (data/README.md): one root, a few named datasets, decoded once into a uint8 tensor cache.

Every dataset becomes an :class:`ImageSet`: all of its images as one ``N×3×S×S`` uint8 tensor (S=32 for CIFAR,
256 for ImageNet-like photos, exactly the paper's §2 preprocessing: shorter side to 256, then the centre
256×256) plus labels. Folders in the ``ImageFolder`` layout are decoded once (:mod:`alexnet.folders`: which
entries are classes and images, and every image mode to 8-bit RGB) and cached as a copy-on-write
memory-mapped ``.npy`` under ``<root>/.cache`` (or ``~/.cache/alexnet`` if the root is read-only), keyed by
a hash of the source files, so a changed folder is decoded again. Augmentation then works on whole batches of
that tensor (:mod:`alexnet.transforms`), on the CPU or the GPU, with no per-image Python per step.

Lookup order per dataset (first match wins) is in :data:`DATASETS`. If nothing matches, torchvision downloads
the data where a download exists and the machine is online; otherwise :class:`DatasetNotFoundError` says what
was searched and how to get the data. ``ALEXNET_OFFLINE=1`` skips download attempts.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .errors import AlexNetError, AlexNetWarning, DatasetNotFoundError
from .folders import name_list, printable, scan_folder, to_rgb, training_classes


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    image_size: int  # the stored side: 256 for photos (§2), 32 for CIFAR
    crop_size: int  # the network's input: 227 for photos, 28 for CIFAR
    num_classes: int
    splits: tuple[str, ...]  # (train, validation); None where a set has no training split
    layouts: tuple[str, ...]
    how_to_get: str


DATASETS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec("cifar10", 32, 28, 10, ("train", "test"),
                           ("cifar10/{train,test}/<class>/*.png (ImageFolder)",
                            "cifar10/cifar-10-batches-py/ (torchvision)"),
                           "torchvision downloads it (170 MB) when online; or set ALEXNET_DATA to a folder that has it"),
    "imagenette": DatasetSpec("imagenette", 256, 227, 10, ("train", "val"),
                              ("imagenette/{train,val}/<class>/* (ImageFolder)",
                               "imagenette/imagenette2-320/{train,val}/ (torchvision)"),
                              "torchvision downloads the 320 px version (330 MB) when online; or set ALEXNET_DATA to a "
                              "folder that has it"),
    "imagenet": DatasetSpec("imagenet", 256, 227, 1000, ("train", "val"),
                            ("imagenet/{train,val}/<wnid>/* (ImageFolder)",),
                            "bring your own copy of ILSVRC-2012 (it is never downloaded) and set ALEXNET_DATA"),
    "imagenet-sample": DatasetSpec("imagenet-sample", 256, 227, 1000, ("", "val"),
                                   ("imagenet-sample/val/<wnid>/*.jpg and imagenet-sample/classes.tsv",),
                                   "it ships beside the project (../shared/data); point ALEXNET_DATA at it"),
    "synthetic": DatasetSpec("synthetic", 32, 28, 10, ("train", "val"), ("none: generated on the fly",),
                             "nothing to get"),
}

SPLIT_ALIASES = {"val": "test", "test": "val"}  # CIFAR calls its held-out split "test", the others "val"


@dataclass
class ImageSet:
    """A whole split as tensors: ``images`` is N×3×S×S uint8, ``labels`` is N int64."""

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    source: str = ""
    class_names: list[str] = field(default_factory=list)  # human-readable, where known

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def crop_size(self) -> int:
        return DATASETS[self.name].crop_size if self.name in DATASETS else self.image_size

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, limit: int | None, seed: int = 0) -> "ImageSet":
        """The first ``limit`` images of a fixed class-balanced shuffle (all of them if ``limit`` is None)."""
        if limit is None or limit >= len(self):
            return self
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:limit].sort().values
        return ImageSet(self.name, self.split, self.images[order], self.labels[order], self.classes,
                        self.source, self.class_names)

    def describe(self) -> str:
        return f"{self.name}/{self.split}: {len(self):,} images of {self.image_size}×{self.image_size}, " \
               f"{self.num_classes} classes"


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


def cache_dir(root: Path) -> Path:
    """Where decoded tensors go: ``$ALEXNET_CACHE``, else ``<root>/.cache`` if the root is writable, else
    ``~/.cache/alexnet``."""
    candidates = [Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alexnet"]
    if os.environ.get("ALEXNET_CACHE"):
        candidates.insert(0, Path(os.environ["ALEXNET_CACHE"]))
    elif root.is_dir() and root.stat().st_mode & 0o200:  # a read-only root (even for root) is left alone
        candidates.insert(0, root / ".cache")
    for c in candidates:
        try:
            c.mkdir(parents=True, exist_ok=True)
            probe = c / f".probe-{os.getpid()}"
            probe.touch()
            probe.unlink()
            return c
        except OSError:
            continue
    raise AlexNetError(f"no writable cache folder: tried {', '.join(map(str, candidates))}")


def _missing(spec: DatasetSpec, root: Path, why: str = "") -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"dataset {spec.name!r} not found under {root} (accepted layouts: {'; '.join(spec.layouts)}); "
        f"{spec.how_to_get}{'. ' + why if why else ''}")


def _offline() -> bool:
    return os.environ.get("ALEXNET_OFFLINE", "") not in ("", "0")


# ---------------------------------------------------------------- synthetic data

def make_synthetic(n: int, image_size: int = 32, num_classes: int = 10, seed: int = 0) -> ImageSet:
    """A learnable stand-in: each class has its own shape, colour and stripe texture, plus noise and jitter.

    Class ``c`` draws a filled disc, square or cross (``c % 3``) in a class colour over stripes of a class
    frequency and orientation, at a random position and size, on a random-brightness background. A small
    CNN separates them in a few epochs, so curves fall; nothing about it resembles real photos.
    """
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    labels = labels[torch.randperm(n, generator=g)]
    s = image_size
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, s), torch.linspace(-1, 1, s), indexing="ij")
    hues = torch.linspace(0, 1, num_classes + 1)[:-1]
    palette = torch.stack([(torch.sin(2 * np.pi * (hues + o)) + 1) / 2 for o in (0, 1 / 3, 2 / 3)], 1)  # C×3
    images = torch.empty(n, 3, s, s, dtype=torch.uint8)
    for i in range(n):
        c = int(labels[i])
        cx, cy = (torch.rand(2, generator=g) - 0.5) * 0.8
        r = 0.3 + 0.25 * torch.rand(1, generator=g)
        dx, dy = xx - cx, yy - cy
        shape = [dx ** 2 + dy ** 2 < r ** 2, (dx.abs() < r) & (dy.abs() < r),
                 ((dx.abs() < r / 3) & (dy.abs() < r)) | ((dy.abs() < r / 3) & (dx.abs() < r))][c % 3]
        angle = np.pi * c / num_classes
        stripes = 0.5 + 0.5 * torch.sin((2 + c) * 3.0 * (xx * np.cos(angle) + yy * np.sin(angle)))
        background = 0.3 + 0.4 * torch.rand(1, generator=g)
        img = background * (0.7 + 0.3 * stripes)[None].repeat(3, 1, 1)
        img = torch.where(shape[None], palette[c][:, None, None] * (0.8 + 0.2 * stripes), img)
        img = img + 0.08 * torch.randn(3, s, s, generator=g)
        images[i] = (img.clamp(0, 1) * 255).round().to(torch.uint8)
    return ImageSet("synthetic", "train", images, labels, [f"class{c}" for c in range(num_classes)],
                    source=f"synthetic(n={n}, size={s}, seed={seed})")


# ---------------------------------------------------------------- decoding folders into the cache

def _folder_key(folder: Path, image_size: int, classes: list[str] | None) -> str:
    """A hash of the decoding settings, the class mapping and every file's name, size and time (bytes names:
    a file name need not be valid UTF-8)."""
    h = hashlib.sha1(f"v2|{image_size}|{classes!r}|".encode())
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            st = p.stat()
            h.update(os.fsencode(p.relative_to(folder)) + f"|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _decode_folder(folder: Path, image_size: int, progress: bool = True,
                   classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode an ImageFolder into N×3×S×S uint8 with the paper's §2 resize (shorter side S, centre S×S).

    ``classes`` fixes the class → label mapping (a held-out split takes the training split's); by default it
    is the folder's own classes, sorted.
    """
    from PIL import Image
    from torchvision.transforms import v2

    try:
        found, files, ignored = scan_folder(folder)
    except OSError as e:
        raise AlexNetError(f"{folder} is not an ImageFolder (<class>/<image> files): {e.strerror}") from None
    if ignored:
        warnings.warn(f"ignored {len(ignored)} entr{'y' if len(ignored) == 1 else 'ies'} of {folder} (hidden, not "
                      f"an image, or a folder without images): {name_list(ignored)}", AlexNetWarning, stacklevel=2)
    if not found:
        raise AlexNetError(f"{folder} is not an ImageFolder: it has no <class>/<image> files")
    classes = classes or found
    index = {c: i for i, c in enumerate(classes)}
    samples = [(path, index[c]) for c in found for path in files[c]]
    resize = v2.Compose([v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size)])
    images = np.empty((len(samples), 3, image_size, image_size), dtype=np.uint8)
    keep, labels, bad, resized = [], [], [], 0
    from tqdm.auto import tqdm
    for i, (path, label) in enumerate(tqdm(samples, desc=f"decoding {folder.name}",
                                           disable=not progress, leave=False)):
        try:
            with Image.open(path) as im:
                im = to_rgb(im)  # every mode (16-bit, float, CMYK, transparency, ...) to 8-bit RGB
                if im.size != (image_size, image_size):
                    resized += 1
                    im = resize(im)
                arr = np.asarray(im, dtype=np.uint8)
        except Exception as e:  # a corrupt or non-image file: skip it, name it, count it
            bad.append(f"{printable(path)} ({type(e).__name__})")
            continue
        images[len(keep)] = arr.transpose(2, 0, 1)
        keep.append(i)
        labels.append(label)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image file(s) in {folder}: {'; '.join(bad[:5])}"
                      + (" …" if len(bad) > 5 else ""), AlexNetWarning, stacklevel=2)
    if resized and image_size == 32:
        warnings.warn(f"{resized} image(s) in {folder} were not {image_size}×{image_size} and were rescaled "
                      "(shorter side, then centre crop)", AlexNetWarning, stacklevel=2)
    if not keep:
        raise AlexNetError(f"no readable images in {folder}")
    return images[:len(keep)], np.asarray(labels, dtype=np.int64), classes


def load_folder(folder: Path, image_size: int, name: str, split: str, root: Path, progress: bool = True,
                classes: list[str] | None = None) -> ImageSet:
    """Decode ``folder`` once (cached, memory-mapped) and return it as an :class:`ImageSet`.

    The cache is mapped copy-on-write: editing the returned images in place never changes the file. If the
    cache cannot be written (a full disk, say), the decoded images are used from memory, with a warning.
    """
    key = _folder_key(folder, image_size, classes)
    base = cache_dir(root) / f"{name}-{split}-{image_size}-{key}"
    meta_path, img_path, lab_path = (Path(str(base) + s) for s in (".json", ".u8.npy", ".labels.npy"))
    if not meta_path.exists():
        images, labels, classes = _decode_folder(folder, image_size, progress, classes)
        try:
            for path, arr in ((img_path, images), (lab_path, labels)):
                tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
                np.save(tmp, arr)
                os.replace(tmp, path)
            tmp = meta_path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps({"classes": classes, "source": str(folder), "n": len(labels)}))
            os.replace(tmp, meta_path)  # written last: its presence means the cache is complete
        except OSError as e:
            tmp.unlink(missing_ok=True)
            warnings.warn(f"could not write the decoded cache in {base.parent} ({e.strerror}); "
                          "the images are used from memory this time", AlexNetWarning, stacklevel=2)
            return ImageSet(name, split, torch.from_numpy(images), torch.from_numpy(labels), classes,
                            source=str(folder))
    meta = json.loads(meta_path.read_text())
    images = torch.from_numpy(np.load(img_path, mmap_mode="c"))  # copy-on-write: in-place edits stay in memory
    labels = torch.from_numpy(np.load(lab_path))
    return ImageSet(name, split, images, labels, meta["classes"], source=str(folder))


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
