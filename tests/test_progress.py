import re

from alexnet.data import make_synthetic
from alexnet.experiments.ablation import run_ablation
from alexnet.profiles import get_profile

ESTIMATE = re.compile(r"^(.+): (\d+) runs? × at most (\d+) epochs? at profile=smoke; "
                      r"the first epoch took [\d.]+ s, so about \d+ (?:s|min|h) in all$", re.M)


def test_an_ablation_shows_one_bar_over_arms_and_epochs_and_one_estimate(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    train_set, val_set = make_synthetic(64, seed=0), make_synthetic(32, seed=1)
    run_ablation("progress", {"a": {}, "b": {"model": {"dropout": 0.0}}}, profile=get_profile("smoke"),
                 base={"epochs": 3, "batch_size": 32, "device": "cpu"}, save=False, train_set=train_set,
                 val_set=val_set, progress=True)
    out, err = capsys.readouterr()
    assert [m.group(1, 2, 3) for m in ESTIMATE.finditer(out)] == [("progress", "2", "3")], out
    assert "progress (2 × 3 epochs)" in err and "6/6" in err, err  # tqdm's bar: 2 arms × 3 epochs, all done
