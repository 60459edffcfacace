"""An ``ImageFolder`` decoded once into a uint8 tensor cache (the data contract of :mod:`alexnet.data`).

:func:`load_folder` decodes every image with the paper's §2 preprocessing (shorter side to S, then the centre
S×S; every image mode to 8-bit RGB through :mod:`alexnet.folders`) and caches the result as a copy-on-write
memory-mapped ``.npy`` in :func:`cache_dir`, keyed by a hash of the source files (:func:`_folder_key`), so a
changed folder is decoded again.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .errors import AlexNetError, AlexNetWarning
from .folders import name_list, printable, scan_folder, to_rgb
from .imageset import ImageSet


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
