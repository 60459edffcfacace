"""§3.2's two GPUs as ``groups``/``conv_widths``; checkpoints and stored results that say ``towers``/``grouped``
(the names before) still load, translated in one place (``alexnet.model.upgrade_switches``)."""
import json

import pytest
import torch

from alexnet import AlexNetError, load_trained
from alexnet.checkpoint import load_checkpoint
from alexnet.experiments import claim_measures, scorecard
from alexnet.model import ONE_GPU, upgrade_switches
from alexnet.results import STORED_RESULTS
from alexnet.train import TrainConfig, train


@pytest.mark.parametrize("old, new", [
    ({"towers": 1}, {"groups": 1, "conv_widths": "one_gpu"}),
    ({"towers": 1, "grouped": False}, {"groups": 1, "conv_widths": "one_gpu"}),
    ({"towers": 2}, {"groups": 2}),
    ({"grouped": False}, {"groups": 1}),
    ({"towers": 2, "grouped": False, "lrn": False}, {"groups": 1, "lrn": False}),
    ({"dropout_form": "paper"}, {"dropout_form": "paper"}),
    ({"groups": 1, "conv_widths": "one_gpu"}, {"groups": 1, "conv_widths": "one_gpu"}),
])
def test_old_switch_names_translate(old, new):
    assert upgrade_switches(old) == new


def test_a_value_the_old_names_never_took_is_refused():
    with pytest.raises(AlexNetError, match="towers=3"):
        upgrade_switches({"towers": 3})


def test_the_model_takes_only_the_new_names():
    from alexnet import AlexNet

    with pytest.raises(TypeError):
        AlexNet(towers=1)


def _small(**kw):
    base = dict(dataset="synthetic", epochs=1, batch_size=32, train_limit=64, val_limit=32, seed=0, device="cpu")
    return TrainConfig(**{**base, **kw})


def _write_with_old_names(path):
    """Rewrite a checkpoint's switches as a checkpoint written before ``groups`` recorded them."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    assert state["identity"]["model"] == {"dropout_form": "paper", **ONE_GPU}
    state["identity"]["model"] = {"dropout_form": "paper", "towers": 1}
    state["config"]["model"] = {"towers": 1}
    torch.save(state, path)


def test_a_checkpoint_with_old_switch_names_loads_and_resumes(tmp_path):
    run = train(_small(checkpoint_dir=str(tmp_path), model=dict(ONE_GPU)), progress=False)
    _write_with_old_names(tmp_path / "last.pt")
    assert load_checkpoint(tmp_path / "last.pt")["identity"]["model"] == {"dropout_form": "paper", **ONE_GPU}
    model, _, _ = load_trained(tmp_path / "last.pt")
    assert [model.features.get_submodule(f"conv{i}").out_channels for i in range(1, 6)] == [24, 64, 96, 96, 128]
    assert model.features.conv2.groups == 1
    for (k, a), b in zip(run.model.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a.cpu(), b), k
    # --resume with today's names continues the old run instead of refusing a "different" model
    more = train(_small(epochs=2, checkpoint_dir=str(tmp_path), resume=True, model=dict(ONE_GPU)), progress=False)
    assert [r["epoch"] for r in more.history] == [1, 2]


def test_the_stored_towers_ablation_with_old_names_is_read():
    record = json.loads((STORED_RESULTS / "towers_ablation.json").read_text())
    one = record["data"]["arms"]["one_tower"]
    if "towers" not in json.dumps(one["overrides"]):  # the book re-ran it with today's names: make the old record
        one["overrides"] = {"model": {"towers": 1}}
    assert claim_measures.find_arms(record["data"], claim_measures.REMOVED["towers"]) == ("two_towers", "one_tower")
    row = next(r for r in scorecard.build_scorecard({"towers_ablation": record}) if r.id == "towers")
    assert row.verdict not in (scorecard.NOT_RUN, scorecard.NOT_MEASURED)
