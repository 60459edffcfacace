"""Full-scale results: their own place in the book's store, the scorecard's "full scale" column with their real
scale, the chapters' one line beside a reader's run; and the chapters' heavy runs that reproduce fills for them
(the main run, the towers) reused by the one rule."""
import pytest
import torch

from alexnet import results
from alexnet.experiments import scorecard
from alexnet.experiments.ablation import run_ablation
from alexnet.experiments.lrn_scale import faithful_lrn_arms
from alexnet.profiles import get_profile


@pytest.fixture
def book(tmp_path, monkeypatch):
    """The book's store in a temporary folder, written as a maintainer writes it (ALEXNET_STORE_RESULTS=1)."""
    monkeypatch.setattr(results, "STORED_RESULTS", tmp_path / "stored")
    for var in ("ALEXNET_RESULTS", "ALEXNET_RERUN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ALEXNET_STORE_RESULTS", "1")
    monkeypatch.setenv("ALEXNET_SCRATCH", str(tmp_path / "scratch"))
    return tmp_path / "stored"


def test_full_profile_results_go_to_their_own_place_in_the_book(book):
    assert results.results_dir(get_profile("full")) == book / "full"
    assert results.results_dir(get_profile("quick")) == book
    results.save_result("pooling_ablation", {"arms": {}}, {"dataset": "cifar10"}, get_profile("full"))
    assert (book / "full" / "pooling_ablation.json").exists()
    assert "pooling_ablation" not in results.load_results(get_profile("quick"))  # not a quick-scale book row
    assert set(results.load_full_scale()) == {"pooling_ablation"}


def test_a_cpu_run_at_full_scale_shows_in_the_column_with_its_real_scale(book, capsys):
    """The faithful LRN ablation made in the full profile with 2 seeds (fewer epochs than the profile's): the
    column gives its verdict with its own epochs, seeds and device, never the full profile's 40 × 3."""
    small_full = get_profile("full", dataset="synthetic", train_limit=64, val_limit=32, seeds=2, ablation_epochs=1,
                             batch_size=32)
    arms = faithful_lrn_arms()
    run_ablation("lrn_faithful_ablation", {"lrn": arms["lrn"], "no_lrn": arms["no_lrn"]}, baseline="lrn",
                 profile=small_full, progress=False)
    assert (book / "full" / "lrn_faithful_ablation.json").exists()
    rows = {r.id: r for r in scorecard.build_scorecard({})}
    cell = rows["lrn"].full_scale
    assert "`lrn_faithful_ablation`" in cell and "64 train / 32 test, 1 epoch, 2 seeds, device cpu" in cell
    assert "40 epochs" not in cell and "3 seeds" not in cell
    assert cell.split(":")[0] in {"reproduced", "same direction, within noise", "inconclusive at this scale",
                                  "opposite"}  # a verdict of the one vocabulary, not "not testable here"
    assert rows["pooling"].full_scale == results.NEEDS_GPU
    assert "| full scale |" in scorecard.scorecard_markdown(list(rows.values()))
    lines = scorecard.full_scale_summary("lrn_ablation")
    assert lines == [f"full scale, {rows['lrn'].claim}: {cell}"] and cell in capsys.readouterr().out
    assert scorecard.full_scale_summary("pooling_ablation", show=False)[0].endswith(
        "not run yet: needs a GPU (python -m alexnet reproduce --profile full)")
    with pytest.raises(ValueError, match="no claim"):
        scorecard.full_scale_summary("multi_gpu_traffic")


def _tiny_quick(**over):
    return get_profile("quick", dataset="synthetic", train_limit=64, val_limit=32, batch_size=32, epochs=1,
                       ablation_epochs=1, **over)


def test_the_main_run_is_reused_with_its_weights(book, capsys):
    from alexnet.data import load_imageset
    from alexnet.experiments.learning import main_run

    p = _tiny_quick()
    train_set = load_imageset("synthetic", "train", limit=64, progress=False)
    val_set = load_imageset("synthetic", "val", limit=32, progress=False)
    first, data = main_run(p, train_set=train_set, val_set=val_set)
    assert "reusing" not in capsys.readouterr().out
    seen = []
    again, data2 = main_run(p, train_set=train_set, val_set=val_set, on_epoch=seen.append)
    assert "learning_schedule: reusing the result" in capsys.readouterr().out
    assert data2["history"] == [dict(h) for h in data["history"]] and seen == [data2["history"]]
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())


def test_the_towers_ablation_is_reused_at_the_chapters_epochs(book, capsys):
    from alexnet.experiments.towers import towers_ablation

    p = _tiny_quick()
    first, ckpt = towers_ablation(p)
    assert first.scale["epochs"] == 8  # chapter 3.2's quick epochs (alexnet.profiles.experiment_epochs)
    assert "reusing" not in capsys.readouterr().out and ckpt.exists()
    again, _ = towers_ablation(p)
    assert "towers_ablation: reusing the result" in capsys.readouterr().out
    assert again.deltas == first.deltas
