"""Where results live (the book's, shipped with the package; a reader's own), their provenance, the scorecard's
code column, and the photos a reader can get (imagenet-sample, else Imagenette)."""
import json
from pathlib import Path

import pytest

import alexnet
from alexnet import provenance, results
from alexnet.data import load_imageset
from alexnet.experiments import scorecard
from alexnet.profiles import get_profile
from colab_data import write_cifar_batches, write_imagenette

TOP = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- the data a reader can get


def test_cifar_batches_in_torchvisions_layout_are_read_without_its_md5_check(tmp_path):
    write_cifar_batches(tmp_path, per_batch=20)
    train = load_imageset("cifar10", "train", root=tmp_path, progress=False)
    test = load_imageset("cifar10", "test", root=tmp_path, progress=False)
    assert train.images.shape == (100, 3, 32, 32) and test.images.shape == (20, 3, 32, 32)
    assert train.labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert train.classes[0] == "airplane" and train.num_classes == 10


def test_photos_are_the_imagenet_sample_where_present_else_imagenette(tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXNET_DATA", str(tmp_path))
    monkeypatch.delenv("ALEXNET_SMOKE_DATA", raising=False)
    assert get_profile("quick").photos == "imagenette"  # nothing on disk: downloaded on first use
    assert get_profile("smoke").photos == "synthetic" and get_profile("smoke").dataset == "synthetic"
    write_imagenette(tmp_path)
    quick = get_profile("quick")
    assert quick.photos == "imagenette" and get_profile("full").photos == "imagenette"
    photos = load_imageset(quick.photos, "val", progress=False)
    assert photos.images.shape == (20, 3, 256, 256) and photos.crop_size == 227
    assert photos.class_names[0] == "tench" and len(set(photos.class_names)) == 10
    (tmp_path / "imagenet-sample" / "val" / "n01440764").mkdir(parents=True)
    assert get_profile("quick").photos == "imagenet-sample"  # the first choice wherever it is


def test_smoke_on_disk_takes_the_same_path_as_quick(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ALEXNET_DATA", str(tmp_path))
    monkeypatch.setenv("ALEXNET_SMOKE_DATA", "disk")
    assert (get_profile("smoke").dataset, get_profile("smoke").photos) == ("synthetic", "synthetic")
    write_cifar_batches(tmp_path)
    write_imagenette(tmp_path)
    smoke = get_profile("smoke")
    assert (smoke.dataset, smoke.photos, smoke.train_limit) == ("cifar10", "imagenette", 256)
    alexnet.banner(smoke)
    line = capsys.readouterr().out
    assert "dataset=cifar10" in line and "photos=imagenette val, 20 images" in line and "synthetic" not in line


# ---------------------------------------------------------------- the two stores


def test_stored_results_are_package_data_and_readers_write_elsewhere(tmp_path, monkeypatch):
    assert 'alexnet = ["stored_results/*.json", "stored_results/full/*.json"]' in (TOP / "pyproject.toml").read_text()
    shipped = sorted(p.stem for p in results.STORED_RESULTS.glob("*.json"))
    assert "fig1_relu_tanh" in shipped and len(shipped) >= 10
    for var in ("ALEXNET_RESULTS", "ALEXNET_STORE_RESULTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    quick = get_profile("quick")
    assert results.results_dir(quick) == tmp_path / "cache" / "alexnet" / "results"
    before = {p: p.read_bytes() for p in results.STORED_RESULTS.glob("*.json")}
    results.save_result("fig1_relu_tanh", {"ratio": 2.0}, {"dataset": "cifar10", "epochs": 1}, quick)
    assert {p: p.read_bytes() for p in results.STORED_RESULTS.glob("*.json")} == before  # tracked files untouched
    loaded = results.load_results(quick)
    assert loaded["fig1_relu_tanh"]["source"] == "book" and loaded["yours/fig1_relu_tanh"]["source"] == "yours"
    assert loaded["yours/fig1_relu_tanh"]["data"] == {"ratio": 2.0}
    monkeypatch.setenv("ALEXNET_STORE_RESULTS", "1")  # a maintainer (tools.py run) writes the book's store
    assert results.results_dir(quick) == results.STORED_RESULTS
    assert results.results_dir(get_profile("smoke")) != results.STORED_RESULTS  # smoke never does
    from alexnet.scratch import process_folder  # smoke's own: this process's scratch folder, removed at its exit
    assert results.results_dir(get_profile("smoke")) == process_folder() / "results"
    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path / "mine"))
    assert results.results_dir(quick) == tmp_path / "mine"
    assert results.results_dir(get_profile("smoke")) == tmp_path / "mine" / "alexnet-results-smoke"


def test_every_saved_result_records_its_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    quick = get_profile("quick")
    sc = results.scale(quick, dataset="cifar10", train_images=3728, epochs=15, seeds=2, val_images=846)
    record = json.loads(results.save_result("x", {"a": 1}, sc, quick, seconds=12.5).read_text())
    prov = record["provenance"]
    assert prov["package_version"] == alexnet.__version__ and prov["source_hash"] == provenance.source_hash()
    assert len(prov["source_hash"]) == 12 and (prov["git_commit"] is None or len(prov["git_commit"]) == 40)
    assert prov["profile"] == "quick" and prov["dataset"] == "cifar10" and prov["seeds"] == [0, 1]
    assert prov["dataset_size"] == {"train_images": 3728, "val_images": 846}
    assert prov["device"] == sc["device"] and prov["wall_seconds"] == 12.5
    assert provenance.made_by_current_code(record, "quick", epochs=15, seeds=2, device="elsewhere")
    assert not provenance.made_by_current_code(record, "quick", epochs=40)  # another scale
    assert not provenance.made_by_current_code(record, "full", epochs=15)  # another profile
    other = {**record, "provenance": {**prov, "source_hash": "0" * 12}}
    assert not provenance.made_by_current_code(other, "quick", epochs=15)  # other code
    old = {k: v for k, v in record.items() if k != "provenance"}
    assert not provenance.made_by_current_code(old, "quick", epochs=15)
    assert provenance.code_label(old) == provenance.UNKNOWN_CODE == "code unknown (before provenance)"
    assert provenance.source_hash() in provenance.code_label(record)


def test_git_state_counts_changed_code_as_dirty_but_not_changed_stored_results(tmp_path, monkeypatch):
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("no git")

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)

    (tmp_path / "alexnet" / "stored_results").mkdir(parents=True)
    (tmp_path / "alexnet" / "m.py").write_text("x = 1\n")
    (tmp_path / "alexnet" / "stored_results" / "r.json").write_text("{}\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "init")
    monkeypatch.setattr(provenance, "repo_root", lambda: tmp_path)

    def state():
        provenance.git_state.cache_clear()
        return provenance.git_state()

    try:
        commit, dirty = state()
        assert len(commit) == 40 and dirty is False
        (tmp_path / "alexnet" / "stored_results" / "r.json").write_text('{"a": 1}\n')  # a run wrote a result
        (tmp_path / "alexnet" / "stored_results" / "new.json").write_text("{}\n")
        assert state() == (commit, False)
        (tmp_path / "alexnet" / "m.py").write_text("x = 2\n")  # the code changed
        assert state() == (commit, True)
    finally:
        provenance.git_state.cache_clear()


def test_the_committed_results_do_not_pretend_to_have_provenance():
    for path in results.STORED_RESULTS.glob("*.json"):
        record = json.loads(path.read_text())
        prov = record.get("provenance")
        assert prov is None or {"source_hash", "package_version", "profile", "device"} <= set(prov), path.name


def test_scorecard_names_the_code_of_each_row_flags_the_odd_one_and_shows_your_run_beside():
    def record(hash_, ratio, source="book"):
        prov = {"source_hash": hash_, "package_version": "0.1.0", "git_commit": None} if hash_ else None
        at_25 = {"ratio": ratio, "low": ratio, "high": ratio, "verdict": "inconclusive at this scale"}
        return {"profile": "quick", "scale": {"profile": "quick", "dataset": "cifar10", "epochs": 40},
                "data": {"conventions": {"raw": {"ratios": {"0.250": at_25}}}, "setup": {"seeds": 1},
                         "lr_drops": 1, "epochs": 9},
                "provenance": prov, "source": source}

    rows = scorecard.build_scorecard({"fig1_relu_tanh": record("aaa", 6.0), "learning_schedule": record("aaa", 1),
                                      "dropout_ablation": record("bbb", 1),
                                      "yours/fig1_relu_tanh": record("aaa", 2.0, "yours")})
    by = {}
    for r in rows:
        by.setdefault(r.result, []).append(r)
    book, yours = by["fig1_relu_tanh"][:2]
    assert book.source == "book" and yours.source == "yours" and yours.scale.startswith("your run: ")
    assert book.ours.startswith("6.00×") and yours.ours.startswith("2.00×")
    assert "source aaa" in book.code and "⚠" not in book.code
    assert "⚠ not the code of the other rows" in by["dropout_ablation"][0].code
    unknown = scorecard.build_scorecard({"bias_init": record(None, 1)})
    assert next(r for r in unknown if r.result == "bias_init").code == provenance.UNKNOWN_CODE
    assert "| code |" in scorecard.scorecard_markdown(rows)


