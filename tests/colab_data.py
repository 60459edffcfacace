"""Data roots as a torchvision download leaves them, made locally (CI is offline): a few images each, in
torchvision's exact layouts (``cifar10/cifar-10-batches-py/`` pickles; ``imagenette/imagenette2-320/``)."""
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

IMAGENETTE_WNIDS = ("n01440764", "n02102040", "n02979186", "n03000684", "n03028079", "n03394916", "n03417042",
                    "n03425413", "n03445777", "n03888257")


def write_cifar_batches(root: Path, per_batch: int = 20, seed: int = 0) -> Path:
    """torchvision's ``cifar10/cifar-10-batches-py/`` with a few random images (labels cycle through the classes)."""
    folder = root / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"batch_label": name, "labels": [i % 10 for i in range(per_batch)],
                 "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 "filenames": [f"{name}_{i}.png" for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names, "num_cases_per_batch": per_batch,
                                                        "num_vis": 3072}))
    return folder


def write_imagenette(root: Path, per_class: dict[str, int] | None = None, seed: int = 0) -> Path:
    """torchvision's ``imagenette/imagenette2-320/{train,val}/<wnid>/*.JPEG`` (320 px on the shorter side)."""
    base = root / "imagenette" / "imagenette2-320"
    rng = np.random.default_rng(seed)
    for split, n in (per_class or {"train": 1, "val": 2}).items():
        for c, wnid in enumerate(IMAGENETTE_WNIDS):
            (base / split / wnid).mkdir(parents=True)
            for i in range(n):
                pixels = smooth_photo(rng, 320, 360 + 10 * c)
                Image.fromarray(pixels).save(base / split / wnid / f"ILSVRC2012_val_{c:04d}{i:04d}.JPEG")
    (base / "noisy_imagenette.csv").write_text("path,noisy_labels_0,is_valid\n")
    return base




def smooth_photo(rng, height: int, width: int) -> np.ndarray:
    """A colour gradient with a little noise: small as a JPEG, quick to decode."""
    y, x = np.mgrid[0:height, 0:width]
    base = rng.integers(0, 256, 3)
    img = (base + 80 * np.stack([x / width, y / height, (x + y) / (width + height)], -1)) % 256
    return (img + rng.normal(0, 8, img.shape)).clip(0, 255).astype(np.uint8)
