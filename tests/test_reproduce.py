"""``python -m alexnet reproduce``: every claim of the registry gets a scorecard row; reuse; bad input; the plan."""
import json

import pytest

from alexnet import paper, results
from alexnet.experiments.fig1_protocol import FIG1_SCALES, setup_for
from alexnet.plan import ASSUMED_MFU, fig1_macs, job_work, project
from alexnet.reproduce import (JOBS, SCALES, _job_scale, _run_fig1, code_version, fig1_setup, jobs_for,
                               reproduce_profile, reusable)
from cli_helpers import run_cli


def test_every_claim_is_measured_by_exactly_one_job():
    claimed = [c for j in JOBS for c in j.claims]
    assert sorted(claimed) == sorted(paper.CLAIMS)
    assert [j.name for j in jobs_for(["pca", "ten_crop"])] == ["augmentation"]


def test_smoke_runs_every_experiment_and_prints_the_scorecard(tmp_path):
    out = tmp_path / "results"
    proc = run_cli("reproduce", "--profile", "smoke", "--out", out, "--quiet", timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("claim "))
    ids = [line.split()[0] for line in lines[head + 1:head + 1 + len(paper.CLAIMS)]]
    assert ids == list(paper.CLAIMS)
    report = json.loads((out / "reproduce.json").read_text())
    assert {j: r["status"] for j, r in report["jobs"].items()} == {j.name: "ran" for j in JOBS}
    assert [c["id"] for c in report["scorecard"]] == list(paper.CLAIMS)
    assert all(r["images_per_second"] > 0 and r["mfu"] is None for r in report["jobs"].values())  # CPU: n/a
    assert "MFU n/a" in proc.stdout


@pytest.mark.parametrize("args,message", [(["--only", "nope"], "unknown claim 'nope'"),
                                          (["--profile", "huge"], "invalid choice: 'huge'")])
def test_bad_input_is_one_line_and_exit_2(args, message):
    proc = run_cli("reproduce", *args)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_reuse_needs_the_same_code_and_scale(tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    monkeypatch.delenv("ALEXNET_RERUN", raising=False)
    profile = reproduce_profile("quick")
    job = next(j for j in JOBS if j.name == "lrn")
    scale = {"profile": "quick", "epochs": 15}
    entry = {"code": code_version(), "scale": scale, "seconds": 1.0, "saved_at": "then"}
    assert reusable(job, profile, scale, {"lrn": entry}) is None  # no stored result yet
    results.save_result("lrn_ablation", {"arms": {}}, {"profile": "quick"}, profile)
    assert reusable(job, profile, scale, {"lrn": entry}) == entry
    assert reusable(job, profile, {**scale, "epochs": 30}, {"lrn": entry}) is None
    assert reusable(job, profile, scale, {"lrn": {**entry, "code": "other"}}) is None
    monkeypatch.setenv("ALEXNET_RERUN", "1")
    assert reusable(job, profile, scale, {"lrn": entry}) is None
    assert reusable(job, reproduce_profile("smoke"), scale, {"lrn": entry}) is None  # smoke never reuses


def test_full_scale_is_all_images_and_three_seeds():
    p = reproduce_profile("full")
    assert p.train_limit is None and p.seeds >= 3 and FIG1_SCALES["full"]["seeds"] >= 3
    assert SCALES["full"]["train_images"] == 50_000 and FIG1_SCALES["full"]["batch_size"] == 128


def test_projection_is_counted_flops_over_peak_times_mfu():
    f = FIG1_SCALES["full"]
    work = job_work("fig1", "full")
    models = 2 * 2 * (f["grid_size"] + f["max_extensions"]) * f["seeds"]
    assert work["train_images"] == models * f["epochs"] * (50_000 // 128) * 128
    assert work["flops"] == 6 * fig1_macs() * work["train_images"]
    proj = project("full", "H100")
    steps = sum(job_work(j.name, "full")["steps"] for j in JOBS)
    assert proj["seconds"] == pytest.approx(proj["flops"] / (989e12 * ASSUMED_MFU["H100"]) + steps * proj["step_s"])
    assert work["steps"] == 2 * 2 * (1 + f["max_extensions"]) * f["epochs"] * (50_000 // 128)
    assert proj["flops"] == sum(job_work(j.name, "full")["flops"] for j in JOBS)
    assert project("full", "T4")["seconds"] > proj["seconds"]
    assert _job_scale(JOBS[0], reproduce_profile("smoke"))["fig1"]["seeds"] == 1


def test_a_spent_budget_starts_nothing_and_still_writes_the_record(tmp_path, capsys, monkeypatch):
    from alexnet.reproduce import run_reproduce

    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))  # restored afterwards (out= sets it for the process)

    report = run_reproduce("smoke", ["lrn", "fig1"], out=str(tmp_path), budget_s=1e-9, progress=False)
    assert {j: r["status"] for j, r in report["jobs"].items()} == {"fig1": "skipped: time budget",
                                                                   "lrn": "skipped: time budget"}
    assert json.loads((tmp_path / "reproduce.json").read_text())["jobs"] == report["jobs"]
    assert "skipped" in capsys.readouterr().out


def test_reproduce_and_chapter_3_1_share_one_figure_1(tmp_path, monkeypatch, capsys):
    """reproduce's Figure 1 job stores what chapter 3.1's call then reuses: one name, schema and scale."""
    from alexnet import get_profile
    from alexnet.data import make_synthetic
    from alexnet.experiments import relu

    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    monkeypatch.delenv("ALEXNET_RERUN", raising=False)
    monkeypatch.setitem(FIG1_SCALES, "quick", {"epochs": 1, "batch_size": 32, "seeds": 1, "max_extensions": 0,
                                               "grid_size": 2, "conventions": ("raw",)})
    data = make_synthetic(64, seed=0)
    monkeypatch.setattr(relu, "load_imageset", lambda *a, **k: data)  # the sample is not in CI; the code path is
    assert fig1_setup("quick") == setup_for("quick")
    ran = _run_fig1(reproduce_profile("quick"), {})
    assert ran["images"] == 2 * 2 * (64 // 32) * 32 and not ran["truncated"]  # 2 nets × 2 rates × 1 epoch
    stored = json.loads((tmp_path / "fig1_relu_tanh.json").read_text())
    chapter = relu.figure1(get_profile("quick"), progress=False)  # the chapter's profile (other seeds elsewhere)
    assert chapter["reused"] and "fig1_relu_tanh: reusing" in capsys.readouterr().out
    assert chapter["scale"] == stored["scale"] and chapter["conventions"] == stored["data"]["conventions"]
    again = _run_fig1(reproduce_profile("quick"), {})
    assert again["images"] == 0  # reproduce reuses it too
