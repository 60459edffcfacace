"""The paper's dropout against inverted dropout (§4.2) and the faithful small-scale LRN arms (§3.3)."""
import pytest
import torch

from alexnet.experiments import dropout_forms as D
from alexnet.experiments import lrn_scale as S
from alexnet.lrn import data_dependent_factors
from alexnet.model import alexnet_cifar


def test_inverted_dropout_in_the_papers_units_starts_from_n_0_002_and_steps_four_times_as_far():
    r = D.units_in_paper_terms(p=0.5, std=0.01)
    assert r["output_max_diff"] < 1e-12  # the same layer, read in the other form's units
    assert r["update_ratio"] == pytest.approx(4.0, rel=1e-9)  # 1/(1−p)²
    assert r["init_std_paper_units"] == pytest.approx(0.02, rel=0.01)  # σ/(1−p)
    assert D.units_in_paper_terms(p=0.25)["update_ratio"] == pytest.approx(1 / 0.75 ** 2, rel=1e-9)


def test_both_forms_agree_at_test_time_and_in_training_when_the_weights_after_dropout_are_scaled():
    torch.manual_seed(0)
    x = torch.randn(16, 3, 28, 28)
    a = D.agreement_at_init(x, 10, p=0.5)
    assert a["test_max_diff"] == 0.0 and a["train_max_diff"] == 0.0  # ×0.5 is exact in binary floating point
    assert a["unscaled_test_max_diff"] > 1e-3  # without W' = (1−p)W they are different nets


def test_parting_step():
    assert D.parting_step([1.0] * 10, [1.0] * 10, 0.1, 2) is None
    assert D.parting_step([1.0] * 10, [1.0] * 5 + [2.0] * 5, 0.1, 1) == 5


def test_compare_forms_runs_both_forms_in_lockstep(tmp_path, monkeypatch):
    from alexnet import get_profile, make_synthetic
    P = get_profile("smoke")
    tr, va = make_synthetic(64, seed=0), make_synthetic(32, seed=1)
    r = D.compare_forms(P, epochs=1, train_set=tr, val_set=va)
    spe = r["steps_per_epoch"]
    assert spe == 64 // P.batch_size and all(len(r["loss"][f]) == spe for f in D.FORMS)
    assert r["loss"]["paper"] != r["loss"]["inverted"]  # the same weights, not the same training
    assert len(D.forms_summary(r)) == 6


def test_data_dependent_factor_is_one_in_the_default_scaled_net_and_departs_from_it_in_the_faithful_arm():
    torch.manual_seed(0)
    x = torch.randn(32, 3, 28, 28) * 60  # mean-subtracted 0–255 pixels
    default = data_dependent_factors(alexnet_cifar().eval(), x)
    torch.manual_seed(0)
    faithful = data_dependent_factors(alexnet_cifar(**S.faithful_lrn_switches()).eval(), x)
    assert set(default) == {"lrn1", "lrn2"}
    assert default["lrn1"]["data_factor_mean"] > 0.999
    assert faithful["lrn1"]["data_factor_mean"] < 0.95
    assert data_dependent_factors(alexnet_cifar(lrn=False).eval(), x) == {}


def test_data_dependent_factor_matches_the_layer_itself():
    from alexnet.lrn import LocalResponseNorm
    torch.manual_seed(0)
    a = torch.relu(torch.randn(2, 12, 5, 5)) * 40
    layer = LocalResponseNorm(5, 1e-3, 0.75, 2.0)
    f = data_dependent_factors(torch.nn.Sequential(layer), a)["0"]
    b = layer(a)
    active = a > 0
    expected = (b[active] / a[active] * 2.0 ** 0.75)
    assert f["data_factor_mean"] == pytest.approx(expected.mean().item(), rel=1e-5)
    assert f["data_factor_min"] == pytest.approx(expected.min().item(), rel=1e-5)


def test_faithful_arms_are_explicit_switches():
    arms = S.faithful_lrn_arms()
    assert set(arms) == {"lrn", "constant", "no_lrn"}
    assert arms["lrn"]["model"]["lrn_alpha"] == pytest.approx(1e-4 * 64 ** 2)
    for arm in arms.values():
        alexnet_cifar(**arm["model"])  # each builds


def test_lrn_factors_are_saved_with_provenance_and_reused_by_the_one_rule(tmp_path, monkeypatch, capsys):
    from alexnet import get_profile, make_synthetic, results

    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    monkeypatch.delenv("ALEXNET_RERUN", raising=False)
    quick = get_profile("quick", batch_size=16)
    tr, va = make_synthetic(32, seed=0), make_synthetic(16, seed=1)
    first = S.factor_at_init_and_after(quick, epochs=1, images=8, train_set=tr, val_set=va)
    record = results.load_result("lrn_factors", quick)
    assert record["provenance"]["source_hash"] and record["scale"]["measured_on"] == 8
    assert "reusing" not in capsys.readouterr().out
    again = S.factor_at_init_and_after(quick, epochs=1, images=8, train_set=tr, val_set=va)
    assert "lrn_factors: reusing the result" in capsys.readouterr().out and again == first
    S.factor_at_init_and_after(quick, epochs=2, images=8, train_set=tr, val_set=va)  # another scale: measured
    assert "reusing" not in capsys.readouterr().out
