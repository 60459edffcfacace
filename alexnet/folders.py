"""Reading an ImageFolder (``<split>/<class>/<image>``) into the uint8 RGB the data contract stores.

Two things here differ from ``torchvision.datasets.ImageFolder``:

- **What counts as a class or an image.** Folders that start with ``.`` or ``_`` (``.ipynb_checkpoints``,
  ``__MACOSX``, ``_trash``) are never classes; inside a class, hidden entries (``.DS_Store``, macOS's ``._x.png``
  resource forks, a nested ``.ipynb_checkpoints``) and files without an image extension are skipped; a folder
  with no image in it is not a class. :func:`scan_folder` returns what it ignored, and the caller warns once.
- **Every Pillow mode becomes correct 8-bit RGB** (:func:`to_rgb`). ``Image.convert("RGB")`` clips 16- and
  32-bit greys at 255 (mid-grey 32768 becomes white) and maps a float 0.5 to black; here they are scaled.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import AlexNetError, AlexNetWarning

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # torchvision's


def _junk(name: str, is_class: bool = False) -> bool:
    """Hidden entries (``.x``), macOS/Python debris (``__x``), and at class level anything starting with ``_``."""
    return name.startswith((".", "_") if is_class else (".", "__"))


def scan_folder(folder: str | Path) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """``(classes, files, ignored)`` of an ImageFolder.

    ``classes`` is sorted (as ``ImageFolder`` sorts them), ``files[c]`` lists class ``c``'s image paths (sorted,
    subfolders included), and ``ignored`` names every skipped entry relative to ``folder`` (folders end in ``/``).
    """
    folder = Path(folder)
    classes, files, ignored = [], {}, []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not entry.is_dir() or _junk(entry.name, is_class=True):
            ignored.append(entry.name + ("/" if entry.is_dir() else ""))
            continue
        found = []
        for top, dirs, names in os.walk(entry.path, followlinks=True):  # as ImageFolder walks
            rel = os.path.relpath(top, folder)
            ignored += [f"{rel}/{d}/" for d in sorted(dirs) if _junk(d)]
            dirs[:] = sorted(d for d in dirs if not _junk(d))
            for name in sorted(names):
                if _junk(name) or not name.lower().endswith(IMAGE_EXTENSIONS):
                    ignored.append(f"{rel}/{name}")
                else:
                    found.append(os.path.join(top, name))
        if found:
            classes.append(entry.name)
            files[entry.name] = found
        else:
            ignored.append(entry.name + "/ (no images)")
    return classes, files, ignored


def _scaled_grey(values: np.ndarray, top: float) -> Image.Image:
    """An 8-bit grey image from ``values`` in ``[0, top]`` (scaled, rounded, clipped; NaN becomes 0)."""
    grey = np.clip(np.rint(np.nan_to_num(values.astype(np.float64)) * (255.0 / top)), 0, 255)
    return Image.fromarray(grey.astype(np.uint8), "L")


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow image as 8-bit RGB with the colours it shows.

    - 16-bit greys (``I;16``, ``I;16B``, ``I;16L``, ``I;16N``) and ``I`` (Pillow's mode for 16-bit PNG/TIFF
      greys) are scaled by 255/65535; float greys (``F``) are read as 0–1 (the usual convention) and scaled by 255.
    - Transparency (``RGBA``, ``LA``, ``PA``, ``RGBa``, and ``P`` or ``L``/``RGB`` with a transparent
      colour) is composited onto white, as a viewer shows it, instead of exposing the hidden colour under it.
    - ``1``, ``L``, ``P``, ``CMYK``, ``YCbCr``, ``LAB``, ``HSV`` and ``RGBX`` convert exactly with Pillow.
    """
    if im.mode.startswith("I"):
        im = _scaled_grey(np.asarray(im), 65535.0)
    elif im.mode == "F":
        im = _scaled_grey(np.asarray(im), 1.0)
    if im.mode in ("RGBA", "RGBa", "LA", "PA") or "transparency" in im.info:
        im = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), im).convert("RGB")
    return im.convert("RGB")


def _has_image(folder: str) -> bool:
    for top, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not _junk(d)]
        if any(not _junk(n) and n.lower().endswith(IMAGE_EXTENSIONS) for n in names):
            return True
    return False


def list_classes(folder: str | Path) -> list[str]:
    """The classes :func:`scan_folder` would find, without listing every image (it stops at each class's first)."""
    return [e.name for e in sorted(os.scandir(folder), key=lambda e: e.name)
            if e.is_dir() and not _junk(e.name, is_class=True) and _has_image(e.path)]


def printable(name: str | Path) -> str:
    """``name`` with the bytes that are not UTF-8 (surrogate escapes) written as ``\\udcXX``, so it can be printed."""
    return str(name).encode("utf-8", "backslashreplace").decode("utf-8")


def name_list(names: list[str], n: int = 5) -> str:
    """The first ``n`` names, printable and comma-separated, with ``…`` if there are more."""
    return ", ".join(map(printable, names[:n])) + (" …" if len(names) > n else "")


def training_classes(train_folder: Path, folder: Path) -> list[str]:
    """The training split's classes, checked against the held-out ``folder``'s: its labels must mean the same."""
    train, held = list_classes(train_folder), list_classes(folder)
    extra = [c for c in held if c not in train]
    if extra:
        raise AlexNetError(f"{folder} has {len(extra)} class folder(s) that the training split {train_folder} "
                           f"lacks ({name_list(extra)}); the model can only predict training classes: remove them "
                           "or add them to the training split")
    missing = [c for c in train if c not in held]
    if missing:
        warnings.warn(f"{folder} has no images of {len(missing)} of the {len(train)} training classes "
                      f"({name_list(missing)}); its error is measured on the others", AlexNetWarning, stacklevel=3)
    return train
