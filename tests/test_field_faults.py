"""Faults reported from the field, each with the other members of its kind (one section per kind)."""
import errno
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alexnet import AlexNetError, CheckpointError, load_imageset
from cli_helpers import run_cli


def mk(root: Path, train=("cat", "dog"), test=("cat", "dog"), n_train=8, n_test=4) -> Path:
    """``root/cifar10/{train,test}/<class>/`` with random 32×32 RGB PNGs, as in the field reports."""
    rng = np.random.default_rng(0)
    for split, classes, n in (("train", train, n_train), ("test", test, n_test)):
        for c in classes:
            d = root / "cifar10" / split / c
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return root


def one_line(proc, *words, code=None):
    assert proc.returncode != 0 if code is None else proc.returncode == code, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def train_cli(root, ck, *extra, epochs=1):
    return run_cli("train", "--dataset", "cifar10", "--epochs", epochs, "--batch-size", 4, "--checkpoint-dir", ck,
                   "--quiet", *extra, env={"ALEXNET_DATA": str(root), "ALEXNET_CACHE": str(root / "cache")})


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXNET_DATA", str(tmp_path))
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path / "cache"))
    return tmp_path


def load(split="train"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_imageset("cifar10", split, progress=False)
    return data, " ".join(str(w.message) for w in caught)


# ---------------------------------------------------------------- 1. hidden and junk entries are not classes

def test_hidden_folder_is_not_a_class_and_is_named(data_env):
    mk(data_env)
    junk = data_env / "cifar10/train"
    for name in (".ipynb_checkpoints", "__MACOSX", "_trash"):
        (junk / name).mkdir()
        shutil.copy(junk / "cat/0.png", junk / name / "0.png")
    data, said = load()
    assert data.classes == ["cat", "dog"] and len(data) == 16
    assert ".ipynb_checkpoints/" in said and "__MACOSX/" in said and "_trash/" in said


def test_junk_inside_a_class_is_skipped(data_env):
    mk(data_env)
    cat = data_env / "cifar10/train/cat"
    (cat / ".ipynb_checkpoints").mkdir()
    shutil.copy(cat / "0.png", cat / ".ipynb_checkpoints/0-checkpoint.png")  # was a duplicate sample
    (cat / "._0.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble resource fork")  # macOS tar debris
    (cat / "notes.txt").write_text("not an image")
    data, said = load()
    assert len(data) == 16 and "unreadable" not in said
    assert "._0.png" in said and "notes.txt" in said and ".ipynb_checkpoints/" in said


def test_a_folder_without_images_is_not_a_class(data_env):
    mk(data_env)
    (data_env / "cifar10/train/docs").mkdir()
    (data_env / "cifar10/train/docs/README.txt").write_text("about the data")
    data, said = load()
    assert data.classes == ["cat", "dog"] and "docs/ (no images)" in said


def test_hidden_class_cli_trains_two_classes(tmp_path):
    root = mk(tmp_path / "r")
    hidden = root / "cifar10/train/.ipynb_checkpoints"
    hidden.mkdir()
    shutil.copy(root / "cifar10/train/cat/0.png", hidden)
    proc = train_cli(root, tmp_path / "ck")
    assert proc.returncode == 0, proc.stderr
    assert "ignored 1 entry" in proc.stderr and ".ipynb_checkpoints/" in proc.stderr
    state = torch.load(tmp_path / "ck/last.pt", weights_only=False)
    assert state["classes"] == ["cat", "dog"] and state["identity"]["num_classes"] == 2


# ---------------------------------------------------------------- 2. splits and checkpoints that disagree about classes

def test_test_split_uses_the_training_labels(data_env):
    mk(data_env, train=("cat", "dog", "frog"), test=("cat", "frog"))
    with pytest.warns(UserWarning, match="no images of 1 of the 3 training classes.*dog"):
        test = load_imageset("cifar10", "test", progress=False)
    assert test.classes == ["cat", "dog", "frog"]
    assert sorted(set(test.labels.tolist())) == [0, 2]  # frog keeps label 2, never dog's 1


def test_a_class_only_in_the_test_split_is_refused(data_env, tmp_path):
    mk(data_env, train=("cat", "dog"), test=("cat", "dog", "frog"))
    with pytest.raises(AlexNetError, match="class folder.*training split.*frog"):
        load_imageset("cifar10", "test", progress=False)


def test_missing_test_class_cli_labels(tmp_path):
    root = mk(tmp_path / "r", train=("cat", "dog", "frog"), test=("cat", "frog"))
    proc = train_cli(root, tmp_path / "ck")
    assert proc.returncode == 0 and "no images of 1 of the 3 training classes" in proc.stderr, proc.stderr


def test_train_refuses_sets_with_different_classes():
    from alexnet import TrainConfig, make_synthetic, train

    a, b = make_synthetic(64), make_synthetic(32, seed=1)
    b.classes = list(reversed(b.classes))
    with pytest.raises(AlexNetError, match="classes"):
        train(TrainConfig(dataset="synthetic", epochs=1, batch_size=32, device="cpu"), train_set=a, val_set=b,
              progress=False)


def test_evaluate_and_resume_refuse_a_checkpoint_with_other_classes(tmp_path):
    a, b = mk(tmp_path / "a"), mk(tmp_path / "b", train=("ant", "bee"), test=("ant", "bee"))
    ck = tmp_path / "ck"
    assert train_cli(a, ck).returncode == 0
    env = {"ALEXNET_DATA": str(b), "ALEXNET_CACHE": str(b / "cache")}
    proc = run_cli("evaluate", "--checkpoint", ck / "last.pt", "--dataset", "cifar10", env=env)
    one_line(proc, "cat, dog", "ant, bee", code=2)
    before = (ck / "last.pt").read_bytes()
    one_line(train_cli(b, ck, "--resume", epochs=2), "cat, dog", "ant, bee", code=2)
    assert (ck / "last.pt").read_bytes() == before


# ---------------------------------------------------------------- 3. every image mode becomes correct 8-bit RGB

S = (32, 32)


def _palette_with_transparency():
    im = Image.new("P", S, 1)
    im.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    im.putpixel((0, 0), 0)
    im.info["transparency"] = 0
    return im


MODES = [  # (name, image, file format, expected RGB at (0, 0), at (1, 1))
    ("I;16 mid-grey", Image.fromarray(np.full(S, 32768, np.uint16)), "png", (128,) * 3, (128,) * 3),
    ("I;16B", Image.new("I;16B", S, 16384), "tiff", (64,) * 3, (64,) * 3),
    ("I;16 dark", Image.fromarray(np.full(S, 257, np.uint16)), "tiff", (1,) * 3, (1,) * 3),
    ("I", Image.new("I", S, 13107), "tiff", (51,) * 3, (51,) * 3),
    ("F", Image.new("F", S, 0.5), "tiff", (128,) * 3, (128,) * 3),
    ("LA transparent", Image.new("LA", S, (0, 0)), "png", (255,) * 3, (255,) * 3),
    ("P+transparency", _palette_with_transparency(), "png", (255,) * 3, (200, 100, 50)),
    ("RGBA transparent", Image.new("RGBA", S, (0, 0, 0, 0)), "png", (255,) * 3, (255,) * 3),
]
EXACT_ALREADY = [  # modes Pillow converted right before: kept right
    ("1", Image.new("1", S, 1), "png", (255,) * 3, (255,) * 3),
    ("CMYK", Image.new("CMYK", S, (0, 255, 255, 0)), "tiff", (255, 0, 0), (255, 0, 0)),
    ("YCbCr", Image.new("YCbCr", S, (128, 128, 128)), "tiff", (128,) * 3, (128,) * 3),
    ("RGBA opaque", Image.new("RGBA", S, (10, 20, 30, 255)), "png", (10, 20, 30), (10, 20, 30)),
    ("LAB", Image.new("LAB", S, (128, 128, 128)), "tiff", (119,) * 3, (119,) * 3),
]


@pytest.mark.parametrize("name,image,fmt,first,second", MODES + EXACT_ALREADY,
                         ids=[m[0] for m in MODES + EXACT_ALREADY])
def test_image_modes_decode_to_their_colours(data_env, name, image, fmt, first, second):
    d = data_env / "cifar10/train/x"
    d.mkdir(parents=True)
    image.save(d / f"0.{fmt}")
    with Image.open(d / f"0.{fmt}") as im:
        assert im.mode == image.mode or (name, im.mode) == ("I;16B", "I;16")  # the file keeps its mode
    data, said = load()
    rgb = data.images[0].permute(1, 2, 0).numpy()
    assert tuple(rgb[0, 0]) == first and tuple(rgb[1, 1]) == second and "unreadable" not in said


def test_premultiplied_alpha_is_composited():
    from alexnet.folders import to_rgb

    rgb = np.asarray(to_rgb(Image.new("RGBa", (2, 2), (0, 0, 0, 0))))
    assert rgb.shape == (2, 2, 3) and (rgb == 255).all()


def test_sixteen_bit_png_in_a_dataset_is_mid_grey(data_env):
    mk(data_env)
    Image.fromarray(np.full((32, 32), 32768, np.uint16)).save(data_env / "cifar10/train/cat/grey16.png")
    data, said = load()
    grey = data.images[data.labels == 0][-1]  # the class's last file in sorted order
    assert grey.unique().tolist() == [128] and "unreadable" not in said


# ---------------------------------------------------------------- 8. file names that are not valid UTF-8

def test_non_utf8_file_and_class_names_load(data_env):
    if sys.platform == "darwin":
        pytest.skip("macOS file systems refuse names that are not UTF-8")
    mk(data_env)
    train = os.fsencode(data_env / "cifar10/train")
    shutil.copy(os.path.join(train, b"cat/0.png"), os.path.join(train, b"cat/caf\xe9.png"))
    os.makedirs(os.path.join(train, b"caf\xe9"))
    shutil.copy(os.path.join(train, b"cat/0.png"), os.path.join(train, b"caf\xe9/1.png"))
    data, _ = load()
    assert len(data) == 18 and data.classes == ["caf\udce9", "cat", "dog"]
    again, _ = load()  # from the cache: same classes
    assert again.classes == data.classes


def test_non_utf8_names_in_warnings_do_not_crash(data_env):
    mk(data_env)
    cat = os.fsencode(data_env / "cifar10/train/cat")
    with open(os.path.join(cat, b"bro\xe9ken.png"), "wb") as f:
        f.write(b"not a png")
    _, said = load()
    assert "bro\\udce9ken.png" in said  # named with an escape, printable on any terminal


# ---------------------------------------------------------------- 9. the cache is never written through

def test_in_place_edit_does_not_reach_the_cache(data_env):
    mk(data_env)
    first, _ = load()
    original = first.images[0].clone()
    first.images[0] //= 2
    fresh = subprocess.run([sys.executable, "-c", "import alexnet; d = alexnet.load_imageset('cifar10', 'train', "
                            "progress=False); print(d.images[0].sum().item())"], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert fresh.returncode == 0, fresh.stderr
    assert int(fresh.stdout.split()[-1]) == original.sum().item()
    again, _ = load()
    assert torch.equal(again.images[0], original)


# ---------------------------------------------------------------- 4. LRN with huge or infinite activations

def _lrn_pair(x):
    from alexnet import LocalResponseNorm, local_response_norm_reference

    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    fa, fb = LocalResponseNorm()(a), local_response_norm_reference(b)
    g = torch.linspace(-1, 1, x.numel(), dtype=x.dtype).view(x.shape)
    (fa * g).sum().backward()
    (fb * g).sum().backward()
    return fa.detach(), fb.detach(), a.grad, b.grad


@pytest.mark.parametrize("value", [1e20, -1e20, 3e19, 1.9e19])
def test_lrn_overflow_of_a_squared_stays_in_its_window(value):
    x = torch.ones(1, 8, 1, 1)
    x[0, 0] = value  # a² overflows fp32 from |a| ≈ 1.8e19
    out, ref, grad, ref_grad = _lrn_pair(x)
    assert torch.isfinite(out).all() and torch.equal(out, ref)
    assert ref[0, 3:].allclose(torch.tensor(0.5945), atol=1e-4)
    assert torch.allclose(grad, ref_grad, rtol=1e-5, atol=1e-8)


def test_lrn_infinite_input_is_nan_only_where_the_formula_says():
    x = torch.ones(1, 8, 1, 1)
    x[0, 0] = float("inf")
    out, ref, grad, ref_grad = _lrn_pair(x)
    assert torch.equal(out.isnan(), ref.isnan()) and torch.equal(out[0, 1:], ref[0, 1:])
    assert torch.allclose(grad[0, 3:], ref_grad[0, 3:], rtol=1e-5)  # outside the inf's window (channels 0–2)


def test_lrn_without_alpha_is_a_plain_scale():
    from alexnet import LocalResponseNorm, local_response_norm_reference

    x = torch.randn(2, 8, 3, 3)
    assert torch.allclose(LocalResponseNorm(alpha=0.0)(x), local_response_norm_reference(x, alpha=0.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_lrn_scattered_huge_values_match_the_reference(dtype, layout):
    from alexnet import LocalResponseNorm, local_response_norm_reference

    x = torch.randn(2, 16, 3, 3, generator=torch.Generator().manual_seed(0)) * 10
    x = x.to(dtype)
    x[0, 3, 1, 1], x[1, 12, 0, 2], x[1, 0, 2, 2] = 1e20, -4e19, 1e30
    if dtype == torch.float64:
        x[0, 7, 0, 0] = 1e200  # a² overflows fp64 too
    out = LocalResponseNorm()(x.contiguous(memory_format=layout)).float()
    ref = local_response_norm_reference(x).float()
    assert torch.isfinite(out).all()
    assert torch.allclose(out, ref, rtol=2e-2 if dtype == torch.bfloat16 else 1e-3, atol=1e-3)


# ---------------------------------------------------------------- 10. invalid devices, named before any data

def _absent_devices():
    bad = ["gpu", "nonsense", "cuda:7", "meta", "cuda:x"]
    if not torch.cuda.is_available():
        bad.append("cuda")
    if not torch.backends.mps.is_available():
        bad.append("mps")
    return bad


@pytest.mark.parametrize("device", _absent_devices())
def test_invalid_device_is_one_line_before_data(tmp_path, device):
    empty = {"ALEXNET_DATA": str(tmp_path)}  # no cifar10 here: a data error would come second
    train = run_cli("train", "--dataset", "cifar10", "--epochs", "1", "--checkpoint-dir", tmp_path / "ck",
                    "--device", device, env=empty)
    evaluate = run_cli("evaluate", "--checkpoint", tmp_path / "none.pt", "--dataset", "cifar10", "--device", device,
                       env=empty)
    for proc in (train, evaluate):
        line = one_line(proc, repr(device), code=2)
        assert "cifar10" not in line and "checkpoint" not in line
    assert not (tmp_path / "ck").exists()


@pytest.mark.parametrize("device", ["gpu", "cuda:7"])
def test_invalid_device_in_bench_and_python_api(device):
    from alexnet import TrainConfig, load_trained, resolve_device, train
    from alexnet.bench import run_benchmark

    for call in (lambda: resolve_device(device), lambda: run_benchmark(device),
                 lambda: train(TrainConfig(dataset="synthetic", epochs=1, device=device)),
                 lambda: load_trained("/nonexistent.pt", device=device)):
        with pytest.raises(AlexNetError, match=repr(device)):
            call()
    assert resolve_device("cpu") == torch.device("cpu")


# ---------------------------------------------------------------- 6. checkpoint-folder writes that fail

def _disk_full_open(monkeypatch, after_bytes=1000):
    """``open`` in alexnet.checkpoint gives files whose writes fail with ENOSPC past ``after_bytes``, as a full disk."""
    import builtins

    from alexnet import checkpoint

    class Full:
        def __init__(self, f):
            self.f, self.n = f, 0

        def write(self, data):
            self.n += len(data)
            if self.n > after_bytes:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(checkpoint, "open", lambda *a, **k: Full(builtins.open(*a, **k)), raising=False)


def test_disk_full_during_a_checkpoint_keeps_the_previous_ones(tmp_path, monkeypatch):
    from alexnet.checkpoint import save_checkpoint

    ck = tmp_path / "ck"
    save_checkpoint({"model": {}, "epoch": 1}, ck)
    save_checkpoint({"model": {}, "epoch": 2}, ck)
    before = {p.name: p.read_bytes() for p in ck.iterdir()}
    _disk_full_open(monkeypatch)
    with pytest.raises(CheckpointError) as err:
        save_checkpoint({"model": {"w": torch.zeros(10_000)}, "epoch": 3}, ck)
    assert "No space left on device" in str(err.value) and str(ck / "last.pt") in str(err.value)
    assert "enforce fail" not in str(err.value)
    assert {p.name: p.read_bytes() for p in ck.iterdir()} == before  # last.pt, prev.pt intact, no temporary left


def test_disk_full_in_the_cli_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    from alexnet.cli import main

    _disk_full_open(monkeypatch)
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # main() sets its own; undone after
    code = main(["train", "--dataset", "synthetic", "--epochs", "1", "--batch-size", "32", "--train-limit", "64",
                 "--val-limit", "32", "--quiet", "--checkpoint-dir", str(tmp_path / "ck"), "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "No space left on device" in err[0] and "no checkpoint was written" in err[0]


def test_disk_full_writing_history_is_one_error(tmp_path, monkeypatch):
    from alexnet.checkpoint import atomic_write_bytes

    (tmp_path / "history.json").write_text("[1]")
    _disk_full_open(monkeypatch, after_bytes=10)
    with pytest.raises(CheckpointError, match="history.json.*No space left"):
        atomic_write_bytes(tmp_path / "history.json", lambda f: f.write(b"[" + b"1," * 100 + b"1]"))
    assert (tmp_path / "history.json").read_text() == "[1]"


@pytest.mark.parametrize("kind", ["file", "under-a-file", "read-only"])
def test_unwritable_checkpoint_folder_fails_before_the_data(tmp_path, kind):
    if kind == "read-only" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    blocker = tmp_path / "blocker"
    if kind == "read-only":
        blocker.mkdir()
        blocker.chmod(0o500)
        ck = blocker / "ck"
    else:
        blocker.write_text("a file")
        ck = blocker if kind == "file" else blocker / "ck"
    try:  # no cifar10 under tmp_path: a data error would come second
        proc = run_cli("train", "--dataset", "cifar10", "--epochs", "1", "--checkpoint-dir", ck,
                       env={"ALEXNET_DATA": str(tmp_path)})
    finally:
        blocker.chmod(0o700)
    line = one_line(proc, "cannot write checkpoints", str(ck), code=2)
    assert "cifar10" not in line


def test_the_writability_check_leaves_nothing_behind(tmp_path):
    from alexnet.checkpoint import check_writable

    check_writable(tmp_path / "a" / "b" / "ck")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- 7. messages name only files that exist

def test_nan_before_any_checkpoint_says_none_was_written(tmp_path):
    root = mk(tmp_path / "r")
    ck = tmp_path / "ck"
    line = one_line(train_cli(root, ck, "--lr", "1e6"), "no checkpoint was written", code=3)
    assert "last.pt" not in line and not ck.exists()


def test_kept_checkpoint_messages_name_existing_files(tmp_path):
    from alexnet.checkpoint import kept_message
    from alexnet.cli import _interrupted, build_parser

    def interrupted(ck):
        return _interrupted(build_parser().parse_args(["train", "--dataset", "synthetic", "--epochs", "1",
                                                       "--checkpoint-dir", str(ck)]))

    ck = tmp_path / "ck"
    assert kept_message(ck) == "no checkpoint was written" and kept_message(None) == "no checkpoint was written"
    assert "nothing was saved" in interrupted(ck) and "--resume" not in interrupted(ck)
    ck.mkdir()
    (ck / "prev.pt").write_bytes(b"x")  # last.pt lost between the two renames of a save
    assert str(ck / "prev.pt") in kept_message(ck) and str(ck / "prev.pt") in interrupted(ck)
    (ck / "last.pt").write_bytes(b"x")
    assert str(ck / "last.pt") in kept_message(ck) and "--resume" in interrupted(ck)


# ---------------------------------------------------------------- 5. --resume with changed settings

def test_resume_with_new_lr_batch_and_seed_is_refused_with_old_and_new(tmp_path):
    root, ck = mk(tmp_path / "r"), tmp_path / "ck"
    assert train_cli(root, ck, "--lr", "0.01").returncode == 0
    before = (ck / "last.pt").read_bytes()
    proc = run_cli("train", "--dataset", "cifar10", "--epochs", 2, "--batch-size", 8, "--lr", "0.0001", "--seed", 7,
                   "--checkpoint-dir", ck, "--quiet", "--resume",
                   env={"ALEXNET_DATA": str(root), "ALEXNET_CACHE": str(root / "cache")})
    one_line(proc, "lr 0.01 → 0.0001", "batch-size 4 → 8", "seed 0 → 7", "--epochs", code=2)
    assert (ck / "last.pt").read_bytes() == before


@pytest.mark.parametrize("change", [dict(augment="none"), dict(model={"dropout": 0.0}), dict(train_limit=128),
                                    dict(val_limit=32), dict(momentum=0.5), dict(weight_decay=0.0),
                                    dict(dataset="cifar10"), dict(arch="alexnet"), dict(min_lr=1e-3),
                                    dict(plateau_patience=1)])
def test_every_run_defining_setting_is_refused_before_the_data(tmp_path, monkeypatch, change):
    from alexnet import TrainConfig, train

    base = dict(dataset="synthetic", epochs=1, batch_size=32, train_limit=64, val_limit=64, device="cpu",
                checkpoint_dir=str(tmp_path))
    train(TrainConfig(**base), progress=False)
    monkeypatch.setenv("ALEXNET_DATA", str(tmp_path))  # no cifar10 here: refused before looking for it
    with pytest.raises(CheckpointError, match=f"{next(iter(change)).replace('_', '-')} "):
        train(TrainConfig(**{**base, **change, "epochs": 2, "resume": True}), progress=False)


def test_resume_may_add_epochs_and_change_device_and_saving(tmp_path):
    from alexnet import TrainConfig, train

    base = dict(dataset="synthetic", epochs=1, batch_size=32, train_limit=64, val_limit=32, device="cpu",
                checkpoint_dir=str(tmp_path))
    train(TrainConfig(**base), progress=False)
    result = train(TrainConfig(**{**base, "epochs": 2, "resume": True, "save_every": 1, "eval_every": 2}),
                   progress=False)
    assert [r["epoch"] for r in result.history] == [1, 2]
    saved = torch.load(tmp_path / "last.pt", weights_only=False)["config"]
    assert saved["epochs"] == 2 and saved["save_every"] == 1  # the checkpoint records what ran


def test_resume_without_a_checkpoint_says_it_starts_afresh(tmp_path):
    from alexnet import TrainConfig, train

    with pytest.warns(UserWarning, match="nothing to resume: no checkpoint in"):
        train(TrainConfig(dataset="synthetic", epochs=1, batch_size=32, train_limit=32, val_limit=32, device="cpu",
                          checkpoint_dir=str(tmp_path / "ck"), resume=True), progress=False)


def test_a_cache_that_cannot_be_written_is_a_warning(data_env, monkeypatch):
    mk(data_env)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "save", full)
    data, said = load()
    assert len(data) == 16 and "No space left on device" in said and "from memory" in said
    assert not any((data_env / "cache").glob("*.json"))
