import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alexnet import AlexNetError, DatasetNotFoundError, load_imageset, make_synthetic


def _folder(root: Path, name="cifar10", split="train", classes=("cat", "dog"), per_class=3, size=32, mode="RGB"):
    rng = np.random.default_rng(0)
    for c in classes:
        d = root / name / split / c
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            Image.fromarray(arr).convert(mode).save(d / f"{i}.png")
    return root


def test_imagefolder_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXNET_DATA", str(_folder(tmp_path)))
    data = load_imageset("cifar10", "train", progress=False)
    assert data.images.shape == (6, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.classes == ["cat", "dog"] and data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    # the decoded cache is reused, and equals the pixels on disk
    again = load_imageset("cifar10", "train", progress=False)
    first = np.array(Image.open(tmp_path / "cifar10/train/cat/0.png")).transpose(2, 0, 1)
    assert torch.equal(again.images[0], torch.from_numpy(first))


def test_grayscale_rgba_corrupt_and_odd_sizes(tmp_path, monkeypatch):
    _folder(tmp_path, classes=("a",), mode="L")
    _folder(tmp_path, classes=("b",), mode="RGBA", size=20)
    (tmp_path / "cifar10/train/b/broken.png").write_bytes(b"not an image at all")
    (tmp_path / "cifar10/train/b/notes.txt").write_text("ignored: not an image extension")
    monkeypatch.setenv("ALEXNET_DATA", str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_imageset("cifar10", "train", progress=False)
    assert data.images.shape == (6, 3, 32, 32)
    messages = " ".join(str(w.message) for w in caught)
    assert "broken.png" in messages and "skipped 1" in messages
    assert "rescaled" in messages


def test_synthetic_is_deterministic_and_balanced():
    a, b = make_synthetic(50, seed=3), make_synthetic(50, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert torch.bincount(a.labels).tolist() == [5] * 10
    data = load_imageset("synthetic", "train", limit=64)
    assert len(data) == 64 and data.crop_size == 28


def test_missing_dataset_offline_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXNET_DATA", str(tmp_path))
    monkeypatch.setenv("ALEXNET_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError) as err:
        load_imageset("cifar10", "train")
    text = str(err.value)
    assert "cifar10" in text and str(tmp_path) in text and "ImageFolder" in text and "download" in text
    with pytest.raises(DatasetNotFoundError, match="bring your own"):
        load_imageset("imagenet", "val")
    # every dataset that lives on disk says how to point the package at a copy the reader has
    for name in ("cifar10", "imagenette", "imagenet", "imagenet-sample"):
        with pytest.raises(DatasetNotFoundError, match="ALEXNET_DATA"):
            load_imageset(name, "val")


def test_failed_download_leaves_no_folder_behind(tmp_path, monkeypatch):
    # a machine without the internet: the download is refused at once (a closed local port)
    from torchvision import datasets

    monkeypatch.delenv("ALEXNET_OFFLINE", raising=False)
    monkeypatch.setattr(datasets.CIFAR10, "url", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    with pytest.raises(DatasetNotFoundError, match="download failed"):
        load_imageset("cifar10", "val", root=tmp_path / "data")
    assert list(tmp_path.iterdir()) == []  # neither data/ nor data/cifar10/
    (tmp_path / "data").mkdir()
    with pytest.raises(DatasetNotFoundError, match="download failed"):
        load_imageset("cifar10", "val", root=tmp_path / "data")
    assert list((tmp_path / "data").iterdir()) == []


def test_unknown_dataset_and_split():
    with pytest.raises(AlexNetError, match="unknown dataset"):
        load_imageset("mnist")
    with pytest.raises(AlexNetError, match="no split"):
        load_imageset("imagenet-sample", "train")
